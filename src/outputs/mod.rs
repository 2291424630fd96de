//! The published tables, one module each: how the table is built and what each of its columns
//! means, side by side (as dbt keeps a model's SQL and its docs together). The data
//! dictionary and the publish list are derived from here, so a new table is one module and
//! one `OutputTable` variant, and a new column is one edit in its table's module.

pub mod audiences;
pub mod campaign_eval;
pub mod identity_map;
pub mod identity_review;
pub mod model_eval;
pub mod profile_changes;
pub mod profiles;
pub mod quarantine;
pub mod recommendations;
pub mod segment_summary;
pub mod tags;

use crate::config::{Closed, OutputTable, Plan};
use crate::error::{Error, Result};
use crate::stages::history::History;
use crate::stages::predict::{self, Outcome};
use crate::store::manifest::FileEntry;
use polars::prelude::*;
use std::collections::BTreeMap;

/// A column's documentation: what the dictionary says of it, and what every published value
/// of it may be (a test checks each published table against it, as dbt's `accepted_values`).
pub struct ColumnDoc {
    pub name: &'static str,
    pub meaning: &'static str,
    pub unit: &'static str,
    pub values: Values,
}

/// A column's documentation (shorthand for the tables' lists).
pub const fn column(name: &'static str, meaning: &'static str, unit: &'static str, values: Values) -> ColumnDoc {
    ColumnDoc { name, meaning, unit, values }
}

/// What the values of a column may be.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Nothing to say beyond the meaning and the unit.
    Any,
    /// Said in words only (another table's key, the config's names).
    Said(&'static str),
    /// These values and no other (of a list column: each element).
    OneOf(&'static [&'static str]),
    /// A number from `.0` to `.1`, both included (`f64::INFINITY`: no upper end).
    Between(f64, f64),
}

impl Values {
    /// As the dictionary shows it.
    pub fn text(&self) -> String {
        let number = |x: f64| if x.fract() == 0.0 { format!("{x:.0}") } else { x.to_string() };
        match self {
            Values::Any => String::new(),
            Values::Said(text) => text.to_string(),
            Values::OneOf(values) => values.join(", "),
            Values::Between(lo, hi) if hi.is_infinite() => format!(">= {}", number(*lo)),
            Values::Between(lo, hi) => format!("{}..{}", number(*lo), number(*hi)),
        }
    }
}

/// What the dictionary says of a table: one row per …, what it is, its fixed columns.
pub struct TableDoc {
    pub grain: &'static str,
    pub about: &'static str,
    pub columns: &'static [ColumnDoc],
}

pub const MONEY: &str = "money (input currency)";
pub const DAYS: &str = "days";
pub const SHARE: &str = "share 0..1";
pub const COUNT: &str = "count";

pub fn doc(table: OutputTable) -> TableDoc {
    match table {
        OutputTable::Profiles => profiles::DOC,
        OutputTable::Tags => tags::DOC,
        OutputTable::Recommendations => recommendations::DOC,
        OutputTable::Audiences => audiences::DOC,
        OutputTable::CampaignEval => campaign_eval::DOC,
        OutputTable::IdentityMap => identity_map::DOC,
        OutputTable::IdentityReview => identity_review::DOC,
        OutputTable::SegmentSummary => segment_summary::DOC,
        OutputTable::ModelEval => model_eval::DOC,
        OutputTable::ProfileChanges => profile_changes::DOC,
        OutputTable::Quarantine => quarantine::DOC,
    }
}

/// Meaning, unit and allowed values of one published column; None when it is undocumented.
/// Columns the config names (event windows, model horizons, config features, rules, hashes)
/// are described from the plan.
pub fn meaning(plan: &Plan, table: OutputTable, column: &str) -> Option<(String, String, String)> {
    if table == OutputTable::Profiles {
        if let Some(m) = profiles::configured(plan, column) {
            return Some(m);
        }
    }
    doc(table).columns.iter().find(|c| c.name == column).map(|c| (c.meaning.to_string(), c.unit.to_string(), c.values.text()))
}

/// What a published column's values may be, as checked: the documented values, the config's
/// rule names for `segment`, `lifecycle_stage` and `tags` (and `tags.tag`), the RFM scores'
/// 1..bins, and no negative count or number of days.
#[derive(Clone, Debug, PartialEq)]
pub enum Accepted {
    Any,
    OneOf(Vec<String>),
    Between(f64, f64),
}

