//! The same inputs and as-of date give identical output files.

use crate::util::*;
use std::path::Path;

fn run_into(input: &Path, out: &Path) {
    run_ok(&nightly(), input, out);
}

#[test]
fn two_runs_give_identical_files() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    assert_eq!(portrait(&["sample", "--scale", "0.01", "--seed", "3", "--out", s(&input)]).code, 0);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    run_into(&input, &a);
    run_into(&input, &b);
    for t in ["profiles", "tags", "identity_map", "segment_summary", "quarantine"] {
        let (fa, fb) = (std::fs::read(table_file(&a, t)).unwrap(), std::fs::read(table_file(&b, t)).unwrap());
        assert!(fa == fb, "{t} differs between two runs");
    }
    for doc in ["report.html", "data_dictionary.md"] {
        let read = |out: &Path| std::fs::read(out.join(format!("report/dt={AS_OF}/{doc}"))).unwrap();
        assert!(read(&a) == read(&b), "{doc} differs between two runs");
    }
    let strip = |mut m: serde_json::Value| {
        for k in ["run_id", "stage_seconds", "peak_memory_bytes", "work_disk_bytes"] {
            m.as_object_mut().unwrap().remove(k);
        }
        for o in m["outputs"].as_array_mut().unwrap() {
            o.as_object_mut().unwrap().remove("path"); // carries the run id
        }
        m
    };
    assert_eq!(strip(manifest(&a)), strip(manifest(&b)));
}

#[test]
fn the_generator_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    for d in [&a, &b] {
        assert_eq!(portrait(&["sample", "--scale", "0.005", "--seed", "11", "--out", s(d)]).code, 0);
    }
    for f in ["customers/part-00000.csv", "orders/part-00000.parquet", "truth/customers_truth.csv"] {
        assert!(std::fs::read(a.join(f)).unwrap() == std::fs::read(b.join(f)).unwrap(), "{f}");
    }
}
