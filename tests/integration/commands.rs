//! `explain`, `sample` and the log formats, from the real binary.

use crate::util::*;

#[test]
fn explain_lists_the_stages_and_a_plan_per_output() {
    let o = portrait(&["explain", "--pipeline", s(&nightly()), "--input", s(&tiny())]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("stages: ingest -> identity -> route"), "{}", o.stdout);
    let steps =
        ["route orders", "route order_items", "route events", "bucket pass: per-person columns of one bucket", "population", "score pass"];
    for t in steps.iter().copied().chain(["profiles", "tags", "identity_map", "segment_summary"]) {
        assert!(o.stdout.contains(&format!("== {t}")), "no plan for {t}");
    }
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = portrait(&["--log-format", "json", "run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let lines: Vec<serde_json::Value> =
        o.stderr.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect();
    let published = lines.iter().find(|l| l["fields"]["message"] == "published").expect("a summary line");
    assert_eq!(published["fields"]["profiles"].as_u64(), Some(10));
    // The OS's high-water mark of the run, in the log line and the manifest.
    assert!(published["fields"]["peak_memory_mib"].as_u64().is_some_and(|m| m > 0), "{published}");
    assert!(manifest(&out)["peak_memory_bytes"].as_u64().is_some_and(|b| b > 1 << 20));
    let o = portrait(&["--log-format", "json", "validate", "--pipeline", "/nonexistent.toml"]);
    assert_eq!(o.code, 78);
    let err: serde_json::Value = serde_json::from_str(o.stderr.lines().last().unwrap()).unwrap();
    assert_eq!(err["level"], "ERROR");
    assert_eq!(err["fields"]["exit_code"].as_u64(), Some(78));
}

#[test]
fn sample_writes_every_table_and_a_truth_for_every_customer_record() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("in");
    let o = portrait(&["sample", "--scale", "0.002", "--seed", "5", "--out", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for t in ["customers", "orders", "order_items", "events", "social_interactions", "feedback"] {
        assert!(std::fs::read_dir(out.join(t)).unwrap().count() > 0, "{t}");
    }
    let mut truth = csv::Reader::from_path(out.join("truth/customers_truth.csv")).unwrap();
    let truth: std::collections::HashSet<(String, String)> =
        truth.records().map(|r| r.unwrap()).map(|r| (r[0].to_string(), r[1].to_string())).collect();
    let mut customers = csv::Reader::from_path(out.join("customers/part-00000.csv")).unwrap();
    let mut usable = 0;
    for r in customers.records() {
        let r = r.unwrap();
        if r[1].is_empty() {
            continue; // the generator's garbage rows have no id and belong to nobody
        }
        usable += 1;
        assert!(truth.contains(&(r[0].to_string(), r[1].to_string())), "no truth for {:?}", &r);
    }
    assert_eq!(usable, truth.len());
    // 200 people, about 15% more records
    assert!((200..=260).contains(&truth.len()), "{}", truth.len());
}

#[test]
fn every_stage_logs_rows_in_rows_out_and_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let o = portrait(&[
        "--log-format",
        "json",
        "run",
        "--pipeline",
        s(&nightly()),
        "--input",
        s(&tiny()),
        "--output",
        s(&dir.path().join("out")),
    ]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let stages: Vec<serde_json::Value> = o
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["fields"]["message"] == "stage finished")
        .collect();
    let names: Vec<&str> = stages.iter().map(|v| v["fields"]["stage"].as_str().unwrap()).collect();
    assert_eq!(names, ["ingest_customers", "identity", "execute", "models", "score", "write"]);
    // 14 usable customer records become 10 people.
    assert_eq!(stages[1]["fields"]["rows_in"], 14);
    assert_eq!(stages[1]["fields"]["rows_out"], 10);
    assert!(stages.iter().all(|v| v["fields"]["seconds"].as_f64().is_some()));
    // Events inside a stage carry the run's span and the stage's.
    let fuzzy = o
        .stderr
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["fields"]["message"] == "fuzzy matching")
        .unwrap();
    let spans = fuzzy["spans"].as_array().unwrap();
    assert_eq!(spans[0]["name"], "run");
    assert_eq!(spans[0]["as_of"], "2026-11-22");
    assert_eq!(spans[1]["stage"], "identity");
}
