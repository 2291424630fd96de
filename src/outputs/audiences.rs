//! `audiences`: who each campaign contacts today (`treatment`) and who it leaves out on purpose
//! (`control`), with what to send and where (`stages::campaign`). Written bucket by bucket in
//! the score pass. Contact data only as the HMACs the privacy section makes.

use super::{column, ColumnDoc, TableDoc, Values};
use crate::config::{PiiField, Plan};
use crate::error::{Error, Result};
use crate::stages::campaign::{self, Reach};
use crate::stages::privacy;
use polars::prelude::*;
use std::collections::HashMap;

/// The contact fields an audience row carries, hashed, when `[privacy]` hashes them.
const CONTACTS: [PiiField; 2] = [PiiField::Phone, PiiField::Email];

/// One bucket's rows and counts. `profiles`: the bucket's published profile rows;
/// `recommendations`: its `recommendations` rows.
pub fn build(profiles: &DataFrame, recommendations: &DataFrame, plan: &Plan, reach: &Reach) -> Result<(DataFrame, Vec<campaign::Counts>)> {
    let fail = |e: PolarsError| Error::internal("audiences", e);
    let (entries, counts) = campaign::select(profiles, plan, reach)?;
    let keys = profiles.column("customer_key").and_then(|c| c.str()).map_err(fail)?;
    let skus = top_skus(recommendations, plan.campaigns.iter().map(|c| c.recommendations).max().unwrap_or(0))?;
    let mut columns = vec![
        Column::new("customer_key".into(), entries.iter().map(|e| keys.get(e.row)).collect::<Vec<_>>()),
        Column::new("campaign".into(), entries.iter().map(|e| plan.campaigns[e.campaign].rule.name.as_str()).collect::<Vec<_>>()),
        Column::new("group".into(), entries.iter().map(|e| e.group).collect::<Vec<_>>()),
        Column::new("action".into(), entries.iter().map(|e| plan.campaigns[e.campaign].action.as_str()).collect::<Vec<_>>()),
        Column::new("channel".into(), entries.iter().map(|e| plan.campaigns[e.campaign].channel.as_str()).collect::<Vec<_>>()),
    ];
    let wanted = entries.iter().map(|e| {
        let n = plan.campaigns[e.campaign].recommendations;
        let list = keys.get(e.row).and_then(|k| skus.get(k)).map(|s| &s[..n.min(s.len())]).unwrap_or_default();
        Series::new("".into(), list)
    });
    let lists: ListChunked = wanted.map(Some).collect::<ListChunked>().with_name("skus".into());
    columns.push(lists.cast(&DataType::List(Box::new(DataType::String))).map_err(fail)?.into_column());
    for field in contacts(plan) {
        let hashed = profiles.column(&privacy::hmac_column(field)).and_then(|c| c.str()).map_err(fail)?;
        let values: Vec<Option<&str>> = entries.iter().map(|e| hashed.get(e.row)).collect();
        columns.push(Column::new(format!("{}_hmac", field.name()).into(), values));
    }
    Ok((DataFrame::new_infer_height(columns).map_err(fail)?, counts))
}

/// The contact fields hashed in this pipeline.
fn contacts(plan: &Plan) -> Vec<PiiField> {
    CONTACTS.into_iter().filter(|f| plan.privacy.hash_fields.contains(f)).collect()
}

/// Each customer's first `n` recommended skus, in rank order.
fn top_skus(recommendations: &DataFrame, n: usize) -> Result<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if n == 0 || recommendations.height() == 0 {
        return Ok(out);
    }
    let fail = |e: PolarsError| Error::internal("audiences", e);
    let skus = recommendations
        .clone()
        .lazy()
        .filter(col("kind").eq(lit("sku")).and(col("rank").lt_eq(lit(n as u32))))
        .sort(["customer_key", "rank"], Default::default());
    let skus = crate::io::collect(skus)?;
    let (key, sku) =
        (skus.column("customer_key").and_then(|c| c.str()).map_err(fail)?, skus.column("sku").and_then(|c| c.str()).map_err(fail)?);
    for (k, s) in key.iter().zip(sku.iter()) {
        if let (Some(k), Some(s)) = (k, s) {
            out.entry(k.to_string()).or_default().push(s.to_string());
        }
    }
    Ok(out)
}

/// The table with no rows (its schema, for the dictionary).
pub fn empty(plan: &Plan) -> Result<DataFrame> {
    let mut profiles = df!("customer_key" => Vec::<String>::new(), "basic_marketing_opt_in" => Vec::<bool>::new())
        .map_err(|e| Error::internal("audiences", e))?;
    for field in contacts(plan) {
        profiles
            .with_column(Column::new_empty(privacy::hmac_column(field).into(), &DataType::String))
            .map_err(|e| Error::internal("audiences", e))?;
    }
    let no_campaigns = Plan { campaigns: Vec::new(), ..plan.clone() };
    Ok(build(&profiles, &DataFrame::empty(), &no_campaigns, &Reach::default())?.0)
}

pub const DOC: TableDoc = TableDoc {
    grain: "(person, campaign)",
    about: "Who each `[[campaigns]]` entry selects today: people whose profile meets its audience condition, who consented to marketing (`basic_marketing_opt_in`), whom no suppression names, who did not enter it within its cooldown and whom no earlier exclusive campaign took. A stable hash of (campaign, customer_key) leaves `control_share` of them out as the control group; `campaign_eval` compares the groups later.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("customer_key", "The person.", "", Values::Said("a profiles.customer_key")),
    column("campaign", "The campaign's name.", "", Values::Said("a [[campaigns]] name")),
    column(
        "group",
        "`treatment`: contact them; `control`: leave them out (the comparison group).",
        "",
        Values::OneOf(&["treatment", "control"]),
    ),
    column("action", "What to send (the campaign's `action`).", "", Values::Any),
    column("channel", "How to send it (the campaign's `channel`).", "", Values::Any),
    column(
        "skus",
        "The person's first `recommendations` recommended skus (the campaign's setting; empty when 0 or none).",
        "",
        Values::Said("recommendations.sku"),
    ),
    column(
        "phone_hmac",
        "HMAC-SHA-256 of the golden phone (only when `[privacy] hash_fields` has phone).",
        "",
        Values::Said("64 hex digits"),
    ),
    column(
        "email_hmac",
        "HMAC-SHA-256 of the golden email (only when `[privacy] hash_fields` has email).",
        "",
        Values::Said("64 hex digits"),
    ),
];
