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
