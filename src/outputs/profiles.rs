//! `profiles`: one wide row per person — the five dimensions, RFM, the models' outputs,
//! segment, lifecycle stage and tags, with labels in the pipeline's locale.

use super::{column, ColumnDoc, TableDoc, Values, COUNT, DAYS, MONEY, SHARE};
use crate::config::{NamedExpr, Plan};
use crate::error::{Error, Result};
use crate::stages::{predict, privacy};
use polars::prelude::*;

/// The scored profile with its columns grouped by dimension (config features join their
/// prefix's group), then the scores, model outputs and labels; internal `_` columns dropped.
pub fn build(scored: LazyFrame) -> Result<LazyFrame> {
    let mut lf = scored;
    let schema = lf.collect_schema().map_err(|e| Error::internal("profile schema", e))?;
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    let mut order = vec!["customer_key"];
    for prefix in ["basic_", "power_", "behavior_", "social_", "psych_", "rfm_", "pred_", "clv_", "cluster"] {
        order.extend(names.iter().filter(|n| n.starts_with(prefix)));
    }
    order.extend(["segment", "segment_label", "lifecycle_stage", "lifecycle_stage_label", "tags", "tag_labels"]);
    let rest: Vec<&str> = names.iter().copied().filter(|n| !order.contains(n) && !n.starts_with('_')).collect();
    order.extend(rest);
    Ok(lf.select(order.into_iter().map(col).collect::<Vec<_>>()).sort(["customer_key"], Default::default()).cache())
}

fn rule_names(rules: &[NamedExpr]) -> String {
    rules.iter().map(|r| format!("{} ({} / {})", r.name, r.label_en, r.label_zh)).collect::<Vec<_>>().join(", ")
}

/// Columns whose name or meaning comes from the config: config features, event counts per
/// type and window, model horizons, keyed hashes, and the rule columns' allowed values.
pub fn configured(plan: &Plan, column: &str) -> Option<(String, String, String)> {
    let own = |m: String, u: &str, v: String| Some((m, u.to_string(), v));
    let models = &plan.models;
    if let Some(f) = plan.features.iter().find(|f| f.name == column) {
        let m = if f.description.is_empty() { format!("Config feature `{}`.", f.sql) } else { f.description.clone() };
        return own(m, "", String::new());
    }
    for t in &plan.behavior.event_types {
        for w in &plan.behavior.windows_days {
            if column == format!("behavior_{t}_{w}d") {
                return own(format!("`{t}` events in the last {w} days."), COUNT, String::new());
            }
        }
    }
    if column == predict::purchases_column(models) {
        return own(format!("BG/NBD expected purchase days in the next {} days.", models.horizon_days), COUNT, String::new());
    }
    if column == predict::clv_column(models) {
        let m = format!(
            "Expected spend over the next {} days, discounted at {} per year in 30-day steps.",
            models.clv_horizon_days, models.annual_discount_rate
        );
        return own(m, MONEY, String::new());
    }
    if let Some(field) = plan.privacy.hash_fields.iter().find(|f| privacy::hmac_column(**f) == column) {
        let m = format!("Hex HMAC-SHA-256 of the golden {field} under the key in `{}`.", plan.privacy.key_env);
        return own(m, "", "64 hex digits".into());
    }
    let rules = match column {
        "segment" => &plan.segments,
        "lifecycle_stage" => &plan.lifecycle,
        "tags" => &plan.tags,
        _ => return None,
    };
    let doc = DOC.columns.iter().find(|c| c.name == column)?;
    own(doc.meaning.to_string(), "", rule_names(rules))
}

