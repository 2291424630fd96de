//! Stage 2, clean: normalise values (phones to E.164, emails, gender to M/F/U, names
//! width-folded, amounts non-negative) and say why an order cannot be used. Dropping re-sent
//! duplicates, attaching the person and holding back rows after `--as-of` happen in the route
//! and bucket passes (`pipeline`), where every row ends up in exactly one of used / duplicate /
//! quarantined / after_as_of.

use crate::expr::KEY;
use crate::expr::{lower, one_of};
use crate::schema::Table;
use polars::prelude::*;

fn null_str() -> Expr {
    lit(NULL).cast(DataType::String)
}

/// NFKC folds full-width letters and digits (１３８, ＡＢＣ) to ASCII, then trims: for fields
/// people type (names, phones, emails, addresses).
fn fold(e: Expr) -> Expr {
    e.str().normalize(UnicodeForm::NFKC).str().strip_chars(lit(NULL).cast(DataType::String))
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
    id.clone().str().contains(lit(r"^\d{17}[\dX]$"), false).and(check.eq(table.str().slice(expected, lit(1)))).fill_null(lit(false))
}

/// A national id as compared: folded, without spaces and dashes, upper case.
fn id_number(e: Expr) -> Expr {
    empty_to_null(fold(e).str().replace_all(lit(r"\s|-"), lit(""), false).str().to_uppercase())
}

/// Spellings of "not known" in gender columns: missing, not invalid.
const UNKNOWN_GENDER: [&str; 6] = ["u", "unknown", "未知", "保密", "n/a", "na"];

/// Per column, the values present in a table's rows that cleaning rejects: a phone that is not
/// a phone, an email without a domain, an 18-character national id whose check character
/// fails, a gender none of the known spellings (nor of "not known"). One row of counts, the
/// columns of `Table::validated_columns`; None for a table whose
/// cleaning keeps every value it can read.
pub fn invalid_values(table: Table, rows: LazyFrame) -> Option<LazyFrame> {
    if table != Table::Customers {
        return None;
    }
    let present = |c: &str| col(c).is_not_null().and(fold(col(c)).neq(lit("")));
    let rejected = |c: &str, rejected: Expr| present(c).and(rejected).cast(DataType::UInt64).sum().alias(c);
    let id = id_number(col("id_number"));
    Some(rows.select([
        rejected("phone", phone(col("phone")).is_null()),
        rejected("email", email(col("email")).is_null()),
        rejected("id_number", id.clone().str().len_chars().eq(lit(18)).and(cn_id_valid(id).not())),
        rejected("gender", gender(col("gender")).is_null().and(one_of(fold(col("gender")).str().to_lowercase(), &UNKNOWN_GENDER).not())),
    ]))
}

/// Customers: normalised fields, with gender and birth date filled from a valid national id.
pub fn customers(rows: LazyFrame) -> LazyFrame {
    let id = id_number(col("id_number"));
    let region = |c: &str, suffix: &str| empty_to_null(fold(col(c)).str().strip_suffix(lit(suffix))).alias(c);
    rows.with_columns([
        lower(col("source")),
        col("source_customer_id").alias("source_customer_id"),
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
        when(col("annual_income").gt_eq(lit(0.0)))
            .then(col("annual_income"))
            .otherwise(lit(NULL).cast(DataType::Float64))
            .alias("annual_income"),
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
            when(col("_cn_id"))
                .then(
                    when((col("id_number").str().slice(lit(16), lit(1)).cast(DataType::Int32) % lit(2)).eq(lit(1)))
                        .then(lit("M"))
                        .otherwise(lit("F")),
                )
                .otherwise(null_str()),
        ])
        .alias("gender"),
        coalesce(&[
            col("birth_date"),
            when(col("_cn_id"))
                .then(col("id_number").str().slice(lit(6), lit(8)).str().to_date(StrptimeOptions {
                    format: Some("%Y%m%d".into()),
                    strict: false,
                    exact: true,
                    cache: true,
                }))
                .otherwise(lit(NULL).cast(DataType::Date)),
        ])
        .alias("birth_date"),
    ])
    .drop(cols(["_cn_id"]))
}

/// Orders (ids as ingest read them: text formats are trimmed there): canonical status,
/// lower-case channel, non-negative amounts; `_reason` says why a row cannot be used (an
/// unknown status, a negative net amount), null for usable rows.
pub fn orders(rows: LazyFrame) -> LazyFrame {
    let status = lower(col("status"));
    let status = when(one_of(status.clone(), &["paid", "completed", "complete", "success", "已支付", "已完成"]))
        .then(lit("paid"))
        .when(one_of(status.clone(), &["refunded", "refund", "returned", "已退款"]))
        .then(lit("refunded"))
        .when(one_of(status, &["cancelled", "canceled", "void", "已取消"]))
        .then(lit("cancelled"))
        .otherwise(null_str());
    let nonneg = |c: &str| when(col(c).lt(lit(0.0))).then(lit(0.0)).otherwise(col(c));
    rows.with_columns([
        lower(col("source")),
        status.alias("_status"),
        empty_to_null(lower(col("channel"))).alias("channel"),
        empty_to_null(col("coupon_code")).alias("coupon_code"),
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
}

/// Keep the last-read row per key; also return the rows dropped as one-row count `n`.
pub fn dedupe(lf: LazyFrame, key: &[&str]) -> (LazyFrame, LazyFrame) {
    let kept =
        lf.clone().unique_stable(Some(cols(key.iter().map(|s| s.to_string()).collect::<Vec<_>>())), UniqueKeepStrategy::Last).cache();
    let dropped = concat_lf_horizontal(
        [lf.select([len().cast(DataType::Int64).alias("all")]), kept.clone().select([len().cast(DataType::Int64).alias("kept")])],
        HConcatOptions::default(),
    )
    .expect("two one-row frames")
    .select([(col("all") - col("kept")).cast(DataType::UInt64).alias("n")]);
    (kept, dropped)
}

pub fn items(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        lower(col("source")),
        empty_to_null(col("sku")).alias("sku"),
        empty_to_null(lower(col("category"))).alias("category"),
    ])
}

