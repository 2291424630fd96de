//! Stage 2, clean: normalise values (phones to E.164, emails, gender to M/F/U, names
//! width-folded, amounts non-negative), drop re-sent duplicates (orders by source + order_id,
//! items by source + order_id + sku, the row read last wins), attach `customer_key` from the
//! identity map, and hold back rows after `--as-of`. Rows that cannot be used go to quarantine
//! with a reason; every row ends up in exactly one of used / duplicate / quarantined / after_as_of.

use crate::stages::ingest::one_of;
use polars::prelude::*;

/// A cleaned table: rows to use, quarantined rows (with `_file`, `_row`, `reason`) and rows
/// newer than the run's date.
pub struct Cleaned {
    pub used: LazyFrame,
    /// `_file, _row, reason, raw`
    pub quarantine: LazyFrame,
    pub duplicates: LazyFrame,
    pub after_as_of: LazyFrame,
}

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// NFKC folds full-width letters and digits (１３８, ＡＢＣ) to ASCII; then trim.
fn fold(e: Expr) -> Expr {
    e.str().normalize(UnicodeForm::NFKC).str().strip_chars(lit(NULL))
}

/// "" -> null; keeps the column's name (a `then(null)` first would name it "literal").
fn empty_to_null(e: Expr) -> Expr {
    when(e.clone().neq(lit(""))).then(e).otherwise(null_str())
}

/// Mainland mobiles (+86, 0086, 86 prefixes, any separators) to `+861XXXXXXXXXX`; other
/// numbers written with a leading `+` keep their country code; anything else is not a phone.
pub fn phone(e: Expr) -> Expr {
    let folded = fold(e);
    let digits = folded.clone().str().replace_all(lit(r"\D"), lit(""), false);
    let national = digits.clone().str().replace(lit(r"^(0086|86)(1[3-9]\d{9})$"), lit("${2}"), false);
    when(national.clone().str().contains(lit(r"^1[3-9]\d{9}$"), false))
        .then(concat_str([lit("+86"), national], "", false))
        .when(folded.str().starts_with(lit("+")).and(digits.clone().str().len_chars().is_between(lit(8), lit(15), ClosedInterval::Both)))
        .then(concat_str([lit("+"), digits], "", false))
        .otherwise(null_str())
}

pub fn email(e: Expr) -> Expr {
    let s = fold(e).str().replace_all(lit(r"\s+"), lit(""), false).str().to_lowercase();
    when(s.clone().str().contains(lit(r"^[^@]+@[^@]+\.[^@]+$"), false)).then(s).otherwise(null_str())
}

pub fn gender(e: Expr) -> Expr {
    let s = fold(e).str().to_lowercase();
    when(one_of(s.clone(), &["m", "male", "man", "男", "先生", "1"]))
        .then(lit("M"))
        .when(one_of(s, &["f", "female", "woman", "女", "女士", "2"]))
        .then(lit("F"))
        .otherwise(null_str())
}

pub fn name(e: Expr) -> Expr {
    empty_to_null(fold(e).str().replace_all(lit(r"\s+"), lit(" "), false))
}

