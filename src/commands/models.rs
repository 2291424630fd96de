//! `portrait models`: the nightly run's models on any purchase history, the way analysts use
//! lifetimes: fit on a calibration period, predict, and compare with a holdout if given.

use crate::config::TableSource;
use crate::day::Times;
use crate::error::{Error, Result};
use crate::io::text::DecodedCopies;
use crate::io::{self, parquet::WriteOptions};
use crate::models::{customers_of, fit_and_predict, summary, Report, Settings};
use crate::schema::Table;
use crate::stages::{clean, ingest};
use chrono::NaiveDate;
use polars::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

pub struct Options {
    pub orders: PathBuf,
    pub calibration_end: NaiveDate,
    pub holdout_end: Option<NaiveDate>,
    pub unit_days: f64,
    /// Prediction horizon in units; default the holdout's length, else 52 weeks / 365 days.
    pub horizon: Option<f64>,
    pub annual_discount_rate: f64,
    pub out: PathBuf,
}

/// Holdout comparison over all calibration customers.
#[derive(Debug, Serialize)]
pub struct Holdout {
    pub days: f64,
    pub customers: usize,
    pub predicted_purchases: f64,
    pub actual_purchases: u64,
    /// Mean absolute error of predicted repeat purchases per customer.
    pub mean_absolute_error: f64,
}

#[derive(Debug, Serialize)]
pub struct Params {
    pub orders_file: String,
    pub rows_read: u64,
    pub rows_quarantined: u64,
    pub rows_duplicate: u64,
    pub calibration_end: String,
    pub holdout_end: Option<String>,
    pub horizon_units: f64,
    #[serde(flatten)]
    pub report: Report,
    pub holdout: Option<Holdout>,
}

pub fn run(o: &Options) -> Result<Params> {
    if let Some(h) = o.holdout_end {
        if h <= o.calibration_end {
            return Err(Error::Usage("--holdout-end must be after --calibration-end".into()));
        }
    }
    let copies = DecodedCopies::temporary();
    let ing = ingest::ingest(&TableSource::canonical(Table::Orders, o.orders.clone()), &Times::permissive(), &copies)?;
    let orders = clean::orders(ing.rows.clone());
    let (ok, bad) = (orders.clone().filter(col("_reason").is_null()), orders.filter(col("_reason").is_not_null()));
    let (deduped, dup) = clean::dedupe(ok, &["source", "order_id"]);
    let days = summary::purchase_days(deduped, "source_customer_id").cache();
    let key = "source_customer_id";
    let mut plans = vec![
        summary::calibration(days.clone(), key, o.calibration_end, o.unit_days).sort([key], Default::default()),
        ing.read.clone(),
        concat([ing.quarantine.clone().select([len().alias("n")]), bad.select([len().alias("n")])], UnionArgs::default())
            .map_err(|e| Error::internal("count", e))?
            .select([col("n").sum()]),
        dup,
    ];
    if o.holdout_end.is_some() {
        plans.push(summary::holdout(days, key, o.calibration_end, o.holdout_end));
    }
    let mut frames = io::collect_all(plans)?;
    let scalar =
        |df: &DataFrame| df.columns()[0].cast(&DataType::UInt64).ok().and_then(|c| c.u64().ok().and_then(|c| c.get(0))).unwrap_or(0);
    let (rows_read, rows_quarantined, rows_duplicate) = (scalar(&frames[1]), scalar(&frames[2]), scalar(&frames[3]));
    let mut cal = frames.remove(0);
    if cal.height() == 0 {
        return Err(Error::input(o.orders.display(), format!("no paid order on or before {}: nothing to fit", o.calibration_end)));
    }
    let holdout_days = o.holdout_end.map(|h| (h - o.calibration_end).num_days() as f64);
    let horizon = o.horizon.unwrap_or_else(|| holdout_days.map_or(365.0 / o.unit_days, |d| d / o.unit_days));
    let settings = Settings {
        unit_days: o.unit_days,
        horizon_days: horizon * o.unit_days,
        clv_horizon_days: horizon * o.unit_days,
        annual_discount_rate: o.annual_discount_rate,
        penalizer: 0.0,
        min_customers: 1,
    };
    let (report, pred) = fit_and_predict(&customers_of(&cal, ["x", "t_x", "T", "monetary"])?, &settings, holdout_days);
    let mut columns = vec![
        Column::new("p_alive".into(), pred.p_alive),
        Column::new("expected_purchases".into(), pred.purchases),
        Column::new("expected_order_value".into(), pred.order_value),
        Column::new("clv".into(), pred.clv),
    ];
    let mut holdout = None;
    if let (Some(days), Some(predicted)) = (holdout_days, pred.holdout) {
        let actual_frame = frames.pop().expect("holdout frame");
        cal = io::collect(
            cal.lazy()
                .join(actual_frame.lazy(), [col(key)], [col(key)], JoinArgs::new(JoinType::Left))
                .with_column(col("actual").fill_null(lit(0u32)).alias("actual_purchases"))
                .drop(cols(["actual"])),
        )?;
        let actual: Vec<u32> = cal
            .column("actual_purchases")
            .and_then(|c| c.u32().cloned())
            .map_err(|e| Error::internal("actual", e))?
            .into_no_null_iter()
            .collect();
        let pairs: Vec<(f64, f64)> = predicted.iter().zip(&actual).filter_map(|(p, a)| p.map(|p| (p, *a as f64))).collect();
        holdout = Some(Holdout {
            days,
            customers: pairs.len(),
            predicted_purchases: pairs.iter().map(|p| p.0).sum(),
            actual_purchases: actual.iter().map(|&a| a as u64).sum(),
            mean_absolute_error: pairs.iter().map(|(p, a)| (p - a).abs()).sum::<f64>() / pairs.len().max(1) as f64,
        });
        columns.push(Column::new("predicted_holdout_purchases".into(), predicted));
    }
    for c in columns {
        cal.with_column(c).map_err(|e| Error::internal("model columns", e))?;
    }
    let cal = cal.drop("first_day").map_err(|e| Error::internal("drop", e))?;
    let params = Params {
        orders_file: o.orders.display().to_string(),
        rows_read,
        rows_quarantined,
        rows_duplicate,
        calibration_end: o.calibration_end.to_string(),
        holdout_end: o.holdout_end.map(|d| d.to_string()),
        horizon_units: horizon,
        report,
        holdout,
    };
    write_outputs(&o.out, &cal, &params)?;
    Ok(params)
}

fn write_outputs(out: &Path, customers: &DataFrame, params: &Params) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let opts = WriteOptions { row_group_size: 128 * 1024, zstd_level: 3 };
    io::parquet::write(customers, &out.join("customers.parquet"), opts)?;
    let json = serde_json::to_string_pretty(params).map_err(|e| Error::internal("params.json", e))?;
    let path = out.join("params.json");
    std::fs::write(&path, json + "\n").map_err(|e| Error::io(&path, e))
}
