//! The hand-made fixture (tests/data/tiny): every expected value below was worked out on
//! paper from the fixture files; the arithmetic is in the comments. As-of date 2026-11-22.

use crate::util::*;
use polars::prelude::*;
use std::collections::HashMap;

/// source record -> customer_key, from the published identity_map.
/// Publish the fixture into a fresh folder; returns the folder (kept alive) and the output root.
fn publish_tiny() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&nightly(), &tiny(), &out);
    (dir, out)
}

fn run_tiny() -> (tempfile::TempDir, DataFrame, HashMap<String, String>) {
    let (dir, out) = publish_tiny();
    (dir, table(&out, "profiles"), keys(&out))
}

#[test]
fn identity_links_records_of_one_person() {
    let (_dir, out) = publish_tiny();
    let k = keys(&out);
    // 14 usable customer records (the 15th has no id and is quarantined).
    assert_eq!(k.len(), 14);
    assert_eq!(k["crm:C1"], k["shop:S1"], "P1 by phone (13800000001 = +86 138-0000-0001)");
    assert_eq!(k["crm:C2"], k["shop:S2"], "P2 by phone (0086 prefix)");
    assert_eq!(k["shop:S2"], k["wechat:W2"], "P2 by email (case and spaces)");
    assert_eq!(k["store:T3"], k["crm:C3"], "P3 by national id");
    assert_ne!(k["crm:C1"], k["crm:C2"]);
    // 10 people.
    assert_eq!(table(&out, "profiles").height(), 10);
    let rules = table(&out, "identity_map");
    let rule = |src: &str, id: &str| {
        let mask = rules.column("source").unwrap().str().unwrap().equal(src)
            & rules.column("source_customer_id").unwrap().str().unwrap().equal(id);
        let r = rules.filter(&mask).unwrap();
        r.column("match_rule").unwrap().str().unwrap().get(0).unwrap().to_string()
    };
    assert_eq!(rule("crm", "C1"), "phone");
    assert_eq!(rule("wechat", "W2"), "email");
    assert_eq!(rule("store", "T3"), "id_number");
    assert_eq!(rule("shop", "S4"), "singleton");
}

#[test]
fn basic_attributes_by_hand() {
    let (_d, p, k) = run_tiny();
    let p1 = Row::of(&p, &k["crm:C1"]);
    assert_eq!(p1.i("basic_age"), Some(36)); // born 1990-03-05
    assert_eq!(p1.s("basic_age_band").as_deref(), Some("35-44"));
    assert_eq!(p1.s("basic_gender").as_deref(), Some("F"));
    assert_eq!(p1.s("basic_city").as_deref(), Some("上海")); // 上海市 -> 上海
    assert_eq!(p1.s("basic_city_tier").as_deref(), Some("tier1"));
    assert_eq!(p1.s("basic_occupation").as_deref(), Some("engineer")); // S1 (newer) has none: C1's survives
    assert_eq!(p1.s("basic_income_band").as_deref(), Some("100k-200k")); // 120000
    assert_eq!(p1.i("basic_tenure_days"), Some(1047)); // 2024-01-10 .. 2026-11-22
    assert_eq!(p1.s("basic_sources").as_deref(), Some("crm,shop"));
    assert_eq!(p1.i("basic_record_count"), Some(2));

    let p2 = Row::of(&p, &k["crm:C2"]);
    assert_eq!(p2.i("basic_age"), Some(41)); // 1985-07-20
    assert_eq!(p2.s("basic_gender").as_deref(), Some("M")); // newest (W2) empty -> S2 "M"
    assert_eq!(p2.i("basic_tenure_days"), Some(1301)); // 2023-05-01
    assert_eq!(p2.i("basic_source_count"), Some(3));
    assert_eq!(p2.b("basic_marketing_opt_in"), Some(true)); // W2 empty -> S2 "1"

    let p3 = Row::of(&p, &k["store:T3"]);
    assert_eq!(p3.s("basic_gender").as_deref(), Some("F")); // C3 empty -> T3 女
    assert_eq!(p3.i("basic_age"), Some(34)); // 1992-02-02
    assert_eq!(p3.s("basic_age_band").as_deref(), Some("25-34"));
    assert_eq!(p3.s("basic_occupation").as_deref(), Some("teacher"));

    let p4 = Row::of(&p, &k["shop:S4"]);
    assert_eq!(p4.i("basic_age"), Some(55)); // 1970-12-01: birthday not yet this year
    assert_eq!(p4.s("basic_city_tier").as_deref(), Some("new_tier1")); // 成都
    assert_eq!(p4.s("basic_income_band").as_deref(), Some("<50k"));
}

