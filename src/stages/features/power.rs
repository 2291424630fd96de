//! 购买能力 purchasing power from orders: spend (all time and 12 months), order values, spend
//! trend, discount share, coupon use, refund rate and a price tier relative to all buyers.
//! Spend counts paid orders at their net amount; refunded and cancelled orders count only in
//! the refund rate.

use crate::day::Day;
use crate::expr::KEY;
use crate::expr::{count_if, money_sum_if, ratio};
use polars::prelude::*;

pub fn features(orders: LazyFrame, day: Day) -> LazyFrame {
    let paid = || col("status").eq(lit("paid"));
    let last_half = day.within(col("order_ts"), 182);
    let prev_half = day.within(col("order_ts"), 364).and(last_half.clone().not());
    orders
        .group_by([col(KEY)])
        .agg([
            money_sum_if(col("net_amount"), paid()).alias("power_total_spend"),
            money_sum_if(col("net_amount"), paid().and(day.within(col("order_ts"), 365))).alias("power_spend_12m"),
            count_if(paid()).alias("power_order_count"),
            when(paid()).then(col("net_amount")).otherwise(lit(NULL).cast(DataType::Float64)).max().alias("power_max_order_value"),
            money_sum_if(col("net_amount"), paid().and(last_half)).alias("_s_last"),
            money_sum_if(col("net_amount"), paid().and(prev_half)).alias("_s_prev"),
            money_sum_if(col("discount_amount"), paid()).alias("_discount"),
            money_sum_if(col("gross_amount"), paid()).alias("_gross"),
            count_if(paid().and(col("coupon_code").is_not_null())).alias("_coupon_orders"),
            count_if(col("status").eq(lit("refunded"))).alias("_refunded"),
        ])
        .with_columns([
            ratio(col("power_total_spend"), col("power_order_count")).alias("power_avg_order_value"),
            // (last 26 weeks - the 26 before) / their sum: -1 stopped buying .. +1 started.
            ratio(col("_s_last") - col("_s_prev"), col("_s_last") + col("_s_prev")).alias("power_spend_trend"),
            ratio(col("_discount"), col("_gross")).alias("power_discount_share"),
            ratio(col("_coupon_orders"), col("power_order_count")).alias("power_coupon_rate"),
            ratio(col("_refunded"), col("power_order_count") + col("_refunded")).alias("power_refund_rate"),
        ])
        .select([
            col(KEY),
            col("power_total_spend"),
            col("power_spend_12m"),
            col("power_order_count"),
            col("power_avg_order_value"),
            col("power_max_order_value"),
            col("power_spend_trend"),
            col("power_discount_share"),
            col("power_coupon_rate"),
            col("power_refund_rate"),
        ])
}

/// Count and sum columns: 0, not null, for people without orders.
pub const COUNTS: &[&str] = &["power_order_count", "power_total_spend", "power_spend_12m"];

/// The tertile cut-points of average order value over all buyers (`across_people` compares
/// each person with them): `_all_price_1`, `_all_price_2`.
pub fn price_cuts(aov: Expr) -> [Expr; 2] {
    [1, 2].map(|i| aov.clone().quantile(lit(i as f64 / 3.0), QuantileMethod::Linear).alias(format!("_all_price_{i}")))
}

/// Low / mid / high against the tertile cut-points of `price_cuts` (columns of the frame).
pub fn price_tier(aov: Expr) -> Expr {
    when(aov.clone().is_null())
        .then(lit(NULL).cast(DataType::String))
        .when(aov.clone().lt_eq(col("_all_price_1")))
        .then(lit("low"))
        .when(aov.lt_eq(col("_all_price_2")))
        .then(lit("mid"))
        .otherwise(lit("high"))
}
