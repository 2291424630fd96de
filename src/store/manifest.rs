//! `_manifest.json`: what a run read, what it wrote and how it went. The store owns the
//! envelope (inputs, row accounting, files, checks); the run adds its sections (gates,
//! identity, models, rules, timings) as `S`. `Published` is the part read back.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Row accounting of one input table: read = used + duplicate + quarantined + after_as_of +
/// erased.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Accounting {
    pub read: u64,
    pub used: u64,
    pub duplicate: u64,
    pub quarantined: u64,
    pub after_as_of: u64,
    /// Rows of people an erasure request removed (`stages::erasure`).
    #[serde(default)]
    pub erased: u64,
    /// Non-empty values that could not be parsed and were read as null, per column.
    #[serde(default)]
    pub unparseable: BTreeMap<String, u64>,
    /// Values read but rejected by cleaning (`stages::clean::invalid_values`), per column; their
    /// rows are used without them.
    #[serde(default)]
    pub invalid: BTreeMap<String, u64>,
    /// Optional columns absent from the source files (read as null).
    #[serde(default)]
    pub missing_optional_columns: Vec<String>,
    /// Newest timestamp among the used rows (orders, events, social, feedback; customers' updated_at).
    #[serde(default)]
    pub newest: Option<String>,
}

impl Accounting {
    pub fn balanced(&self) -> bool {
        self.read == self.used + self.duplicate + self.quarantined + self.after_as_of + self.erased
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct InputEntry {
    pub table: String,
    pub path: String,
    pub bytes: u64,
    /// Set when the file repeats an earlier file's content; its rows were not read again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

/// One written table file as the manifest lists it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub table: String,
    /// Path relative to the output root.
    pub path: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// One written document (report, data dictionary).
#[derive(Clone, Debug, Serialize)]
pub struct DocumentEntry {
    /// Path relative to the output root.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// A built-in check (rows accounted, unique key): they pass or the run stops as a bug.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub status: &'static str,
    pub detail: String,
}

/// A segment, lifecycle or tag rule as configured, so a published day explains itself.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RuleEntry {
    pub name: String,
    pub when: String,
    pub label: String,
    pub label_zh: String,
    pub description: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Manifest<S> {
    pub schema_version: &'static str,
    pub run_id: String,
    pub as_of: String,
    pub pipeline: String,
    pub pipeline_sha256: String,
    pub versions: BTreeMap<&'static str, &'static str>,
    pub inputs: Vec<InputEntry>,
    pub accounting: BTreeMap<String, Accounting>,
    pub outputs: Vec<FileEntry>,
    /// The day's report and data dictionary (`report/dt=…/`), checked like the tables.
    pub documents: Vec<DocumentEntry>,
    pub checks: Vec<Check>,
    /// The run's own sections.
    #[serde(flatten)]
    pub run: S,
}

/// What is read back from a published day's manifest.
#[derive(Clone, Debug, Deserialize, Default)]
pub struct Published {
    #[serde(default)]
    pub run_id: String,
    #[serde(default)]
    pub outputs: Vec<FileEntry>,
    #[serde(default)]
    pub accounting: BTreeMap<String, Accounting>,
    #[serde(default)]
    pub gates: Vec<GateStatus>,
    #[serde(default)]
    pub rules: BTreeMap<String, Vec<RuleEntry>>,
    #[serde(default)]
    pub stage_seconds: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct GateStatus {
    pub status: String,
}

impl Published {
    /// Rows of an output table on that day (its files summed).
    pub fn output_rows(&self, table: &str) -> Option<u64> {
        let files: Vec<&FileEntry> = self.outputs.iter().filter(|e| e.table == table).collect();
        (!files.is_empty()).then(|| files.iter().map(|e| e.rows).sum())
    }
}