pub const DOC: TableDoc = TableDoc {
    grain: "person (`customer_key`)",
    about: "The wide customer profile: the five dimensions, RFM, model outputs, segment, lifecycle stage and tags.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("customer_key", "Stable person key: kept from the previous published day; new keys are `ck_` + 16 hex of sha256 of the person's smallest `source␟source_customer_id`.", "", Values::Said("unique, not null")),
    column("basic_age", "Completed years at as-of, from the birth date, else the national id.", "years", Values::Any),
    column("basic_age_band", "Age band.", "", Values::OneOf(&["<18", "18-24", "25-34", "35-44", "45-54", "55-64", "65+"])),
    column("basic_gender", "Gender from the records, else the national id.", "", Values::OneOf(&["M", "F", "U"])),
    column("basic_province", "Province of the golden record.", "", Values::Any),
    column("basic_city", "City of the golden record.", "", Values::Any),
    column("basic_city_tier", "City tier.", "", Values::OneOf(&["tier1", "new_tier1", "other"])),
    column("basic_occupation", "Occupation of the golden record.", "", Values::Any),
    column("basic_education", "Education of the golden record.", "", Values::Any),
    column("basic_income_band", "Annual income band.", "CNY per year", Values::OneOf(&["<50k", "50k-100k", "100k-200k", "200k-500k", "500k+"])),
    column("basic_tenure_days", "Days since the earliest registration; null when that is after as-of.", DAYS, Values::Any),
    column("basic_sources", "Sources the person appears in, comma separated.", "", Values::Said("source names")),
    column("basic_source_count", "How many sources the person appears in.", COUNT, Values::Any),
    column("basic_record_count", "How many source records were merged into the person.", COUNT, Values::Any),
    column("basic_marketing_opt_in", "Marketing consent of the golden record.", "", Values::OneOf(&["true", "false"])),
    column("power_total_spend", "Net amount of all paid orders.", MONEY, Values::Any),
    column("power_spend_12m", "Net amount of paid orders in the last 365 days.", MONEY, Values::Any),
    column("power_order_count", "Paid orders, all time.", COUNT, Values::Any),
    column("power_avg_order_value", "Mean net amount per paid order.", MONEY, Values::Any),
    column("power_max_order_value", "Largest paid order.", MONEY, Values::Any),
    column("power_spend_trend", "(spend in the last 182 days − the 182 before) / their sum.", "ratio", Values::Between(-1.0, 1.0)),
    column("power_discount_share", "Discount / gross amount of paid orders.", SHARE, Values::Any),
    column("power_coupon_rate", "Share of paid orders with a coupon.", SHARE, Values::Any),
    column("power_refund_rate", "Refunded / (paid + refunded) orders.", SHARE, Values::Any),
    column("power_price_tier", "Tertile of the average order value among buyers.", "", Values::OneOf(&["low", "mid", "high"])),
    column("behavior_purchase_days", "Distinct days with a paid order.", COUNT, Values::Any),
    column("behavior_frequency_365d", "Paid orders in the last 365 days.", COUNT, Values::Any),
    column("behavior_purchases_30d", "Paid orders in the last 30 days.", COUNT, Values::Any),
    column("behavior_recency_days", "Days since the last paid order.", DAYS, Values::Any),
    column("behavior_first_purchase_days", "Days since the first paid order.", DAYS, Values::Any),
    column("behavior_last_purchase_date", "Day of the last paid order.", "date", Values::Any),
    column("behavior_interpurchase_days", "Mean days between distinct purchase days.", DAYS, Values::Any),
    column("behavior_fav_channel", "Most frequent order channel (ties to the smallest).", "", Values::Said("order channels")),
    column("behavior_fav_hour", "Most frequent order hour.", "hour", Values::Between(0.0, 23.0)),
    column("behavior_fav_weekday", "Most frequent order weekday (ISO: 1 = Monday … 7 = Sunday).", "weekday", Values::Between(1.0, 7.0)),
    column("behavior_fav_category", "Most bought category by quantity (ties to the smallest).", "", Values::Said("item categories")),
    column("behavior_views_30d", "Product views in the last 30 days (funnel step 1).", COUNT, Values::Any),
    column("behavior_carts_30d", "Add-to-cart events in the last 30 days (funnel step 2).", COUNT, Values::Any),
    column("behavior_active_days_90d", "Distinct days with an event or a paid order in the last 90 days.", COUNT, Values::Between(0.0, 90.0)),
    column("behavior_cart_rate_30d", "Carts / views over 30 days; null without views.", "ratio", Values::Any),
    column("behavior_conversion_30d", "Paid orders / views over 30 days; null without views.", "ratio", Values::Any),
    column("social_shares", "Shares.", COUNT, Values::Any),
    column("social_likes", "Likes.", COUNT, Values::Any),
    column("social_comments", "Comments.", COUNT, Values::Any),
    column("social_invites", "Invitations sent.", COUNT, Values::Any),
    column("social_follows", "Follows.", COUNT, Values::Any),
    column("social_platforms", "Platforms with social activity.", COUNT, Values::Any),
    column("social_followers", "Latest follower count.", COUNT, Values::Any),
    column("social_influence_score", "ln(1 + followers) + 2·invites + shares + 0.5·comments + 0.1·likes (意见领袖 when high).", "score", Values::Between(0.0, f64::INFINITY)),
    column("psych_rating_mean", "Mean 1-5 rating.", "stars", Values::Between(1.0, 5.0)),
    column("psych_rating_count", "Ratings given.", COUNT, Values::Any),
    column("psych_nps", "Latest NPS answer.", "points", Values::Between(0.0, 10.0)),
    column("psych_complaints", "Complaints filed.", COUNT, Values::Any),
    column("psych_sentiment", "Mean lexicon sentiment of review texts (Chinese and English, negation-aware).", "score", Values::Between(-1.0, 1.0)),
    column(
        "psych_nps_class",
        "NPS class of the latest answer: promoter (9-10), passive (7-8), detractor (0-6).",
        "",
        Values::OneOf(&["promoter", "passive", "detractor"]),
    ),
    column("psych_motive_declared", "Most mentioned motive in feedback topics.", "", Values::OneOf(&["quality", "price", "convenience", "eco"])),
    column("psych_price_sensitivity", "(min(1, discount share / 0.3) + coupon rate) / 2.", "score", Values::Between(0.0, 1.0)),
    column("psych_motive_revealed", "Motive from behaviour: price if price sensitivity >= 0.5, else quality for the high price tier, else convenience for mobile-first buyers.", "", Values::OneOf(&["price", "quality", "convenience"])),
    column("rfm_frequency", "F: paid orders in the RFM window (`rfm.window_days`); null for people who never bought.", COUNT, Values::Any),
    column("rfm_monetary", "M: net spend in the RFM window; null for people who never bought.", MONEY, Values::Any),
    column("rfm_recency_days", "R: days since the last paid order; null for people who never bought.", DAYS, Values::Any),
    column("rfm_r", "Recency score: 1 + number of the i/bins quantile cut-points (over buyers) exceeded, reversed so recent is high.", "score", Values::Said("1..rfm.bins")),
    column("rfm_f", "Frequency score (quantiles over buyers).", "score", Values::Said("1..rfm.bins")),
    column("rfm_m", "Monetary score (quantiles over buyers).", "score", Values::Said("1..rfm.bins")),
    column("rfm_cell", "The three scores as text, R then F then M.", "", Values::Said("e.g. 545")),
    column("rfm_fm", "(F + M) / 2.", "score", Values::Said("1..rfm.bins")),
    column("rfm_value_class", "8-class value model: R more recent than the buyers' mean, F and M above it.", "", Values::OneOf(&["important_value", "important_develop", "important_keep", "important_retain", "general_value", "general_develop", "general_keep", "general_retain"])),
    column("rfm_value_class_zh", "The value class in Chinese.", "", Values::OneOf(&["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户", "一般价值客户", "一般发展客户", "一般保持客户", "一般挽留客户"])),
    column("pred_p_alive", "BG/NBD probability that the buyer is still a customer (1 without a repeat purchase); null for people who never bought or when the model was not fitted.", "probability", Values::Between(0.0, 1.0)),
    column("pred_order_value", "Gamma-Gamma expected value of a future purchase day.", MONEY, Values::Any),
    column("clv_rank_pct", "Share of buyers with a CLV at or below this one.", SHARE, Values::Any),
    column("cluster", "k-means persona, numbered by size (1 = largest).", "", Values::Said("1..k")),
    column("cluster_label", "The persona's description: its features furthest from average.", "", Values::Any),
    column("cluster_label_zh", "The persona's description in Chinese.", "", Values::Any),
    column("segment", "First matching `[[segments]]` rule; null for people who never bought.", "", Values::Any),
    column("segment_label", "The segment's label in the pipeline's locale.", "", Values::Any),
    column("lifecycle_stage", "First matching `[[lifecycle]]` rule.", "", Values::Any),
    column("lifecycle_stage_label", "The lifecycle stage's label in the pipeline's locale.", "", Values::Any),
    column("tags", "Names of every matching `[[tags]]` rule, in config order.", "", Values::Any),
    column("tag_labels", "The tags' labels in the pipeline's locale, in the same order.", "", Values::Any),
];
