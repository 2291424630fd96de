//! Helpers shared by the integration tests: run the real binary in a fresh temp dir, read
//! published tables back, pick values out of them.

use polars::prelude::*;
use std::path::{Path, PathBuf};
use std::process::Command;

pub const AS_OF: &str = "2026-11-22";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn nightly() -> PathBuf {
    repo().join("pipelines/nightly.toml")
}

pub fn tiny() -> PathBuf {
    repo().join("tests/data/tiny")
}

/// What a run of the binary did.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn portrait(args: &[&str]) -> Outcome {
    portrait_with_env(args, &[])
}

/// `portrait` with extra environment variables (e.g. a hashing key).
pub fn portrait_with_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_portrait"))
        .args(args)
        .env("PORTRAIT_LOG", "info")
        .envs(env.iter().copied())
        .output()
        .expect("run the portrait binary");
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `portrait run` with the default pipeline over `input` into `output`; panics unless exit 0.
pub fn run_ok(pipeline: &Path, input: &Path, output: &Path) {
    let o = portrait(&["run", "--pipeline", s(pipeline), "--input", s(input), "--output", s(output), "--as-of", AS_OF]);
    assert_eq!(o.code, 0, "run failed:\n{}\n{}", o.stdout, o.stderr);
}

pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Copy a folder tree (fixtures are copied before a test damages them).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// The single Parquet file of a published table's day.
pub fn table_file(out: &Path, table: &str) -> PathBuf {
    table_file_at(out, table, AS_OF)
}

pub fn table_file_at(out: &Path, table: &str, dt: &str) -> PathBuf {
    let mut files = table_files_at(out, table, dt);
    assert_eq!(files.len(), 1, "one part file in {table}/dt={dt}");
    files.pop().unwrap()
}

/// The Parquet files of a published table's day, in name (part) order.
pub fn table_files_at(out: &Path, table: &str, dt: &str) -> Vec<PathBuf> {
    let dir = out.join(table).join(format!("dt={dt}"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
        .collect();
    files.sort();
    files
}

pub fn table(out: &Path, table: &str) -> DataFrame {
    table_at(out, table, AS_OF)
}

/// A published table's day: its part files one after another.
pub fn table_at(out: &Path, table: &str, dt: &str) -> DataFrame {
    let mut parts = table_files_at(out, table, dt).into_iter().map(|f| portrait::io::parquet::read(&f).expect("readable Parquet"));
    let mut df = parts.next().unwrap_or_else(|| panic!("no part file in {table}/dt={dt}"));
    for part in parts {
        df.vstack_mut(&part).unwrap();
    }
    df
}

/// `source:id` -> customer_key of a published day.
pub fn keys_at(out: &Path, dt: &str) -> std::collections::HashMap<String, String> {
    let m = table_at(out, "identity_map", dt);
    let col = |n: &str| m.column(n).unwrap().str().unwrap().clone();
    let (src, id, key) = (col("source"), col("source_customer_id"), col("customer_key"));
    (0..m.height()).map(|i| (format!("{}:{}", src.get(i).unwrap(), id.get(i).unwrap()), key.get(i).unwrap().to_string())).collect()
}

pub fn keys(out: &Path) -> std::collections::HashMap<String, String> {
    keys_at(out, AS_OF)
}

pub fn manifest_at(out: &Path, dt: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join(format!("_manifest/dt={dt}/_manifest.json"))).expect("manifest");
    serde_json::from_str(&text).expect("manifest JSON")
}

pub fn manifest(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join(format!("_manifest/dt={AS_OF}/_manifest.json"))).expect("manifest");
    serde_json::from_str(&text).expect("manifest is JSON")
}

/// The profile row of one customer, as (column -> value).
pub struct Row {
    df: DataFrame,
}

impl Row {
    pub fn of(profiles: &DataFrame, key: &str) -> Row {
        let mask = profiles.column("customer_key").unwrap().str().unwrap().equal(key);
        let df = profiles.filter(&mask).unwrap();
        assert_eq!(df.height(), 1, "one profile row for {key}");
        Row { df }
    }

    fn any(&self, c: &str) -> AnyValue<'_> {
        self.df.column(c).unwrap_or_else(|_| panic!("column {c}")).get(0).unwrap()
    }

    pub fn f(&self, c: &str) -> Option<f64> {
        match self.any(c) {
            AnyValue::Null => None,
            v => Some(v.extract::<f64>().unwrap_or_else(|| panic!("{c} is numeric"))),
        }
    }

    pub fn b(&self, c: &str) -> Option<bool> {
        match self.any(c) {
            AnyValue::Null => None,
            AnyValue::Boolean(b) => Some(b),
            other => panic!("{c} is not a boolean: {other:?}"),
        }
    }

    pub fn i(&self, c: &str) -> Option<i64> {
        match self.any(c) {
            AnyValue::Null => None,
            v => Some(v.extract::<i64>().unwrap_or_else(|| panic!("{c} is an integer"))),
        }
    }

    pub fn s(&self, c: &str) -> Option<String> {
        match self.any(c) {
            AnyValue::Null => None,
            AnyValue::Date(d) => {
                Some((chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap() + chrono::Duration::days(d as i64)).to_string())
            }
            v => Some(v.get_str().unwrap_or_else(|| panic!("{c} is text")).to_string()),
        }
    }

    pub fn list(&self, c: &str) -> Vec<String> {
        match self.any(c) {
            AnyValue::List(s) => s.str().unwrap().iter().map(|v| v.unwrap().to_string()).collect(),
            other => panic!("{c} is not a list: {other:?}"),
        }
    }
}

/// Assert a float within 1e-6 (None = null).
#[track_caller]
pub fn close(actual: Option<f64>, expected: Option<f64>, what: &str) {
    match (actual, expected) {
        (Some(a), Some(e)) => assert!((a - e).abs() < 1e-6, "{what}: got {a}, expected {e}"),
        (a, e) => assert_eq!(a, e, "{what}"),
    }
}

/// The sample pipeline with some of its text replaced, written as `dir/pipeline.toml`.
pub fn pipeline_edited(dir: &Path, replace: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(nightly()).unwrap();
    for (from, to) in replace {
        assert!(text.contains(from), "the sample pipeline has `{from}`");
        text = text.replace(from, to);
    }
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The sample pipeline's freshness gate on an input table (to remove it where a test's
/// table is empty on purpose).
pub fn freshness_gate(table: &str) -> String {
    format!("[[gates]]\ncheck = \"freshness\"\ntable = \"{table}\"\nmax = 7\nseverity = \"warn\"\n")
}

/// Write `text` to `root/rel`, creating folders.
pub fn write_at(root: &Path, rel: &str, text: &str) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
