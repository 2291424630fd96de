//! `portrait recommend-eval`: the recommendation backtest, one protocol everywhere
//! (docs/design.md, "Recommendations"). The test window is the last `test_days` days of the
//! data (by order day, inclusive); training is every paid order before it; the test customers
//! bought in both; truth is the distinct skus they bought in the window. The chosen method and
//! the baselines rank `top` skus for each test customer from the training orders alone, and
//! again 5 categories from the customer x category data (category HitRate@5).

use crate::config::TableSource;
use crate::day::Times;
use crate::error::{Error, Result};
use crate::io;
use crate::io::text::DecodedCopies;
use crate::schema::Table;
use crate::stages::recommend::{self, Bought, ItemKnn, Metrics, Trend, TREND_DAYS};
use crate::stages::{clean, ingest};
use polars::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::collections::{BTreeSet, HashSet};
use std::path::PathBuf;

pub struct Options {
    pub orders: PathBuf,
    pub items: PathBuf,
    pub test_days: u32,
    pub top: usize,
}

/// The JSON `recommend-eval` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub test_customers: usize,
    pub method: Method,
    pub baselines: BTreeMap<&'static str, Metrics>,
    pub train_from: String,
    pub test_from: String,
    pub test_to: String,
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Method {
    pub name: &'static str,
    #[serde(flatten)]
    pub metrics: Metrics,
}

/// The paid order lines: customer, sku, category and order day (epoch days).
fn paid_lines(o: &Options) -> Result<DataFrame> {
    let times = Times::permissive();
    let copies = DecodedCopies::temporary();
    let orders = ingest::ingest(&TableSource::canonical(Table::Orders, o.orders.clone()), &times, &copies)?;
    let items = ingest::ingest(&TableSource::canonical(Table::OrderItems, o.items.clone()), &times, &copies)?;
    let (orders, _) = clean::dedupe(clean::orders(orders.rows.clone()).filter(col("_reason").is_null()), &["source", "order_id"]);
    let (items, _) = clean::dedupe(clean::items(items.rows.clone()), &["source", "order_id", "sku"]);
    let customer = concat_str([col("source"), col("source_customer_id")], ":", false).alias("customer");
    let orders = orders.select([
        col("source"),
        col("order_id"),
        customer,
        col("status"),
        col("order_ts").dt().date().cast(DataType::Int32).alias("day"),
    ]);
    let on = || [col("source"), col("order_id")];
    let lines = items.filter(col("sku").is_not_null()).join(orders, on(), on(), JoinArgs::new(JoinType::Inner));
    let all = io::collect(lines.select([col("customer"), col("sku"), col("category").fill_null(lit("")), col("status"), col("day")]))?;
    Ok(all)
}

/// Codes for the distinct values of a text column, in sorted order (deterministic ids).
fn codes(df: &DataFrame, name: &str) -> Result<(Vec<String>, Vec<u32>)> {
    let values = df.column(name).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("recommend-eval", e))?;
    let mut names: Vec<String> = values.iter().flatten().map(str::to_string).collect();
    names.sort();
    names.dedup();
    let index: HashMap<&str, u32> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i as u32)).collect();
    let ids = values.iter().map(|v| v.and_then(|v| index.get(v).copied()).unwrap_or(u32::MAX)).collect();
    Ok((names, ids))
}

/// One level of the backtest (skus, or categories): every customer's training items, the
/// popularity order of the training items and each test customer's truth.
struct Level {
    items: usize,
    history: Vec<Vec<Bought>>,
    trend: Trend,
    truth: BTreeMap<u32, Vec<u32>>,
}

impl Level {
    /// From one paid line per row: customer, item and day ids; `start`: the test window's first day.
    fn new(lines: &[(u32, u32, i32)], customers: usize, items: usize, start: i32) -> Level {
        let mut days: BTreeMap<(u32, u32), BTreeSet<i32>> = BTreeMap::new();
        let (mut recent, mut ever) = (vec![HashSet::new(); items], vec![HashSet::new(); items]);
        let mut truth: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for &(c, i, d) in lines {
            if d < start {
                days.entry((c, i)).or_default().insert(d);
                ever[i as usize].insert(c);
                if d >= start - TREND_DAYS {
                    recent[i as usize].insert(c);
                }
            } else {
                truth.entry(c).or_default().insert(i);
            }
        }
        let mut history: Vec<Vec<Bought>> = vec![Vec::new(); customers];
        for ((c, i), distinct) in &days {
            history[*c as usize].push(Bought {
                sku: *i,
                days: distinct.len() as u32,
                last: *distinct.iter().next_back().unwrap_or(&start),
            });
        }
        let ever: Vec<u32> = ever.iter().map(|b| b.len() as u32).collect();
        let trend = Trend::new(recent.iter().map(|b| b.len() as u32).collect(), &ever);
        let truth =
            truth.into_iter().filter(|(c, _)| !history[*c as usize].is_empty()).map(|(c, t)| (c, t.into_iter().collect())).collect();
        Level { items, history, trend, truth }
    }