#[test]
fn purchasing_power_and_behaviour_by_hand() {
    let (_d, p, k) = run_tiny();
    // P1: paid O1 (net 90, gross 100, discount 10, coupon, 2026-11-20 10:00, sent twice) and
    // O2 (200, 2026-10-01 20:00); O3 refunded.
    let p1 = Row::of(&p, &k["crm:C1"]);
    close(p1.f("power_total_spend"), Some(290.0), "total");
    close(p1.f("power_spend_12m"), Some(290.0), "12m");
    assert_eq!(p1.i("power_order_count"), Some(2));
    close(p1.f("power_avg_order_value"), Some(145.0), "aov");
    close(p1.f("power_max_order_value"), Some(200.0), "max");
    close(p1.f("power_spend_trend"), Some(1.0), "all spend in the last 26 weeks");
    close(p1.f("power_discount_share"), Some(10.0 / 300.0), "discount share");
    close(p1.f("power_coupon_rate"), Some(0.5), "coupon rate");
    close(p1.f("power_refund_rate"), Some(1.0 / 3.0), "1 refunded of 3");
    assert_eq!(p1.s("power_price_tier").as_deref(), Some("mid")); // AOV tertile cuts 73.33, 180
    assert_eq!(p1.i("behavior_recency_days"), Some(2));
    assert_eq!(p1.i("behavior_first_purchase_days"), Some(52));
    close(p1.f("behavior_interpurchase_days"), Some(50.0), "(52-2)/(2-1)");
    assert_eq!(p1.i("behavior_purchases_30d"), Some(1));
    assert_eq!(p1.s("behavior_fav_channel").as_deref(), Some("mobile"));
    assert_eq!(p1.i("behavior_fav_hour"), Some(10)); // 10 and 20 tie: smaller
    assert_eq!(p1.i("behavior_fav_weekday"), Some(4)); // Fri 11-20 and Thu 10-01 tie: Thursday
    assert_eq!(p1.s("behavior_fav_category").as_deref(), Some("books")); // books 3 > apparel 2 (re-sent line dropped, O3 refunded)
                                                                         // Events: views 11-20, 11-01; cart 11-20; click 09-01; login 11-22 23:59:59.
    assert_eq!(p1.i("behavior_view_7d"), Some(1));
    assert_eq!(p1.i("behavior_view_30d"), Some(2));
    assert_eq!(p1.i("behavior_add_to_cart_7d"), Some(1));
    assert_eq!(p1.i("behavior_login_7d"), Some(1));
    assert_eq!(p1.i("behavior_click_30d"), Some(0));
    assert_eq!(p1.i("behavior_click_90d"), Some(1));
    close(p1.f("behavior_cart_rate_30d"), Some(0.5), "1 cart / 2 views");
    close(p1.f("behavior_conversion_30d"), Some(0.5), "1 purchase / 2 views");
    assert_eq!(p1.i("behavior_active_days_90d"), Some(5)); // 09-01, 10-01, 11-01, 11-20, 11-22

    // P2: O4 300 (2025-12-01), O5 net 120 gross 150 coupon (2026-06-15), O6 80 (2026-11-01), O7 500 (2024-06-01).
    let p2 = Row::of(&p, &k["shop:S2"]);
    close(p2.f("power_total_spend"), Some(1000.0), "total");
    close(p2.f("power_spend_12m"), Some(500.0), "O4+O5+O6");
    close(p2.f("power_spend_trend"), Some(-0.2), "(200 - 300) / 500");
    close(p2.f("power_discount_share"), Some(30.0 / 1030.0), "discount share");
    close(p2.f("power_coupon_rate"), Some(0.25), "1 of 4");
    assert_eq!(p2.s("power_price_tier").as_deref(), Some("high")); // AOV 250
    assert_eq!(p2.i("behavior_recency_days"), Some(21));
    assert_eq!(p2.i("behavior_first_purchase_days"), Some(904));
    close(p2.f("behavior_interpurchase_days"), Some((904.0 - 21.0) / 3.0), "mean gap");
    assert_eq!(p2.s("behavior_fav_channel").as_deref(), Some("online"));
    assert_eq!(p2.i("behavior_view_30d"), Some(0)); // no events: 0, not null
    close(p2.f("behavior_cart_rate_30d"), None, "no views: no rate");

    // P3: O8 1000 on the as-of day; O9 the next day is after as-of and ignored.
    let p3 = Row::of(&p, &k["store:T3"]);
    close(p3.f("power_total_spend"), Some(1000.0), "O9 excluded");
    assert_eq!(p3.i("behavior_recency_days"), Some(0));

    // P8 never bought.
    let p8 = Row::of(&p, &k["crm:C8"]);
    assert_eq!(p8.i("power_order_count"), Some(0));
    close(p8.f("power_total_spend"), Some(0.0), "no spend");
    assert_eq!(p8.i("behavior_recency_days"), None);
}

