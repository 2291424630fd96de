//! Recommendations: the backtest on a real retailer's invoices (tests/data/online_retail_ii).

use crate::util::{portrait, repo, s};

#[test]
fn the_chosen_method_beats_every_baseline_on_real_invoices() {
    let data = repo().join("tests/data/online_retail_ii");
    let (orders, items) = (data.join("orders.parquet"), data.join("order_items.parquet"));
    let o = portrait(&["recommend-eval", "--orders", s(&orders), "--items", s(&items)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let r: serde_json::Value = serde_json::from_str(o.stdout.trim()).unwrap();
    // The protocol as published for this data: window and test customers.
    assert_eq!((r["test_from"].as_str(), r["test_to"].as_str()), (Some("2010-11-12"), Some("2010-12-09")));
    assert_eq!(r["test_customers"], 1217);
    // Popularity is the same list for everyone: its figures are the published ones (3 places
    // published, 4 printed: within half a unit of each).
    let f = |m: &serde_json::Value, k: &str| m[k].as_f64().unwrap();
    let pop = &r["baselines"]["popularity"];
    for (k, published) in [("hit_rate_10", 0.619), ("recall_10", 0.146), ("ndcg_10", 0.148)] {
        assert!((f(pop, k) - published).abs() <= 0.00055, "popularity {k}: {}", f(pop, k));
    }
    // The chosen method beats the best baseline on HitRate@10 and NDCG@10.
    for k in ["hit_rate_10", "ndcg_10"] {
        let best = ["popularity", "repurchase", "item_knn"].iter().map(|b| f(&r["baselines"][*b], k)).fold(0.0, f64::max);
        assert!(f(&r["method"], k) > best, "{k}: method {} vs best baseline {best}\n{r}", f(&r["method"], k));
    }
}