/// A mainland resident id (18 chars) is valid when its ISO 7064 MOD 11-2 check char matches.
pub fn cn_id_valid(id: Expr) -> Expr {
    const W: [i64; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum = W
        .iter()
        .enumerate()
        .map(|(i, w)| id.clone().str().slice(lit(i as i64), lit(1)).cast(DataType::Int64) * lit(*w))
        .reduce(|a, b| a + b)
        .expect("17 weights");
    let check = id.clone().str().slice(lit(17), lit(1));
    let expected = (sum % lit(11)).cast(DataType::UInt32);
    let table = lit("10X98765432");
    id.clone().str().contains(lit(r"^\d{17}[\dX]$"), false)
        .and(check.eq(table.str().slice(expected, lit(1))))
        .fill_null(lit(false))
}

/// Customers: normalised fields, with gender and birth date filled from a valid national id.
pub fn customers(rows: LazyFrame) -> LazyFrame {
    let id = empty_to_null(fold(col("id_number")).str().replace_all(lit(r"\s|-"), lit(""), false).str().to_uppercase());
    let region = |c: &str, suffix: &str| empty_to_null(fold(col(c)).str().strip_suffix(lit(suffix))).alias(c);
    rows.with_columns([
        col("source").str().to_lowercase(),
        fold(col("source_customer_id")).alias("source_customer_id"),
        name(col("name")).alias("name"),
        gender(col("gender")).alias("gender"),
        phone(col("phone")).alias("phone"),
        email(col("email")).alias("email"),
        id.alias("id_number"),
        empty_to_null(fold(col("address"))).alias("address"),
        empty_to_null(fold(col("postcode")).str().replace_all(lit(r"\D"), lit(""), false)).alias("postcode"),
        region("province", "省"),
        region("city", "市"),
        empty_to_null(fold(col("occupation"))).alias("occupation"),
        empty_to_null(fold(col("education"))).alias("education"),
        when(col("annual_income").lt(lit(0.0))).then(lit(NULL)).otherwise(col("annual_income")).alias("annual_income"),
        coalesce(&[col("updated_at"), col("registered_at")]).alias("updated_at"),
    ])
    .with_column(cn_id_valid(col("id_number")).alias("_cn_id"))
    .with_columns([
        // An 18-char id with a wrong check char is a typo, not an identifier.
        when(col("id_number").str().len_chars().eq(lit(18)).and(col("_cn_id").not()))
            .then(null_str())
            .otherwise(col("id_number"))
            .alias("id_number"),
        coalesce(&[
            col("gender"),
            when(col("_cn_id")).then(
                when((col("id_number").str().slice(lit(16), lit(1)).cast(DataType::Int32) % lit(2)).eq(lit(1)))
                    .then(lit("M"))
                    .otherwise(lit("F")),
            )
            .otherwise(null_str()),
        ])
        .alias("gender"),
        coalesce(&[
            col("birth_date"),
            when(col("_cn_id")).then(
                col("id_number").str().slice(lit(6), lit(8)).str().to_date(StrptimeOptions {
                    format: Some("%Y%m%d".into()),
                    strict: false,
                    exact: true,
                    cache: true,
                }),
            )
            .otherwise(lit(NULL).cast(DataType::Date)),
        ])
        .alias("birth_date"),
    ])
    .drop(cols(["_cn_id"]))
}

/// Orders: canonical status, lower-case channel, non-negative amounts; unknown statuses and
/// negative net amounts are quarantined; re-sent orders are dropped, the last read wins.
pub fn orders(rows: LazyFrame) -> (LazyFrame, LazyFrame) {
    let status = fold(col("status")).str().to_lowercase();
    let status = when(one_of(status.clone(), &["paid", "completed", "complete", "success", "已支付", "已完成"]))
        .then(lit("paid"))
        .when(one_of(status.clone(), &["refunded", "refund", "returned", "已退款"]))
        .then(lit("refunded"))
        .when(one_of(status, &["cancelled", "canceled", "void", "已取消"]))
        .then(lit("cancelled"))
        .otherwise(null_str());
    let nonneg = |c: &str| when(col(c).lt(lit(0.0))).then(lit(0.0)).otherwise(col(c));
    let lf = rows
        .with_columns([
            col("source").str().to_lowercase(),
            fold(col("source_customer_id")),
            fold(col("order_id")),
            status.alias("_status"),
            empty_to_null(fold(col("channel")).str().to_lowercase()).alias("channel"),
            empty_to_null(fold(col("coupon_code"))).alias("coupon_code"),
            nonneg("discount_amount").fill_null(lit(0.0)).alias("discount_amount"),
        ])
        .with_columns([
            coalesce(&[nonneg("gross_amount"), col("net_amount") + col("discount_amount")]).alias("gross_amount"),
            when(col("_status").is_null())
                .then(concat_str([lit("unknown status "), col("status")], "", false))
                .when(col("net_amount").lt(lit(0.0)))
                .then(lit("negative net_amount"))
                .otherwise(null_str())
                .alias("_reason"),
        ])
        .with_column(col("_status").alias("status"))
        .drop(cols(["_status"]))
        .cache();
    let bad = lf.clone().filter(col("_reason").is_not_null());
    let good = lf.filter(col("_reason").is_null()).drop(cols(["_reason"]));
    (good, bad)
}

/// Keep the last-read row per key; also return the rows dropped as one-row count `n`.
pub fn dedupe(lf: LazyFrame, key: &[&str]) -> (LazyFrame, LazyFrame) {
    let lf = lf.cache();
    let kept = lf
        .clone()
        .unique_stable(Some(cols(key.iter().map(|s| s.to_string()).collect::<Vec<_>>())), UniqueKeepStrategy::Last)
        .cache();
    let dropped = concat_lf_horizontal(
        [
            lf.select([len().cast(DataType::Int64).alias("all")]),
            kept.clone().select([len().cast(DataType::Int64).alias("kept")]),
        ],
        HConcatOptions::default(),
    )
    .expect("two one-row frames")
    .select([(col("all") - col("kept")).cast(DataType::UInt64).alias("n")]);
    (kept, dropped)
}

pub fn items(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        col("source").str().to_lowercase(),
        fold(col("order_id")),
        empty_to_null(fold(col("sku"))).alias("sku"),
        empty_to_null(fold(col("category")).str().to_lowercase()).alias("category"),
    ])
}