#[test]
fn social_and_psychology_by_hand() {
    let (_d, p, k) = run_tiny();
    let p1 = Row::of(&p, &k["crm:C1"]);
    assert_eq!(p1.i("social_shares"), Some(2));
    assert_eq!(p1.i("social_likes"), Some(3));
    assert_eq!(p1.i("social_invites"), Some(1));
    assert_eq!(p1.i("social_platforms"), Some(2));
    assert_eq!(p1.i("social_followers"), Some(2000)); // latest snapshot
    close(p1.f("social_influence_score"), Some(12.4014), "ln(2001) + 2*1 + 2 + 0.5*1 + 0.1*3");
    close(p1.f("psych_rating_mean"), Some(5.0), "one review");
    assert_eq!(p1.i("psych_nps"), Some(9));
    assert_eq!(p1.s("psych_nps_class").as_deref(), Some("promoter"));
    close(p1.f("psych_sentiment"), Some(1.0), "好, 满意: 2 positive, 0 negative");
    assert_eq!(p1.s("psych_motive_declared").as_deref(), Some("quality"));
    // (min(1, (10/300)/0.3) + 0.5) / 2
    close(p1.f("psych_price_sensitivity"), Some(0.3056), "rounded to 4 places");
    assert_eq!(p1.s("psych_motive_revealed").as_deref(), Some("convenience")); // mid tier, mobile

    let p2 = Row::of(&p, &k["wechat:W2"]);
    assert_eq!(p2.i("social_invites"), Some(6)); // the 7th invite is after as-of
    close(p2.f("social_influence_score"), Some(15.9318), "ln(51) + 2*6");
    assert_eq!(p2.s("psych_motive_revealed").as_deref(), Some("quality")); // high tier

    let p4 = Row::of(&p, &k["shop:S4"]);
    assert_eq!(p4.i("psych_complaints"), Some(2));
    close(p4.f("psych_rating_mean"), Some(2.0), "the review's rating");
    close(p4.f("psych_sentiment"), Some(-1.0), "差 失望 / 慢 / 不好(negated) 退货");
    assert_eq!(p4.i("social_shares"), Some(0));

    let p9 = Row::of(&p, &k["shop:S9"]);
    close(p9.f("psych_sentiment"), Some(0.0), "good vs slow");
    assert_eq!(p9.s("psych_nps_class").as_deref(), Some("detractor")); // 6
    assert_eq!(p9.s("psych_motive_declared").as_deref(), Some("price"));

    let p5 = Row::of(&p, &k["shop:S5"]);
    assert_eq!(p5.s("psych_nps_class").as_deref(), Some("passive")); // 7
    close(p5.f("psych_sentiment"), None, "一般般 has no lexicon word");

    let p6 = Row::of(&p, &k["wechat:W6"]);
    close(p6.f("psych_price_sensitivity"), Some(1.0), "(min(1, 0.5/0.3) + 1) / 2");
    assert_eq!(p6.s("psych_motive_revealed").as_deref(), Some("price"));
}

