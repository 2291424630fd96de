//! 行为特征 behaviour: purchase frequency and recency, active days, inter-purchase interval,
//! favourite channel, category, hour and weekday, the browse -> cart -> purchase funnel and
//! events of each configured type over each configured window.

use super::{favourite, Inputs};
use crate::config::BehaviorSpec;
use crate::day::Day;
use crate::expr::KEY;
use crate::expr::{count_if, ratio};
use polars::prelude::*;

/// The values of an order's hour of the day and of its ISO weekday (1 = Monday).
const HOURS: [i32; 24] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
const WEEKDAYS: [i32; 7] = [1, 2, 3, 4, 5, 6, 7];

/// The value whose count (the columns `counts`, one per value in `values`, ascending) is the
/// largest, ties to the smallest value; null when every count is 0.
fn most_counted(counts: &[String], values: &[i32]) -> Expr {
    let top = polars::lazy::dsl::max_horizontal(counts.iter().map(|c| col(c.as_str())).collect::<Vec<_>>()).expect("counts");
    let none = lit(NULL).cast(DataType::Int32);
    counts
        .iter()
        .zip(values)
        .rev()
        .fold(none, |acc, (c, v)| when(col(c.as_str()).eq(top.clone()).and(top.clone().gt(lit(0u32)))).then(lit(*v)).otherwise(acc))
}

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
    // The hour and weekday of each paid order; their favourites are counted per value in
    // the purchases' own aggregation (small fixed domains: no second grouping per person).
    let paid_orders = inputs.orders.clone().filter(paid()).with_columns([
        col("order_ts").dt().hour().cast(DataType::Int32).alias("_hour"),
        col("order_ts").dt().weekday().cast(DataType::Int32).alias("_weekday"),
    ]);
    let mut aggs = vec![
        col("order_ts").max().alias("_last"),
        col("order_ts").min().alias("_first"),
        col("order_ts").dt().date().n_unique().cast(DataType::UInt32).alias("behavior_purchase_days"),
        count_if(day.within(col("order_ts"), 365)).alias("behavior_frequency_365d"),
        count_if(day.within(col("order_ts"), 30)).alias("behavior_purchases_30d"),
    ];
    let counted = |name: &str, values: &[i32]| values.iter().map(|v| format!("_{name}{v}")).collect::<Vec<_>>();
    let (hour_counts, weekday_counts) = (counted("hour", &HOURS), counted("weekday", &WEEKDAYS));
    aggs.extend(HOURS.iter().zip(&hour_counts).map(|(h, name)| count_if(col("_hour").eq(lit(*h))).alias(name.as_str())));
    aggs.extend(WEEKDAYS.iter().zip(&weekday_counts).map(|(d, name)| count_if(col("_weekday").eq(lit(*d))).alias(name.as_str())));
    let purchases = paid_orders
        .clone()
        .group_by([col(KEY)])
        .agg(aggs)
        .with_columns([
            day.days_since(col("_last")).cast(DataType::Int32).alias("behavior_recency_days"),
            day.days_since(col("_first")).cast(DataType::Int32).alias("behavior_first_purchase_days"),
            col("_last").dt().date().alias("behavior_last_purchase_date"),
            most_counted(&hour_counts, &HOURS).alias("behavior_fav_hour"),
            most_counted(&weekday_counts, &WEEKDAYS).alias("behavior_fav_weekday"),
        ])
        .with_column(
            // Mean days between distinct purchase days.
            ratio(
                col("behavior_first_purchase_days") - col("behavior_recency_days"),
                col("behavior_purchase_days").cast(DataType::Int64) - lit(1),
            )
            .alias("behavior_interpurchase_days"),
        )
        .drop(cols(["_last".to_string(), "_first".to_string()].into_iter().chain(hour_counts).chain(weekday_counts)));

    let fav_channel = favourite(paid_orders, "channel", None, "behavior_fav_channel");
    let fav_category = favourite(inputs.items.clone().filter(paid()), "category", Some("quantity"), "behavior_fav_category");

    let is = |t: &str| col("event_type").eq(lit(t.to_string()));
    let mut event_aggs = vec![
        count_if(is("view").and(day.within(col("event_ts"), 30))).alias("behavior_views_30d"),
        count_if(is("add_to_cart").and(day.within(col("event_ts"), 30))).alias("behavior_carts_30d"),
    ];
    for (name, t, w) in event_columns(spec) {
        event_aggs.push(count_if(is(&t).and(day.within(col("event_ts"), w))).alias(name));
    }
    let events = inputs.events.clone().group_by([col(KEY)]).agg(event_aggs);

    let days = |lf: LazyFrame, ts: &str| lf.filter(day.within(col(ts), 90)).select([col(KEY), col(ts).dt().date().alias("day")]);
    let active =
        concat([days(inputs.orders.clone().filter(paid()), "order_ts"), days(inputs.events.clone(), "event_ts")], UnionArgs::default())
            .expect("same schema")
            .group_by([col(KEY)])
            .agg([col("day").n_unique().cast(DataType::UInt32).alias("behavior_active_days_90d")]);

    let full = || JoinArgs::new(JoinType::Full).with_coalesce(JoinCoalesce::CoalesceColumns);
    let favourites = ["channel", "hour", "weekday", "category"].map(|f| format!("behavior_fav_{f}"));
    let buyers = super::join_all(purchases, vec![fav_channel, fav_category])
        .select([all().exclude_cols(favourites.clone()).as_expr(), cols(favourites).as_expr()]);
    buyers.join(events, [col(KEY)], [col(KEY)], full()).join(active, [col(KEY)], [col(KEY)], full())
}

/// The columns drawn from events: null for everyone when the table is absent.
pub fn from_events(spec: &BehaviorSpec) -> Vec<String> {
    let fixed =
        ["behavior_views_30d", "behavior_carts_30d", "behavior_active_days_90d", "behavior_cart_rate_30d", "behavior_conversion_30d"];
    fixed.into_iter().map(String::from).chain(event_columns(spec).into_iter().map(|(n, _, _)| n)).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_counted_value_ties_to_the_smallest_and_none_is_null() {
        // Three people's counts of the values 1, 2, 3: 2 most often; 1 and 3 tie; no count.
        let counts = df!("_c1" => [1u32, 4, 0], "_c2" => [5u32, 2, 0], "_c3" => [0u32, 4, 0]).unwrap();
        let names: Vec<String> = ["_c1", "_c2", "_c3"].map(String::from).to_vec();
        let out = counts.lazy().select([most_counted(&names, &[1, 2, 3]).alias("fav")]).collect().unwrap();
        assert_eq!(out.column("fav").unwrap().i32().unwrap().to_vec(), [Some(2), Some(1), None]);
    }
}
