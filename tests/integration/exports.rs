//! Inputs as Chinese business systems export them: GB18030 text, ISO 8601 with offsets, epoch
//! milliseconds, Excel sheets, local times in the business's time zone — and gates that stop
//! a run that lost its data.

use crate::util::*;
use std::path::Path;

fn run(pipeline: &Path, input: &Path, out: &Path) -> Outcome {
    portrait(&["run", "--pipeline", s(pipeline), "--input", s(input), "--output", s(out), "--as-of", AS_OF])
}

#[test]
fn exports_in_chinese_business_forms_publish_the_canonical_profiles() {
    // tests/data/tiny_forms is tests/data/tiny written as GB18030 customers, orders with
    // +08:00 offsets, events in epoch milliseconds and an Excel feedback sheet (make.py there).
    let dir = tempfile::tempdir().unwrap();
    let (canonical, forms) = (dir.path().join("canonical"), dir.path().join("forms"));
    run_ok(&nightly(), &tiny(), &canonical);
    let config = pipeline_edited(dir.path(), &[("encoding = \"utf-8\"", "encoding = \"gb18030\"")]);
    let o = run(&config, &repo().join("tests/data/tiny_forms"), &forms);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // The customers' decoded copy went with the run's other intermediate files.
    assert!(!forms.join("_staging").exists(), "staging left behind");
    for t in ["profiles", "tags", "identity_map", "segment_summary"] {
        let (a, b) = (table(&canonical, t), table(&forms, t));
        assert!(a.equals_missing(&b), "{t} differs:\n{a}\n{b}");
    }
    let (ma, mb) = (manifest(&canonical), manifest(&forms));
    for t in ["customers", "orders", "order_items", "events", "social_interactions", "feedback"] {
        for k in ["read", "used", "duplicate", "quarantined", "after_as_of", "newest"] {
            assert_eq!(ma["accounting"][t][k], mb["accounting"][t][k], "{t}.{k}");
        }
    }
    // The Chinese names came through the GB18030 file.
    let p = table(&forms, "profiles");
    let k = keys(&forms);
    assert_eq!(Row::of(&p, &k["crm:C2"]).s("basic_city").as_deref(), Some("深圳"));
}

#[test]
fn a_gb18030_file_without_its_encoding_names_the_file_the_line_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&nightly(), &repo().join("tests/data/tiny_forms"), &dir.path().join("out"));
    assert_eq!(o.code, 65, "{}", o.stderr);
    for needle in ["customers.csv", "not valid UTF-8 text at line 2 (byte offset 255)", "[tables.customers] encoding = \\\"gb18030\\\""] {
        assert!(o.stderr.contains(needle), "`{needle}` missing from {}", o.stderr);
    }
}

#[test]
fn a_run_whose_every_order_is_unparseable_publishes_nothing_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    copy_dir(&tiny(), &input);
    let orders = input.join("orders/orders.csv");
    let text = std::fs::read_to_string(&orders).unwrap();
    let garbled: Vec<String> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut f: Vec<&str> = l.split(',').collect();
            if i > 0 {
                f[3] = "16/11/2026 8:31 PM"; // a form no system should be trusted to mean
            }
            f.join(",")
        })
        .collect();
    std::fs::write(&orders, garbled.join("\n")).unwrap();
    let out = dir.path().join("out");
    let o = run(&nightly(), &input, &out);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("freshness_orders"), "{}", o.stderr);
    assert!(!out.join(format!("_manifest/dt={AS_OF}")).exists(), "nothing published");
    assert!(!out.join(format!("profiles/dt={AS_OF}")).exists(), "nothing published");
}

