//! Atomic publish and the output-root lock. Readers see a day's folder complete or not at all:
//! everything is written under `_staging/<run_id>/` (skipped by Spark/DuckDB globs), verified
//! against the manifest, then renamed into place; `_SUCCESS` marks a complete folder.

use crate::error::{Error, Result};
use std::fs;
use std::path::{Path, PathBuf};

pub fn staging_dir(root: &Path, run_id: &str) -> PathBuf {
    root.join("_staging").join(run_id)
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
/// replacing what was there, then remove the staging folder.
pub fn promote(root: &Path, run_id: &str, rels: &[String]) -> Result<()> {
    let staging = staging_dir(root, run_id);
    let trash = root.join("_trash").join(run_id);
    for rel in rels {
        let from = staging.join(rel);
        let to = root.join(rel);
        let parent = to.parent().expect("a dt folder has a parent");
        mkdirs(parent)?;
        if to.exists() {
            let old = trash.join(rel);
            mkdirs(old.parent().expect("has parent"))?;
            fs::rename(&to, &old).map_err(|e| Error::io(&to, e))?;
        }
        fs::rename(&from, &to).map_err(|e| Error::io(&to, e))?;
        sync_dir(parent);
    }
    let _ = fs::remove_dir_all(&trash);
    let _ = fs::remove_dir_all(&staging);
    // Leave no empty `_staging/` or `_trash/` behind (fails harmlessly while not empty).
    let _ = fs::remove_dir(root.join("_staging"));
    let _ = fs::remove_dir(root.join("_trash"));
    Ok(())
}

/// Remove staging folders left by runs that were killed (no live lock holder owns them).
pub fn clean_stale_staging(root: &Path) {
    for dir in ["_staging", "_trash"] {
        let _ = fs::remove_dir_all(root.join(dir));
    }
}

/// An exclusive lock on an output root, released on drop.
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    pub fn acquire(root: &Path, started: &str) -> Result<Lock> {
        mkdirs(root)?;
        let path = root.join("_portrait.lock");
        let me = format!(
            "pid={} host={} started={}",
            std::process::id(),
            fs::read_to_string("/etc/hostname").unwrap_or_default().trim(),
            started
        );
        for _ in 0..2 {
            match fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    use std::io::Write;
                    f.write_all(me.as_bytes()).map_err(|e| Error::io(&path, e))?;
                    return Ok(Lock { path });
                }
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

/// A lock whose pid no longer runs on this host was left by a killed run.
fn holder_is_dead(holder: &str) -> bool {
    let pid = holder.split_whitespace().find_map(|kv| kv.strip_prefix("pid=")).and_then(|p| p.parse::<u32>().ok());
    match pid {
        Some(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
        None => false,
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
