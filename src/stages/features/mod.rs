//! Stage 3, features: the five dimensions of a customer profile, one module each. Every module
//! returns a lazy frame keyed by the person (`_key`, a dense u32; the `customer_key` text comes
//! with the golden record) whose columns carry the dimension's prefix;
//! windows end at `--as-of` inclusive. Features a SQL expression can say live in the config.

pub mod basic;
pub mod behavior;
pub mod power;
pub mod psych;
pub mod social;

use crate::config::Plan;
use crate::day::Day;
use crate::expr::KEY;
use crate::schema::Table;
use polars::prelude::*;

/// Cleaned inputs, every row already carrying the person's `_key` and no row after `--as-of`.
pub struct Inputs {
    /// Golden records, one per person.
    pub customers: LazyFrame,
    pub orders: LazyFrame,
    /// Order items with their order's `_key` and `status`.
    pub items: LazyFrame,
    pub events: LazyFrame,
    pub social: LazyFrame,
    pub feedback: LazyFrame,
}

/// The most frequent non-null `value` per customer (rows, or the sum of `weight` when given),
/// ties to the smallest value, as column `name`.
pub fn favourite(lf: LazyFrame, value: &str, weight: Option<&str>, name: &str) -> LazyFrame {
    let w = match weight {
        Some(w) => col(w).cast(DataType::Float64).sum(),
        None => len().cast(DataType::Float64),
    };
    // Per person the smallest value among those with the largest weight: no sort needed.
    let top = col(value).filter(col("_w").eq(col("_w").max()));
    lf.filter(col(value).is_not_null())
        .group_by([crate::expr::person_and(value)])
        .agg([col(KEY).first(), col(value).first(), w.alias("_w")])
        .group_by([col(KEY)])
        .agg([top.min().alias(name)])
}

/// Left-join every frame onto `base` by the person (`_key`).
pub fn join_all(base: LazyFrame, others: Vec<LazyFrame>) -> LazyFrame {
    others.into_iter().fold(base, |acc, f| acc.join(f, [col(KEY)], [col(KEY)], JoinArgs::new(JoinType::Left)))
}

/// All five dimensions joined onto the golden records: what each person's own rows say.
/// Columns that compare a person with everyone else come after, in `across_people`.
pub fn profile(inputs: &Inputs, day: Day, plan: &Plan) -> LazyFrame {
    let base = basic::features(inputs.customers.clone(), day, &plan.privacy.hash_fields);
    let joined = join_all(
        base,
        vec![
            power::features(inputs.orders.clone(), day),
            behavior::features(inputs, day, &plan.behavior),
            social::features(inputs.social.clone()),
            psych::features(inputs.feedback.clone()),
        ],
    );
    // Counts of people without activity in a dimension are 0, not null.
    let counts: Vec<Expr> = behavior::counts(&plan.behavior)
        .iter()
        .map(String::as_str)
        .chain(power::COUNTS.iter().chain(social::COUNTS).chain(psych::COUNTS).copied())
        .map(|c| col(c).fill_null(lit(0)))
        .collect();
    let profile = behavior::funnel(joined.with_columns(counts));
    // A table the company does not have says nothing of anyone: its columns are null (of
    // their own type: `otherwise` takes the column's), not the 0 of "no activity".
    let unknown: Vec<Expr> =
        drawn_from_absent(plan).iter().map(|c| when(lit(false)).then(col(c.as_str())).otherwise(lit(NULL)).alias(c.as_str())).collect();
    profile.with_columns(unknown)
}

/// The columns drawn from the fact tables the pipeline declares absent.
fn drawn_from_absent(plan: &Plan) -> Vec<String> {
    let absent = |t: Table| plan.tables.iter().any(|s| s.table == t && s.absent);
    let mut columns = Vec::new();
    if absent(Table::Events) {
        columns.extend(behavior::from_events(&plan.behavior));
    }
    if absent(Table::SocialInteractions) {
        columns.extend(social::COLUMNS.iter().map(|c| c.to_string()));
    }
    if absent(Table::Feedback) {
        columns.extend(psych::FROM_FEEDBACK.iter().map(|c| c.to_string()));
    }
    columns
}

/// What `across_people` compares each person with, over every person: one row of cut-points.
pub fn statistics() -> Vec<Expr> {
    power::price_cuts(col("power_avg_order_value")).to_vec()
}

/// The columns that compare a person with everyone (the price tier against the tertiles of
/// `statistics`, joined onto every row), and those derived from them.
pub fn across_people(profile: LazyFrame) -> LazyFrame {
    psych::derived(profile.with_column(power::price_tier(col("power_avg_order_value")).alias("power_price_tier")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_favourite_is_the_heaviest_value_ties_to_the_smallest() {
        // Person 1: b twice, a twice, c once -> a (tie with b, smaller). Person 2: weighted,
        // x 1 + 1 = 2 against y 5 -> y; a null value never counts. Person 3: only a null.
        let rows = df!(
            KEY => [1u32, 1, 1, 1, 1, 2, 2, 2, 2, 3],
            "v" => [Some("b"), Some("a"), Some("c"), Some("b"), Some("a"), Some("x"), Some("y"), Some("x"), None, None],
            "w" => [1i64, 1, 1, 1, 1, 1, 5, 1, 9, 1],
        )
        .unwrap();
        let by_rows = favourite(rows.clone().lazy().filter(col(KEY).neq(lit(2u32))), "v", None, "fav");
        let weighted = favourite(rows.lazy().filter(col(KEY).eq(lit(2u32))), "v", Some("w"), "fav");
        let out = concat([by_rows, weighted], UnionArgs::default()).unwrap().sort([KEY], Default::default()).collect().unwrap();
        let keys: Vec<Option<u32>> = out.column(KEY).unwrap().u32().unwrap().iter().collect();
        let favs: Vec<Option<&str>> = out.column("fav").unwrap().str().unwrap().iter().collect();
        assert_eq!(keys, [Some(1), Some(2)]);
        assert_eq!(favs, [Some("a"), Some("y")]);
    }
}
