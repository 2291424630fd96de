//! `profiles`: one wide row per person — the five dimensions, RFM, the models' outputs,
//! segment, lifecycle stage and tags, with labels in the pipeline's locale.

use super::{ColumnDoc, TableDoc, COUNT, DAYS, MONEY, SHARE};
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
    let (_, m, _, _) = DOC.columns.iter().find(|(c, ..)| *c == column)?;
    own(m.to_string(), "", rule_names(rules))
}

pub const DOC: TableDoc = TableDoc {
    grain: "person (`customer_key`)",
    about: "The wide customer profile: the five dimensions, RFM, model outputs, segment, lifecycle stage and tags.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    ("customer_key", "Stable person key: kept from the previous published day; new keys are `ck_` + 16 hex of sha256 of the person's smallest `source␟source_customer_id`.", "", "unique, not null"),
    ("basic_age", "Completed years at as-of, from the birth date, else the national id.", "years", ""),
    ("basic_age_band", "Age band.", "", "<18, 18-24, 25-34, 35-44, 45-54, 55-64, 65+"),
    ("basic_gender", "Gender from the records, else the national id.", "", "M, F, U"),
    ("basic_province", "Province of the golden record.", "", ""),
    ("basic_city", "City of the golden record.", "", ""),
    ("basic_city_tier", "City tier.", "", "tier1, new_tier1, other"),
    ("basic_occupation", "Occupation of the golden record.", "", ""),
    ("basic_education", "Education of the golden record.", "", ""),
    ("basic_income_band", "Annual income band.", "CNY per year", "<50k, 50k-100k, 100k-200k, 200k-500k, 500k+"),
    ("basic_tenure_days", "Days since the earliest registration.", DAYS, ""),
    ("basic_sources", "Sources the person appears in, comma separated.", "", "source names"),
    ("basic_source_count", "How many sources the person appears in.", COUNT, ""),
    ("basic_record_count", "How many source records were merged into the person.", COUNT, ""),
    ("basic_marketing_opt_in", "Marketing consent of the golden record.", "", "true, false"),
    ("power_total_spend", "Net amount of all paid orders.", MONEY, ""),
    ("power_spend_12m", "Net amount of paid orders in the last 365 days.", MONEY, ""),
    ("power_order_count", "Paid orders, all time.", COUNT, ""),
    ("power_avg_order_value", "Mean net amount per paid order.", MONEY, ""),
    ("power_max_order_value", "Largest paid order.", MONEY, ""),
    ("power_spend_trend", "(spend in the last 182 days − the 182 before) / their sum.", "ratio", "-1..1"),
    ("power_discount_share", "Discount / gross amount of paid orders.", SHARE, ""),
    ("power_coupon_rate", "Share of paid orders with a coupon.", SHARE, ""),
    ("power_refund_rate", "Refunded / (paid + refunded) orders.", SHARE, ""),
    ("power_price_tier", "Tertile of the average order value among buyers.", "", "low, mid, high"),
    ("behavior_purchase_days", "Distinct days with a paid order.", COUNT, ""),
    ("behavior_frequency_365d", "Paid orders in the last 365 days.", COUNT, ""),
    ("behavior_purchases_30d", "Paid orders in the last 30 days.", COUNT, ""),
    ("behavior_recency_days", "Days since the last paid order.", DAYS, ""),
    ("behavior_first_purchase_days", "Days since the first paid order.", DAYS, ""),
    ("behavior_last_purchase_date", "Day of the last paid order.", "date", ""),
    ("behavior_interpurchase_days", "Mean days between distinct purchase days.", DAYS, ""),
    ("behavior_fav_channel", "Most frequent order channel (ties to the smallest).", "", "order channels"),
    ("behavior_fav_hour", "Most frequent order hour.", "hour", "0..23"),
    ("behavior_fav_weekday", "Most frequent order weekday (ISO).", "weekday", "1 = Monday .. 7 = Sunday"),
    ("behavior_fav_category", "Most bought category by quantity (ties to the smallest).", "", "item categories"),
    ("behavior_views_30d", "Product views in the last 30 days (funnel step 1).", COUNT, ""),
    ("behavior_carts_30d", "Add-to-cart events in the last 30 days (funnel step 2).", COUNT, ""),
    ("behavior_active_days_90d", "Distinct days with an event or a paid order in the last 90 days.", COUNT, "0..90"),
    ("behavior_cart_rate_30d", "Carts / views over 30 days; null without views.", "ratio", ""),
    ("behavior_conversion_30d", "Paid orders / views over 30 days; null without views.", "ratio", ""),
    ("social_shares", "Shares.", COUNT, ""),
    ("social_likes", "Likes.", COUNT, ""),
    ("social_comments", "Comments.", COUNT, ""),
    ("social_invites", "Invitations sent.", COUNT, ""),
    ("social_follows", "Follows.", COUNT, ""),
    ("social_platforms", "Platforms with social activity.", COUNT, ""),
    ("social_followers", "Latest follower count.", COUNT, ""),
    ("social_influence_score", "ln(1 + followers) + 2·invites + shares + 0.5·comments + 0.1·likes (意见领袖 when high).", "score", ">= 0"),
    ("psych_rating_mean", "Mean 1-5 rating.", "stars", "1..5"),
    ("psych_rating_count", "Ratings given.", COUNT, ""),
    ("psych_nps", "Latest NPS answer.", "points", "0..10"),
    ("psych_complaints", "Complaints filed.", COUNT, ""),
    ("psych_sentiment", "Mean lexicon sentiment of review texts (Chinese and English, negation-aware).", "score", "-1..1"),
    ("psych_nps_class", "NPS class of the latest answer.", "", "promoter (9-10), passive (7-8), detractor (0-6)"),
    ("psych_motive_declared", "Most mentioned motive in feedback topics.", "", "quality, price, convenience, eco"),
    ("psych_price_sensitivity", "(min(1, discount share / 0.3) + coupon rate) / 2.", "score", "0..1"),
    ("psych_motive_revealed", "Motive from behaviour: price if price sensitivity >= 0.5, else quality for the high price tier, else convenience for mobile-first buyers.", "", "price, quality, convenience"),
    ("rfm_frequency", "F: paid orders in the RFM window (`rfm.window_days`); null for people who never bought.", COUNT, ""),
    ("rfm_monetary", "M: net spend in the RFM window; null for people who never bought.", MONEY, ""),
    ("rfm_recency_days", "R: days since the last paid order; null for people who never bought.", DAYS, ""),
    ("rfm_r", "Recency score: 1 + number of the i/bins quantile cut-points (over buyers) exceeded, reversed so recent is high.", "score", "1..rfm.bins"),
    ("rfm_f", "Frequency score (quantiles over buyers).", "score", "1..rfm.bins"),
    ("rfm_m", "Monetary score (quantiles over buyers).", "score", "1..rfm.bins"),
    ("rfm_cell", "The three scores as text, R then F then M.", "", "e.g. 545"),
    ("rfm_fm", "(F + M) / 2.", "score", "1..rfm.bins"),
    ("rfm_value_class", "8-class value model: R more recent than the buyers' mean, F and M above it.", "", "important_value, important_develop, important_keep, important_retain, general_value, general_develop, general_keep, general_retain"),
    ("rfm_value_class_zh", "The value class in Chinese.", "", "重要价值客户, 重要发展客户, 重要保持客户, 重要挽留客户, 一般价值客户, 一般发展客户, 一般保持客户, 一般挽留客户"),
    ("pred_p_alive", "BG/NBD probability that the buyer is still a customer (1 without a repeat purchase); null for people who never bought or when the model was not fitted.", "probability", "0..1"),
    ("pred_order_value", "Gamma-Gamma expected value of a future purchase day.", MONEY, ""),
    ("clv_rank_pct", "Share of buyers with a CLV at or below this one.", SHARE, ""),
    ("cluster", "k-means persona, numbered by size (1 = largest).", "", "1..k"),
    ("cluster_label", "The persona's description: its features furthest from average.", "", ""),
    ("cluster_label_zh", "The persona's description in Chinese.", "", ""),
    ("segment", "First matching `[[segments]]` rule; null for people who never bought.", "", ""),
    ("segment_label", "The segment's label in the pipeline's locale.", "", ""),
    ("lifecycle_stage", "First matching `[[lifecycle]]` rule.", "", ""),
    ("lifecycle_stage_label", "The lifecycle stage's label in the pipeline's locale.", "", ""),
    ("tags", "Names of every matching `[[tags]]` rule, in config order.", "", ""),
    ("tag_labels", "The tags' labels in the pipeline's locale, in the same order.", "", ""),
];
