//! The documented exit codes, from the real binary.

use crate::util::*;

#[test]
fn published_run_exits_0_and_writes_success_markers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&nightly(), &tiny(), &out);
    for t in ["profiles", "tags", "identity_map", "segment_summary", "quarantine"] {
        assert!(out.join(t).join(format!("dt={AS_OF}/_SUCCESS")).exists(), "{t}");
    }
    assert!(!out.join("_staging").exists(), "no staging folder left");
    assert!(!out.join("_portrait.lock").exists(), "lock released");
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(portrait(&["run"]).code, 2, "missing --pipeline");
    assert_eq!(portrait(&["run", "--pipeline", "x.toml", "--as-of", "22/11/2026"]).code, 2, "bad date");
    assert_eq!(portrait(&["frobnicate"]).code, 2, "unknown command");
}

#[test]
fn input_data_error_exits_65_and_missing_input_66() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_dir(&tiny(), &input);
    std::fs::write(input.join("orders/orders.csv"), "source,order_id\nshop,O1\n").unwrap();
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&input), "--output", s(&dir.path().join("o"))]);
    assert_eq!(o.code, 65, "{}", o.stderr);
    let o =
        portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&dir.path().join("nowhere")), "--output", s(&dir.path().join("o"))]);
    assert_eq!(o.code, 66, "{}", o.stderr);
    assert!(!dir.path().join("o/profiles").exists(), "nothing published on failure");
}

#[test]
fn invalid_config_exits_78_listing_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(
        &cfg,
        r#"
[pipeline]
colour = "blue"
locale = "fr"
[rfm]
bins = 1
[[features]]
name = "power_x"
expr = "power_total_spend / no_such_column"
[[tags]]
name = "t"
when = "power_total_spend + 1"
[report]
funnel = ["no_such_stage"]
[run]
mode = "sometimes"
"#,
    )
    .unwrap();
    let o = portrait(&["validate", "--pipeline", s(&cfg)]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    for key in [
        "pipeline.colour",
        "pipeline.locale",
        "rfm.bins",
        "features[0].expr",
        "no_such_column",
        "tags[0].when",
        "report.funnel[0]",
        "run.mode",
    ] {
        assert!(o.stderr.contains(key), "`{key}` missing from:\n{}", o.stderr);
    }
    assert!(o.stderr.contains("bad.toml"));
    // `run` checks the same before reading anything.
    assert_eq!(portrait(&["run", "--pipeline", s(&cfg)]).code, 78);
    std::fs::write(&cfg, "[pipeline\n").unwrap();
    let o = portrait(&["validate", "--pipeline", s(&cfg)]);
    assert_eq!(o.code, 78);
    assert!(o.stderr.contains("line 1"), "syntax errors point at the line: {}", o.stderr);
}

#[test]
fn a_second_run_on_a_locked_output_exits_75() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // Held by a live process: this test's own pid.
    std::fs::write(out.join("_portrait.lock"), format!("pid={} host=test started=now", std::process::id())).unwrap();
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out)]);
    assert_eq!(o.code, 75, "{}", o.stderr);
    assert!(o.stderr.contains(&format!("pid={}", std::process::id())), "names the holder: {}", o.stderr);
    // A lock left by a dead process is taken over.
    std::fs::write(out.join("_portrait.lock"), "pid=999999999 host=test started=then").unwrap();
    run_ok(&nightly(), &tiny(), &out);
}
