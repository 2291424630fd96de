//! `portrait models` on CDNOW against the published estimates (tests/data/cdnow/README.md).

use crate::util::{portrait, repo, s};
use polars::prelude::*;

fn within(actual: f64, published: f64, relative: f64, what: &str) {
    assert!((actual - published).abs() <= relative * published.abs(), "{what}: {actual} vs published {published}");
}

fn fit_cdnow(out: &std::path::Path) -> serde_json::Value {
    let orders = repo().join("tests/data/cdnow/cdnow_sample_orders.csv");
    let o = portrait(&[
        "models",
        "--orders",
        s(&orders),
        "--calibration-end",
        "1997-09-30",
        "--holdout-end",
        "1998-06-30",
        "--unit",
        "week",
        "--out",
        s(out),
    ]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    serde_json::from_str(&std::fs::read_to_string(out.join("params.json")).unwrap()).unwrap()
}

#[test]
fn cdnow_fits_match_the_published_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let p = fit_cdnow(dir.path());
    let bg = &p["bgnbd"];
    assert_eq!(bg["converged"], true);
    for (name, published) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        within(bg["params"][name].as_f64().unwrap(), published, 0.01, name);
    }
    let ll = bg["log_likelihood"].as_f64().unwrap();
    assert!((ll - -9582.4).abs() <= 0.5, "log-likelihood {ll}");
    let gg = &p["gamma_gamma"];
    for (name, published) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        within(gg["params"][name].as_f64().unwrap(), published, 0.02, name);
    }
    assert_eq!(p["customers"], 2357);
    assert_eq!(p["repeat_customers"], 946);
    assert_eq!(p["rows_read"], 6919);
    // The holdout: 1,882 repeat purchase days in the 39 weeks after calibration (published).
    assert_eq!(p["holdout"]["actual_purchases"], 1882);
    assert_eq!(p["holdout"]["days"], 273.0);
}

#[test]
fn cdnow_customer_table_and_determinism() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fit_cdnow(a.path());
    fit_cdnow(b.path());
    let bytes = |d: &std::path::Path| std::fs::read(d.join("customers.parquet")).unwrap();
    assert_eq!(bytes(a.path()), bytes(b.path()), "two fits give identical customer tables");
    let json = |d: &std::path::Path| std::fs::read_to_string(d.join("params.json")).unwrap();
    assert_eq!(json(a.path()), json(b.path()));

    let path = a.path().join("customers.parquet");
    let df = LazyFrame::scan_parquet(PlRefPath::new(s(&path)), Default::default()).unwrap().collect().unwrap();
    assert_eq!(df.height(), 2357);
    let row = |id: &str| df.clone().lazy().filter(col("source_customer_id").eq(lit(id))).collect().unwrap();
    // Customer 0001 bought 1997-01-01, 01-18, 08-02 (calibration) and 12-12 (holdout):
    // x = 2, t_x = 213 days / 7, T = 272 days / 7, one holdout purchase.
    let c = row("0001");
    let get = |c: &DataFrame, n: &str| c.column(n).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().get(0).unwrap();
    assert_eq!(get(&c, "x"), 2.0);
    assert!((get(&c, "t_x") - 213.0 / 7.0).abs() < 1e-9);
    assert!((get(&c, "T") - 272.0 / 7.0).abs() < 1e-9);
    assert_eq!(get(&c, "actual_purchases"), 1.0);
    // Mean spend of the two repeat days: (29.73 + 14.96) / 2.
    assert!((get(&c, "monetary") - 22.345).abs() < 1e-9);
    for name in ["p_alive", "expected_purchases", "expected_order_value", "clv", "predicted_holdout_purchases"] {
        assert!(get(&c, name).is_finite() && get(&c, name) > 0.0, "{name}");
    }
    // No repeat purchase: alive with probability 1 under BG/NBD's assumptions.
    let p_alive = df.column("p_alive").unwrap().f64().unwrap();
    let x = df.column("x").unwrap().f64().unwrap();
    assert!(x.iter().zip(p_alive.iter()).filter(|(x, _)| *x == Some(0.0)).all(|(_, p)| p == Some(1.0)));
}

/// CDNOW as a nightly input root: one customer record per sample id, the orders, and the
/// other tables present but empty.
fn cdnow_input(root: &std::path::Path) {
    let orders = std::fs::read_to_string(repo().join("tests/data/cdnow/cdnow_sample_orders.csv")).unwrap();
    let mut ids: Vec<&str> = orders.lines().skip(1).map(|l| l.split(',').nth(2).unwrap()).collect();
    ids.dedup();
    let customers: String = std::iter::once("source,source_customer_id".to_string())
        .chain(ids.iter().map(|id| format!("cdnow,{id}")))
        .collect::<Vec<_>>()
        .join("\n");
    let write = |rel: &str, text: &str| crate::util::write_at(root, rel, text);
    write("customers/customers.csv", &customers);
    write("orders/orders.csv", &orders);
    for (table, file) in [("order_items", "order_items.csv"), ("events", "events.csv"), ("feedback", "feedback.csv")] {
        let header = std::fs::read_to_string(crate::util::tiny().join(table).join(file)).unwrap();
        write(&format!("{table}/{file}"), &format!("{}\n", header.lines().next().unwrap()));
    }
    write("social_interactions/social.csv", "source,source_customer_id,ts,platform,action\n");
}

