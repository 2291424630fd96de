//! Every input row is accounted for on messy generated data: read = used + duplicate +
//! quarantined + after_as_of per table, with `read` counted independently from the files.

use crate::util::*;
use polars::prelude::*;
use std::path::Path;

/// Data rows in a folder of CSV, NDJSON or Parquet files, counted without portrait's reader.
fn rows_in(dir: &Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.to_string_lossy().to_string();
        n += if name.ends_with(".csv") {
            csv::Reader::from_path(&p).unwrap().records().count() as u64
        } else if name.ends_with(".ndjson") {
            std::fs::read_to_string(&p).unwrap().lines().filter(|l| !l.trim().is_empty()).count() as u64
        } else if name.ends_with(".parquet") {
            portrait::io::parquet::read(&p).unwrap().height() as u64
        } else {
            0
        };
    }
    n
}

fn check(input: &Path, as_of: &str) -> serde_json::Value {
    let out = input.parent().unwrap().join(format!("out-{as_of}"));
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(input), "--output", s(&out), "--as-of", as_of]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("_manifest/dt={as_of}/_manifest.json"))).unwrap()).unwrap();
    let q = portrait::io::parquet::read(
        &std::fs::read_dir(out.join(format!("quarantine/dt={as_of}")))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "parquet"))
            .unwrap(),
    )
    .unwrap();
    for table in ["customers", "orders", "order_items", "events", "social_interactions", "feedback"] {
        let a = &m["accounting"][table];
        let get = |f: &str| a[f].as_u64().unwrap();
        assert_eq!(get("read"), rows_in(&input.join(table)), "{table}: read counts every row in the files");
        assert_eq!(get("read"), get("used") + get("duplicate") + get("quarantined") + get("after_as_of"), "{table}: {a}");
        let in_q = q.column("table").unwrap().str().unwrap().equal(table).sum().unwrap_or(0) as u64;
        assert_eq!(in_q, get("quarantined"), "{table}: quarantine table holds every quarantined row");
    }
    m
}

#[test]
fn every_row_is_accounted_for_on_messy_data() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let o = portrait(&["sample", "--scale", "0.01", "--seed", "7", "--out", s(&input)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let m = check(&input, AS_OF);
    let a = &m["accounting"];
    // The generator re-sends about 2% of orders, writes garbage customer rows, orphan orders
    // and unknown statuses: each must show up in its own column.
    assert!(a["orders"]["duplicate"].as_u64().unwrap() > 0);
    assert!(a["orders"]["quarantined"].as_u64().unwrap() >= 3);
    assert!(a["customers"]["quarantined"].as_u64().unwrap() > 0);
    // Half a year earlier, the newer rows are held back, not lost.
    let m = check(&input, "2026-05-31");
    assert!(m["accounting"]["orders"]["after_as_of"].as_u64().unwrap() > 0);
    assert!(m["accounting"]["events"]["after_as_of"].as_u64().unwrap() > 0);
}
