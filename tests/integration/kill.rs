//! Kill -9 at random points of a run: readers never see a partial day folder, the previous
//! day stays exactly as it was, and the next run succeeds and equals a clean run.
//! CI runs 6 kill points on SF 0.05; `PORTRAIT_KILL_POINTS=30 PORTRAIT_KILL_SCALE=1 cargo test
//! --release --test integration kill` runs the full version on SF 1.

use crate::util::{copy_dir, nightly, portrait, s};
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

const TABLES: [&str; 9] =
    ["profiles", "tags", "identity_map", "segment_summary", "model_eval", "profile_changes", "quarantine", "report", "_manifest"];

fn env_or(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn run_args(input: &Path, out: &Path, as_of: &str) -> Vec<String> {
    ["run", "--pipeline", s(&nightly()), "--input", s(input), "--output", s(out), "--as-of", as_of].map(String::from).to_vec()
}

fn run(input: &Path, out: &Path, as_of: &str) -> i32 {
    let args = run_args(input, out, as_of);
    portrait(&args.iter().map(String::as_str).collect::<Vec<_>>()).code
}

/// Every visible file of a day (relative path -> content), skipping `_staging`, `_trash`, locks.
fn day_files(out: &Path, dt: &str) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for t in TABLES {
        let dir = out.join(t).join(format!("dt={dt}"));
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                // Part files carry the run id in their name: key by table and kind.
                let name = e.file_name().to_string_lossy().to_string();
                let kind = if name.ends_with(".parquet") { "part.parquet".to_string() } else { name };
                files.insert(format!("{t}/{kind}"), std::fs::read(e.path()).unwrap());
            }
        }
    }
    files
}

fn strip_manifest(bytes: &[u8]) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    let o = m.as_object_mut().unwrap();
    o.remove("run_id");
    o.remove("stage_seconds");
    o.remove("peak_memory_bytes"); // measured, like the timings
    o.remove("work_disk_bytes");
    for e in o["outputs"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("path");
    }
    m
}

