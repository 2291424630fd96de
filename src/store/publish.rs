//! Publishing a day atomically, and the output root's lock. Readers see a day's folder
//! complete or not at all: everything is written under `_staging/<run_id>/` (skipped by
//! Spark/DuckDB globs), checked against what was written, then renamed into place with
//! `_SUCCESS` in each folder; the manifest is moved last. Once every file is checked, the
//! list of folders to move is written (`_PROMOTE`): a run killed while moving them is rolled
//! forward by the next one to take the lock, so a day that is re-published (`--force`,
//! `portrait erase`) ends up wholly old or wholly new, never without a folder.

use super::manifest::{DocumentEntry, FileEntry, Manifest};
use super::{Store, MANIFEST, MANIFEST_FILE};
use crate::day::Day;
use crate::error::{Error, Result};
use crate::io::parquet::{self, WriteOptions};
use polars::prelude::{DataFrame, LazyFrame};
use serde::Serialize;
use std::fs;
use std::path::{Path, PathBuf};

const STAGING: &str = "_staging";
const TRASH: &str = "_trash";
/// In a staging folder: the folders it is moving into place, one per line.
const PROMOTE: &str = "_PROMOTE";
/// The output root's lock file: one run at a time.
const LOCK: &str = "_portrait.lock";

impl Store {
    /// Take the output root's lock (exit 75 while a live run holds it), then finish the moves
    /// a killed run had begun and remove what killed runs left in staging: holding the lock,
    /// any staging folder is a dead run's.
    pub fn lock(&self, started: &str) -> Result<Lock> {
        let lock = Lock::acquire(&self.root, started)?;
        for entry in fs::read_dir(self.root.join(STAGING)).into_iter().flatten().filter_map(|e| e.ok()) {
            if let Ok(list) = fs::read_to_string(entry.path().join(PROMOTE)) {
                let run_id = entry.file_name().to_string_lossy().to_string();
                let rels: Vec<String> = list.lines().map(str::to_string).collect();
                tracing::warn!(run_id = %run_id, folders = rels.len(), "finishing the publication of a run that was killed while moving its folders");
                promote(&self.root, &run_id, &rels)?;
            }
        }
        for dir in [STAGING, TRASH] {
            let _ = fs::remove_dir_all(self.root.join(dir));
        }
        Ok(lock)
    }

    /// Where a run keeps its intermediate files (the routed buckets) until they are used:
    /// inside its staging folder, so a killed run's are removed with it.
    pub fn work_dir(&self, run_id: &str) -> PathBuf {
        staging_dir(&self.root, run_id).join("_work")
    }

    /// Write part `part` of a table's day into the run's staging folder (tables written
    /// bucket by bucket have one part per bucket, the others part 0); its manifest entry.
    pub fn stage_part(&self, run_id: &str, table: &str, day: Day, part: u32, df: &DataFrame, opts: WriteOptions) -> Result<FileEntry> {
        let rel_dir = Store::day_folder(table, day);
        mkdirs(&staging_dir(&self.root, run_id).join(&rel_dir))?;
        let rel = format!("{rel_dir}/part-{run_id}-{part:05}.parquet");
        let w = parquet::write(df, &staging_dir(&self.root, run_id).join(&rel), opts)?;
        Ok(FileEntry { table: table.to_string(), path: rel, rows: w.rows, bytes: w.bytes, sha256: w.sha256 })
    }

    /// The staged files of `entries` as one lazy frame (the tables over everyone read the
    /// parts the score pass staged).
    pub fn scan_staged(&self, run_id: &str, entries: &[FileEntry]) -> Result<LazyFrame> {
        let files: Vec<PathBuf> = entries.iter().map(|e| staging_dir(&self.root, run_id).join(&e.path)).collect();
        parquet::scan_files(&files)
    }

    /// Write a document into the staging folder of `folder`'s day; its manifest entry.
    pub fn stage_document(&self, run_id: &str, folder: &str, day: Day, name: &str, data: &[u8]) -> Result<DocumentEntry> {
        let rel = format!("{}/{name}", Store::day_folder(folder, day));
        let path = staging_dir(&self.root, run_id).join(&rel);
        write_file(&path, data)?;
        let (bytes, sha256) = parquet::digest(&path)?;
        Ok(DocumentEntry { path: rel, bytes, sha256 })
    }

    /// Leave the report of a run a gate refused; its path.
    pub fn reject(&self, day: Day, run_id: &str, report: &[u8]) -> Result<PathBuf> {
        let path = self.rejected_path(day, run_id);
        write_file(&path, report)?;
        Ok(path)
    }