pub fn events(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([lower(col("source")), lower(col("event_type")), lower(col("channel")), lower(col("page_category"))])
}

pub fn social(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        lower(col("source")),
        lower(col("action")),
        empty_to_null(lower(col("platform"))).alias("platform"),
        when(col("followers").gt_eq(lit(0))).then(col("followers")).otherwise(lit(NULL).cast(DataType::Int64)).alias("followers"),
    ])
}

pub fn feedback(rows: LazyFrame) -> LazyFrame {
    rows.with_columns([
        lower(col("source")),
        lower(col("kind")),
        when(col("rating").is_between(lit(1), lit(5), ClosedInterval::Both))
            .then(col("rating"))
            .otherwise(lit(NULL).cast(DataType::Int32))
            .alias("rating"),
        when(col("nps").is_between(lit(0), lit(10), ClosedInterval::Both))
            .then(col("nps"))
            .otherwise(lit(NULL).cast(DataType::Int32))
            .alias("nps"),
        empty_to_null(col("text")).alias("text"),
        empty_to_null(lower(col("topic"))).alias("topic"),
    ])
}

/// `keep`, the required columns of `table` and `_file`, `_row`, each once.
pub fn carried(table: Table, keep: &[&str]) -> Vec<Expr> {
    let mut names: Vec<&str> = vec!["_file", "_row"];
    for n in keep.iter().copied().chain(table.columns().iter().filter(|c| c.required).map(|c| c.name)) {
        if !names.contains(&n) && n != KEY {
            names.push(n);
        }
    }
    names.into_iter().map(col).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(f: fn(Expr) -> Expr, values: &[Option<&str>]) -> Vec<Option<String>> {
        let df = df!("v" => values).unwrap();
        let out = df.lazy().select([f(col("v")).alias("v")]).collect().unwrap();
        out.column("v").unwrap().str().unwrap().iter().map(|v| v.map(String::from)).collect()
    }

    #[test]
    fn phones_in_every_written_form_become_one_e164_number() {
        let forms = [
            Some("13800138000"),
            Some("+86 138-0013-8000"),
            Some("0086 13800138000"),
            Some("86 138 0013 8000"),
            Some("１３８００１３８０００"), // full-width digits
            Some("(138) 0013 8000"),
        ];
        for v in apply(phone, &forms) {
            assert_eq!(v.as_deref(), Some("+8613800138000"));
        }
        assert_eq!(apply(phone, &[Some("+44 20 7946 0958")]), vec![Some("+442079460958".to_string())]);
        assert_eq!(apply(phone, &[Some("12345"), Some("23800138000"), None]), vec![None, None, None]);
    }

    #[test]
    fn emails_genders_and_names_are_normalised() {
        assert_eq!(
            apply(email, &[Some("  Alice@Example.COM "), Some("not an email"), Some("")]),
            vec![Some("alice@example.com".into()), None, None]
        );
        let g = apply(gender, &[Some("男"), Some("Female"), Some(" m "), Some("女"), Some("unknown"), None]);
        assert_eq!(g, vec![Some("M".into()), Some("F".into()), Some("M".into()), Some("F".into()), None, None]);
        assert_eq!(apply(name, &[Some("  Ａｌｉｃｅ   Wang ")]), vec![Some("Alice Wang".into())]);
    }

    #[test]
    fn national_id_check_character() {
        // 110101199003076632 is valid: weights x digits sum to 230, 230 mod 11 = 10 -> '2'.
        let df = df!("id" => ["110101199003076632", "11010119900307663X", "1101011990030766", crate::sample::cn_id("310101", chrono::NaiveDate::from_ymd_opt(1985, 7, 20).unwrap(), 123).as_str()]).unwrap();
        let out = df.lazy().select([cn_id_valid(col("id")).alias("ok")]).collect().unwrap();
        let ok: Vec<Option<bool>> = out.column("ok").unwrap().bool().unwrap().iter().collect();
        assert_eq!(ok, vec![Some(true), Some(false), Some(false), Some(true)]);
    }

    #[test]
    fn values_cleaning_rejects_are_counted_per_column() {
        // Phones: one mobile, one too short (invalid), one empty (missing). Emails: one without
        // a domain. Ids: one valid (11010119920202002 5), one with a wrong check character,
        // one of 15 characters (not checked). Genders: 男, unknown (not known, not invalid), x.
        let rows = df!(
            "phone" => [Some("13800000001"), Some("12345"), Some(" ")],
            "email" => [Some("a@b.com"), Some("bob@"), None],
            "id_number" => [Some("110101199202020025"), Some("110101199202020026"), Some("110101920202002")],
            "gender" => [Some("男"), Some("unknown"), Some("x")],
        )
        .unwrap();
        let counts = invalid_values(Table::Customers, rows.lazy()).unwrap().collect().unwrap();
        let names: Vec<&str> = counts.get_column_names().iter().map(|n| n.as_str()).collect();
        assert_eq!(names, Table::Customers.validated_columns());
        let n = |c: &str| counts.column(c).unwrap().u64().unwrap().get(0).unwrap();
        assert_eq!([n("phone"), n("email"), n("id_number"), n("gender")], [1, 1, 1, 1]);
        assert!(invalid_values(Table::Orders, DataFrame::empty().lazy()).is_none());
    }
}
