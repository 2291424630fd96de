//! The run's own sections of the manifest: what the scheduler, the analyst and the auditor
//! read of a day besides its tables.

use crate::stages::gates::GateResult;
use crate::stages::predict::Outcome;
use crate::stages::{campaign, erasure, identity};
use crate::store::{Manifest, RuleEntry};
use serde::Serialize;
use std::collections::BTreeMap;

/// The run's own sections of the manifest (after the store's envelope).
#[derive(Clone, Debug, Serialize)]
pub struct RunSections {
    /// Data-quality gates from the config, with what was observed.
    pub gates: Vec<GateResult>,
    /// Identity resolution: links by rule, blocking, the Fellegi-Sunter model, guards, keys.
    pub identity: identity::Report,
    /// Model fits, fallbacks taken and the persona clusters.
    pub models: Outcome,
    /// The segment, lifecycle and tag rules as configured (`portrait inspect` shows why a tag fired).
    pub rules: BTreeMap<&'static str, Vec<RuleEntry>>,
    /// The `model_eval` table's rows (empty without data after as-of).
    pub model_eval: Vec<serde_json::Map<String, serde_json::Value>>,
    pub stage_seconds: BTreeMap<String, f64>,
    /// The process's peak resident memory (the OS's high-water mark), bytes; None where the
    /// OS does not say.
    pub peak_memory_bytes: Option<u64>,
    /// The disk the run's intermediate files (the routed buckets) took at their largest.
    pub work_disk_bytes: u64,
    /// The memory limit the run was given and the buckets of people it split the fact tables into.
    pub execution: Execution,
    /// Personal data: the key hashes were made with, erasures applied, days removed.
    pub privacy: Privacy,
    /// Per campaign, who its audience condition selected and who was left out why.
    pub campaigns: Vec<campaign::Counts>,
}

/// The manifest's `privacy` section (what a data-protection officer shows an auditor).
#[derive(Clone, Debug, Serialize)]
pub struct Privacy {
    /// The id of the key the `*_hmac` columns were made with (the start of its SHA-256), so
    /// readers can tell days made with a rotated key; None when nothing was hashed.
    pub key_id: Option<String>,
    pub hash_fields: Vec<String>,
    /// Requests in force and the people and records they removed from this day.
    pub erasure: erasure::Report,
    pub retention_days: Option<u32>,
    /// Published days this run removed (older than `retention_days`).
    pub removed_days: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Execution {
    pub memory_limit_bytes: u64,
    pub buckets: u32,
    /// `incremental`: only the files delivered since the last run's state were read; `full`:
    /// every file, for the reason `full_because` gives.
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_because: Option<String>,
}

pub type RunManifest = Manifest<RunSections>;
