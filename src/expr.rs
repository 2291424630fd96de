//! Expression helpers shared by the stages, the output tables and the models: counts,
//! exact money sums, fixed-point means and safe ratios. Sums are taken in whole cents or
//! micro-units as integers so that a result never depends on the order rows arrive in (float
//! sums differ in the last bit from run to run and would break byte-identical output).

/// The dense person id (u32) every per-person frame of a run carries; `customer_key` is what
/// is published.
pub const KEY: &str = "_key";

use polars::prelude::*;

pub use crate::day::datetime_lit;

/// A `Date` literal.
pub fn date_lit(d: chrono::NaiveDate) -> Expr {
    crate::day::Day(d).lit()
}

/// `e` is one of `values` (exact text match).
pub fn one_of(e: Expr, values: &[&str]) -> Expr {
    values.iter().map(|v| e.clone().eq(lit(*v))).reduce(|a, b| a.or(b)).unwrap_or(lit(false))
}

/// `e` in lower case. Codes (sources, statuses, event types) almost always arrive in lower
/// case already: a chunk with nothing to lower is passed on as it is instead of being copied
/// string by string.
pub fn lower(e: Expr) -> Expr {
    let lower_chunks = |c: Column| {
        let ca = c.str()?;
        let unchanged = |s: &str| match s.is_ascii() {
            true => !s.bytes().any(|b| b.is_ascii_uppercase()),
            false => s.chars().all(|ch| ch.to_lowercase().eq(std::iter::once(ch))),
        };
        if ca.downcast_iter().all(|arr| arr.values_iter().all(unchanged)) {
            return Ok(c);
        }
        Ok(ca.to_lowercase().into_column())
    };
    e.map(lower_chunks, |_, f| Ok(Field::new(f.name().clone(), DataType::String)))
}

/// Count of rows where `cond` holds. In a group-by, a filter's count is its groups' sizes,
/// where `when/then/sum` gathers a value per row (a third of the time). Int32: counts of one
/// person's rows.
pub fn count_if(cond: Expr) -> Expr {
    cond.clone().filter(cond).len().cast(DataType::Int32)
}

/// One integer per (person `_key`, text `value`), the value by its categorical code, to group
/// by: grouping on the two columns encodes every row's pair as bytes first. The groups take
/// the two back with `first()`.
pub fn person_and(value: &str) -> Expr {
    let code = col(value).cast(DataType::from_categories(Categories::global())).to_physical().cast(DataType::UInt64);
    (col(KEY).cast(DataType::UInt64) * lit(1u64 << 32) + code).alias("_pair")
}

/// Sum of the money `value` where `cond` holds, exact (in cents). Filtered first, as
/// `count_if`.
pub fn money_sum_if(value: Expr, cond: Expr) -> Expr {
    cents(value).filter(cond).sum().cast(DataType::Float64) / lit(100.0)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_in_lower_case_whatever_case_they_came_in() {
        let lowered = |values: &[Option<&str>]| -> Vec<Option<String>> {
            let out = df!("v" => values).unwrap().lazy().select([lower(col("v"))]).collect().unwrap();
            out.column("v").unwrap().str().unwrap().iter().map(|v| v.map(String::from)).collect()
        };
        let want = |values: &[Option<&str>]| values.iter().map(|v| v.map(String::from)).collect::<Vec<_>>();
        // Nothing to lower: passed on as it is.
        assert_eq!(lowered(&[Some("paid"), Some("已支付"), None]), want(&[Some("paid"), Some("已支付"), None]));
        // One value to lower lowers the chunk, Latin and other scripts alike.
        let mixed = [Some("paid"), Some("PAID"), Some("ÄRGER"), Some("已支付"), None];
        assert_eq!(lowered(&mixed), want(&[Some("paid"), Some("paid"), Some("ärger"), Some("已支付"), None]));
    }
}
