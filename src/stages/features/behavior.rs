//! 行为特征 behaviour: purchase frequency and recency, active days, inter-purchase interval,
//! favourite channel, category, hour and weekday, the browse -> cart -> purchase funnel and
//! events of each configured type over each configured window.

use super::{favourite, Inputs};
use crate::config::BehaviorSpec;
use crate::day::Day;
use crate::expr::{count_if, ratio};
use polars::prelude::*;

fn paid() -> Expr {
    col("status").eq(lit("paid"))
}

/// `behavior_<type>_<n>d` for every configured event type and window.
pub fn event_columns(spec: &BehaviorSpec) -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    for t in &spec.event_types {
        for &w in &spec.windows_days {
            out.push((format!("behavior_{t}_{w}d"), t.clone(), w));
        }
    }
    out
}

pub fn features(inputs: &Inputs, day: Day, spec: &BehaviorSpec) -> LazyFrame {
    let paid_orders = inputs.orders.clone().filter(paid());
    let purchases = paid_orders
        .clone()
        .group_by([col("_key")])
        .agg([
            col("order_ts").max().alias("_last"),
            col("order_ts").min().alias("_first"),
            col("order_ts").dt().date().n_unique().cast(DataType::UInt32).alias("behavior_purchase_days"),
            count_if(day.within(col("order_ts"), 365)).alias("behavior_frequency_365d"),
            count_if(day.within(col("order_ts"), 30)).alias("behavior_purchases_30d"),
        ])
        .with_columns([
            day.days_since(col("_last")).cast(DataType::Int32).alias("behavior_recency_days"),
            day.days_since(col("_first")).cast(DataType::Int32).alias("behavior_first_purchase_days"),
            col("_last").dt().date().alias("behavior_last_purchase_date"),
        ])
        .with_column(
            // Mean days between distinct purchase days.
            ratio(
                col("behavior_first_purchase_days") - col("behavior_recency_days"),
                col("behavior_purchase_days").cast(DataType::Int64) - lit(1),
            )
            .alias("behavior_interpurchase_days"),
        )
        .drop(cols(["_last", "_first"]));

    let fav_channel = favourite(paid_orders.clone(), "channel", None, "behavior_fav_channel");
    let with_time = paid_orders.select([
        col("_key"),
        col("order_ts").dt().hour().cast(DataType::Int32).alias("hour"),
        col("order_ts").dt().weekday().cast(DataType::Int32).alias("weekday"),
    ]);
    let fav_hour = favourite(with_time.clone(), "hour", None, "behavior_fav_hour");
    let fav_weekday = favourite(with_time, "weekday", None, "behavior_fav_weekday");
    let fav_category = favourite(inputs.items.clone().filter(paid()), "category", Some("quantity"), "behavior_fav_category");

    let is = |t: &str| col("event_type").eq(lit(t.to_string()));
    let mut event_aggs = vec![
        count_if(is("view").and(day.within(col("event_ts"), 30))).alias("behavior_views_30d"),
        count_if(is("add_to_cart").and(day.within(col("event_ts"), 30))).alias("behavior_carts_30d"),
    ];
    for (name, t, w) in event_columns(spec) {
        event_aggs.push(count_if(is(&t).and(day.within(col("event_ts"), w))).alias(name));
    }
    let events = inputs.events.clone().group_by([col("_key")]).agg(event_aggs);

    let days = |lf: LazyFrame, ts: &str| lf.filter(day.within(col(ts), 90)).select([col("_key"), col(ts).dt().date().alias("day")]);
    let active =
        concat([days(inputs.orders.clone().filter(paid()), "order_ts"), days(inputs.events.clone(), "event_ts")], UnionArgs::default())
            .expect("same schema")
            .group_by([col("_key")])
            .agg([col("day").n_unique().cast(DataType::UInt32).alias("behavior_active_days_90d")]);

    let full = || JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    let buyers = super::join_all(purchases, vec![fav_channel, fav_hour, fav_weekday, fav_category]);
    buyers.join(events, [col("_key")], [col("_key")], full()).join(active, [col("_key")], [col("_key")], full())
}

/// Count columns: 0, not null, for people without events or orders.
pub fn counts(spec: &BehaviorSpec) -> Vec<String> {
    let fixed = [
        "behavior_purchase_days",
        "behavior_frequency_365d",
        "behavior_purchases_30d",
        "behavior_views_30d",
        "behavior_carts_30d",
        "behavior_active_days_90d",
    ];
    fixed.into_iter().map(String::from).chain(event_columns(spec).into_iter().map(|(n, _, _)| n)).collect()
}

/// The funnel rates, on the joined profile (after counts are filled).
pub fn funnel(profile: LazyFrame) -> LazyFrame {
    profile.with_columns([
        ratio(col("behavior_carts_30d"), col("behavior_views_30d")).alias("behavior_cart_rate_30d"),
        ratio(col("behavior_purchases_30d"), col("behavior_views_30d")).alias("behavior_conversion_30d"),
    ])
}
