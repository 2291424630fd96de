//! Campaigns: audiences chosen by the rules (consent, suppression, cooldown, priority), control
//! groups by a stable hash, and campaign_eval's figures worked out by hand on the fixture;
//! then a backfill over generated data whose treatment groups answer with a known uplift.

use crate::util::{copy_dir, manifest_at, nightly, portrait, s, table_at, tiny, write_at};
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The sample pipeline with its campaigns replaced by `campaigns`.
fn pipeline_with_campaigns(dir: &Path, campaigns: &str) -> PathBuf {
    let text = std::fs::read_to_string(nightly()).unwrap();
    let start = text.find("[[campaigns]]").unwrap();
    let end = start + text[start..].find("# report.html").unwrap();
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, format!("{}{campaigns}\n{}", &text[..start], &text[end..])).unwrap();
    path
}

fn run(config: &Path, input: &Path, out: &Path, day: &str) {
    let o = portrait(&["run", "--pipeline", s(config), "--input", s(input), "--output", s(out), "--as-of", day]);
    assert_eq!(o.code, 0, "run {day}:\n{}", o.stderr);
}

/// The group the issue's rule gives: control when the first 8 bytes of
/// SHA-256(campaign, 0x1f, customer_key), over 2^64, fall below the share.
fn expected_group(campaign: &str, key: &str, share: f64) -> &'static str {
    let d = Sha256::new().chain_update(campaign).chain_update([0x1f]).chain_update(key).finalize();
    let draw = u64::from_be_bytes(d[..8].try_into().unwrap()) as f64 / 2f64.powi(64);
    if draw < share {
        "control"
    } else {
        "treatment"
    }
}

/// (campaign, customer_key) -> group of a published day's audiences.
fn audiences(out: &Path, day: &str) -> BTreeMap<(String, String), String> {
    let a = table_at(out, "audiences", day);
    let c = |n: &str| a.column(n).unwrap().str().unwrap().clone();
    let (campaign, key, group) = (c("campaign"), c("customer_key"), c("group"));
    (0..a.height()).map(|i| ((campaign.get(i).unwrap().into(), key.get(i).unwrap().into()), group.get(i).unwrap().into())).collect()
}

const CAMPAIGNS: &str = r#"
[[campaigns]]
name = "vip"
audience = "power_total_spend >= 500"
action = "gift"
channel = "sms"
control_share = 0.5
response_days = 7
priority = 0
[[campaigns]]
name = "buyers"
audience = "power_order_count > 0"
action = "coupon"
channel = "wechat"
control_share = 0.5
response_days = 7
priority = 1
recommendations = 2
[[campaigns]]
name = "prospects"
audience = "power_order_count = 0"
action = "welcome"
channel = "app_push"
control_share = 0.5
response_days = 7
priority = 2
exclusive = false
"#;