/// One buyer (shop:A1) with orders around local midnight in Shanghai (UTC+8), and one row in
/// each other table so every freshness gate can judge.
fn shanghai_input(root: &Path) {
    let write = |rel: &str, text: &str| write_at(root, rel, text);
    write("customers/c.csv", "source,source_customer_id,name\nshop,A1,Alice\nshop,B1,Bob\n");
    write(
        "orders/o.csv",
        "source,order_id,source_customer_id,order_ts,channel,status,gross_amount,discount_amount,net_amount\n\
         shop,o1,A1,2026-11-22T15:59:00Z,online,paid,10,0,10\n\
         shop,o2,A1,2026-11-22T16:01:00Z,online,paid,10,0,10\n\
         shop,o3,A1,2026-10-23T16:01:00+00:00,online,paid,10,0,10\n\
         shop,o4,A1,2026-10-23T15:59:00Z,online,paid,10,0,10\n\
         shop,o5,A1,2026-11-21 23:30:00,online,paid,10,0,10\n",
    );
    write("order_items/i.csv", "source,order_id,sku,category,quantity,unit_price\nshop,o1,K1,books,1,10\n");
    write("events/e.csv", "source,source_customer_id,event_ts,event_type\nshop,A1,2026-11-22 12:00:00,view\n");
    write("social_interactions/s.csv", "source,source_customer_id,ts,action\nshop,A1,2026-11-22 12:00:00,like\n");
    write("feedback/f.csv", "source,source_customer_id,ts,kind\nshop,A1,2026-11-22 12:00:00,review\n");
}

#[test]
fn in_shanghai_days_windows_and_hours_are_local() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    shanghai_input(&input);
    let config = pipeline_edited(dir.path(), &[("time_zone = \"UTC\"", "time_zone = \"Asia/Shanghai\"")]);
    let o = run(&config, &input, &out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Local times (UTC+8): o1 2026-11-22 23:59 (the as-of day), o2 2026-11-23 00:01 (after
    // as-of: waits for the next run), o3 2026-10-24 00:01 (first day of the 30-day window
    // 2026-10-24..11-22), o4 2026-10-23 23:59 (the day before it), o5 2026-11-21 23:30 (no
    // zone: already local).
    let m = manifest(&out);
    assert_eq!(m["accounting"]["orders"]["used"], 4);
    assert_eq!(m["accounting"]["orders"]["after_as_of"], 1);
    let p = table(&out, "profiles");
    let a = Row::of(&p, &keys(&out)["shop:A1"]);
    assert_eq!(a.i("power_order_count"), Some(4), "o1, o3, o4, o5");
    assert_eq!(a.i("behavior_purchases_30d"), Some(3), "o1, o3, o5; o4 is a day early");
    assert_eq!(a.i("behavior_recency_days"), Some(0), "o1 is on the as-of day");
    assert_eq!(a.s("behavior_last_purchase_date").as_deref(), Some("2026-11-22"));
    assert_eq!(a.i("behavior_first_purchase_days"), Some(30), "o4: 2026-10-23 to 11-22");
    // Hours 23 (o1), 0 (o3), 23 (o4), 23 (o5); weekdays Sun 7, Sat 6, Fri 5, Sat 6.
    assert_eq!(a.i("behavior_fav_hour"), Some(23));
    assert_eq!(a.i("behavior_fav_weekday"), Some(6));

    // The same files read in UTC: o2 is on the as-of day and the hours are 8 earlier.
    let utc_out = dir.path().join("utc");
    let o = run(&nightly(), &input, &utc_out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p = table(&utc_out, "profiles");
    let a = Row::of(&p, &keys(&utc_out)["shop:A1"]);
    assert_eq!(a.i("power_order_count"), Some(5));
    // Hours 15 (o1), 16 (o2), 16 (o3), 15 (o4), 23 (o5): a tie, the smaller wins.
    assert_eq!(a.i("behavior_fav_hour"), Some(15));
}

#[test]
fn implausible_timestamps_are_quarantined_with_their_own_reason() {
    // Epoch microseconds declared as milliseconds land in the year 58,000; a 1970 date is
    // before pipeline.earliest.
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    shanghai_input(&input);
    std::fs::write(
        input.join("events/e.csv"),
        "source,source_customer_id,event_ts,event_type\nshop,A1,2026-11-22 12:00:00,view\nshop,A1,1794832292000000,view\nshop,A1,1970-01-21 18:33:52,view\n",
    )
    .unwrap();
    let config =
        pipeline_edited(dir.path(), &[("[tables.orders]", "[tables.events]\nepoch_units = { event_ts = \"ms\" }\n\n[tables.orders]")]);
    let o = run(&config, &input, &out);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let q = table(&out, "quarantine");
    let reasons: Vec<String> = q.column("reason").unwrap().str().unwrap().iter().map(|r| r.unwrap().to_string()).collect();
    assert_eq!(reasons.iter().filter(|r| r.starts_with("implausible event_ts")).count(), 2, "{reasons:?}");
    assert_eq!(manifest(&out)["accounting"]["events"]["used"], 1);
}
