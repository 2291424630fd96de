//! Stage 1, ingest: open every file of every table, map its columns onto the canonical schema
//! (docs/inputs.md), parse the messy formats into typed columns, and split rows into usable ones and
//! quarantine. A value that cannot be parsed becomes null and is counted per column; a row is
//! quarantined only when a required (key or timestamp) value is missing or unparseable.

use crate::config::TableSource;
use crate::error::{Error, Result};
use crate::expr::one_of;
use crate::io::scan::{self, InputFile};
use crate::schema::{Kind, Table};
use polars::prelude::*;

/// One table after ingest, still lazy.
pub struct Ingested {
    pub table: Table,
    pub files: Vec<InputFile>,
    /// Canonical typed columns plus `_file` (index into `files`) and `_row` (1-based row in it).
    pub rows: LazyFrame,
    /// `table, file, row, reason, raw` for rows that cannot be used.
    pub quarantine: LazyFrame,
    /// One row, `read`: rows in all files.
    pub read: LazyFrame,
    /// One row, one u64 column per canonical column: non-empty values that did not parse.
    pub unparseable: LazyFrame,
    /// Optional canonical columns absent from at least one file (read as null).
    pub missing_optional: Vec<String>,
}

/// Ingest one table. Missing files are an error (exit 66), a missing required column or a
/// file polars cannot open is an input error naming the file (exit 65).
pub fn ingest(source: &TableSource) -> Result<Ingested> {
    let files = scan::discover(source)?;
    let table = source.table;
    let mut rows = Vec::new();
    let mut quarantine = Vec::new();
    let mut reads = Vec::new();
    let mut unparseable = Vec::new();
    let mut missing_optional = std::collections::BTreeSet::new();

    for (idx, file) in files.iter().enumerate().filter(|(_, f)| f.duplicate_of.is_none()) {
        let (lf, schema) = scan::scan(file)?;
        let mut raw = vec![col("_row").cast(DataType::UInt32)];
        let mut parsed = vec![col("_row").cast(DataType::UInt32), lit(idx as u32).alias("_file")];
        let mut problems = Vec::new();
        let mut usable = Vec::new();
        let mut failures = Vec::new();
        let mut values = Vec::new();
        for c in table.columns() {
            let source_name = source.rename.get(c.name).map(String::as_str).unwrap_or(c.name);
            let required = c.required || source.extra_required.contains(c.name);
            let Some(dtype) = schema.get(source_name) else {
                if required {
                    return Err(Error::input(
                        file.path.display(),
                        format!(
                            "table {}: required column `{}` is missing (columns present: {})",
                            table.name(),
                            source_name,
                            schema.iter_names().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                missing_optional.insert(c.name.to_string());
                raw.push(lit(NULL).cast(DataType::String).alias(c.name));
                parsed.push(lit(NULL).cast(dtype_of(c.kind)).alias(c.name));
                failures.push(lit(0u64).alias(c.name));
                continue;
            };
            if let Err(msg) = check_source_type(dtype, c.kind) {
                return Err(Error::input(
                    file.path.display(),
                    format!("table {}: column `{source_name}` has type {dtype}, {msg}", table.name()),
                ));
            }
            let value = if c.kind == Kind::Str && file.format == crate::config::Format::Parquet && dtype == &DataType::String {
                col(source_name) // typed Parquet text is taken as written; clean trims what matters
            } else {
                parse(col(source_name), dtype, c.kind)
            };
            // Parsed once into a column every branch below reads (usable rows, quarantine
            // reasons, unparseable counts): parsing text timestamps is the costly part.
            let parsed_name = format!("__parsed_{}", c.name);
            values.push(value.alias(parsed_name.as_str()));
            let value = col(parsed_name.as_str());
            raw.push(col(source_name).cast(DataType::String).alias(c.name));
            if required {
                usable.push(value.clone().is_not_null());
                problems.push(
                    when(value.clone().is_null())
                        .then(lit(format!("missing or unparseable {}", c.name)))
                        .otherwise(lit(NULL).cast(DataType::String)),
                );
            }
            failures.push(if c.kind == Kind::Str {
                lit(0u64).alias(c.name) // text cannot fail to parse; empty is just missing
            } else if dtype == &DataType::String {
                let present =
                    col(source_name).is_not_null().and(col(source_name).str().strip_chars(lit(NULL).cast(DataType::String)).neq(lit("")));
                present.and(value.clone().is_null()).cast(DataType::UInt64).sum().alias(c.name)
            } else {
                (col(source_name).is_not_null().and(value.clone().is_null())).cast(DataType::UInt64).sum().alias(c.name)
            });
            parsed.push(value.alias(c.name));
        }
        // Which rows are usable is one boolean per row; the reason text is built only for the
        // few rows that are not.
        let usable = usable.into_iter().reduce(|a, b| a.and(b)).unwrap_or(lit(true));
        let lf = lf.with_columns(values).with_column(usable.alias("_usable"));
        // Text files are parsed once and held for the four branches below; Parquet is
        // cheaper to read again than to hold.
        let lf = if file.format == crate::config::Format::Parquet { lf } else { lf.cache() };
        rows.push(lf.clone().filter(col("_usable")).select(parsed));
        let reason = concat_str(problems, "; ", true);
        quarantine.push(
            lf.clone()
                .filter(col("_usable").not())
                .select(raw.clone().into_iter().chain([reason.alias("_reason")]).collect::<Vec<_>>())
                .select([
                    lit(table.name()).alias("table"),
                    lit(file.path.to_string_lossy().to_string()).alias("file"),
                    col("_row").cast(DataType::UInt32).alias("row"),
                    col("_reason").alias("reason"),
                    raw_text(table),
                ]),
        );
        reads.push(lf.clone().select([len().cast(DataType::UInt64).alias("read")]));
        unparseable.push(lf.select(failures));
    }
    let union = |v: Vec<LazyFrame>| concat(v, UnionArgs::default()).map_err(|e| Error::internal("union of input files", e));
    Ok(Ingested {
        table,
        files,
        rows: union(rows)?,
        quarantine: union(quarantine)?,
        read: union(reads)?.select([col("read").sum()]),
        unparseable: union(unparseable)?.select([all().as_expr().sum()]),
        missing_optional: missing_optional.into_iter().collect(),
    })
}

/// The raw values of a quarantined row as `column=value` pairs, so it can be fixed and re-sent.
fn raw_text(table: Table) -> Expr {
    let parts: Vec<Expr> =
        table.columns().iter().map(|c| concat_str([lit(format!("{}=", c.name)), col(c.name).fill_null(lit(""))], "", false)).collect();
    concat_str(parts, "; ", true).alias("raw")
}

pub fn dtype_of(kind: Kind) -> DataType {
    match kind {
        Kind::Str => DataType::String,
        Kind::Date => DataType::Date,
        Kind::Datetime => DataType::Datetime(TimeUnit::Microseconds, None),
        Kind::F64 => DataType::Float64,
        Kind::I64 => DataType::Int64,
        Kind::I32 => DataType::Int32,
        Kind::Bool => DataType::Boolean,
    }
}

/// Types a source column may have for a canonical column; anything else is schema drift.
fn check_source_type(dtype: &DataType, kind: Kind) -> std::result::Result<(), String> {
    let ok = match kind {
        Kind::Str => dtype.is_primitive() || dtype == &DataType::String || dtype.is_null(),
        Kind::Date | Kind::Datetime => dtype == &DataType::String || dtype.is_temporal() || dtype.is_integer() || dtype.is_null(),
        Kind::F64 | Kind::I64 | Kind::I32 => dtype == &DataType::String || dtype.is_primitive_numeric() || dtype.is_null(),
        Kind::Bool => dtype == &DataType::String || dtype == &DataType::Boolean || dtype.is_integer() || dtype.is_null(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected {kind:?}"))
    }
}

/// Parse a source column of type `dtype` into the canonical `kind`; unparseable -> null.
fn parse(e: Expr, dtype: &DataType, kind: Kind) -> Expr {
    let is_text = dtype == &DataType::String;
    let text = || e.clone().cast(DataType::String).str().strip_chars(lit(NULL).cast(DataType::String));
    match kind {
        Kind::Str => {
            let t = text();
            when(t.clone().eq(lit(""))).then(lit(NULL).cast(DataType::String)).otherwise(t)
        }
        Kind::F64 | Kind::I64 | Kind::I32 if is_text => {
            let t = text().str().replace_all(lit(","), lit(""), true);
            let f = t.cast(DataType::Float64);
            match kind {
                Kind::F64 => f,
                _ => when(f.clone().eq(f.clone().round(0, RoundMode::HalfToEven)))
                    .then(f)
                    .otherwise(lit(NULL).cast(DataType::Float64))
                    .cast(dtype_of(kind)),
            }
        }
        Kind::F64 | Kind::I64 | Kind::I32 => e.cast(dtype_of(kind)),
        Kind::Bool if is_text => {
            let t = text().str().to_lowercase();
            when(one_of(t.clone(), &["true", "t", "1", "yes", "y", "是", "y"]))
                .then(lit(true))
                .when(one_of(t, &["false", "f", "0", "no", "n", "否"]))
                .then(lit(false))
                .otherwise(lit(NULL).cast(DataType::Boolean))
        }
        Kind::Bool if dtype.is_integer() => e.neq(lit(0)),
        Kind::Bool => e.cast(DataType::Boolean),
        Kind::Date if is_text || dtype.is_integer() => parse_date(text()),
        Kind::Date => e.cast(DataType::Date),
        Kind::Datetime if is_text => parse_datetime(text()),
        Kind::Datetime if dtype.is_integer() => e.cast(DataType::Int64).cast(dtype_of(Kind::Datetime)),
        Kind::Datetime => match dtype {
            DataType::Datetime(_, Some(_)) => {
                e.dt().convert_time_zone(TimeZone::UTC).dt().replace_time_zone(None, lit("raise"), NonExistent::Raise).cast(dtype_of(kind))
            }
            _ => e.cast(dtype_of(kind)),
        },
    }
}

fn strptime(fmt: &str) -> StrptimeOptions {
    StrptimeOptions { format: Some(fmt.into()), strict: false, exact: true, cache: true }
}

/// 1990-03-05, 1990/3/5, 1990.3.5, 19900305, 1990年3月5日 -> Date.
fn parse_date(t: Expr) -> Expr {
    let s = t.str().replace_all(lit(r"[/.年月]"), lit("-"), false).str().replace_all(lit("日"), lit(""), true);
    let s = when(s.clone().str().contains(lit(r"^\d{8}$"), false))
        .then(concat_str(
            [s.clone().str().slice(lit(0), lit(4)), s.clone().str().slice(lit(4), lit(2)), s.clone().str().slice(lit(6), lit(2))],
            "-",
            false,
        ))
        .otherwise(s);
    // Zero-pad one-digit month and day: 1990-3-5 -> 1990-03-05.
    let s = s.str().replace_all(lit(r"-(\d)\b"), lit("-0${1}"), false);
    s.str().to_date(strptime("%Y-%m-%d"))
}

/// `2026-03-05 14:22:01`, `2026-03-05T14:22:01Z`, `2026/3/5 14:22`, fractions, or a bare date.
fn parse_datetime(t: Expr) -> Expr {
    let s = t
        .str()
        .replace_all(lit(r"(Z|[+]00:?00)$"), lit(""), false)
        .str()
        .replace_all(lit("T"), lit(" "), true)
        .str()
        .replace_all(lit("/"), lit("-"), true)
        .str()
        .replace_all(lit(r"-(\d)\b"), lit("-0${1}"), false)
        .str()
        .replace_all(lit(r" (\d):"), lit(" 0${1}:"), false);
    let dt = |fmt: &str| s.clone().str().to_datetime(Some(TimeUnit::Microseconds), None, strptime(fmt), lit("raise"));
    coalesce(&[
        dt("%Y-%m-%d %H:%M:%S"),
        dt("%Y-%m-%d %H:%M:%S%.f"),
        dt("%Y-%m-%d %H:%M"),
        s.clone().str().to_date(strptime("%Y-%m-%d")).cast(dtype_of(Kind::Datetime)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_formats_sources_write() {
        let df = df!("d" => ["1990-03-05", "1990/3/5", "19900305", "1990.03.05", "1990年3月5日", "05/03/1990", "garbage", ""]).unwrap();
        let out = df.lazy().select([parse(col("d"), &DataType::String, Kind::Date).alias("d")]).collect().unwrap();
        let got: Vec<Option<String>> =
            out.column("d").unwrap().cast(&DataType::String).unwrap().str().unwrap().iter().map(|v| v.map(String::from)).collect();
        let march5 = Some("1990-03-05".to_string());
        assert_eq!(got, vec![march5.clone(), march5.clone(), march5.clone(), march5.clone(), march5, None, None, None]);
    }

    #[test]
    fn timestamps_numbers_and_booleans() {
        let df = df!(
            "t" => ["2026-03-05 14:22:01", "2026-03-05T14:22:01Z", "2026/3/5 14:22", "2026-03-05", "soon"],
            "n" => ["1,234.5", " 7 ", "abc", "", "-3"],
            "b" => ["yes", "否", "TRUE", "0", "maybe"],
        )
        .unwrap();
        let out = df
            .lazy()
            .select([
                parse(col("t"), &DataType::String, Kind::Datetime).dt().strftime("%Y-%m-%d %H:%M:%S").alias("t"),
                parse(col("n"), &DataType::String, Kind::F64).alias("n"),
                parse(col("b"), &DataType::String, Kind::Bool).alias("b"),
            ])
            .collect()
            .unwrap();
        let t: Vec<Option<&str>> = out.column("t").unwrap().str().unwrap().iter().collect();
        assert_eq!(
            t,
            vec![Some("2026-03-05 14:22:01"), Some("2026-03-05 14:22:01"), Some("2026-03-05 14:22:00"), Some("2026-03-05 00:00:00"), None]
        );
        let n: Vec<Option<f64>> = out.column("n").unwrap().f64().unwrap().iter().collect();
        assert_eq!(n, vec![Some(1234.5), Some(7.0), None, None, Some(-3.0)]);
        let b: Vec<Option<bool>> = out.column("b").unwrap().bool().unwrap().iter().collect();
        assert_eq!(b, vec![Some(true), Some(false), Some(true), Some(false), None]);
    }
}
