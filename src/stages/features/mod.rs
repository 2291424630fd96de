//! Stage 3, features: the five dimensions of a customer profile, one module each. Every module
//! returns a lazy frame keyed by the person (`_key`, a dense u32; the `customer_key` text comes
//! with the golden record) whose columns carry the dimension's prefix;
//! windows end at `--as-of` inclusive. Features a SQL expression can say live in the config.

pub mod basic;
pub mod behavior;
pub mod power;
pub mod psych;
pub mod social;

use chrono::{NaiveDate, NaiveDateTime};
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

/// The run's clock: `as_of` is the last day included in every window.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    pub as_of: NaiveDate,
}

impl Clock {
    /// Midnight after `as_of`: rows at or after it belong to a later run.
    pub fn end(&self) -> NaiveDateTime {
        self.as_of.succ_opt().expect("date in range").and_hms_opt(0, 0, 0).expect("midnight")
    }

    pub fn end_lit(&self) -> Expr {
        datetime_lit(self.end())
    }

    pub fn as_of_lit(&self) -> Expr {
        date_lit(self.as_of)
    }

    /// True for timestamps in the last `days` days (as_of and the days-1 before it).
    pub fn within(&self, ts: Expr, days: u32) -> Expr {
        ts.gt_eq(datetime_lit(self.end() - chrono::Duration::days(days as i64)))
    }

    /// Whole days from the timestamp's date to `as_of` (0 = on the as-of day).
    pub fn days_since(&self, ts: Expr) -> Expr {
        (self.as_of_lit() - ts.dt().date()).dt().total_days(false)
    }
}

pub fn date_lit(d: NaiveDate) -> Expr {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    lit((d - epoch).num_days() as i32).cast(DataType::Date)
}

pub fn datetime_lit(t: NaiveDateTime) -> Expr {
    lit(t.and_utc().timestamp_micros()).cast(DataType::Datetime(TimeUnit::Microseconds, None))
}

/// Count of rows where `cond` holds, as a fast aggregation (`when/then/sum`, not `filter`).
pub fn count_if(cond: Expr) -> Expr {
    when(cond).then(lit(1u32)).otherwise(lit(0u32)).sum()
}

/// Sum of the money `value` where `cond` holds. Sums whole cents as integers: exact, so the
/// result does not depend on the order rows arrive in (floats would differ in the last bit
/// from run to run and break byte-identical output).
pub fn money_sum_if(value: Expr, cond: Expr) -> Expr {
    when(cond).then(cents(value)).otherwise(lit(0i64)).sum().cast(DataType::Float64) / lit(100.0)
}

/// Exact sum of a money column (see `money_sum_if`).
pub fn money_sum(value: Expr) -> Expr {
    cents(value).sum().cast(DataType::Float64) / lit(100.0)
}

/// Exact mean of a money column over its non-null values (NaN when there are none).
/// Use it as its own column, not inside a larger expression: polars 0.55's common
/// sub-expression pass mis-broadcasts a repeated scalar aggregate in `with_columns` and panics.
pub fn money_mean(value: Expr) -> Expr {
    cents(value.clone()).sum().cast(DataType::Float64) / value.count().cast(DataType::Float64) / lit(100.0)
}

/// Sum of a float column in fixed point (micro-units): like `money_sum`, the same whatever
/// order the rows arrive in.
pub fn fixed_sum(value: Expr) -> Expr {
    micros(value).sum().cast(DataType::Float64) / lit(1e6)
}

/// Mean of a float column over its non-null values, summed in fixed point (see `fixed_sum`).
/// Null when there are none.
pub fn fixed_mean(value: Expr) -> Expr {
    ratio(micros(value.clone()).sum(), value.count()) / lit(1e6)
}

fn micros(value: Expr) -> Expr {
    (value * lit(1e6)).round(0, RoundMode::HalfToEven).cast(DataType::Int64)
}

fn cents(value: Expr) -> Expr {
    (value * lit(100.0)).round(0, RoundMode::HalfToEven).cast(DataType::Int64)
}

/// `num / den`, null when the denominator is zero or null.
pub fn ratio(num: Expr, den: Expr) -> Expr {
    when(den.clone().gt(lit(0)))
        .then(num.cast(DataType::Float64) / den.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
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
        .group_by([col("_key"), col(value)])
        .agg([w.alias("_w")])
        .group_by([col("_key")])
        .agg([top.min().alias(name)])
}

/// Left-join every frame onto `base` by the person (`_key`).
pub fn join_all(base: LazyFrame, others: Vec<LazyFrame>) -> LazyFrame {
    others.into_iter().fold(base, |acc, f| acc.join(f, [col("_key")], [col("_key")], JoinArgs::new(JoinType::Left)))
}

/// All five dimensions joined onto the golden records.
pub fn profile(inputs: &Inputs, clock: Clock, spec: &crate::config::spec::PipelineSpec) -> LazyFrame {
    let base = basic::features(inputs.customers.clone(), clock, &spec.privacy.hash_fields);
    let joined = join_all(
        base,
        vec![
            power::features(inputs.orders.clone(), clock),
            behavior::features(inputs, clock, &spec.behavior),
            social::features(inputs.social.clone(), clock),
            psych::features(inputs.feedback.clone()),
        ],
    );
    // Counts of people without activity in a dimension are 0, not null.
    let counts: Vec<Expr> = behavior::counts(&spec.behavior)
        .iter()
        .map(String::as_str)
        .chain(power::COUNTS.iter().chain(social::COUNTS).chain(psych::COUNTS).copied())
        .map(|c| col(c).fill_null(lit(0)))
        .collect();
    psych::derived(behavior::funnel(joined.with_columns(counts)))
}
