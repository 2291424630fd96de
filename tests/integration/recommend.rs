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
    // The baselines follow the evaluation protocol (docs/design.md, "Recommendations"): the
    // figures published with it on this data, to 4 decimals (HitRate@10, Recall@10, NDCG@10,
    // category HitRate@5).
    let f = |m: &serde_json::Value, k: &str| m[k].as_f64().unwrap();
    let published = [
        ("popularity", [0.6187, 0.1455, 0.1477, 0.9154]),
        ("repurchase", [0.8685, 0.3625, 0.3789, 0.9606]),
        ("item_knn", [0.6450, 0.1897, 0.1960, 0.8077]),
        ("blend", [0.8414, 0.3484, 0.3581, 0.9597]),
    ];
    for (baseline, figures) in published {
        for (k, figure) in ["hit_rate_10", "recall_10", "ndcg_10", "category_hit_rate_5"].iter().zip(figures) {
            assert!(
                (f(&r["baselines"][baseline], k) - figure).abs() < 5e-5,
                "{baseline} {k}: {} against {figure}",
                f(&r["baselines"][baseline], k)
            );
        }
    }
    // The chosen method beats the best baseline on HitRate@10 and NDCG@10.
    for k in ["hit_rate_10", "ndcg_10"] {
        let best = ["popularity", "repurchase", "item_knn", "blend"].iter().map(|b| f(&r["baselines"][*b], k)).fold(0.0, f64::max);
        assert!(f(&r["method"], k) > best, "{k}: method {} vs best baseline {best}\n{r}", f(&r["method"], k));
    }
}
