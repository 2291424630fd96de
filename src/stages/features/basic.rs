//! 基本属性 basic attributes from the golden record: age and band, gender, region and city
//! tier, occupation, education, income band, tenure, the sources a person was seen in.

use crate::config::PiiField;
use crate::day::Day;
use crate::expr::one_of;
use crate::expr::KEY;
use polars::prelude::*;

/// 一线 and 新一线 cities (2023 list of 第一财经·新一线城市研究所); others are `other`.
const TIER1: &[&str] = &["北京", "上海", "广州", "深圳", "beijing", "shanghai", "guangzhou", "shenzhen"];
const NEW_TIER1: &[&str] = &[
    "成都",
    "重庆",
    "杭州",
    "武汉",
    "苏州",
    "西安",
    "南京",
    "长沙",
    "天津",
    "郑州",
    "东莞",
    "无锡",
    "宁波",
    "青岛",
    "合肥",
    "chengdu",
    "chongqing",
    "hangzhou",
    "wuhan",
    "suzhou",
    "xian",
    "nanjing",
    "changsha",
    "tianjin",
    "zhengzhou",
    "dongguan",
    "wuxi",
    "ningbo",
    "qingdao",
    "hefei",
];

pub fn city_tier(city: Expr) -> Expr {
    let c = city.str().to_lowercase();
    when(one_of(c.clone(), TIER1))
        .then(lit("tier1"))
        .when(one_of(c.clone(), NEW_TIER1))
        .then(lit("new_tier1"))
        .when(c.is_not_null())
        .then(lit("other"))
        .otherwise(lit(NULL).cast(DataType::String))
}

/// Completed years between `birth` and `as_of`.
pub fn age(birth: Expr, day: Day) -> Expr {
    use chrono::Datelike;
    let md = day.0.month() as i32 * 100 + day.0.day() as i32;
    let years = lit(day.0.year()) - birth.clone().dt().year();
    let birthday_not_yet =
        (birth.clone().dt().month().cast(DataType::Int32) * lit(100) + birth.dt().day().cast(DataType::Int32)).gt(lit(md));
    (years - when(birthday_not_yet).then(lit(1)).otherwise(lit(0))).cast(DataType::Int32)
}

/// The label of the highest lower bound `value` reaches; null below the first or for null.
fn band(value: Expr, bounds: &[(f64, &str)]) -> Expr {
    bounds
        .iter()
        .fold(lit(NULL).cast(DataType::String), |acc, (lo, label)| when(value.clone().gt_eq(lit(*lo))).then(lit(*label)).otherwise(acc))
}

/// `carry`: golden personal-data fields passed on as `_pii_<field>` for `privacy` to hash
/// (only those asked for: the others are never computed).
pub fn features(customers: LazyFrame, day: Day, carry: &[PiiField]) -> LazyFrame {
    let age_expr = age(col("birth_date"), day);
    // Ages outside 0..=120 are data errors (a birth date in the future, 1900-01-01 defaults).
    let age_expr =
        when(age_expr.clone().is_between(lit(0), lit(120), ClosedInterval::Both)).then(age_expr).otherwise(lit(NULL).cast(DataType::Int32));
    let mut columns = vec![
        col(KEY),
        col("customer_key"),
        col("basic_age"),
        band(
            col("basic_age"),
            &[(0.0, "<18"), (18.0, "18-24"), (25.0, "25-34"), (35.0, "35-44"), (45.0, "45-54"), (55.0, "55-64"), (65.0, "65+")],
        )
        .alias("basic_age_band"),
        // Unknown only when no record says: a record's silence must not win survivorship.
        col("gender").fill_null(lit("U")).alias("basic_gender"),
        col("province").alias("basic_province"),
        col("city").alias("basic_city"),
        city_tier(col("city")).alias("basic_city_tier"),
        col("occupation").alias("basic_occupation"),
        col("education").alias("basic_education"),
        band(
            col("annual_income"),
            &[(0.0, "<50k"), (50_000.0, "50k-100k"), (100_000.0, "100k-200k"), (200_000.0, "200k-500k"), (500_000.0, "500k+")],
        )
        .alias("basic_income_band"),
        // A past-dated run knows customers who registered after its as-of: no tenure yet.
        when(day.days_since(col("registered_at")).gt_eq(lit(0)))
            .then(day.days_since(col("registered_at")))
            .otherwise(lit(NULL))
            .cast(DataType::Int32)
            .alias("basic_tenure_days"),
        col("sources").alias("basic_sources"),
        col("source_count").alias("basic_source_count"),
        col("record_count").alias("basic_record_count"),
        col("marketing_opt_in").alias("basic_marketing_opt_in"),
    ];
    // `_` columns never reach an output.
    columns.extend(carry.iter().map(|f| col(f.name()).alias(format!("_pii_{f}"))));
    customers.with_column(age_expr.alias("basic_age")).select(columns)
}
