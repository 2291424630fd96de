//! Stage 5, write: every output table of the run's `dt`, then the manifest, published
//! atomically (io::publish). Files are `part-<run_id>-00000.parquet` under Hive `dt=` folders.

use crate::error::{Error, Result};
use crate::io::parquet::{self, FileEntry, WriteOptions};
use crate::io::publish;
use polars::prelude::DataFrame;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Row accounting of one input table: read = used + duplicate + quarantined + after_as_of.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, Default)]
pub struct Accounting {
    pub read: u64,
    pub used: u64,
    pub duplicate: u64,
    pub quarantined: u64,
    pub after_as_of: u64,
    /// Non-empty values that could not be parsed and were read as null, per column.
    pub unparseable: BTreeMap<String, u64>,
    /// Optional columns absent from the source files (read as null).
    pub missing_optional_columns: Vec<String>,
    /// Newest timestamp among the used rows (orders, events, social, feedback; customers' updated_at).
    pub newest: Option<String>,
}

impl Accounting {
    pub fn balanced(&self) -> bool {
        self.read == self.used + self.duplicate + self.quarantined + self.after_as_of
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

#[derive(Clone, Debug, Serialize)]
pub struct Check {
    pub name: String,
    pub status: &'static str,
    pub detail: String,
}

/// `_manifest.json`: what a run read, what it wrote and how it went.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
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
    /// Data-quality gates from the config, with what was observed.
    pub gates: Vec<crate::stages::gates::GateResult>,
    /// Identity resolution: links by rule, blocking, the Fellegi-Sunter model, guards, keys.
    pub identity: crate::stages::identity::Report,
    /// Model fits, fallbacks taken and the persona clusters.
    pub models: crate::stages::predict::Outcome,
    /// The segment, lifecycle and tag rules as configured, so a published day explains itself
    /// (`portrait inspect` shows why a tag fired).
    pub rules: BTreeMap<&'static str, Vec<RuleEntry>>,
    /// The `model_eval` table's rows (empty without data after as-of).
    pub model_eval: Vec<serde_json::Map<String, serde_json::Value>>,
    pub stage_seconds: BTreeMap<String, f64>,
}

#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct RuleEntry {
    pub name: String,
    pub when: String,
    pub label: String,
    pub label_zh: String,
    pub description: String,
}

/// The manifest's `rules`: `segments`, `lifecycle` and `tags` in config order.
pub fn rules(plan: &crate::config::Plan) -> BTreeMap<&'static str, Vec<RuleEntry>> {
    let entries = |rules: &[crate::config::NamedExpr]| {
        rules
            .iter()
            .map(|r| RuleEntry {
                name: r.name.clone(),
                when: r.sql.clone(),
                label: r.label_en.clone(),
                label_zh: r.label_zh.clone(),
                description: r.description.clone(),
            })
            .collect()
    };
    BTreeMap::from([("segments", entries(&plan.segments)), ("lifecycle", entries(&plan.lifecycle)), ("tags", entries(&plan.tags))])
}

#[derive(Clone, Debug, Serialize)]
pub struct DocumentEntry {
    /// Path relative to the output root.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

/// The relative folder of a table's day: `profiles/dt=2026-11-22`.
pub fn dt_folder(table: &str, as_of: &str) -> String {
    format!("{table}/dt={as_of}")
}

/// The manifest's folder; `_` keeps it out of readers' globs over the output root.
pub const MANIFEST_TABLE: &str = "_manifest";

/// Write the tables into the staging folder and return their manifest entries.
pub fn stage_tables(root: &Path, run_id: &str, as_of: &str, tables: &[(&str, DataFrame)], opts: WriteOptions) -> Result<Vec<FileEntry>> {
    let staging = publish::staging_dir(root, run_id);
    let mut entries = Vec::new();
    for (name, df) in tables {
        let rel_dir = dt_folder(name, as_of);
        publish::mkdirs(&staging.join(&rel_dir))?;
        let rel = format!("{rel_dir}/part-{run_id}-00000.parquet");
        entries.push(parquet::write(df, name, &staging.join(&rel), &rel, opts)?);
    }
    Ok(entries)
}

/// Write documents (file name, content) into the staging folder of `folder`'s day.
pub fn stage_documents(root: &Path, run_id: &str, as_of: &str, folder: &str, docs: &[(&str, Vec<u8>)]) -> Result<Vec<DocumentEntry>> {
    let staging = publish::staging_dir(root, run_id);
    docs.iter()
        .map(|(name, data)| {
            let rel = format!("{}/{name}", dt_folder(folder, as_of));
            publish::write_file(&staging.join(&rel), data)?;
            let (bytes, sha256) = parquet::digest(&staging.join(&rel))?;
            Ok(DocumentEntry { path: rel, bytes, sha256 })
        })
        .collect()
}

/// Check the staged files against their entries (rows are re-read, bytes and sha256
/// recomputed), write `_SUCCESS` in each folder and the manifest, then move them into place.
pub fn publish(root: &Path, manifest: &Manifest) -> Result<()> {
    let staging = publish::staging_dir(root, &manifest.run_id);
    for e in &manifest.outputs {
        let path = staging.join(&e.path);
        let (bytes, sha) = parquet::digest(&path)?;
        let rows = parquet::read(&path)?.height() as u64;
        if (bytes, &sha, rows) != (e.bytes, &e.sha256, e.rows) {
            return Err(Error::Internal(format!("staged file {} does not match what was written", e.path)));
        }
    }
    for d in &manifest.documents {
        if parquet::digest(&staging.join(&d.path))? != (d.bytes, d.sha256.clone()) {
            return Err(Error::Internal(format!("staged file {} does not match what was written", d.path)));
        }
    }
    let mut rels: Vec<String> = manifest.outputs.iter().map(|e| dt_folder(&e.table, &manifest.as_of)).collect();
    let folder_of = |path: &str| path.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default();
    rels.extend(manifest.documents.iter().map(|d| folder_of(&d.path)));
    rels.dedup();
    let manifest_rel = dt_folder(MANIFEST_TABLE, &manifest.as_of);
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::internal("manifest json", e))?;
    publish::write_file(&staging.join(&manifest_rel).join("_manifest.json"), &json)?;
    for rel in &rels {
        publish::write_file(&staging.join(rel).join("_SUCCESS"), b"")?;
    }
    rels.push(manifest_rel);
    publish::promote(root, &manifest.run_id, &rels)
}