#[test]
fn the_nightly_run_fits_cdnow_like_the_paper_and_evaluates_the_holdout() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    cdnow_input(&input);
    // CDNOW is 1997 data with no events, social activity or feedback: the pipeline says
    // how far back plausible dates go and drops the freshness gates of the empty tables.
    use crate::util::freshness_gate as gate;
    let config = crate::util::pipeline_edited(
        dir.path(),
        &[
            ("earliest = \"2000-01-01\"", "earliest = \"1990-01-01\""),
            (&gate("events"), ""),
            (&gate("social_interactions"), ""),
            (&gate("feedback"), ""),
        ],
    );
    let o = portrait(&["run", "--pipeline", s(&config), "--input", s(&input), "--output", s(&out), "--as-of", "1997-09-30"]);
    assert_eq!(o.code, 0, "{}\n{}", o.stdout, o.stderr);
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("_manifest/dt=1997-09-30/_manifest.json")).unwrap()).unwrap();
    let fit = &m["models"]["fit"];
    for (name, published) in [("r", 0.243), ("alpha", 4.414), ("a", 0.793), ("b", 2.426)] {
        within(fit["bgnbd"]["params"][name].as_f64().unwrap(), published, 0.01, name);
    }
    assert!((fit["bgnbd"]["log_likelihood"].as_f64().unwrap() - -9582.4).abs() <= 0.5);
    for (name, published) in [("p", 6.25), ("q", 3.74), ("gamma", 15.44)] {
        within(fit["gamma_gamma"]["params"][name].as_f64().unwrap(), published, 0.02, name);
    }
    // Self-evaluation over the 39 holdout weeks (orders after as-of run to 1998-06-30).
    assert_eq!(m["models"]["holdout_days"], 273.0);
    let all = m["model_eval"].as_array().unwrap().iter().find(|r| r["group"] == "all").expect("an `all` row");
    assert_eq!(all["customers"], 2357);
    assert_eq!(all["actual_purchases"], 1882);
    // The same code as `portrait models`: the same aggregate prediction.
    let cmd = fit_cdnow(&dir.path().join("cmd"));
    let predicted = all["predicted_purchases"].as_f64().unwrap();
    assert!((predicted - cmd["holdout"]["predicted_purchases"].as_f64().unwrap()).abs() < 1e-3, "{predicted}");
    let mae = all["mae_purchases"].as_f64().unwrap();
    assert!((mae - cmd["holdout"]["mean_absolute_error"].as_f64().unwrap()).abs() < 1e-5, "{mae}");
    // The deciles partition the evaluated customers; the table and the manifest agree.
    let rows = m["model_eval"].as_array().unwrap();
    let decile_sum: u64 =
        rows.iter().filter(|r| r["group"].as_str().unwrap().starts_with("p_alive")).map(|r| r["customers"].as_u64().unwrap()).sum();
    assert_eq!(decile_sum, 2357);
    let table = crate::util::table_at(&out, "model_eval", "1997-09-30");
    assert_eq!(table.height(), rows.len());
    // Every buyer has model outputs; the 1,411 one-time buyers are alive with probability 1.
    let profiles = crate::util::table_at(&out, "profiles", "1997-09-30");
    let p = profiles.column("pred_p_alive").unwrap().f64().unwrap();
    assert_eq!(p.null_count(), 0);
    assert_eq!(p.iter().filter(|v| *v == Some(1.0)).count(), 2357 - 946);
}

#[test]
fn too_few_buyers_fall_back_to_null_predictions_with_a_warning() {
    // The hand-made fixture has fewer buyers than models.min_customers (20).
    let dir = tempfile::tempdir().unwrap();
    crate::util::run_ok(&crate::util::nightly(), &crate::util::tiny(), dir.path());
    let m = crate::util::manifest(dir.path());
    let warnings = m["models"]["fit"]["warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("min_customers")), "{warnings:?}");
    assert!(m["models"]["fit"]["bgnbd"].is_null());
    let profiles = crate::util::table(dir.path(), "profiles");
    assert_eq!(profiles.column("pred_p_alive").unwrap().null_count(), profiles.height());
    assert_eq!(profiles.column("lifecycle_stage").unwrap().null_count(), 0, "rules still hold without model outputs");
    // No orders after as-of: the evaluation table is published empty.
    assert_eq!(crate::util::table(dir.path(), "model_eval").height(), 0);
}