#[test]
fn kill_9_at_random_points_never_shows_a_partial_day() {
    let points = env_or("PORTRAIT_KILL_POINTS", 6.0) as usize;
    let scale = env_or("PORTRAIT_KILL_SCALE", 0.05);
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let o = portrait(&["sample", "--scale", &scale.to_string(), "--out", s(&input)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let (day1, day2) = ("2026-11-21", "2026-11-22");
    // The previous day, published cleanly, and a clean reference of the new day.
    let base = dir.path().join("base");
    assert_eq!(run(&input, &base, day1), 0);
    let reference = dir.path().join("reference");
    copy_dir(&base, &reference);
    let started = Instant::now();
    assert_eq!(run(&input, &reference, day2), 0);
    let clean_run = started.elapsed();
    let day1_files = day_files(&base, day1);
    let reference_day2 = day_files(&reference, day2);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);

    let out = dir.path().join("out");
    copy_dir(&base, &out);
    for point in 0..points {
        let wait = Duration::from_secs_f64(clean_run.as_secs_f64() * rng.gen_range(0.05..1.0));
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
            .args(run_args(&input, &out, day2))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // The previous day is untouched.
        assert_eq!(day_files(&out, day1), day1_files, "kill {point} after {wait:?} changed the previous day");
        // Every visible folder of the new day is complete: exactly the reference's files.
        let now = day_files(&out, day2);
        for t in TABLES {
            let visible: BTreeMap<&String, &Vec<u8>> = now.iter().filter(|(k, _)| k.starts_with(&format!("{t}/"))).collect();
            let expected: BTreeMap<&String, &Vec<u8>> = reference_day2.iter().filter(|(k, _)| k.starts_with(&format!("{t}/"))).collect();
            if visible.is_empty() {
                continue;
            }
            if t == "_manifest" {
                let m = |f: &BTreeMap<String, Vec<u8>>| strip_manifest(&f["_manifest/_manifest.json"]);
                assert_eq!(m(&now), m(&reference_day2), "kill {point}: manifest");
            } else {
                assert_eq!(visible, expected, "kill {point} after {wait:?}: {t}/dt={day2} is visible but not complete");
            }
        }
        // A published manifest means every table of the day is there.
        if now.contains_key("_manifest/_manifest.json") {
            assert_eq!(now.len(), reference_day2.len(), "kill {point}: manifest published before a table");
        }
    }
    // The next run succeeds and equals a clean run (also read by DuckDB, as analysts would).
    assert_eq!(run(&input, &out, day2), 0);
    let after = day_files(&out, day2);
    assert_eq!(after.keys().collect::<Vec<_>>(), reference_day2.keys().collect::<Vec<_>>());
    for (k, v) in &after {
        if k.starts_with("_manifest") {
            assert_eq!(strip_manifest(v), strip_manifest(&reference_day2[k]));
        } else {
            assert_eq!(v, &reference_day2[k], "{k}");
        }
    }
    assert!(!out.join("_staging").exists() && !out.join("_trash").exists(), "stale staging cleaned");
    let script = format!(
        "import duckdb; print(duckdb.sql(\"SELECT count(*) FROM read_parquet('{}/profiles/*/*.parquet', hive_partitioning=true) WHERE dt='{day2}'\").fetchone()[0])",
        out.display()
    );
    if let Ok(o) = std::process::Command::new("python3").args(["-c", &script]).output() {
        if o.status.success() {
            let rows: usize = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
            assert_eq!(rows, crate::util::table_at(&reference, "profiles", day2).height());
        }
    }
}

/// Every table folder of every day: table/dt -> its files' contents, sorted (part files carry
/// the run id or the erase id in their names).
fn folders(out: &Path) -> BTreeMap<String, Vec<Vec<u8>>> {
    let mut folders = BTreeMap::new();
    for table in std::fs::read_dir(out).unwrap().flatten() {
        let name = table.file_name().to_string_lossy().to_string();
        if name.starts_with("_staging") || name.starts_with("_trash") || name == "_state" || !table.path().is_dir() {
            continue;
        }
        for day in std::fs::read_dir(table.path()).unwrap().flatten() {
            let mut contents: Vec<Vec<u8>> =
                std::fs::read_dir(day.path()).unwrap().flatten().map(|f| std::fs::read(f.path()).unwrap()).collect();
            if name == "_manifest" {
                contents = contents.iter().map(|c| serde_json::to_vec(&strip_erase(c)).unwrap()).collect();
            }
            contents.sort();
            folders.insert(format!("{name}/{}", day.file_name().to_string_lossy()), contents);
        }
    }
    folders
}

/// A manifest without what names the erase run (its id, and the part files' paths).
fn strip_erase(bytes: &[u8]) -> serde_json::Value {
    let mut m: serde_json::Value = serde_json::from_slice(bytes).unwrap();
    for e in m["outputs"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("path");
    }
    if let Some(list) = m.get_mut("erasures").and_then(|e| e.as_array_mut()) {
        for e in list {
            e.as_object_mut().unwrap().remove("erase_id");
        }
    }
    m
}

#[test]
fn kill_9_during_erase_leaves_each_day_before_or_after() {
    let points = env_or("PORTRAIT_KILL_POINTS", 6.0) as usize;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let o = portrait(&["sample", "--scale", "0.05", "--out", s(&input)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let base = dir.path().join("base");
    for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        assert_eq!(run(&input, &base, day), 0);
    }
    // Erase 40 people, named by one record each.
    let map = crate::util::table_at(&base, "identity_map", "2026-11-22");
    let col = |n: &str| map.column(n).unwrap().str().unwrap().clone();
    let (source, id) = (col("source"), col("source_customer_id"));
    let rows: String =
        (0..40).map(|i| format!("{},{},2026-11-01 00:00:00\n", source.get(i * 7).unwrap(), id.get(i * 7).unwrap())).collect();
    crate::util::write_at(&input, "erasures/requests.csv", &format!("source,source_customer_id,requested_at\n{rows}"));
    let pipeline = nightly();
    let erase_args = ["erase", "--output", "", "--pipeline", s(&pipeline), "--input", s(&input)];
    let erase = |out: &Path| {
        let mut args = erase_args;
        args[2] = s(out);
        std::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let reference = dir.path().join("reference");
    copy_dir(&base, &reference);
    let started = Instant::now();
    assert!(erase(&reference).wait().unwrap().success());
    let clean_erase = started.elapsed();
    let (before, after) = (folders(&base), folders(&reference));
    assert_ne!(before, after, "the erase rewrote nothing");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    for point in 0..points {
        let out = dir.path().join(format!("out{point}"));
        copy_dir(&base, &out);
        let wait = Duration::from_secs_f64(clean_erase.as_secs_f64() * rng.gen_range(0.05..1.0));
        let mut child = erase(&out);
        std::thread::sleep(wait);
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        // Every folder is wholly before or wholly after (a day may be part-way through its
        // moves: the next command to take the lock finishes them).
        for (folder, files) in folders(&out) {
            assert!(
                before.get(&folder) == Some(&files) || after.get(&folder) == Some(&files),
                "kill {point} after {wait:?}: {folder} is neither"
            );
        }
        // The next erase finishes what was begun: every day after.
        let mut args = erase_args;
        args[2] = s(&out);
        let again = std::process::Command::new(env!("CARGO_BIN_EXE_portrait")).args(args).output().unwrap();
        assert!(again.status.success(), "kill {point} after {wait:?}: the next erase failed: {}", String::from_utf8_lossy(&again.stderr));
        assert_eq!(folders(&out), after, "kill {point} after {wait:?}: not the clean erase's result");
        assert!(!out.join("_staging").exists() && !out.join("_trash").exists());
    }
}
