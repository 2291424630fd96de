//! Stage: predict. Fits the models on the columns they read of every person (`reads`: they
//! need every customer at once) and adds their outputs: `pred_p_alive`, `pred_purchases_<N>d`,
//! `pred_order_value`, `clv_<H>d`, `clv_rank_pct`, and the persona `cluster` (its labels:
//! `cluster_labels`). Segments, lifecycle stages and tags are applied after this stage, so their
//! rules can use these columns.

use crate::config::{ClusterFeature, ModelsSpec, Plan};
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::models::kmeans::{self, Matrix};
use crate::models::{customers_of, f64s, fit_and_predict, summary, Report, Settings};
use polars::prelude::*;
use serde::Serialize;
use std::collections::BTreeMap;

/// Model inputs joined into each person's profile by the bucket pass, and dropped by `predict`
/// (`_m_actual`, purchases after as-of, stays for the self-evaluation).
const INPUTS: [&str; 4] = ["_m_x", "_m_t_x", "_m_T", "_m_monetary"];
pub const ACTUAL: &str = "_m_actual";
pub const HOLDOUT_PREDICTED: &str = "_m_predicted";

pub fn purchases_column(m: &ModelsSpec) -> String {
    format!("pred_purchases_{}d", m.horizon_days)
}

pub fn clv_column(m: &ModelsSpec) -> String {
    format!("clv_{}d", m.clv_horizon_days)
}

/// Join each person's purchase summary up to as-of and purchase days after it.
pub fn with_model_inputs(profile: LazyFrame, orders_used: LazyFrame, orders_after: LazyFrame, plan: &Plan) -> LazyFrame {
    let unit = plan.models.unit_days as f64;
    let cal = summary::calibration(summary::purchase_days(orders_used, KEY), KEY, plan.as_of.0, unit).select([
        col(KEY),
        col("x").alias(INPUTS[0]),
        col("t_x").alias(INPUTS[1]),
        col("T").alias(INPUTS[2]),
        col("monetary").alias(INPUTS[3]),
    ]);
    let after = summary::holdout(summary::purchase_days(orders_after, KEY), KEY, plan.as_of.0, None).rename(["actual"], [ACTUAL], true);
    let left = || JoinArgs::new(JoinType::Left);
    profile.join(cal, [col(KEY)], [col(KEY)], left()).join(after, [col(KEY)], [col(KEY)], left())
}

/// One row `last_day`: the newest paid purchase day after as-of (null when there is none).
pub fn newest_after(orders_after: LazyFrame, plan: &Plan) -> LazyFrame {
    summary::newest_day_after(summary::purchase_days(orders_after, KEY), plan.as_of.0)
}

/// The profile columns `predict` reads: the person, the models' inputs, the holdout's
/// actual purchases and the cluster features.
pub fn reads(plan: &Plan) -> Vec<String> {
    let mut read: Vec<String> = [KEY].iter().chain(INPUTS.iter()).chain([ACTUAL].iter()).map(|c| c.to_string()).collect();
    for f in &plan.models.clusters.features {
        if !read.contains(&f.column) {
            read.push(f.column.clone());
        }
    }
    read
}

/// What the models found, for the manifest.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub fit: Report,
    /// Days of orders after as-of that the predictions were compared with (None: no newer data).
    pub holdout_days: Option<f64>,
    pub clusters: Clusters,
}

