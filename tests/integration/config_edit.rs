//! A data engineer adds a feature and a tag by editing the pipeline file alone.

use crate::util::*;
use polars::prelude::ChunkCompareEq;
use std::collections::HashMap;

#[test]
fn a_feature_and_a_tag_added_in_config_appear_with_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nightly.toml");
    let mut text = std::fs::read_to_string(nightly()).unwrap();
    text.push_str(
        r#"
[[features]]
name = "power_peak_ratio"
expr = "power_max_order_value / power_avg_order_value"

[[tags]]
name = "big_ticket"
when = "power_max_order_value >= 500 AND power_peak_ratio >= 1"
"#,
    );
    std::fs::write(&cfg, text).unwrap();
    let out = dir.path().join("out");
    run_ok(&cfg, &tiny(), &out);
    let p = table(&out, "profiles");
    let m = table(&out, "identity_map");
    let keys: HashMap<String, String> = (0..m.height())
        .map(|i| {
            let g = |c: &str| m.column(c).unwrap().str().unwrap().get(i).unwrap().to_string();
            (g("source_customer_id"), g("customer_key"))
        })
        .collect();
    // P1: max 200 / mean 145; P2: 500 / 250; P3: 1000 / 1000.
    close(Row::of(&p, &keys["C1"]).f("power_peak_ratio"), Some(200.0 / 145.0), "P1");
    close(Row::of(&p, &keys["C2"]).f("power_peak_ratio"), Some(2.0), "P2");
    close(Row::of(&p, &keys["C8"]).f("power_peak_ratio"), None, "no orders");
    assert!(Row::of(&p, &keys["C2"]).list("tags").contains(&"big_ticket".to_string()));
    assert!(Row::of(&p, &keys["T3"]).list("tags").contains(&"big_ticket".to_string()));
    assert!(!Row::of(&p, &keys["C1"]).list("tags").contains(&"big_ticket".to_string()));
    let tags = table(&out, "tags");
    assert_eq!(tags.column("tag").unwrap().str().unwrap().equal("big_ticket").sum(), Some(2));
}

#[test]
fn locale_picks_the_label_language_and_unlabelled_rules_get_their_name_in_words() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nightly.toml");
    let text = std::fs::read_to_string(nightly()).unwrap().replace("locale = \"zh\"", "locale = \"en\"");
    std::fs::write(&cfg, format!("{text}\n[[tags]]\nname = \"big_ticket\"\nwhen = \"power_max_order_value >= 500\"\n")).unwrap();
    let out = dir.path().join("out");
    run_ok(&cfg, &tiny(), &out);
    let p = table(&out, "profiles");
    let k = keys(&out);
    // P2 (shop:S2) is loyal / active / high_value, opinion_leader, big_ticket (fixture test).
    let p2 = Row::of(&p, &k["shop:S2"]);
    assert_eq!(p2.s("segment").as_deref(), Some("loyal"));
    assert_eq!(p2.s("segment_label").as_deref(), Some("Loyal"));
    assert_eq!(p2.s("lifecycle_stage_label").as_deref(), Some("Active"));
    assert_eq!(p2.list("tag_labels"), vec!["High value", "Opinion leader", "Big ticket"]);
    let tags = table(&out, "tags");
    let labels: Vec<(String, String)> = (0..tags.height())
        .map(|i| {
            let g = |c: &str| tags.column(c).unwrap().str().unwrap().get(i).unwrap().to_string();
            (g("tag"), g("label"))
        })
        .collect();
    assert!(labels.contains(&("big_ticket".into(), "Big ticket".into())));
    assert!(labels.iter().all(|(t, l)| t != "churn_risk" || l == "Churn risk"));
}

/// A company without an event tracker, a social account or a feedback system (the Ta-Feng
/// grocery data has none of the three) declares the tables absent and needs no files.
#[test]
fn tables_declared_absent_need_no_files_and_their_features_are_null() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_dir(&tiny(), &input);
    for t in ["events", "social_interactions", "feedback"] {
        std::fs::remove_dir_all(input.join(t)).unwrap();
    }
    let cfg = dir.path().join("pipeline.toml");
    let mut text = std::fs::read_to_string(nightly()).unwrap();
    text.push_str("\n[tables.events]\nabsent = true\n[tables.social_interactions]\nabsent = true\n[tables.feedback]\nabsent = true\n");
    std::fs::write(&cfg, &text).unwrap();
    let (full, out) = (dir.path().join("full"), dir.path().join("out"));
    run_ok(&nightly(), &tiny(), &full);
    run_ok(&cfg, &input, &out);
    let (with, without) = (table(&full, "profiles"), table(&out, "profiles"));
    assert_eq!(without.height(), with.height(), "the same people");
    let non_null = |df: &polars::prelude::DataFrame, c: &str| df.height() - df.column(c).unwrap().null_count();
    // The tiny fixture has views, shares and feedback; declared absent, nobody has any, and not
    // 0 either: the company does not know.
    for c in [
        "behavior_views_30d",
        "behavior_active_days_90d",
        "social_shares",
        "social_influence_score",
        "psych_rating_count",
        "psych_nps_class",
    ] {
        assert!(non_null(&with, c) > 0, "the full run has {c}");
        assert_eq!(non_null(&without, c), 0, "{c} with its table absent");
    }
    // What the other tables say is unchanged.
    for c in ["power_total_spend", "behavior_purchase_days", "rfm_cell"] {
        assert_eq!(without.column(c).unwrap(), with.column(c).unwrap(), "{c}");
    }
    // The sample pipeline's freshness gates on the three tables are skipped, and say so.
    let m = manifest(&out);
    let skipped: Vec<&str> =
        m["gates"].as_array().unwrap().iter().filter(|g| g["status"] == "skipped").map(|g| g["table"].as_str().unwrap()).collect();
    assert_eq!(skipped, ["events", "social_interactions", "feedback"]);
    assert_eq!(m["accounting"]["feedback"]["read"], 0);
    let report = std::fs::read_to_string(out.join("report/dt=2026-11-22/report.html")).unwrap();
    assert!(report.contains("skipped: feedback is declared absent"), "the report lists the skipped gates");

    // An absent table that has files, and a table that cannot be absent: config errors.
    let o = portrait(&["run", "--pipeline", s(&cfg), "--input", s(&tiny()), "--output", s(&dir.path().join("x"))]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    assert!(o.stderr.contains("tables.events.absent") && o.stderr.contains("remove `absent` or the files"), "{}", o.stderr);
    std::fs::write(&cfg, text + "[tables.order_items]\nabsent = true\n").unwrap();
    let o = portrait(&["validate", "--pipeline", s(&cfg)]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    assert!(o.stderr.contains("order_items cannot be absent"), "{}", o.stderr);
}