    /// Check the staged files against their entries (rows re-read, bytes and sha256
    /// recomputed), write `_SUCCESS` in each folder and the manifest, then move them into place.
    pub fn publish<S: Serialize>(&self, day: Day, manifest: &Manifest<S>) -> Result<()> {
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| Error::internal("manifest json", e))?;
        self.publish_staged(&manifest.run_id, day, &manifest.outputs, &manifest.documents, &json)
    }

    /// `publish` for what run `run_id` staged: `outputs` and `documents` (the folders that
    /// move; a day re-published in part keeps its other folders) and the day's new manifest.
    pub fn publish_staged(
        &self,
        run_id: &str,
        day: Day,
        outputs: &[FileEntry],
        documents: &[DocumentEntry],
        manifest: &[u8],
    ) -> Result<()> {
        let staging = staging_dir(&self.root, run_id);
        for e in outputs {
            let path = staging.join(&e.path);
            let (bytes, sha) = parquet::digest(&path)?;
            let rows = parquet::rows(&path)?;
            if (bytes, &sha, rows) != (e.bytes, &e.sha256, e.rows) {
                return Err(Error::Internal(format!("staged file {} does not match what was written", e.path)));
            }
        }
        for d in documents {
            if parquet::digest(&staging.join(&d.path))? != (d.bytes, d.sha256.clone()) {
                return Err(Error::Internal(format!("staged file {} does not match what was written", d.path)));
            }
        }
        let folder_of = |path: &str| path.rsplit_once('/').map(|(dir, _)| dir.to_string()).unwrap_or_default();
        let mut rels: Vec<String> = outputs.iter().map(|e| folder_of(&e.path)).collect();
        rels.extend(documents.iter().map(|d| folder_of(&d.path)));
        rels.dedup();
        let manifest_rel = Store::day_folder(MANIFEST, day);
        write_file(&staging.join(&manifest_rel).join(MANIFEST_FILE), manifest)?;
        for rel in &rels {
            write_file(&staging.join(rel).join("_SUCCESS"), b"")?;
        }
        rels.push(manifest_rel);
        write_file(&staging.join(PROMOTE), rels.join("\n").as_bytes())?;
        promote(&self.root, run_id, &rels)
    }
}

fn staging_dir(root: &Path, run_id: &str) -> PathBuf {
    root.join(STAGING).join(run_id)
}

pub fn mkdirs(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| Error::io(path, e))
}

pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    if let Some(p) = path.parent() {
        mkdirs(p)?;
    }
    let mut f = fs::File::create(path).map_err(|e| Error::io(path, e))?;
    use std::io::Write;
    f.write_all(data).map_err(|e| Error::io(path, e))?;
    f.sync_all().map_err(|e| Error::io(path, e))
}

fn sync_dir(path: &Path) {
    // Makes the rename durable; not all file systems allow opening a folder, so best effort.
    if let Ok(d) = fs::File::open(path) {
        let _ = d.sync_all();
    }
}

/// Move each staged `<rel>` folder (e.g. `profiles/dt=2026-11-22`) into `root/<rel>`,
/// replacing what was there, then remove the staging folder. Folders already moved (by a run
/// killed part-way) are skipped, so it can be run again to finish.
fn promote(root: &Path, run_id: &str, rels: &[String]) -> Result<()> {
    let staging = staging_dir(root, run_id);
    let trash = root.join(TRASH).join(run_id);
    for rel in rels {
        let from = staging.join(rel);
        let to = root.join(rel);
        if !from.exists() {
            continue;
        }
        let parent = to.parent().expect("a dt folder has a parent");
        mkdirs(parent)?;
        if to.exists() {
            let old = trash.join(rel);
            let _ = fs::remove_dir_all(&old); // a killed earlier attempt's
            mkdirs(old.parent().expect("has parent"))?;
            fs::rename(&to, &old).map_err(|e| Error::io(&to, e))?;
        }
        fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        sync_dir(parent);
    }
    let _ = fs::remove_dir_all(&trash);
    let _ = fs::remove_dir_all(&staging);
    // Leave no empty `_staging/` or `_trash/` behind (fails harmlessly while not empty).
    let _ = fs::remove_dir(root.join(STAGING));
    let _ = fs::remove_dir(root.join(TRASH));
    Ok(())
}