#[derive(Clone, Debug, Serialize, Default)]
pub struct Clusters {
    pub k: usize,
    /// `config` or `silhouette`.
    pub chosen_by: String,
    /// Mean silhouette per k tried, on the sample.
    pub silhouette: BTreeMap<usize, f64>,
    pub features: Vec<String>,
    pub clusters: Vec<Cluster>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cluster {
    pub cluster: u32,
    pub customers: usize,
    pub label: String,
    pub label_zh: String,
    /// The centre in standard deviations from the mean, per feature.
    pub centre: BTreeMap<String, f64>,
}

fn settings(m: &ModelsSpec) -> Settings {
    Settings {
        unit_days: m.unit_days as f64,
        horizon_days: m.horizon_days as f64,
        clv_horizon_days: m.clv_horizon_days as f64,
        annual_discount_rate: m.annual_discount_rate,
        penalizer: m.penalizer,
        min_customers: m.min_customers,
    }
}

/// Share of buyers whose value is at or below each value (null stays null).
fn rank_pct(values: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut sorted: Vec<f64> = values.iter().flatten().copied().collect();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len() as f64;
    values.iter().map(|v| v.map(|v| sorted.partition_point(|s| *s <= v) as f64 / n)).collect()
}

/// Fit and predict for every person of `profile` (one row per `_key`).
pub fn predict(profile: DataFrame, plan: &Plan, holdout_days: Option<f64>) -> Result<(DataFrame, Outcome)> {
    // Row order feeds the fits and k-means samples: fix it so every run gives the same result.
    let mut df = profile.sort([KEY], Default::default()).map_err(|e| Error::internal("predict: sort", e))?;
    let spec = &plan.models;
    let customers = customers_of(&df, INPUTS)?;
    let started = std::time::Instant::now();
    let (fit, p) = fit_and_predict(&customers, &settings(spec), holdout_days);
    let clv_rank = rank_pct(&p.clv);
    let n = df.height();
    let fitted = started.elapsed().as_secs_f64();
    let (clusters, labels) = clusters(&df, &spec.clusters)?;
    if n > 0 {
        tracing::info!(
            buyers = fit.customers,
            bgnbd_converged = fit.bgnbd.as_ref().map(|f| f.converged),
            k = clusters.k,
            fit_seconds = fitted,
            cluster_seconds = started.elapsed().as_secs_f64() - fitted,
            "models fitted"
        );
    }
    let ids: Vec<Option<u32>> = match &labels {
        Some(l) => l.iter().map(|&i| Some(i + 1)).collect(),
        None => vec![None; n],
    };
    let columns = vec![
        Column::new("pred_p_alive".into(), p.p_alive),
        Column::new(purchases_column(spec).into(), p.purchases),
        Column::new("pred_order_value".into(), p.order_value),
        Column::new(clv_column(spec).into(), p.clv),
        Column::new("clv_rank_pct".into(), clv_rank),
        Column::new("cluster".into(), ids),
        Column::new(HOLDOUT_PREDICTED.into(), p.holdout.unwrap_or_else(|| vec![None; n])),
    ];
    for c in columns {
        df.with_column(c).map_err(|e| Error::internal("predict: columns", e))?;
    }
    let df = df.drop_many(INPUTS);
    Ok((df, Outcome { fit, holdout_days, clusters }))
}

/// Each persona cluster's labels (`cluster`, `cluster_label`, `cluster_label_zh`), joined
/// onto the profile by its `cluster` (repeated on every row, they are added per bucket).
pub fn cluster_labels(clusters: &Clusters) -> Result<DataFrame> {
    let (ids, en, zh): (Vec<u32>, Vec<&str>, Vec<&str>) =
        clusters.clusters.iter().map(|c| (c.cluster, c.label.as_str(), c.label_zh.as_str())).collect();
    df!("cluster" => ids, "cluster_label" => en, "cluster_label_zh" => zh).map_err(|e| Error::internal("cluster labels", e))
}

/// Standardised feature matrix: ln(1 + v) for `log` features, nulls at the column mean (0).
fn feature_matrix(df: &DataFrame, features: &[ClusterFeature]) -> Result<Vec<f64>> {
    let n = df.height();
    let mut data = vec![0.0; n * features.len()];
    for (j, f) in features.iter().enumerate() {
        let values: Vec<Option<f64>> = f64s(df, &f.column)?
            .into_iter()
            .map(|v| v.filter(|v| v.is_finite()).map(|v| if f.log { v.signum() * v.abs().ln_1p() } else { v }))
            .collect();
        let present: Vec<f64> = values.iter().flatten().copied().collect();
        let mean = present.iter().sum::<f64>() / present.len().max(1) as f64;
        let sd = (present.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / present.len().max(1) as f64).sqrt();
        for (i, v) in values.iter().enumerate() {
            data[i * features.len() + j] = match v {
                Some(v) if sd > 0.0 => (v - mean) / sd,
                _ => 0.0,
            };
        }
    }
    Ok(data)
}

/// k-means personas: k from config or by the best silhouette on a sample, restarts on the
/// sample, final centres refined on everyone. None when there are too few people.
fn clusters(df: &DataFrame, c: &crate::config::ClustersSpec) -> Result<(Clusters, Option<Vec<u32>>)> {
    let features: Vec<String> = c.features.iter().map(|f| f.column.clone()).collect();
    let data = feature_matrix(df, &c.features)?;
    let all = Matrix { data: &data, dim: c.features.len() };
    let sample_data = kmeans::sample_rows(&all, c.sample_size);
    let sample = Matrix { data: &sample_data, dim: all.dim };
    let mut out = Clusters { features, ..Default::default() };
    let (k, best) = if c.k > 0 {
        out.chosen_by = "config".into();
        (c.k, kmeans::kmeans(&sample, c.k, c.restarts, c.seed))
    } else {
        out.chosen_by = "silhouette".into();
        let mut best: Option<(usize, f64, kmeans::Clustering)> = None;
        for k in c.k_min..=c.k_max {
            let Some(fit) = kmeans::kmeans(&sample, k, c.restarts, c.seed) else { continue };
            let s = kmeans::silhouette(&sample, &fit.labels, k);
            out.silhouette.insert(k, (s * 1e6).round() / 1e6);
            if best.as_ref().is_none_or(|b| s > b.1 + 1e-9) {
                best = Some((k, s, fit));
            }
        }
        best.map(|(k, _, fit)| (k, Some(fit))).unwrap_or((0, None))
    };
    let Some(best) = best else {
        if df.height() > 0 {
            tracing::warn!(people = df.height(), "too few people to cluster: cluster columns are null");
        }
        return Ok((out, None));
    };
    let fit = kmeans::refine(&all, best.centroids);
    out.k = k;
    out.clusters = fit
        .centroids
        .iter()
        .enumerate()
        .map(|(i, centre)| {
            let (label, label_zh) = describe(centre, &c.features);
            Cluster {
                cluster: i as u32 + 1,
                customers: fit.sizes[i],
                label,
                label_zh,
                centre: c.features.iter().zip(centre).map(|(f, z)| (f.column.clone(), (z * 1e4).round() / 1e4)).collect(),
            }
        })
        .collect();
    Ok((out, Some(fit.labels)))
}

/// A persona in words: the (up to) three features whose centre is furthest from average,
/// at least half a standard deviation away, e.g. "young, high frequency, price-sensitive".
pub fn describe(centre: &[f64], features: &[ClusterFeature]) -> (String, String) {
    let mut far: Vec<(usize, f64)> = centre.iter().copied().enumerate().filter(|(_, z)| z.abs() >= 0.5).collect();
    far.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()).then(a.0.cmp(&b.0)));
    if far.is_empty() {
        return ("typical customers".into(), "普通客户".into());
    }
    let words = |zh: bool| -> Vec<String> {
        far.iter()
            .take(3)
            .map(|&(j, z)| {
                let f = &features[j];
                let (word, fallback) = match (z > 0.0, zh) {
                    (true, false) => (&f.high, format!("high {}", f.column)),
                    (true, true) => (&f.high_zh, format!("{}高", f.column)),
                    (false, false) => (&f.low, format!("low {}", f.column)),
                    (false, true) => (&f.low_zh, format!("{}低", f.column)),
                };
                word.clone().unwrap_or(fallback)
            })
            .collect()
    };
    (words(false).join(", "), words(true).join("、"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_name_the_most_distinctive_features() {
        let f = |column: &str, high: &str, low_zh: &str| ClusterFeature {
            column: column.into(),
            log: false,
            high: Some(high.into()),
            high_zh: None,
            low: None,
            low_zh: Some(low_zh.into()),
        };
        let features = [f("age", "older", "年轻"), f("spend", "big spenders", "低消费"), f("freq", "frequent", "低频")];
        let (en, zh) = describe(&[-1.2, 0.3, 2.0], &features);
        assert_eq!(en, "frequent, low age");
        assert_eq!(zh, "freq高、年轻");
        assert_eq!(describe(&[0.1, -0.2, 0.4], &features).0, "typical customers");
    }

    #[test]
    fn rank_pct_counts_ties_together() {
        let r = rank_pct(&[Some(3.0), None, Some(1.0), Some(3.0), Some(2.0)]);
        assert_eq!(r, vec![Some(1.0), None, Some(0.25), Some(1.0), Some(0.5)]);
    }
}