#[test]
fn audiences_follow_the_rules_and_the_evaluation_matches_the_hand_count() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    copy_dir(&tiny(), &input);
    // Consent: P1 (C1 true, S1 yes) and P2 (S2 "1", the newest record with a value) consent
    // in the fixture, P4 (false), P3 (no value) do not; here P5, P6, P7, P8, P9, P10 consent too.
    let customers = std::fs::read_to_string(input.join("customers/customers.csv")).unwrap();
    let consenting = ["S5", "W6", "T7", "C8", "S9", "T10"];
    let customers: Vec<String> = customers
        .lines()
        .map(|l| {
            let id = l.split(',').nth(1).unwrap_or("");
            if consenting.contains(&id) {
                format!("{l}true") // their last column, marketing_opt_in, is empty
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(input.join("customers/customers.csv"), customers.join("\n") + "\n").unwrap();
    // P9 asked not to be contacted; P10's request is dated after every run here.
    write_at(
        &input,
        "suppressions/suppressions.csv",
        "source,source_customer_id,phone_hmac,email_hmac,requested_at\nshop,S9,,,2026-11-01 00:00:00\nstore,T10,,,2026-11-30 00:00:00\n",
    );
    let config = pipeline_with_campaigns(dir.path(), CAMPAIGNS);
    for day in ["2026-11-14", "2026-11-15", "2026-11-21"] {
        run(&config, &input, &out, day);
    }
    let keys = crate::util::keys_at(&out, "2026-11-14");
    let p = |id: &str| keys[id].clone();
    let counts = |day: &str| manifest_at(&out, day)["campaigns"].clone();

    // 2026-11-14, paid orders and spend up to the day: P1 1 (200), P2 4 (1000), P4 1 (60),
    // P5 5 (200), P7 2 (160), P9 1 (300), P10 4 (400); P3, P6 and P8 none yet.
    // vip (spend >= 500): P2. buyers: the seven buyers but P2 (taken by vip, exclusive), P4
    // (no consent), P9 (suppressed): P1, P5, P7, P10. prospects: P3 (no consent), P6, P8.
    let day0 = audiences(&out, "2026-11-14");
    let members: Vec<(&str, &str)> = vec![
        ("vip", "shop:S2"),
        ("buyers", "crm:C1"),
        ("buyers", "shop:S5"),
        ("buyers", "store:T7"),
        ("buyers", "store:T10"),
        ("prospects", "wechat:W6"),
        ("prospects", "crm:C8"),
    ];
    let expected: BTreeMap<(String, String), String> =
        members.iter().map(|(c, id)| ((c.to_string(), p(id)), expected_group(c, &p(id), 0.5).to_string())).collect();
    assert_eq!(day0, expected);
    let c0 = counts("2026-11-14");
    let n = |c: &serde_json::Value, i: usize, k: &str| c[i][k].as_u64().unwrap();
    assert_eq!(c0[0]["campaign"], "vip");
    assert_eq!((n(&c0, 0, "matched"), n(&c0, 0, "treatment") + n(&c0, 0, "control")), (1, 1));
    let b = |k| n(&c0, 1, k);
    assert_eq!(
        (b("matched"), b("no_consent"), b("suppressed"), b("in_other_campaign"), b("cooling_down"), b("treatment") + b("control")),
        (7, 1, 1, 1, 0, 4)
    );
    assert_eq!((n(&c0, 2, "matched"), n(&c0, 2, "no_consent"), n(&c0, 2, "treatment") + n(&c0, 2, "control")), (3, 1, 2));
    // Nobody without consent in any group; the buyers' rows carry their first 2 recommended skus.
    let a0 = table_at(&out, "audiences", "2026-11-14");
    let profiles = table_at(&out, "profiles", "2026-11-14");
    let consent = profiles.lazy().select([col("customer_key"), col("basic_marketing_opt_in")]);
    let joined =
        a0.clone().lazy().join(consent, [col("customer_key")], [col("customer_key")], JoinArgs::new(JoinType::Left)).collect().unwrap();
    let consent = joined.column("basic_marketing_opt_in").unwrap().bool().unwrap().clone();
    assert!((0..consent.len()).all(|i| consent.get(i) == Some(true)), "{joined}");
    // Each buyers row: the first 2 skus of the person's recommendations (none without order lines).
    let listed = a0.lazy().filter(col("campaign").eq(lit("buyers"))).select([col("customer_key"), col("skus")]).collect().unwrap();
    let recs = table_at(&out, "recommendations", "2026-11-14");
    let top2 = recs
        .lazy()
        .filter(col("kind").eq(lit("sku")).and(col("rank").lt_eq(lit(2u32))))
        .sort(["customer_key", "rank"], Default::default())
        .group_by_stable([col("customer_key")])
        .agg([col("sku").alias("top")])
        .collect()
        .unwrap();
    let with_top =
        listed.lazy().join(top2.lazy(), [col("customer_key")], [col("customer_key")], JoinArgs::new(JoinType::Left)).collect().unwrap();
    let (listed, top) = (with_top.column("skus").unwrap().list().unwrap().clone(), with_top.column("top").unwrap().list().unwrap().clone());
    let as_vec =
        |s: Option<Series>| s.map(|s| s.str().unwrap().iter().map(|v| v.unwrap().to_string()).collect::<Vec<_>>()).unwrap_or_default();
    for i in 0..with_top.height() {
        assert_eq!(as_vec(listed.get_as_series(i)), as_vec(top.get_as_series(i)), "{with_top}");
    }
    assert!((0..with_top.height()).any(|i| as_vec(listed.get_as_series(i)).len() == 2), "{with_top}");

    // 2026-11-15: everyone who entered on the 14th is cooling down in that campaign (7 days).
    // P6 bought on the 15th (O16), so is a buyer now and enters `buyers`; so does P2, whom
    // vip (cooling down) no longer takes.
    let c1 = counts("2026-11-15");
    assert_eq!((n(&c1, 0, "cooling_down"), n(&c1, 1, "matched"), n(&c1, 1, "cooling_down")), (1, 8, 4));
    let mut entered: Vec<(String, String)> = audiences(&out, "2026-11-15").into_keys().collect();
    entered.sort();
    let mut want = vec![("buyers".to_string(), p("wechat:W6")), ("buyers".to_string(), p("shop:S2"))];
    want.sort();
    assert_eq!(entered, want);
    assert_eq!((n(&c1, 2, "matched"), n(&c1, 2, "no_consent"), n(&c1, 2, "cooling_down")), (2, 1, 1));

    // 2026-11-21 evaluates the 14th (window 15th..21st: final) and the 15th (16th..21st so
    // far: partial). Paid orders in the 14th's window: O16 of P6 on the 15th (25) and O1 of P1
    // on the 20th (90; its re-sent copy counts once).
    let eval = table_at(&out, "campaign_eval", "2026-11-21");
    let row = |campaign: &str, day: &str| {
        let mask = eval.column("campaign").unwrap().str().unwrap().equal(campaign)
            & eval.column("campaign_day").unwrap().cast(&DataType::String).unwrap().str().unwrap().equal(day);
        let r = eval.filter(&mask).unwrap();
        assert_eq!(r.height(), 1, "{campaign} {day}: {eval}");
        r
    };
    let get = |r: &DataFrame, c: &str| r.column(c).unwrap().get(0).unwrap().extract::<f64>();
    let text = |r: &DataFrame, c: &str| r.column(c).unwrap().str().unwrap().get(0).unwrap().to_string();
    // Per campaign, the hand count by group: (customers, responders, revenue) of each group.
    let tally = |campaign: &str, responses: &[(&str, f64)]| {
        let mut t = BTreeMap::from([("treatment", (0u64, 0u64, 0.0f64)), ("control", (0, 0, 0.0))]);
        for ((c, key), group) in &expected {
            if c == campaign {
                let e = t.get_mut(group.as_str()).unwrap();
                e.0 += 1;
                if let Some((_, amount)) = responses.iter().find(|(id, _)| p(id) == *key) {
                    e.1 += 1;
                    e.2 += amount;
                }
            }
        }
        t
    };
    for (campaign, responses) in [("vip", vec![]), ("buyers", vec![("crm:C1", 90.0)]), ("prospects", vec![("wechat:W6", 25.0)])] {
        let r = row(campaign, "2026-11-14");
        assert_eq!((text(&r, "status"), get(&r, "days_observed")), ("final".to_string(), Some(7.0)));
        let t = tally(campaign, &responses);
        for group in ["treatment", "control"] {
            let (customers, responders, revenue) = t[group];
            assert_eq!(get(&r, &format!("{group}_customers")), Some(customers as f64), "{campaign} {group}");
            assert_eq!(get(&r, &format!("{group}_responders")), Some(responders as f64), "{campaign} {group}");
            let per = (customers > 0).then(|| revenue / customers as f64);
            crate::util::close(get(&r, &format!("{group}_revenue_per_customer")), per, &format!("{campaign} {group} revenue"));
        }
        let (rt, rc) = (t["treatment"], t["control"]);
        let lift = (rt.0 > 0 && rc.0 > 0).then(|| rt.1 as f64 / rt.0 as f64 - rc.1 as f64 / rc.0 as f64);
        crate::util::close(get(&r, "lift"), lift, &format!("{campaign} lift"));
    }
    // The hash put all four buyers in control (a 1 in 16 chance) and one prospect in each
    // group: prospects' lift is a number, buyers' is null.
    assert!(get(&row("prospects", "2026-11-14"), "lift").is_some(), "{expected:?}");
    assert!(get(&row("buyers", "2026-11-14"), "lift").is_none(), "{expected:?}");
    let partial = row("buyers", "2026-11-15");
    assert_eq!((text(&partial, "status"), get(&partial, "days_observed")), ("partial".to_string(), Some(6.0)));
    // The suppression not yet in force and the one in force are both counted as used
    // requests of their days.
    assert_eq!(manifest_at(&out, "2026-11-14")["accounting"]["suppressions"]["used"], 1);
    assert_eq!(manifest_at(&out, "2026-11-14")["accounting"]["suppressions"]["after_as_of"], 1);
}

#[test]
fn a_backfill_recovers_the_generated_uplift_within_the_interval() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    let o = portrait(&["sample", "--scale", "0.02", "--out", s(&input)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let campaign = "[[campaigns]]\nname = \"everyone\"\naudience = \"power_order_count > 0\"\naction = \"coupon\"\nchannel = \"sms\"\ncontrol_share = 0.5\nresponse_days = 4\n";
    let config = pipeline_with_campaigns(dir.path(), campaign);
    let uplift = 0.3;
    for day in ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04", "2026-11-05"] {
        run(&config, &input, &out, day);
        let o = portrait(&[
            "sample-responses",
            "--pipeline",
            s(&config),
            "--input",
            s(&input),
            "--output",
            s(&out),
            "--as-of",
            day,
            "--uplift",
            &uplift.to_string(),
        ]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    // The 1st's window (2nd..5th) is final on the 5th. A treated person who would not have
    // bought anyway buys with probability 0.3, so the lift is 0.3 x (1 - control's rate).
    let eval = table_at(&out, "campaign_eval", "2026-11-05");
    let first =
        eval.filter(&eval.column("campaign_day").unwrap().cast(&DataType::String).unwrap().str().unwrap().equal("2026-11-01")).unwrap();
    let get = |c: &str| first.column(c).unwrap().get(0).unwrap().extract::<f64>().unwrap();
    assert_eq!(first.column("status").unwrap().str().unwrap().get(0), Some("final"));
    // The hash splits the entrants evenly: control's share within 4 standard deviations of 0.5.
    let (t, c) = (get("treatment_customers"), get("control_customers"));
    assert!(t + c > 600.0, "{first}");
    assert!((c / (t + c) - 0.5).abs() < 4.0 * (0.25 / (t + c)).sqrt(), "{first}");
    let expected = uplift * (1.0 - get("control_response_rate"));
    assert!(get("lift_low") <= expected && expected <= get("lift_high"), "expected lift {expected}: {first}");
    assert!(get("lift_low") > 0.0, "{first}");
}

#[test]
fn validate_names_every_campaign_problem_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let bad =
        "[[campaigns]]\nname = \"x\"\naudience = \"tag_nope\"\naction = \"a\"\nchannel = \"SMS\"\ncontrol_share = 1.5\nresponse_days = 0\n";
    let config = pipeline_with_campaigns(dir.path(), bad);
    let o = portrait(&["validate", "--pipeline", s(&config)]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    for key in ["campaigns[0].audience", "campaigns[0].channel", "campaigns[0].control_share", "campaigns[0].response_days"] {
        assert!(o.stderr.contains(key), "{key}: {}", o.stderr);
    }
}