#[test]
fn rfm_segments_lifecycle_and_tags_by_hand() {
    let (_d, p, k) = run_tiny();
    // Nine buyers. Recency days R, paid orders F and spend M in the 365-day window:
    //   P1 2/2/290  P2 21/3/500  P3 0/1/1000  P4 539/0/0  P5 43/5/200  P6 7/1/25
    //   P7 205/2/160  P9 106/1/300  P10 12/4/400
    // Cut-points are the 20/40/60/80% linear quantiles over buyers, e.g. for F (sorted
    // 0,1,1,1,2,2,3,4,5): 1, 1.2, 2, 3.4; score = 1 + cut-points exceeded.
    // Segment by rfm_r and rfm_fm = (F+M)/2 with the config's first-match rules; value
    // class by R < mean 103.9 days, F > mean 2.11, M > mean 319.4.
    let expect = [
        ("crm:C1", "533", "loyal", "general_develop", "new", vec!["mobile_first"]),
        ("shop:S2", "345", "loyal", "important_value", "active", vec!["high_value", "opinion_leader"]),
        ("store:T3", "515", "loyal", "important_develop", "new", vec![]),
        ("shop:S4", "111", "lost", "general_retain", "churned", vec!["complainer"]),
        ("shop:S5", "252", "at_risk", "general_value", "new", vec![]),
        ("wechat:W6", "411", "promising", "general_develop", "new", vec!["price_sensitive", "mobile_first"]),
        ("store:T7", "132", "lost", "general_retain", "at_risk", vec!["churn_risk"]),
        ("shop:S9", "214", "hibernating", "general_retain", "active", vec![]),
        ("store:T10", "454", "champions", "important_value", "active", vec!["high_value"]),
    ];
    for (record, cell, segment, value_class, stage, tags) in expect {
        let r = Row::of(&p, &k[record]);
        assert_eq!(r.s("rfm_cell").as_deref(), Some(cell), "{record} rfm_cell");
        assert_eq!(r.s("segment").as_deref(), Some(segment), "{record} segment");
        assert_eq!(r.s("rfm_value_class").as_deref(), Some(value_class), "{record} value class");
        assert_eq!(r.s("lifecycle_stage").as_deref(), Some(stage), "{record} lifecycle");
        assert_eq!(r.list("tags"), tags, "{record} tags");
    }
    let p2 = Row::of(&p, &k["shop:S2"]);
    assert_eq!(p2.s("rfm_value_class_zh").as_deref(), Some("重要价值客户"));
    // Labels in the sample pipeline's locale (zh), next to the stable English codes.
    assert_eq!(p2.s("segment_label").as_deref(), Some("忠诚客户"));
    assert_eq!(p2.s("lifecycle_stage_label").as_deref(), Some("活跃"));
    assert_eq!(p2.list("tag_labels"), vec!["高价值", "意见领袖"]);
    close(p2.f("rfm_fm"), Some(4.5), "(4+5)/2");
    let p8 = Row::of(&p, &k["crm:C8"]);
    assert_eq!(p8.s("segment"), None);
    assert_eq!(p8.s("rfm_cell"), None);
    assert_eq!(p8.s("lifecycle_stage").as_deref(), Some("prospect"));
    assert_eq!(p8.s("segment_label"), None);
    assert!(p8.list("tags").is_empty());
    assert!(p8.list("tag_labels").is_empty());
}

#[test]
fn row_accounting_of_the_fixture() {
    let (_dir, out) = publish_tiny();
    let m = manifest(&out);
    let a = &m["accounting"];
    let counts = |t: &str| {
        let x = &a[t];
        ["read", "used", "duplicate", "quarantined", "after_as_of"].map(|f| x[f].as_u64().unwrap())
    };
    assert_eq!(counts("customers"), [15, 14, 0, 1, 0]);
    // 27 rows: O1 sent twice, O9 after as-of, O98 unknown customer, O99 unknown status.
    assert_eq!(counts("orders"), [27, 23, 1, 2, 1]);
    // 7 lines: O1/A1 sent twice, O999 unknown order.
    assert_eq!(counts("order_items"), [7, 5, 1, 1, 0]);
    assert_eq!(counts("events"), [6, 5, 0, 1, 0]); // "yesterday" is no timestamp
    assert_eq!(counts("social_interactions"), [16, 14, 0, 1, 1]);
    assert_eq!(counts("feedback"), [7, 7, 0, 0, 0]);
    assert_eq!(a["customers"]["unparseable"]["birth_date"].as_u64(), Some(1)); // "not a date"
    let q = table(&out, "quarantine");
    assert_eq!(q.height(), 1 + 2 + 1 + 1 + 1);
    let reasons: Vec<String> = q.column("reason").unwrap().str().unwrap().iter().map(|r| r.unwrap().to_string()).collect();
    assert!(reasons.iter().any(|r| r.contains("unknown status lost")), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("missing or unparseable event_ts")), "{reasons:?}");
    let events_q = q.filter(&q.column("table").unwrap().str().unwrap().equal("events")).unwrap();
    assert_eq!(events_q.column("row").unwrap().i64().unwrap().get(0), Some(6), "the 6th data row");
    // The unknown order's line keeps the values only quarantine shows (the CSV's 8th line:
    // shop,O999,X1,toys,1,5), though a person's routed lines do not carry them.
    let lines_q = q.filter(&q.column("table").unwrap().str().unwrap().equal("order_items")).unwrap();
    let raw = lines_q.column("raw").unwrap().str().unwrap().get(0).unwrap().to_string();
    assert!(raw.contains("source=shop") && raw.contains("order_id=O999") && raw.contains("unit_price=5"), "{raw}");
}

