//! The state a run leaves for the next (docs/design.md, "Incremental runs"): the routed rows of
//! every input file read so far and what the run counted while reading them, so that the next
//! run reads only the files delivered since.
//!
//! ```text
//! <root>/_state/state.json                                what the state holds, written last
//! <root>/_state/<generation>/rows/<table>/_b=<b>/_part=<p>/  routed rows (a full run starts a generation)
//! <root>/_state/<generation>/quarantine-<run_id>.parquet    rows ingest rejected, every table
//! ```
//!
//! `state.json` lists the parts that hold valid rows. A run adds parts, and `state.json` is
//! replaced (write, then rename) only after the run published its day: a killed or refused
//! run leaves the previous state as it was, and its parts are removed (`State::load`).
//! The state holds personal data (the routed rows carry what features read, quarantined rows
//! their raw values): an erasure request starts a new generation without the person.

use super::publish::{mkdirs, write_file};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const STATE: &str = "_state";
const STATE_FILE: &str = "state.json";
/// Raised whenever what the state holds changes meaning: an older state is rebuilt.
pub const STATE_VERSION: u32 = 2;

/// What `state.json` says.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// The portrait version that wrote it: cleaning may change between versions.
    pub portrait: String,
    /// The run that wrote it and its day.
    pub run_id: String,
    pub as_of: String,
    /// The folder under `_state/` its rows are in (the run id of the full run that began it).
    pub generation: String,
    /// sha256 of what decides how input files are read and cleaned (`Plan::inputs_sha256`).
    pub inputs_sha256: String,
    /// sha256 of the erased people's records: other erasures start a new generation.
    pub erased_sha256: String,
    pub buckets: u32,
    /// The next routed part's number.
    pub next_part: u32,
    /// The file of rows ingest rejected, in the generation's folder.
    pub quarantine: Option<String>,
    /// The file of every record's bucket and the part its rows are valid from, in the
    /// generation's folder (more than one bucket).
    pub records: Option<String>,
    pub tables: BTreeMap<String, TableState>,
}

/// One input table in the state.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TableState {
    /// The files read, in the order read (`_file` numbers them).
    pub files: Vec<FileState>,
    /// The routed parts that hold valid rows.
    pub parts: BTreeSet<u32>,
    /// Buckets a later run wrote again, each with its first valid part: bucket `B` (rows that
    /// reached no person, routed again by every run).
    pub rewritten: BTreeMap<u32, u32>,
    /// Counted while reading the files: rows read, values that did not parse, values cleaning
    /// rejected, rows of erased people (not kept), optional columns missing from a file.
    pub read: u64,
    pub unparseable: BTreeMap<String, u64>,
    pub invalid: BTreeMap<String, u64>,
    pub erased: u64,
    pub missing_optional: Vec<String>,
}

impl TableState {
    /// The first part of bucket `b` that holds valid rows.
    pub fn first_valid(&self, b: u32) -> u32 {
        self.rewritten.get(&b).copied().unwrap_or(0)
    }
}

/// An input file as it was when it was read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    pub path: String,
    pub bytes: u64,
    /// Modification time, nanoseconds since 1970 (0: unknown).
    pub modified: u128,
}

impl FileState {
    pub fn of(path: &Path, bytes: u64) -> FileState {
        let modified = std::fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        FileState { path: path.display().to_string(), bytes, modified }
    }
}

/// The state folder of an output root.
pub fn dir(root: &Path) -> PathBuf {
    root.join(STATE)
}

impl State {
    /// The generation's folder.
    pub fn generation_dir(root: &Path, generation: &str) -> PathBuf {
        dir(root).join(generation)
    }

    /// The routed rows' folder of `table` in `generation`.
    pub fn rows_dir(root: &Path, generation: &str, table: &str) -> PathBuf {
        State::generation_dir(root, generation).join("rows").join(table)
    }

    /// The state of `root`, if it has a readable one; whatever no state lists (a killed run's
    /// parts and generations) is removed (the caller holds the run lock).
    pub fn load(root: &Path) -> Option<State> {
        let state = State::read(root);
        remove_unlisted(root, state.as_ref());
        state
    }

    /// The state of `root`, if it has a readable one, as it is.
    pub fn read(root: &Path) -> Option<State> {
        let text = std::fs::read_to_string(dir(root).join(STATE_FILE)).ok()?;
        serde_json::from_str(&text).ok()
    }

    /// Replace `state.json` (write, then rename), then remove what it no longer lists.
    pub fn save(&self, root: &Path) -> Result<()> {
        let dir = dir(root);
        mkdirs(&dir)?;
        let text = serde_json::to_vec_pretty(self).map_err(|e| Error::internal("state", e))?;
        let staged = dir.join(format!("{STATE_FILE}.{}", self.run_id));
        write_file(&staged, &text)?;
        std::fs::rename(&staged, dir.join(STATE_FILE)).map_err(|e| Error::io(dir.join(STATE_FILE), e))?;
        remove_unlisted(root, Some(self));
        Ok(())
    }

    /// Bytes the state takes on disk.
    pub fn bytes(root: &Path) -> u64 {
        crate::io::folder_bytes(&dir(root))
    }
}

/// Remove the state of `root`; whether there was one.
pub fn remove(root: &Path) -> Result<bool> {
    let dir = dir(root);
    match dir.exists() {
        true => std::fs::remove_dir_all(&dir).map(|_| true).map_err(|e| Error::io(&dir, e)),
        false => Ok(false),
    }
}

/// Remove the generations, parts and files `state` does not list (everything when none).
fn remove_unlisted(root: &Path, state: Option<&State>) {
    let entries = std::fs::read_dir(dir(root)).into_iter().flatten().filter_map(|e| e.ok());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().to_string();
        let path = entry.path();
        match state {
            Some(_) if name == STATE_FILE => {}
            Some(s) if name == s.generation => remove_unlisted_parts(&path, s),
            _ => {
                let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
            }
        }
    }
}

fn remove_unlisted_parts(generation: &Path, state: &State) {
    for entry in std::fs::read_dir(generation).into_iter().flatten().filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().to_string();
        if name != "rows" && Some(&name) != state.quarantine.as_ref() && Some(&name) != state.records.as_ref() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    for table in std::fs::read_dir(generation.join("rows")).into_iter().flatten().filter_map(|e| e.ok()) {
        let listed = state.tables.get(&table.file_name().to_string_lossy().to_string());
        for bucket in std::fs::read_dir(table.path()).into_iter().flatten().filter_map(|e| e.ok()) {
            let b: Option<u32> = bucket.file_name().to_string_lossy().strip_prefix("_b=").and_then(|b| b.parse().ok());
            for part in std::fs::read_dir(bucket.path()).into_iter().flatten().filter_map(|e| e.ok()) {
                let p: Option<u32> = part.file_name().to_string_lossy().strip_prefix("_part=").and_then(|p| p.parse().ok());
                let keep = match (listed, b, p) {
                    (Some(t), Some(b), Some(p)) if b <= state.buckets => t.parts.contains(&p) && p >= t.first_valid(b),
                    _ => false,
                };
                if !keep {
                    let _ = std::fs::remove_dir_all(part.path());
                }
            }
        }
    }
}