    /// Each method's [HitRate, Recall, NDCG] at `k`, averaged over the test customers, in
    /// `METHODS` order. `today`: the day before the test window.
    fn evaluate(&self, today: i32, k: usize) -> Vec<[f64; 3]> {
        let knn = ItemKnn::new(&self.history, self.items);
        let (history, trend) = (&self.history, &self.trend);
        let mut sums = vec![[0.0f64; 3]; METHODS.len()];
        for (&c, truth) in &self.truth {
            let own = &history[c as usize];
            let scores = knn.scores(c as usize);
            let lists = [
                recommend::trending_repurchase(own, trend, today, k).iter().map(|r| r.sku).collect(),
                recommend::popularity(trend, k),
                recommend::repurchase(own, trend, k),
                recommend::top(&scores, trend, k),
                recommend::blend(own, &scores, trend, k),
            ];
            for (sum, list) in sums.iter_mut().zip(&lists) {
                let m = recommend::at_k(list, truth, k);
                (0..3).for_each(|i| sum[i] += m[i]);
            }
        }
        let n = self.truth.len().max(1) as f64;
        sums.iter().map(|s| s.map(|x| (x / n * 1e4).round() / 1e4)).collect()
    }
}

/// The chosen method, then the baselines, in the order `Level::evaluate` ranks them.
const METHODS: [&str; 5] = ["trending_repurchase", "popularity", "repurchase", "item_knn", "blend"];

pub fn run(o: &Options) -> Result<Report> {
    let started = std::time::Instant::now();
    if o.test_days == 0 || o.top == 0 {
        return Err(Error::Usage("--test-days and --top must be at least 1".into()));
    }
    let lines = paid_lines(o)?;
    let day = lines.column("day").and_then(|c| c.i32().cloned()).map_err(|e| Error::internal("recommend-eval", e))?;
    let status = lines.column("status").and_then(|c| c.str().cloned()).map_err(|e| Error::internal("recommend-eval", e))?;
    let paid: Vec<bool> = status.iter().map(|s| s == Some("paid")).collect();
    let (_, customer) = codes(&lines, "customer")?;
    let (skus, sku) = codes(&lines, "sku")?;
    let (categories, category) = codes(&lines, "category")?;
    let customers = customer.iter().copied().max().map_or(0, |m| m as usize + 1);
    let paid_rows = || (0..lines.height()).filter(|&i| paid[i]).filter_map(|i| Some((i, day.get(i)?)));
    let last =
        paid_rows().map(|(_, d)| d).max().ok_or_else(|| Error::input(o.orders.display(), "no paid order with a usable order line"))?;
    let start = last - o.test_days as i32 + 1;
    let by_sku: Vec<(u32, u32, i32)> = paid_rows().map(|(i, d)| (customer[i], sku[i], d)).collect();
    let by_category: Vec<(u32, u32, i32)> = paid_rows().map(|(i, d)| (customer[i], category[i], d)).collect();
    let sku_level = Level::new(&by_sku, customers, skus.len(), start);
    let category_level = Level::new(&by_category, customers, categories.len(), start);
    let today = start - 1;
    let (sku_metrics, category_metrics) = (sku_level.evaluate(today, o.top), category_level.evaluate(today, 5));
    let mut results = METHODS
        .iter()
        .zip(sku_metrics.iter().zip(&category_metrics))
        .map(|(name, (s, c))| (*name, Metrics { hit_rate_10: s[0], recall_10: s[1], ndcg_10: s[2], category_hit_rate_5: c[0] }));
    let day_text = |d: i32| crate::day::Day::from_epoch_days(d).map(|d| d.to_string()).unwrap_or_default();
    let first = paid_rows().map(|(_, d)| d).min().unwrap_or(start);
    let (name, metrics) = results.next().ok_or_else(|| Error::Internal("no method".into()))?;
    Ok(Report {
        test_customers: sku_level.truth.len(),
        method: Method { name, metrics },
        baselines: results.collect(),
        train_from: day_text(first),
        test_from: day_text(start),
        test_to: day_text(last),
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })
}
