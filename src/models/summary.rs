//! Per-customer purchase summaries the models are fitted on, as lazy plans shared by the
//! nightly run and `portrait models`. As in the paper, several purchases on one day count as
//! one (their values add up) and every time is measured from the customer's first purchase.

use crate::expr::{date_lit, money_sum};
use chrono::NaiveDate;
use polars::prelude::*;

/// Paid orders as purchase days: `key`, `day` (Date), `spend` (sum of net amounts that day).
/// Money is summed in whole cents (`money_sum`) so fits are identical run to run.
pub fn purchase_days(orders: LazyFrame, key: &str) -> LazyFrame {
    orders
        .filter(col("status").eq(lit("paid")).and(col(key).is_not_null()))
        .select([col(key), col("order_ts").dt().date().alias("day"), col("net_amount").fill_null(lit(0.0))])
        .group_by([col(key), col("day")])
        .agg([money_sum(col("net_amount")).alias("spend")])
}

/// One row per customer whose first purchase day is on or before `calibration_end`:
/// `x` repeat purchase days, `t_x` time of the last, `T` time to the end of calibration (in
/// units of `unit_days` days), `monetary` mean spend per repeat purchase day (null if x = 0),
/// and `first_day`.
pub fn calibration(days: LazyFrame, key: &str, calibration_end: NaiveDate, unit_days: f64) -> LazyFrame {
    let unit = |e: Expr| e.dt().total_days(false).cast(DataType::Float64) / lit(unit_days);
    days.filter(col("day").lt_eq(date_lit(calibration_end)))
        .group_by([col(key)])
        .agg([
            col("day").min().alias("first_day"),
            col("day").max().alias("last_day"),
            len().cast(DataType::Float64).alias("_n"),
            money_sum(col("spend")).alias("_total"),
            col("spend").sort_by([col("day")], SortMultipleOptions::default()).first().alias("_first_spend"),
        ])
        .select([
            col(key),
            (col("_n") - lit(1.0)).alias("x"),
            unit(col("last_day") - col("first_day")).alias("t_x"),
            unit(date_lit(calibration_end) - col("first_day")).alias("T"),
            when(col("_n").gt(lit(1.0)))
                .then((col("_total") - col("_first_spend")) / (col("_n") - lit(1.0)))
                .otherwise(lit(NULL).cast(DataType::Float64))
                .alias("monetary"),
            col("first_day"),
        ])
}

/// Purchase days per customer in (`after`, `until`] (`until` None: no upper bound):
/// `key`, `actual` (u32).
pub fn holdout(days: LazyFrame, key: &str, after: NaiveDate, until: Option<NaiveDate>) -> LazyFrame {
    let mut within = col("day").gt(date_lit(after));
    if let Some(u) = until {
        within = within.and(col("day").lt_eq(date_lit(u)));
    }
    days.filter(within).group_by([col(key)]).agg([len().cast(DataType::UInt32).alias("actual")])
}

/// The newest purchase day after `after`, one row `last_day` (null when there is none).
pub fn newest_day_after(days: LazyFrame, after: NaiveDate) -> LazyFrame {
    days.filter(col("day").gt(date_lit(after))).select([col("day").max().alias("last_day")])
}