pub fn accepted(plan: &Plan, table: OutputTable, column: &str) -> Accepted {
    let rules = match (table, column) {
        (OutputTable::Profiles, "segment") => Some(&plan.segments),
        (OutputTable::Profiles, "lifecycle_stage") => Some(&plan.lifecycle),
        (OutputTable::Profiles, "tags") | (OutputTable::Tags, "tag") => Some(&plan.tags),
        _ => None,
    };
    if let Some(rules) = rules {
        return Accepted::OneOf(rules.iter().map(|r| r.name.clone()).collect());
    }
    let unit = match meaning(plan, table, column) {
        Some((_, unit, _)) => unit,
        None => return Accepted::Any,
    };
    let documented = doc(table).columns.iter().find(|c| c.name == column).map(|c| c.values.clone()).unwrap_or(Values::Any);
    match documented {
        Values::OneOf(values) => Accepted::OneOf(values.iter().map(|v| v.to_string()).collect()),
        Values::Between(lo, hi) => Accepted::Between(lo, hi),
        Values::Said("1..rfm.bins") => Accepted::Between(1.0, plan.rfm.bins as f64),
        _ if unit == COUNT || unit == DAYS => Accepted::Between(0.0, f64::INFINITY),
        _ => Accepted::Any,
    }
}

/// Every published value of `df` (a day's `table`) that its documentation does not accept, one
/// line per column: empty when all are accepted.
pub fn values_outside(plan: &Plan, table: OutputTable, df: &DataFrame) -> Result<Vec<String>> {
    let fail = |e: PolarsError| Error::internal("checking published values", e);
    let mut found = Vec::new();
    for c in df.columns() {
        let values = match c.dtype() {
            DataType::List(_) => c.explode(ExplodeOptions { empty_as_null: true, keep_nulls: true }).map_err(fail)?,
            _ => c.clone(),
        };
        match accepted(plan, table, c.name()) {
            Accepted::Any => {}
            Accepted::OneOf(allowed) => {
                let text = values.cast(&DataType::String).map_err(fail)?;
                let unique = text.unique().map_err(fail)?;
                let outside: Vec<String> =
                    unique.str().map_err(fail)?.iter().flatten().filter(|v| !allowed.iter().any(|a| a == v)).map(String::from).collect();
                if !outside.is_empty() {
                    found.push(format!("{}.{}: {} not one of {}", table, c.name(), outside.join(", "), allowed.join(", ")));
                }
            }
            Accepted::Between(lo, hi) => {
                let numbers = values.cast(&DataType::Float64).map_err(fail)?;
                let numbers = numbers.f64().map_err(fail)?;
                let (min, max) = (numbers.min(), numbers.max());
                if min.is_some_and(|m| m < lo) || max.is_some_and(|m| m > hi) {
                    found.push(format!("{}.{}: {min:?}..{max:?} outside {lo}..{hi}", table, c.name()));
                }
            }
        }
    }
    Ok(found)
}

/// The tables scored one person at a time, as plans over one bucket's people.
pub struct ByPerson {
    pub profiles: LazyFrame,
    pub tags: LazyFrame,
    /// `model_eval`'s inputs (`model_eval::inputs`).
    pub holdout: LazyFrame,
}

/// Plans of the tables read from each person's profile with the models' columns
/// (`predict::predict`): the rules, the cluster labels, the profile's column order.
pub fn by_person(plan: &Plan, predicted: LazyFrame, outcome: &Outcome) -> Result<ByPerson> {
    let scored = crate::stages::score::apply_rules(with_cluster_labels(predicted, outcome)?, plan).cache();
    let profiles = profiles::build(scored.clone())?;
    Ok(ByPerson { tags: tags::build(profiles.clone()), holdout: model_eval::inputs(scored), profiles })
}

/// The persona labels of each person's `cluster` (rules may read them).
pub fn with_cluster_labels(predicted: LazyFrame, outcome: &Outcome) -> Result<LazyFrame> {
    let labels = predict::cluster_labels(&outcome.clusters)?.lazy();
    Ok(predicted.join(labels, [col("cluster")], [col("cluster")], JoinArgs::new(JoinType::Left)))
}

/// `by_person` and `summaries` over one frame of every person, no previous day (planning
/// without data: `validate`, `explain`).
pub fn scored(plan: &Plan, predicted: LazyFrame, outcome: &Outcome) -> Result<(ByPerson, Summaries)> {
    let p = by_person(plan, predicted, outcome)?;
    let checked = model_eval::recommendations(&[])?.lazy();
    let s = summaries(plan, p.profiles.clone(), p.holdout.clone(), checked, outcome, None)?;
    Ok((p, s))
}