#[test]
fn recommendations_by_hand() {
    let (_dir, out) = publish_tiny();
    let k = keys(&out);
    let recs = table(&out, "recommendations");
    let rows = |key: &str, kind: &str| -> Vec<(Option<String>, String, f64, String)> {
        let mask = recs.column("customer_key").unwrap().str().unwrap().equal(key) & recs.column("kind").unwrap().str().unwrap().equal(kind);
        let r = recs.filter(&mask).unwrap().sort(["rank"], Default::default()).unwrap();
        let s = |c: &str| r.column(c).unwrap().str().unwrap().clone();
        let (sku, cat, reason, score) = (s("sku"), s("category"), s("reason"), r.column("score").unwrap().f64().unwrap().clone());
        (0..r.height())
            .map(|i| (sku.get(i).map(String::from), cat.get(i).unwrap().into(), score.get(i).unwrap(), reason.get(i).unwrap().into()))
            .collect()
    };
    let row = |sku: Option<&str>, cat: &str, score: f64, reason: &str| (sku.map(String::from), cat.to_string(), score, reason.to_string());
    // Only P1 and P2 have paid order lines. Trend (distinct buyers 2026-10-26..11-22): A1 1
    // (P1, O1 on 11-20), nothing else; so A1's share is 1. Popularity order: A1 (a buyer in the
    // window), then A2, B1, H1 (one buyer each ever, by sku).
    // P1: A1 on 1 day, 2 days ago: ln 2 x 0.5^(2/730) + 1 = 0.693147 x 0.998103 + 1 = 1.6918;
    // A2 and B1 (O2, 2026-10-01, 52 days ago): ln 2 x 0.5^(52/730) = 0.6598, tie: A2 comes
    // first in the popularity order; E1 was refunded (O3): not a purchase. Filled with H1
    // (no buyer in the window: `popular`, score 0).
    assert_eq!(
        rows(&k["crm:C1"], "sku"),
        [
            row(Some("A1"), "apparel", 1.6918, "repurchase"),
            row(Some("A2"), "apparel", 0.6598, "repurchase"),
            row(Some("B1"), "books", 0.6598, "repurchase"),
            row(Some("H1"), "home", 0.0, "popular")
        ]
    );
    // Categories by the sum of their skus' scores: apparel 1.69183 + 0.65975, books 0.65975,
    // home 0.
    assert_eq!(
        rows(&k["crm:C1"], "category"),
        [row(None, "apparel", 2.3516, "repurchase"), row(None, "books", 0.6598, "repurchase"), row(None, "home", 0.0, "popular")]
    );
    // P2: H1 (O4, 2025-12-01, 356 days ago): ln 2 x 0.5^(356/730) = 0.4943; then trending A1,
    // then A2 and B1 in popularity order.
    assert_eq!(
        rows(&k["shop:S2"], "sku"),
        [
            row(Some("H1"), "home", 0.4943, "repurchase"),
            row(Some("A1"), "apparel", 1.0, "trending"),
            row(Some("A2"), "apparel", 0.0, "popular"),
            row(Some("B1"), "books", 0.0, "popular")
        ]
    );
    // Nobody else bought a line: no rows.
    assert_eq!(recs.column("customer_key").unwrap().n_unique().unwrap(), 2);
}

#[test]
fn a_past_dated_run_checks_its_recommendations_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--as-of", "2026-11-19"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // As of 11-19, only P1 has order lines both before (O2 on 10-01: A2, B1) and in the 28 days
    // after (O1 on 11-20: A1). Nobody bought in 10-23..11-19, so nothing trends; the popularity
    // order is A2, B1, H1 (one buyer each up to as-of, by sku). P1's list is A2, B1 (one day
    // each, same day: popularity order), then H1; popularity's list A2, B1, H1; repurchase's
    // A2, B1, H1. A1 is in none (hit rate, recall, NDCG 0); every list's first category,
    // apparel (A2), is what P1 bought (category hit 1).
    let eval = table_at(&out, "model_eval", "2026-11-19");
    let group = eval.column("group").unwrap().str().unwrap().clone();
    let f = |g: &str, c: &str| {
        let i = (0..eval.height()).find(|&i| group.get(i) == Some(g)).unwrap_or_else(|| panic!("no {g} row"));
        eval.column(c).unwrap().get(i).unwrap().extract::<f64>().unwrap()
    };
    for (method, category_hit) in [("trending_repurchase", 1.0), ("popularity", 1.0), ("repurchase", 1.0)] {
        let g = format!("recommend:{method}");
        assert_eq!(f(&g, "customers"), 1.0);
        assert_eq!((f(&g, "hit_rate_10"), f(&g, "recall_10"), f(&g, "ndcg_10")), (0.0, 0.0, 0.0), "{g}");
        assert_eq!(f(&g, "category_hit_rate_5"), category_hit, "{g}");
    }
}
