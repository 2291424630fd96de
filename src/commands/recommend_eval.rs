//! `portrait recommend-eval`: the recommendation backtest, one protocol everywhere. The test
//! window is the last `test_days` days of the data (by order day, inclusive); training is
//! every paid order before it; the test customers bought in both; truth is the distinct skus
//! (and categories) they bought in the window. The chosen method and the three baselines rank
//! `top` skus for each test customer from the training orders alone.

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

pub fn run(o: &Options) -> Result<Report> {
    let started = std::time::Instant::now();
    if o.test_days == 0 || o.top == 0 {
        return Err(Error::Usage("--test-days and --top must be at least 1".into()));
    }
    let lines = paid_lines(o)?;
    let day = lines.column("day").and_then(|c| c.i32().cloned()).map_err(|e| Error::internal("recommend-eval", e))?;
    let last = day.max().ok_or_else(|| Error::input(o.orders.display(), "no order with a usable order line"))?;
    let start = last - o.test_days as i32 + 1;
    let (_, customer) = codes(&lines, "customer")?;
    let (skus, sku) = codes(&lines, "sku")?;
    let (_, category) = codes(&lines, "category")?;
    let paid: Vec<bool> = lines
        .column("status")
        .and_then(|c| c.str().cloned())
        .map_err(|e| Error::internal("recommend-eval", e))?
        .iter()
        .map(|s| s == Some("paid"))
        .collect();
    let customers = customer.iter().copied().max().map_or(0, |m| m as usize + 1);
    let mut category_of = vec![0u32; skus.len()];
    let mut days: BTreeMap<(u32, u32), std::collections::BTreeSet<i32>> = BTreeMap::new(); // (customer, sku) -> training days
    let mut trend_buyers: Vec<std::collections::HashSet<u32>> = vec![Default::default(); skus.len()];
    let mut truth: BTreeMap<u32, (Vec<u32>, Vec<u32>)> = BTreeMap::new();
    for i in 0..lines.height() {
        let (c, s, d) = (customer[i], sku[i], day.get(i).unwrap_or(i32::MIN));
        category_of[s as usize] = category[i];
        if !paid[i] {
            continue;
        }
        if d < start {
            days.entry((c, s)).or_default().insert(d);
            if d >= start - TREND_DAYS {
                trend_buyers[s as usize].insert(c);
            }
        } else {
            let t = truth.entry(c).or_default();
            t.0.push(s);
            t.1.push(category[i]);
        }
    }
    let mut history: Vec<Vec<Bought>> = vec![Vec::new(); customers];
    for ((c, s), distinct) in &days {
        history[*c as usize].push(Bought { sku: *s, days: distinct.len() as u32, last: *distinct.iter().next_back().unwrap_or(&start) });
    }
    let trend = Trend::new(trend_buyers.iter().map(|b| b.len() as u32).collect());
    let knn = ItemKnn::new(&history, skus.len());
    let category = |s: u32| category_of[s as usize];
    let today = start - 1;
    let test: Vec<u32> = truth.keys().copied().filter(|&c| !history[c as usize].is_empty()).collect();
    type Ranker<'a> = Box<dyn Fn(u32) -> Vec<u32> + 'a>;
    let rankers: Vec<(&'static str, Ranker)> = vec![
        (
            "trending_repurchase",
            Box::new(|c| recommend::trending_repurchase(&history[c as usize], &trend, today, o.top).iter().map(|r| r.sku).collect()),
        ),
        ("popularity", Box::new(|_| recommend::popularity(&trend, o.top))),
        ("repurchase", Box::new(|c| recommend::repurchase(&history[c as usize], &trend, o.top))),
        ("item_knn", Box::new(|c| knn.rank(c as usize, o.top))),
    ];
    let mut results: Vec<(&'static str, Metrics)> = Vec::new();
    for (name, rank) in &rankers {
        let per_customer: Vec<Metrics> = test
            .iter()
            .map(|&c| {
                let (mut skus, mut cats) = truth[&c].clone();
                (skus.sort(), skus.dedup(), cats.sort(), cats.dedup());
                recommend::score_one(&rank(c), &skus, &category, &cats)
            })
            .collect();
        results.push((name, recommend::mean(&per_customer)));
    }
    let day_text = |d: i32| crate::day::Day::from_epoch_days(d).map(|d| d.to_string()).unwrap_or_default();
    let first = day.min().unwrap_or(start);
    let (name, metrics) = results.remove(0);
    Ok(Report {
        test_customers: test.len(),
        method: Method { name, metrics },
        baselines: results.into_iter().collect(),
        train_from: day_text(first),
        test_from: day_text(start),
        test_to: day_text(last),
        seconds: (started.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
    })
}
