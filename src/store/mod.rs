//! The output root: where each published day's tables, documents and manifest live, how a
//! day is read back (status, inspect, history, the previous identity map) and how a run
//! publishes (staging, verify, rename, manifest last, lock). Every path under the root is
//! built here.
//!
//! ```text
//! <root>/<table>/dt=YYYY-MM-DD/part-<run_id>-<part>.parquet   one folder per output table and day
//! <root>/report/dt=YYYY-MM-DD/{report.html,data_dictionary.md}
//! <root>/_manifest/dt=YYYY-MM-DD/_manifest.json              moved last: the day is published
//! <root>/_rejected/dt=YYYY-MM-DD/<run_id>.json               a run a gate refused
//! <root>/_staging/<run_id>/…                                  a run's files before the rename
//! <root>/_portrait.lock                                       one run at a time
//! ```

pub mod manifest;
pub mod publish;
pub mod state;

use crate::day::Day;
use crate::error::{Error, Result};
use crate::io;
use polars::prelude::{DataFrame, LazyFrame};
use std::path::{Path, PathBuf};

pub use manifest::{Accounting, Check, DocumentEntry, InputEntry, Manifest, Published, RuleEntry};
pub use publish::Lock;

/// The manifest's folder; `_` keeps it out of readers' globs over the output root.
const MANIFEST: &str = "_manifest";
const MANIFEST_FILE: &str = "_manifest.json";
const REJECTED: &str = "_rejected";

/// A run's id (also `portrait erase`'s): its start in UTC and the process, unique on a host;
/// part files carry it in their names.
pub fn run_id(started: chrono::DateTime<chrono::Utc>) -> String {
    format!("{}-{}", started.format("%Y%m%dT%H%M%S%3fZ"), std::process::id())
}

/// An output root.
#[derive(Clone, Debug)]
pub struct Store {
    pub root: PathBuf,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store { root: root.to_path_buf() }
    }

    /// The folder of a table's day relative to the root: `profiles/dt=2026-11-22`.
    pub fn day_folder(table: &str, day: Day) -> String {
        format!("{table}/{}", day.folder())
    }

    pub fn manifest_path(&self, day: Day) -> PathBuf {
        self.root.join(Store::day_folder(MANIFEST, day)).join(MANIFEST_FILE)
    }

    /// Where a run refused by a gate leaves its report.
    pub fn rejected_path(&self, day: Day, run_id: &str) -> PathBuf {
        self.root.join(Store::day_folder(REJECTED, day)).join(format!("{run_id}.json"))
    }

    /// A day is published when its manifest is in place (it is moved there last).
    pub fn is_published(&self, day: Day) -> bool {
        self.manifest_path(day).exists()
    }

    /// Published days, oldest first.
    pub fn published_days(&self) -> Vec<Day> {
        let Ok(entries) = std::fs::read_dir(self.root.join(MANIFEST)) else { return Vec::new() };
        let mut days: Vec<Day> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| Day::from_folder(&e.file_name().to_string_lossy()))
            .filter(|d| self.is_published(*d))
            .collect();
        days.sort();
        days
    }

    /// The newest published day before `day`, if any.
    pub fn previous_day(&self, day: Day) -> Option<Day> {
        self.published_days().into_iter().rfind(|d| *d < day)
    }

    /// A published day's manifest as `status`, `inspect` and the gates read it.
    pub fn manifest(&self, day: Day) -> Result<Published> {
        let path = self.manifest_path(day);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::input(path.display(), format!("unreadable manifest: {e}")))?;
        serde_json::from_str(&text).map_err(|e| Error::input(path.display(), format!("unreadable manifest: {e}")))
    }

    /// All Parquet files of one table's published day as one frame, in part order (None
    /// without a folder or files).
    pub fn read_table(&self, table: &str, day: Day) -> Result<Option<DataFrame>> {
        self.scan_table(table, day)?.map(io::collect).transpose()
    }

    /// All Parquet files of one table's published day as one lazy frame, in part order, for
    /// reading a few columns of a large table (None without a folder or files; no Hive `dt`).
    pub fn scan_table(&self, table: &str, day: Day) -> Result<Option<LazyFrame>> {
        let folder = self.root.join(Store::day_folder(table, day));
        let Ok(entries) = std::fs::read_dir(&folder) else { return Ok(None) };
        let mut files: Vec<PathBuf> =
            entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == "parquet")).collect();
        files.sort();
        if files.is_empty() {
            return Ok(None);
        }
        io::parquet::scan_files(&files).map(Some)
    }

    /// A table of the newest published day before `day`, lazily (keys stay stable across
    /// nights; profile changes compare with it).
    pub fn previous_scan(&self, table: &str, day: Day) -> Result<Option<LazyFrame>> {
        let Some(previous) = self.previous_day(day) else { return Ok(None) };
        tracing::info!(dt = %previous, table, "previous published day scanned");
        self.scan_table(table, previous)
    }

    /// Days more than `days` before `as_of` that anything under the root is kept for (a
    /// published day, or what a removal cut off by a kill left), oldest first.
    pub fn older_than(&self, as_of: Day, days: u32) -> Vec<Day> {
        let mut found = std::collections::BTreeSet::new();
        for folder in self.day_parents() {
            for entry in std::fs::read_dir(&folder).into_iter().flatten().filter_map(|e| e.ok()) {
                match Day::from_folder(&entry.file_name().to_string_lossy()) {
                    Some(d) if as_of.days_after(d) > days as i64 => found.insert(d),
                    _ => false,
                };
            }
        }
        found.into_iter().collect()
    }

    /// Remove whole days: the manifest first (the day stops being published), then every
    /// other folder of the day. A removal cut off by a kill is finished by the next one
    /// (`older_than` finds what is left).
    pub fn remove_days(&self, days: &[Day]) -> Result<()> {
        for &day in days {
            let manifest = self.root.join(Store::day_folder(MANIFEST, day));
            let mut folders: Vec<PathBuf> = self.day_parents().into_iter().map(|p| p.join(day.folder())).collect();
            folders.sort_by_key(|f| *f != manifest);
            for folder in folders.into_iter().filter(|f| f.exists()) {
                std::fs::remove_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
            }
            tracing::info!(dt = %day, "day removed: older than the retention period");
        }
        Ok(())
    }

    /// The folders holding `dt=` folders: every table's, the report's, the manifests' and the
    /// refused runs' (not staging or trash).
    fn day_parents(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.root) else { return Vec::new() };
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                !name.starts_with('_') || name == MANIFEST || name == REJECTED
            })
            .map(|e| e.path())
            .collect()
    }

    /// The pipeline config that published the newest day, as its manifest names it (if the
    /// file is still there).
    pub fn newest_pipeline(&self) -> Option<PathBuf> {
        let day = *self.published_days().last()?;
        let text = std::fs::read_to_string(self.manifest_path(day)).ok()?;
        let m: serde_json::Value = serde_json::from_str(&text).ok()?;
        Some(PathBuf::from(m["pipeline"].as_str()?)).filter(|p| p.exists())
    }

    /// Reports of runs refused by a gate: `dt=… <run_id>.json`, sorted.
    pub fn rejected_runs(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join(REJECTED)) else { return Vec::new() };
        let mut runs: Vec<String> = entries
            .filter_map(|e| e.ok())
            .flat_map(|d| {
                std::fs::read_dir(d.path()).into_iter().flatten().filter_map(|e| e.ok()).map(move |f| (d.file_name(), f.file_name()))
            })
            .map(|(dt, f)| format!("{} {}", dt.to_string_lossy(), f.to_string_lossy()))
            .collect();
        runs.sort();
        runs
    }
}