/// The tables over every person, as plans.
pub struct Summaries {
    pub segment_summary: LazyFrame,
    pub model_eval: LazyFrame,
    pub profile_changes: LazyFrame,
}

/// Plans of the tables that summarise everyone's `profiles` and `holdout` rows (`by_person`,
/// all buckets) and the recommendations' check. `previous`: the previous published day's
/// profiles, for the history.
pub fn summaries(
    plan: &Plan,
    profiles: LazyFrame,
    holdout: LazyFrame,
    recommendations_checked: LazyFrame,
    outcome: &Outcome,
    previous: Option<LazyFrame>,
) -> Result<Summaries> {
    let history = History::new(profiles.clone(), previous);
    Ok(Summaries {
        segment_summary: segment_summary::build(profiles, plan, outcome, &history)?,
        model_eval: model_eval::build(holdout, outcome.holdout_days, recommendations_checked)?,
        profile_changes: profile_changes::build(&history)?,
    })
}

/// A table written in parts (one per bucket of people): its staged files and its columns.
pub struct Staged {
    pub files: Vec<FileEntry>,
    pub schema: Schema,
}

/// Every table of a day, computed. The tables the score pass wrote by bucket (`staged`) hold
/// here only the columns the gates, the checks and the report read.
pub struct Tables {
    pub profiles: DataFrame,
    pub tags: DataFrame,
    pub recommendations: DataFrame,
    pub audiences: DataFrame,
    pub campaign_eval: DataFrame,
    pub identity_map: DataFrame,
    pub identity_review: DataFrame,
    pub segment_summary: DataFrame,
    pub model_eval: DataFrame,
    pub profile_changes: DataFrame,
    pub quarantine: DataFrame,
    pub staged: BTreeMap<OutputTable, Staged>,
    /// Not published: the report's figures of `recommendations` (`category`, `customers` with
    /// a sku of it in their list; the 10 most).
    pub recommended_categories: DataFrame,
    /// Not published: customers with recommendations (the report's coverage).
    pub recommended_customers: u64,
}

impl Tables {
    pub fn get(&self, table: OutputTable) -> &DataFrame {
        match table {
            OutputTable::Profiles => &self.profiles,
            OutputTable::Tags => &self.tags,
            OutputTable::Recommendations => &self.recommendations,
            OutputTable::Audiences => &self.audiences,
            OutputTable::CampaignEval => &self.campaign_eval,
            OutputTable::IdentityMap => &self.identity_map,
            OutputTable::IdentityReview => &self.identity_review,
            OutputTable::SegmentSummary => &self.segment_summary,
            OutputTable::ModelEval => &self.model_eval,
            OutputTable::ProfileChanges => &self.profile_changes,
            OutputTable::Quarantine => &self.quarantine,
        }
    }

    /// The tables in publish order.
    pub fn all(&self) -> impl Iterator<Item = (OutputTable, &DataFrame)> {
        OutputTable::ALL.iter().map(|&t| (t, self.get(t)))
    }

    /// A table's columns (all of them, also for a staged table).
    pub fn schema(&self, table: OutputTable) -> Schema {
        match self.staged.get(&table) {
            Some(s) => s.schema.clone(),
            None => (**self.get(table).schema()).clone(),
        }
    }

    /// Rows of all tables.
    pub fn rows(&self) -> usize {
        self.all().map(|(_, df)| df.height()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_plan() -> Plan {
        let pipeline = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines/nightly.toml");
        crate::config::load(&pipeline, &Default::default()).unwrap().0
    }

    #[test]
    fn values_the_documentation_does_not_accept_are_named() {
        let plan = sample_plan();
        let profiles = df!(
            "basic_gender" => ["M", "X"],
            "rfm_r" => [1i8, 6],
            "behavior_purchase_days" => [Some(0i64), None],
            "tags" => [Series::new("".into(), ["churn_risk"]), Series::new("".into(), ["churn_risk", "made_up"])],
            "basic_city" => ["any", "text"],
        )
        .unwrap();
        let found = values_outside(&plan, OutputTable::Profiles, &profiles).unwrap();
        assert_eq!(
            found,
            [
                "profiles.basic_gender: X not one of M, F, U",
                "profiles.rfm_r: Some(1.0)..Some(6.0) outside 1..5",
                &format!("profiles.tags: made_up not one of {}", plan.tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")),
            ]
        );
        let counts = df!("customers" => [-1i64, 3]).unwrap();
        assert_eq!(
            values_outside(&plan, OutputTable::SegmentSummary, &counts).unwrap(),
            ["segment_summary.customers: Some(-1.0)..Some(3.0) outside 0..inf"]
        );
    }
}
