//! The data dictionary: every output table and column with its type, meaning, unit and
//! allowed values. Types come from the pipeline's own plan (built over empty inputs), names
//! of configured columns (event windows, model horizons, config features, rules) from the
//! config, and meanings from the table below; `portrait docs` writes it as Markdown and a test
//! fails when a published column has no entry, so it cannot drift from the code.

use crate::config::{NamedExpr, Plan};
use crate::error::{Error, Result};
use crate::stages::{predict, privacy};
use serde::Serialize;

#[derive(Clone, Debug, Serialize)]
pub struct ColumnDoc {
    pub name: String,
    pub dtype: String,
    pub meaning: String,
    pub unit: String,
    pub values: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TableDoc {
    pub name: String,
    pub grain: &'static str,
    pub about: &'static str,
    pub columns: Vec<ColumnDoc>,
}

/// Every output table in publish order: (name, one row per, what it is).
pub const TABLES: &[(&str, &str, &str)] = &[
    (
        "profiles",
        "person (`customer_key`)",
        "The wide customer profile: the five dimensions, RFM, model outputs, segment, lifecycle stage and tags.",
    ),
    ("tags", "(person, tag)", "The profile's tags in long form, for BI filters."),
    ("identity_map", "source record", "Which person every source record was resolved to, and by which rule."),
    (
        "segment_summary",
        "segment, persona cluster or migration",
        "Size, revenue and model means per RFM segment and persona cluster; migrations since the previous published day.",
    ),
    (
        "model_eval",
        "evaluation group",
        "成效评估: predictions of the as-of day against what customers did after it (only when orders newer than as-of exist).",
    ),
    (
        "profile_changes",
        "(person, changed field)",
        "Customers whose segment, lifecycle stage or tags changed since the previous published day.",
    ),
    ("quarantine", "rejected input row", "Input rows that could not be used, with where they came from and why."),
];

const MONEY: &str = "money (input currency)";
const DAYS: &str = "days";
const SHARE: &str = "share 0..1";
const COUNT: &str = "count";

/// (table, column, meaning, unit, allowed values) of the columns every pipeline has.
const FIXED: &[(&str, &str, &str, &str, &str)] = &[
    ("profiles", "customer_key", "Stable person key: kept from the previous published day; new keys are `ck_` + 16 hex of sha256 of the person's smallest `source␟source_customer_id`.", "", "unique, not null"),
    ("profiles", "basic_age", "Completed years at as-of, from the birth date, else the national id.", "years", ""),
    ("profiles", "basic_age_band", "Age band.", "", "<18, 18-24, 25-34, 35-44, 45-54, 55-64, 65+"),
    ("profiles", "basic_gender", "Gender from the records, else the national id.", "", "M, F, U"),
    ("profiles", "basic_province", "Province of the golden record.", "", ""),
    ("profiles", "basic_city", "City of the golden record.", "", ""),
    ("profiles", "basic_city_tier", "City tier.", "", "tier1, new_tier1, other"),
    ("profiles", "basic_occupation", "Occupation of the golden record.", "", ""),
    ("profiles", "basic_education", "Education of the golden record.", "", ""),
    ("profiles", "basic_income_band", "Annual income band.", "CNY per year", "<50k, 50k-100k, 100k-200k, 200k-500k, 500k+"),
    ("profiles", "basic_tenure_days", "Days since the earliest registration.", DAYS, ""),
    ("profiles", "basic_sources", "Sources the person appears in, comma separated.", "", "source names"),
    ("profiles", "basic_source_count", "How many sources the person appears in.", COUNT, ""),
    ("profiles", "basic_record_count", "How many source records were merged into the person.", COUNT, ""),
    ("profiles", "basic_marketing_opt_in", "Marketing consent of the golden record.", "", "true, false"),
    ("profiles", "power_total_spend", "Net amount of all paid orders.", MONEY, ""),
    ("profiles", "power_spend_12m", "Net amount of paid orders in the last 365 days.", MONEY, ""),
    ("profiles", "power_order_count", "Paid orders, all time.", COUNT, ""),
    ("profiles", "power_avg_order_value", "Mean net amount per paid order.", MONEY, ""),
    ("profiles", "power_max_order_value", "Largest paid order.", MONEY, ""),
    ("profiles", "power_spend_trend", "(spend in the last 182 days − the 182 before) / their sum.", "ratio", "-1..1"),
    ("profiles", "power_discount_share", "Discount / gross amount of paid orders.", SHARE, ""),
    ("profiles", "power_coupon_rate", "Share of paid orders with a coupon.", SHARE, ""),
    ("profiles", "power_refund_rate", "Refunded / (paid + refunded) orders.", SHARE, ""),
    ("profiles", "power_price_tier", "Tertile of the average order value among buyers.", "", "low, mid, high"),
    ("profiles", "behavior_purchase_days", "Distinct days with a paid order.", COUNT, ""),
    ("profiles", "behavior_frequency_365d", "Paid orders in the last 365 days.", COUNT, ""),
    ("profiles", "behavior_purchases_30d", "Paid orders in the last 30 days.", COUNT, ""),
    ("profiles", "behavior_recency_days", "Days since the last paid order.", DAYS, ""),
    ("profiles", "behavior_first_purchase_days", "Days since the first paid order.", DAYS, ""),
    ("profiles", "behavior_last_purchase_date", "Day of the last paid order.", "date", ""),
    ("profiles", "behavior_interpurchase_days", "Mean days between distinct purchase days.", DAYS, ""),
    ("profiles", "behavior_fav_channel", "Most frequent order channel (ties to the smallest).", "", "order channels"),
    ("profiles", "behavior_fav_hour", "Most frequent order hour.", "hour", "0..23"),
    ("profiles", "behavior_fav_weekday", "Most frequent order weekday (ISO).", "weekday", "1 = Monday .. 7 = Sunday"),
    ("profiles", "behavior_fav_category", "Most bought category by quantity (ties to the smallest).", "", "item categories"),
    ("profiles", "behavior_views_30d", "Product views in the last 30 days (funnel step 1).", COUNT, ""),
    ("profiles", "behavior_carts_30d", "Add-to-cart events in the last 30 days (funnel step 2).", COUNT, ""),
    ("profiles", "behavior_active_days_90d", "Distinct days with an event or a paid order in the last 90 days.", COUNT, "0..90"),
    ("profiles", "behavior_cart_rate_30d", "Carts / views over 30 days; null without views.", "ratio", ""),
    ("profiles", "behavior_conversion_30d", "Paid orders / views over 30 days; null without views.", "ratio", ""),
    ("profiles", "social_shares", "Shares.", COUNT, ""),
    ("profiles", "social_likes", "Likes.", COUNT, ""),
    ("profiles", "social_comments", "Comments.", COUNT, ""),
    ("profiles", "social_invites", "Invitations sent.", COUNT, ""),
    ("profiles", "social_follows", "Follows.", COUNT, ""),
    ("profiles", "social_platforms", "Platforms with social activity.", COUNT, ""),
    ("profiles", "social_followers", "Latest follower count.", COUNT, ""),
    ("profiles", "social_influence_score", "ln(1 + followers) + 2·invites + shares + 0.5·comments + 0.1·likes (意见领袖 when high).", "score", ">= 0"),
    ("profiles", "psych_rating_mean", "Mean 1-5 rating.", "stars", "1..5"),
    ("profiles", "psych_rating_count", "Ratings given.", COUNT, ""),
    ("profiles", "psych_nps", "Latest NPS answer.", "points", "0..10"),
    ("profiles", "psych_complaints", "Complaints filed.", COUNT, ""),
    ("profiles", "psych_sentiment", "Mean lexicon sentiment of review texts (Chinese and English, negation-aware).", "score", "-1..1"),
    ("profiles", "psych_nps_class", "NPS class of the latest answer.", "", "promoter (9-10), passive (7-8), detractor (0-6)"),
    ("profiles", "psych_motive_declared", "Most mentioned motive in feedback topics.", "", "quality, price, convenience, eco"),
    ("profiles", "psych_price_sensitivity", "(min(1, discount share / 0.3) + coupon rate) / 2.", "score", "0..1"),
    ("profiles", "psych_motive_revealed", "Motive from behaviour: price if price sensitivity >= 0.5, else quality for the high price tier, else convenience for mobile-first buyers.", "", "price, quality, convenience"),
    ("profiles", "rfm_frequency", "F: paid orders in the RFM window (`rfm.window_days`); null for people who never bought.", COUNT, ""),
    ("profiles", "rfm_monetary", "M: net spend in the RFM window; null for people who never bought.", MONEY, ""),
    ("profiles", "rfm_recency_days", "R: days since the last paid order; null for people who never bought.", DAYS, ""),
    ("profiles", "rfm_r", "Recency score: 1 + number of the i/bins quantile cut-points (over buyers) exceeded, reversed so recent is high.", "score", "1..rfm.bins"),
    ("profiles", "rfm_f", "Frequency score (quantiles over buyers).", "score", "1..rfm.bins"),
    ("profiles", "rfm_m", "Monetary score (quantiles over buyers).", "score", "1..rfm.bins"),
    ("profiles", "rfm_cell", "The three scores as text, R then F then M.", "", "e.g. 545"),
    ("profiles", "rfm_fm", "(F + M) / 2.", "score", "1..rfm.bins"),
    ("profiles", "rfm_value_class", "8-class value model: R more recent than the buyers' mean, F and M above it.", "", "important_value, important_develop, important_keep, important_retain, general_value, general_develop, general_keep, general_retain"),
    ("profiles", "rfm_value_class_zh", "The value class in Chinese.", "", "重要价值客户, 重要发展客户, 重要保持客户, 重要挽留客户, 一般价值客户, 一般发展客户, 一般保持客户, 一般挽留客户"),
    ("profiles", "pred_p_alive", "BG/NBD probability that the buyer is still a customer (1 without a repeat purchase); null for people who never bought or when the model was not fitted.", "probability", "0..1"),
    ("profiles", "pred_order_value", "Gamma-Gamma expected value of a future purchase day.", MONEY, ""),
    ("profiles", "clv_rank_pct", "Share of buyers with a CLV at or below this one.", SHARE, ""),
    ("profiles", "cluster", "k-means persona, numbered by size (1 = largest).", "", "1..k"),
    ("profiles", "cluster_label", "The persona's description: its features furthest from average.", "", ""),
    ("profiles", "cluster_label_zh", "The persona's description in Chinese.", "", ""),
    ("profiles", "segment", "First matching `[[segments]]` rule; null for people who never bought.", "", ""),
    ("profiles", "segment_label", "The segment's label in the pipeline's locale.", "", ""),
    ("profiles", "lifecycle_stage", "First matching `[[lifecycle]]` rule.", "", ""),
    ("profiles", "lifecycle_stage_label", "The lifecycle stage's label in the pipeline's locale.", "", ""),
    ("profiles", "tags", "Names of every matching `[[tags]]` rule, in config order.", "", ""),
    ("profiles", "tag_labels", "The tags' labels in the pipeline's locale, in the same order.", "", ""),
    ("tags", "customer_key", "The person.", "", "a profiles.customer_key"),
    ("tags", "tag", "Tag name.", "", ""),
    ("tags", "label", "The tag's label in the pipeline's locale.", "", ""),
    ("identity_map", "source", "Source system of the record.", "", "source names"),
    ("identity_map", "source_customer_id", "The record's id in its source.", "", ""),
    ("identity_map", "customer_key", "The person the record belongs to.", "", "a profiles.customer_key"),
    ("identity_map", "match_rule", "The strongest rule that linked the record.", "", "source_id, override, id_number, phone, email, probabilistic, singleton"),
    ("identity_map", "match_score", "1 for deterministic links, else the best match probability.", "probability", "0..1"),
    ("identity_map", "key_created", "The day the person's key was first issued.", "date", ""),
    ("segment_summary", "grouping", "What the row summarises.", "", "segment, cluster, migration:segment, migration:lifecycle_stage"),
    ("segment_summary", "segment", "Segment name (`no_purchase` = never bought), `cluster_<n>`, or for migrations `from -> to` (`(new)` / `(gone)` for customers on one day only).", "", ""),
    ("segment_summary", "description", "The rule's or persona's description.", "", ""),
    ("segment_summary", "description_zh", "The description in Chinese (personas).", "", ""),
    ("segment_summary", "customers", "Customers in the group.", COUNT, ""),
    ("segment_summary", "revenue_12m", "Their spend in the last 365 days.", MONEY, ""),
    ("segment_summary", "repeat_rate", "Share with two or more paid orders.", SHARE, ""),
    ("segment_summary", "mean_recency_days", "Mean R of the group's buyers.", DAYS, ""),
    ("segment_summary", "mean_frequency", "Mean F of the group's buyers.", COUNT, ""),
    ("segment_summary", "mean_p_alive", "Mean alive probability (null on migration rows).", "probability", "0..1"),
    ("segment_summary", "mean_clv", "Mean predicted CLV (null on migration rows).", MONEY, ""),
    ("segment_summary", "customer_share", "Customers / all customers of the grouping.", SHARE, ""),
    ("segment_summary", "revenue_share", "12-month revenue / all of the grouping's.", SHARE, ""),
    ("segment_summary", "mean_monetary", "Mean M of the group's buyers.", MONEY, ""),
    ("model_eval", "group", "Evaluation group.", "", "all, p_alive 0.0-0.1 … 0.9-1.0, lifecycle:<stage>, tag:<tag>"),
    ("model_eval", "customers", "Customers in the group.", COUNT, ""),
    ("model_eval", "mean_p_alive", "Their mean predicted alive probability at as-of.", "probability", "0..1"),
    ("model_eval", "share_bought_again", "Share who made a purchase after as-of.", SHARE, ""),
    ("model_eval", "predicted_purchases", "Purchase days the model expected over the holdout.", COUNT, ""),
    ("model_eval", "actual_purchases", "Purchase days made over the holdout.", COUNT, ""),
    ("model_eval", "mae_purchases", "Mean absolute error of predicted purchases per customer.", COUNT, ""),
    ("model_eval", "holdout_days", "Days from as-of to the newest order.", DAYS, ""),
    ("profile_changes", "customer_key", "The person.", "", ""),
    ("profile_changes", "field", "The changed field.", "", "segment, lifecycle_stage, tags"),
    ("profile_changes", "before", "Value on the previous published day (tags as a comma list); null for a new customer.", "", ""),
    ("profile_changes", "after", "Value now; null for a customer gone (e.g. merged).", "", ""),
    ("quarantine", "table", "Input table of the row.", "", "customers, orders, order_items, events, social_interactions, feedback"),
    ("quarantine", "file", "File the row came from.", "", ""),
    ("quarantine", "row", "Row number in the file (1 = first data row).", "", ""),
    ("quarantine", "reason", "Why the row could not be used.", "", ""),
    ("quarantine", "raw", "The row's values as `column=value` pairs (after ingest: its required values).", "", ""),
];

/// The dictionary of the pipeline's outputs, with each column's type from the plan.
pub fn describe(plan: &Plan) -> Result<Vec<TableDoc>> {
    let schemas = crate::run::output_schemas(plan)?;
    let mut docs = Vec::new();
    for (name, grain, about) in TABLES {
        let schema =
            schemas.iter().find(|(n, _)| n == name).map(|(_, s)| s).ok_or_else(|| Error::Internal(format!("no schema for {name}")))?;
        let columns = schema
            .iter()
            .map(|(col, dtype)| {
                let (meaning, unit, values) = meaning(plan, name, col.as_str()).unwrap_or_default();
                ColumnDoc { name: col.to_string(), dtype: format!("{dtype:?}"), meaning, unit, values }
            })
            .collect();
        docs.push(TableDoc { name: name.to_string(), grain, about, columns });
    }
    Ok(docs)
}

fn rule_names(rules: &[NamedExpr]) -> String {
    rules.iter().map(|r| format!("{} ({} / {})", r.name, r.label_en, r.label_zh)).collect::<Vec<_>>().join(", ")
}

/// Meaning, unit and allowed values of one output column; None when it is undocumented.
pub fn meaning(plan: &Plan, table: &str, column: &str) -> Option<(String, String, String)> {
    let own = |m: String, u: &str, v: String| Some((m, u.to_string(), v));
    if table == "profiles" {
        let models = &plan.spec.models;
        if let Some(f) = plan.features.iter().find(|f| f.name == column) {
            let m = if f.description.is_empty() { format!("Config feature `{}`.", f.sql) } else { f.description.clone() };
            return own(m, "", String::new());
        }
        for t in &plan.spec.behavior.event_types {
            for w in &plan.spec.behavior.windows_days {
                if column == format!("behavior_{t}_{w}d") {
                    return own(format!("`{t}` events in the last {w} days."), COUNT, String::new());
                }
            }
        }
        if column == predict::purchases_column(models) {
            return own(format!("BG/NBD expected purchase days in the next {} days.", models.horizon_days), COUNT, String::new());
        }
        if column == predict::clv_column(models) {
            return own(
                format!(
                    "Expected spend over the next {} days, discounted at {} per year in 30-day steps.",
                    models.clv_horizon_days, models.annual_discount_rate
                ),
                MONEY,
                String::new(),
            );
        }
        if let Some(field) = plan.spec.privacy.hash_fields.iter().find(|f| privacy::hmac_column(f) == column) {
            return own(
                format!("Hex HMAC-SHA-256 of the golden {field} under the key in `{}`.", plan.spec.privacy.key_env),
                "",
                "64 hex digits".into(),
            );
        }
        let rules = match column {
            "segment" => Some(&plan.segments),
            "lifecycle_stage" => Some(&plan.lifecycle),
            "tags" => Some(&plan.tags),
            _ => None,
        };
        if let Some(rules) = rules {
            let (m, _, _) = fixed(table, column)?;
            return own(m, "", rule_names(rules));
        }
    }
    fixed(table, column)
}

fn fixed(table: &str, column: &str) -> Option<(String, String, String)> {
    FIXED.iter().find(|(t, c, ..)| *t == table && *c == column).map(|(_, _, m, u, v)| (m.to_string(), u.to_string(), v.to_string()))
}

/// The dictionary's file name, next to each day's report and under `portrait docs --out`.
pub const FILE_NAME: &str = "data_dictionary.md";

const TEMPLATE: &str = include_str!("../templates/data_dictionary.md");

/// The dictionary as Markdown.
pub fn markdown(plan: &Plan, docs: &[TableDoc]) -> Result<String> {
    let mut env = minijinja::Environment::new();
    // A `|` inside a cell would end it.
    env.add_filter("cell", |v: String| v.replace('|', "\\|"));
    env.add_template("dictionary", TEMPLATE).map_err(|e| Error::internal("dictionary template", e))?;
    let ctx = minijinja::context! {
        pipeline => plan.spec.pipeline.name,
        locale => plan.locale.code(),
        tables => docs,
    };
    env.get_template("dictionary").and_then(|t| t.render(ctx)).map_err(|e| Error::internal("dictionary template", e))
}