pub fn events(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        col("source").str().to_lowercase(),
        fold(col("source_customer_id")),
        fold(col("event_type")).str().to_lowercase(),
        empty_to_null(fold(col("channel")).str().to_lowercase()).alias("channel"),
        empty_to_null(fold(col("page_category")).str().to_lowercase()).alias("page_category"),
    ])
}

pub fn social(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        col("source").str().to_lowercase(),
        fold(col("source_customer_id")),
        fold(col("action")).str().to_lowercase(),
        empty_to_null(fold(col("platform")).str().to_lowercase()).alias("platform"),
        when(col("followers").lt(lit(0))).then(lit(NULL)).otherwise(col("followers")).alias("followers"),
    ])
}

pub fn feedback(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        col("source").str().to_lowercase(),
        fold(col("source_customer_id")),
        fold(col("kind")).str().to_lowercase(),
        when(col("rating").is_between(lit(1), lit(5), ClosedInterval::Both)).then(col("rating")).otherwise(lit(NULL)).alias("rating"),
        when(col("nps").is_between(lit(0), lit(10), ClosedInterval::Both)).then(col("nps")).otherwise(lit(NULL)).alias("nps"),
        empty_to_null(fold(col("text"))).alias("text"),
        empty_to_null(fold(col("topic")).str().to_lowercase()).alias("topic"),
    ])
}

/// Attach `customer_key` through the identity map; rows of unknown customers are quarantined
/// and rows at or after `as_of_end` (the day after `--as-of`) are held back.
pub fn attach_key(lf: LazyFrame, id_map: LazyFrame, time_col: &str, as_of_end: Expr) -> Cleaned {
    let joined = lf
        .join(
            id_map.select([col("source"), col("source_customer_id"), col("customer_key")]),
            [col("source"), col("source_customer_id")],
            [col("source"), col("source_customer_id")],
            JoinArgs::new(JoinType::Left),
        )
        .cache();
    split_known(joined, col("customer_key").is_not_null(), "unknown customer (source, source_customer_id not in customers)", col(time_col).lt(as_of_end))
}

/// Split `lf` into used / quarantined (`known` false) / after as-of (`in_time` false).
pub fn split_known(lf: LazyFrame, known: Expr, reason: &str, in_time: Expr) -> Cleaned {
    Cleaned {
        used: lf.clone().filter(known.clone().and(in_time.clone())),
        quarantine: lf.clone().filter(known.clone().not()).with_column(lit(reason.to_string()).alias("reason")),
        duplicates: LazyFrame::default(),
        after_as_of: lf.filter(known.and(in_time.not())),
    }
}