/// An exclusive lock on an output root, released on drop.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// The lock file appears with its holder line already in it: written to a file of this
    /// process's own, then hard-linked into place, which fails if a lock exists. (Created
    /// empty and written after, a run killed between the two left a lock naming no one, which
    /// no later run could tell from a live one.)
    fn acquire(root: &Path, started: &str) -> Result<Lock> {
        mkdirs(root)?;
        let path = root.join(LOCK);
        let me = format!(
            "pid={} host={} started={}",
            std::process::id(),
            fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
            started
        );
        let mine = root.join(format!("{LOCK}.{}", std::process::id()));
        write_file(&mine, me.as_bytes())?;
        let taken = Lock::link(&mine, path);
        let _ = fs::remove_file(&mine);
        if taken.is_ok() {
            remove_dead_runs_files(root);
        }
        taken
    }

    /// Hard-link `mine` to the lock `path`, taking over a dead holder's lock.
    fn link(mine: &Path, path: PathBuf) -> Result<Lock> {
        for _ in 0..2 {
            match fs::hard_link(mine, &path) {
                Ok(()) => return Ok(Lock { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = fs::read_to_string(&path).unwrap_or_default();
                    if holder_is_dead(&holder) {
                        let _ = fs::remove_file(&path);
                        continue;
                    }
                    return Err(Error::Locked { path, holder });
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
        Err(Error::Locked { path, holder: "a run that keeps re-taking the lock".into() })
    }
}

/// The private files (`_portrait.lock.<pid>`) of runs killed before they removed theirs.
fn remove_dead_runs_files(root: &Path) {
    let prefix = format!("{LOCK}.");
    for entry in fs::read_dir(root).into_iter().flatten().filter_map(|e| e.ok()) {
        let pid = entry.file_name().to_string_lossy().strip_prefix(&prefix).and_then(|p| p.parse().ok());
        if pid.is_some_and(|pid| !runs(pid)) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A lock whose pid no longer runs on this host was left by a killed run.
fn holder_is_dead(holder: &str) -> bool {
    let pid = holder.split_whitespace().find_map(|kv| kv.strip_prefix("pid=")).and_then(|p| p.parse::<u32>().ok());
    pid.is_some_and(|pid| !runs(pid))
}

/// Whether process `pid` runs on this host.
fn runs(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(path: &Path, text: &str) {
        write_file(path, text.as_bytes()).unwrap();
    }

    fn read(path: &Path) -> String {
        fs::read_to_string(path).unwrap()
    }

    /// A re-publication killed between moving the old `tags` folder out and the new one in:
    /// `profiles` already new, `tags` only in the trash and in staging, the manifest old. The
    /// next lock finishes it: every folder new, nothing left in staging or the trash.
    #[test]
    fn a_publication_killed_between_two_renames_is_rolled_forward() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rels = ["profiles/dt=2026-11-22", "tags/dt=2026-11-22", "_manifest/dt=2026-11-22"];
        let (staging, trash) = (staging_dir(root, "r2"), root.join(TRASH).join("r2"));
        put(&root.join(rels[0]).join("part.parquet"), "new profiles"); // moved in
        put(&trash.join(rels[0]).join("part.parquet"), "old profiles");
        put(&trash.join(rels[1]).join("part.parquet"), "old tags"); // moved out ...
        put(&staging.join(rels[1]).join("part.parquet"), "new tags"); // ... not yet in
        put(&root.join(rels[2]).join("_manifest.json"), "old manifest");
        put(&staging.join(rels[2]).join("_manifest.json"), "new manifest");
        put(&staging.join(PROMOTE), &rels.join("\n"));
        let store = Store::new(root);
        drop(store.lock("now").unwrap());
        assert_eq!(read(&root.join(rels[0]).join("part.parquet")), "new profiles");
        assert_eq!(read(&root.join(rels[1]).join("part.parquet")), "new tags");
        assert_eq!(read(&root.join(rels[2]).join("_manifest.json")), "new manifest");
        assert!(!root.join(STAGING).exists() && !root.join(TRASH).exists());
    }

    /// The lock names its holder from the moment it exists; a killed run's private file is
    /// removed by the next run to take the lock, a live process's is not.
    #[test]
    fn the_lock_names_its_holder_and_a_dead_runs_leftovers_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(&root.join(format!("{LOCK}.999999999")), "pid=999999999 host=h started=then");
        let live = root.join(format!("{LOCK}.1")); // pid 1 always runs
        put(&live, "pid=1 host=h started=then");
        let lock = Lock::acquire(root, "now").unwrap();
        assert!(read(&root.join(LOCK)).starts_with(&format!("pid={} ", std::process::id())));
        assert!(!root.join(format!("{LOCK}.999999999")).exists());
        assert!(!root.join(format!("{LOCK}.{}", std::process::id())).exists());
        assert!(live.exists());
        assert!(matches!(Lock::acquire(root, "later"), Err(Error::Locked { .. })));
        drop(lock);
        assert!(!root.join(LOCK).exists());
    }

    /// Killed before `_PROMOTE` was written: nothing had moved, the staging folder is dropped.
    #[test]
    fn a_run_killed_before_its_moves_leaves_the_day_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        put(&root.join("tags/dt=2026-11-22/part.parquet"), "old tags");
        put(&staging_dir(root, "r2").join("tags/dt=2026-11-22/part.parquet"), "new tags");
        drop(Store::new(root).lock("now").unwrap());
        assert_eq!(read(&root.join("tags/dt=2026-11-22/part.parquet")), "old tags");
        assert!(!root.join(STAGING).exists());
    }
}
