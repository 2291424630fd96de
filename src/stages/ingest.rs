//! Stage 1, ingest: open every file of every table, map its columns onto the canonical schema
//! (docs/inputs.md), parse the messy formats into typed columns, and split rows into usable ones and
//! quarantine. A value that cannot be parsed becomes null and is counted per column; a row is
//! quarantined only when a required (key or timestamp) value is missing or unparseable.

use crate::config::{EpochUnit, Format, TableSource};
use crate::day::{datetime_lit, Times};
use crate::error::{Error, Result};
use crate::expr::one_of;
use crate::io::scan::{self, InputFile};
use crate::io::text::{DecodedCopies, Malformed};
use crate::schema::{Column, Kind, Table, PERSONAL_DATA};
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
    /// Per column, values cleaning rejected, once counted (`pipeline::route::Counts`).
    pub invalid: std::collections::BTreeMap<String, u64>,
    /// The plans of each file read (duplicates are not), for reading the table in groups.
    parts: Vec<FileParts>,
}

/// Ingest one table. Missing files are an error (exit 66), a missing required column or a
/// file polars cannot open is an input error naming the file (exit 65). Timestamps are read
/// as `times` says (time zone, plausible range). Text in another encoding than UTF-8 is
/// decoded into `copies`, which must outlive the plans.
pub fn ingest(source: &TableSource, times: &Times, copies: &DecodedCopies) -> Result<Ingested> {
    ingest_from(source, times, copies, 0)
}

/// `ingest`, reading only the files after the first `skip` (an incremental run's state holds
/// those): `files` lists them all, so that `_file` numbers the same files on every run.
pub fn ingest_from(source: &TableSource, times: &Times, copies: &DecodedCopies, skip: usize) -> Result<Ingested> {
    if source.absent {
        return Ingested::assemble(source.table, Vec::new(), vec![absent_parts(source.table)?], Vec::new());
    }
    let files = scan::discover(source)?;
    let mut parts = Vec::new();
    let mut missing_optional = std::collections::BTreeSet::new();
    for (idx, file) in files.iter().enumerate().skip(skip).filter(|(_, f)| f.duplicate_of.is_none()) {
        parts.push(ingest_file(source, times, copies, idx as u32, file, &mut missing_optional)?);
    }
    if parts.is_empty() {
        parts.push(absent_parts(source.table)?);
    }
    Ingested::assemble(source.table, files, parts, missing_optional.into_iter().collect())
}

impl Ingested {
    fn assemble(table: Table, files: Vec<InputFile>, parts: Vec<FileParts>, missing_optional: Vec<String>) -> Result<Ingested> {
        // Fact tables' files are read in any order (every row keeps its `_file` and `_row`;
        // the bucket pass sorts by them): an ordered union holds later files back in memory
        // until the earlier ones are read. Customers keep the order.
        let args = UnionArgs { maintain_order: table == Table::Customers, ..Default::default() };
        let union = |pick: fn(&FileParts) -> &LazyFrame| {
            concat(parts.iter().map(pick).cloned().collect::<Vec<_>>(), args).map_err(|e| Error::internal("union of input files", e))
        };
        Ok(Ingested {
            table,
            rows: union(|p| &p.rows)?,
            quarantine: union(|p| &p.quarantine)?,
            read: union(|p| &p.read)?.select([col("read").sum()]),
            unparseable: union(|p| &p.unparseable)?.select([all().as_expr().sum()]),
            files,
            missing_optional,
            invalid: Default::default(),
            parts,
        })
    }

    /// The table as consecutive groups of files of at most `max_bytes` each (a larger file
    /// alone): one streaming pass over a union of many files runs every file's scan at once,
    /// so its memory grows with the number of files times their size.
    pub fn in_groups(&self, max_bytes: u64) -> Result<Vec<Ingested>> {
        let mut groups: Vec<Vec<FileParts>> = Vec::new();
        let mut bytes = u64::MAX;
        for part in &self.parts {
            if bytes.saturating_add(part.bytes) > max_bytes {
                groups.push(Vec::new());
                bytes = 0;
            }
            bytes += part.bytes;
            groups.last_mut().expect("a group was started").push(part.clone());
        }
        groups.into_iter().map(|g| Ingested::assemble(self.table, self.files.clone(), g, self.missing_optional.clone())).collect()
    }
}

/// One file's plans: usable rows, quarantined rows, rows read, unparseable counts.
#[derive(Clone)]
struct FileParts {
    bytes: u64,
    rows: LazyFrame,
    quarantine: LazyFrame,
    read: LazyFrame,
    unparseable: LazyFrame,
}

/// The rows of a text file the reader would misread (`io::text::Malformed`), joined on by
/// `_row` as `_malformed` (their reason), and the expression that reads it; the file as it is
/// without any.
fn with_malformed(lf: LazyFrame, malformed: &[Malformed]) -> Result<(LazyFrame, Option<Expr>)> {
    if malformed.is_empty() {
        return Ok((lf, None));
    }
    let rows: Vec<u32> = malformed.iter().map(|r| r.row).collect();
    let reasons: Vec<&str> = malformed.iter().map(|r| r.reason.as_str()).collect();
    let found = df!("_malformed_row" => rows, "_malformed" => reasons).map_err(|e| Error::internal("malformed rows", e))?;
    let in_order = JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) };
    let joined = lf.join(found.lazy(), [col("_row").cast(DataType::UInt32)], [col("_malformed_row")], in_order);
    Ok((joined, Some(col("_malformed"))))
}

/// The parts of a table declared absent: no rows, the canonical columns' types.
fn absent_parts(table: Table) -> Result<FileParts> {
    let fail = |e: PolarsError| Error::internal("an absent table's empty frame", e);
    let mut rows = vec![
        polars::prelude::Column::new_empty("_row".into(), &DataType::UInt32),
        polars::prelude::Column::new_empty("_file".into(), &DataType::UInt32),
    ];
    rows.extend(table.columns().iter().map(|c| polars::prelude::Column::new_empty(c.name.into(), &dtype_of(c.kind))));
    let quarantine = ["table", "file", "row", "reason", "raw"]
        .map(|name| polars::prelude::Column::new_empty(name.into(), if name == "row" { &DataType::UInt32 } else { &DataType::String }));
    let unparseable = table.columns().iter().map(|c| polars::prelude::Column::new(c.name.into(), [0u64])).collect();
    Ok(FileParts {
        bytes: 0,
        rows: DataFrame::new_infer_height(rows).map_err(fail)?.lazy(),
        quarantine: DataFrame::new_infer_height(quarantine.into()).map_err(fail)?.lazy(),
        read: df!("read" => [0u64]).map_err(fail)?.lazy(),
        unparseable: DataFrame::new_infer_height(unparseable).map_err(fail)?.lazy(),
    })
}

/// What one canonical column contributes to a file's plan.
struct ColumnPlan {
    /// The parsed value, computed once as `__parsed_<name>` (every branch reads it).
    value: Expr,
    /// The canonical column of a usable row.
    parsed: Expr,
    /// The value as written, for quarantine's `raw`.
    raw: Expr,
    /// Required columns: whether the row is usable, and why not.
    usable: Option<Expr>,
    problem: Option<Expr>,
    /// Non-empty values that did not parse (or were implausible), summed.
    failure: Expr,
}

fn ingest_file(
    source: &TableSource,
    times: &Times,
    copies: &DecodedCopies,
    idx: u32,
    file: &InputFile,
    missing_optional: &mut std::collections::BTreeSet<String>,
) -> Result<FileParts> {
    let table = source.table;
    let scan::Scanned { rows: lf, schema, malformed } = scan::scan(file, source, copies)?;
    let mut columns = Vec::new();
    for c in table.columns() {
        let source_name = source.rename.get(c.name).map(String::as_str).unwrap_or(c.name);
        let required = c.required || source.extra_required.contains(c.name);
        let Some(dtype) = schema.get(source_name) else {
            if required {
                let present = schema.iter_names().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
                return Err(Error::input(
                    file.path.display(),
                    format!("table {}: required column `{source_name}` is missing (columns present: {present})", table.name()),
                ));
            }
            missing_optional.insert(c.name.to_string());
            columns.push(ColumnPlan {
                value: lit(NULL).cast(dtype_of(c.kind)).alias(format!("__parsed_{}", c.name)),
                parsed: lit(NULL).cast(dtype_of(c.kind)).alias(c.name),
                raw: lit(NULL).cast(DataType::String).alias(c.name),
                usable: None,
                problem: None,
                failure: lit(0u64).alias(c.name),
            });
            continue;
        };
        if let Err(msg) = check_source_type(dtype, c.kind) {
            return Err(Error::input(
                file.path.display(),
                format!("table {}: column `{source_name}` has type {dtype}, {msg}", table.name()),
            ));
        }
        let epoch = source.epoch_units.get(c.name).copied().unwrap_or(EpochUnit::Auto);
        columns.push(plan_column(c, col(source_name), dtype, required, file.format, times, epoch));
    }
    // Which rows are usable is one boolean per row; the reason text is built only for the
    // few rows that are not.
    let (lf, malformed) = with_malformed(lf, &malformed)?;
    let usable = columns.iter().filter_map(|c| c.usable.clone()).chain(malformed.clone().map(|r| r.is_null())).reduce(|a, b| a.and(b));
    let usable = usable.unwrap_or(lit(true));
    let values: Vec<Expr> = columns.iter().map(|c| c.value.clone()).collect();
    let lf = lf.with_columns(values).with_column(usable.alias("_usable"));
    // Text files are parsed once and held for the four branches below; Parquet is cheaper to
    // read again than to hold.
    let lf = if file.format == Format::Parquet { lf } else { lf.cache() };
    let mut parsed = vec![col("_row").cast(DataType::UInt32), lit(idx).alias("_file")];
    parsed.extend(columns.iter().map(|c| c.parsed.clone()));
    let rows = lf.clone().filter(col("_usable")).select(parsed);
    let mut raw = vec![col("_row").cast(DataType::UInt32)];
    raw.extend(columns.iter().map(|c| c.raw.clone()));
    let problems = concat_str(columns.iter().filter_map(|c| c.problem.clone()).collect::<Vec<_>>(), "; ", true);
    // A misread row's values are not what was sent: its own reason is the whole story.
    let reason = match malformed {
        Some(m) => coalesce(&[m, problems]),
        None => problems,
    };
    let quarantine =
        lf.clone().filter(col("_usable").not()).select(raw.into_iter().chain([reason.alias("_reason")]).collect::<Vec<_>>()).select([
            lit(table.name()).alias("table"),
            lit(file.path.to_string_lossy().to_string()).alias("file"),
            col("_row").cast(DataType::UInt32).alias("row"),
            col("_reason").alias("reason"),
            raw_text(table),
        ]);
    Ok(FileParts {
        bytes: file.bytes,
        rows,
        quarantine,
        read: lf.clone().select([len().cast(DataType::UInt64).alias("read")]),
        unparseable: lf.select(columns.into_iter().map(|c| c.failure).collect::<Vec<_>>()),
    })
}

fn plan_column(c: &Column, source: Expr, dtype: &DataType, required: bool, format: Format, times: &Times, epoch: EpochUnit) -> ColumnPlan {
    let parsed = if c.kind == Kind::Str && format == Format::Parquet && dtype == &DataType::String {
        source.clone() // typed Parquet text is taken as written; clean trims what matters
    } else {
        parse(source.clone(), dtype, c.kind, times, epoch)
    };
    let parsed_name = format!("__parsed_{}", c.name);
    let value = col(parsed_name.as_str());
    // Timestamps outside the plausible range are not kept: a required one quarantines its
    // row with its own reason, an optional one reads as null and counts as unparseable. So
    // are ids and phones a spreadsheet wrote as numbers: their digits are lost, and two
    // people must never be linked, nor two orders merged, on what is left.
    let lost_digits = DIGITS.contains(&c.name).then(|| spreadsheet_number(value.clone()));
    let kept = match (c.kind, &lost_digits) {
        (Kind::Datetime, _) => plausible(value.clone(), times),
        (_, Some(lost)) => when(lost.clone()).then(lit(NULL).cast(DataType::String)).otherwise(value.clone()),
        _ => value.clone(),
    };
    let (usable, problem) = if required {
        let no_reason = lit(NULL).cast(DataType::String);
        let missing = when(value.clone().is_null()).then(lit(format!("missing or unparseable {}", c.name)));
        let reason = if c.kind == Kind::Datetime {
            let range =
                format!("implausible {} (before pipeline.earliest {} or after {})", c.name, times.earliest.date(), times.latest.date());
            missing.when(kept.clone().is_null()).then(lit(range)).otherwise(no_reason)
        } else {
            missing.otherwise(no_reason)
        };
        let reason = match &lost_digits {
            Some(lost) => when(lost.clone()).then(lit(format!("{} {LOST_DIGITS}", c.name))).otherwise(reason),
            None => reason,
        };
        (Some(kept.clone().is_not_null()), Some(reason))
    } else {
        (None, None)
    };
    let failure = if let Some(lost) = lost_digits {
        lost.cast(DataType::UInt64).sum().alias(c.name)
    } else if c.kind == Kind::Str {
        lit(0u64).alias(c.name) // text cannot fail to parse; empty is just missing
    } else if dtype == &DataType::String {
        let present = source.clone().is_not_null().and(source.clone().str().strip_chars(lit(NULL).cast(DataType::String)).neq(lit("")));
        present.and(kept.clone().is_null()).cast(DataType::UInt64).sum().alias(c.name)
    } else {
        (source.clone().is_not_null().and(kept.clone().is_null())).cast(DataType::UInt64).sum().alias(c.name)
    };
    ColumnPlan {
        value: parsed.alias(parsed_name.as_str()),
        parsed: kept.alias(c.name),
        raw: source.cast(DataType::String).alias(c.name),
        usable,
        problem,
        failure,
    }
}

/// Text columns that hold digits a spreadsheet may have turned into a number.
pub const DIGITS: [&str; 5] = ["source_customer_id", "order_id", "sku", "phone", "id_number"];

/// Why such a value is not used (quarantine, log).
pub const LOST_DIGITS: &str =
    "written in scientific notation (exported from a spreadsheet as a number: digits lost; export the column as text)";

/// Whether a text value is a number as a spreadsheet writes a large one, `1.70000E+10`.
/// Matched byte by byte: a regular expression over every id of every table took a fifth of
/// the route.
fn spreadsheet_number(value: Expr) -> Expr {
    let matches = |c: polars::prelude::Column| {
        let found: BooleanChunked = c.str()?.iter().map(|v| Some(v.is_some_and(|v| is_spreadsheet_number(v.trim())))).collect();
        Ok(found.into_column())
    };
    value.map(matches, |_, f| Ok(Field::new(f.name().clone(), DataType::Boolean)))
}

/// `d[.d+](E|e)+d{1,3}`: a digit, optional decimals, an exponent with its sign.
fn is_spreadsheet_number(v: &str) -> bool {
    let b = v.as_bytes();
    let Some(e) = b.iter().position(|&c| c == b'E' || c == b'e') else { return false };
    let (mantissa, exponent) = (&b[..e], &b[e + 1..]);
    let decimals_ok = match mantissa {
        [d] => d.is_ascii_digit(),
        [d, b'.', rest @ ..] => d.is_ascii_digit() && !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    decimals_ok && matches!(exponent, [b'+', digits @ ..] if (1..=3).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit))
}

/// The timestamp when it lies in `times`' plausible range, else null.
fn plausible(ts: Expr, times: &Times) -> Expr {
    let inside = ts.clone().gt_eq(datetime_lit(times.earliest)).and(ts.clone().lt(datetime_lit(times.latest)));
    when(inside).then(ts).otherwise(lit(NULL).cast(dtype_of(Kind::Datetime)))
}

/// The raw values of a quarantined row as `column=value` pairs, so it can be fixed and re-sent;
/// a customer's personal data shows only as `***` (present) or empty.
fn raw_text(table: Table) -> Expr {
    let value = |c: &Column| match table == Table::Customers && PERSONAL_DATA.contains(&c.name) {
        true => when(col(c.name).is_null().or(col(c.name).eq(lit("")))).then(lit("")).otherwise(lit("***")),
        false => col(c.name).fill_null(lit("")),
    };
    let parts: Vec<Expr> = table.columns().iter().map(|c| concat_str([lit(format!("{}=", c.name)), value(c)], "", false)).collect();
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

/// Parse a source column of type `dtype` into the canonical `kind` (timestamps as `times` and
/// `epoch` say); unparseable -> null.
fn parse(e: Expr, dtype: &DataType, kind: Kind, times: &Times, epoch: EpochUnit) -> Expr {
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
        Kind::Datetime => parse_timestamp(e, dtype, times, epoch),
    }
}

/// A timestamp column of any source type as a local time in `times.zone` (no zone, µs):
/// text in the common forms (with or without an offset, epoch numbers as text), epoch
/// numbers (by `unit`, or by magnitude), Parquet timestamps with a zone (converted) or
/// without one (taken as local). Unparseable -> null. Text and numbers are read in one pass
/// (`text_micros`, `epoch_micros`): as polars expressions, four `strptime` formats and three
/// regular expressions per value dominated the route of a table of text timestamps.
fn parse_timestamp(e: Expr, dtype: &DataType, times: &Times, unit: EpochUnit) -> Expr {
    // `config::load` checked the zone; UTC if it is not one.
    let local: Option<chrono_tz::Tz> = if times.is_utc() { None } else { times.zone.parse().ok() };
    let read = move |c: polars::prelude::Column| {
        let micros: Int64Chunked = match c.dtype() {
            DataType::String => c.str()?.iter().map(|v| v.and_then(|t| text_micros(t, unit, local))).collect(),
            _ => c.cast(&DataType::Int64)?.i64()?.iter().map(|n| to_local(epoch_micros(n?, unit)?, local)).collect(),
        };
        Ok(micros.into_datetime(TimeUnit::Microseconds, None).into_column())
    };
    match dtype {
        d if d == &DataType::String || d.is_integer() => e.map(read, |_, f| Ok(Field::new(f.name().clone(), dtype_of(Kind::Datetime)))),
        DataType::Datetime(_, Some(_)) => {
            let local = e.dt().convert_time_zone(zone(times));
            local.dt().replace_time_zone(None, lit("raise"), NonExistent::Raise).cast(dtype_of(Kind::Datetime))
        }
        _ => e.cast(dtype_of(Kind::Datetime)),
    }
}

/// The business's zone as polars names it (checked by `config::load`; UTC if it is not one).
fn zone(times: &Times) -> TimeZone {
    TimeZone::opt_try_new(Some(times.zone.as_str())).ok().flatten().unwrap_or(TimeZone::UTC)
}

/// Microseconds since 1970-01-01 UTC of an epoch number in seconds, milliseconds,
/// microseconds or nanoseconds, by `unit` or else by magnitude (what a value in each unit looks
/// like for the years 1973 to 5138).
fn epoch_micros(n: i64, unit: EpochUnit) -> Option<i64> {
    let unit = match (unit, n.unsigned_abs()) {
        (EpochUnit::Auto, size) if size < 100_000_000_000 => EpochUnit::Seconds,
        (EpochUnit::Auto, size) if size < 100_000_000_000_000 => EpochUnit::Millis,
        (EpochUnit::Auto, size) if size < 100_000_000_000_000_000 => EpochUnit::Micros,
        (EpochUnit::Auto, _) => EpochUnit::Nanos,
        (unit, _) => unit,
    };
    match unit {
        EpochUnit::Seconds => n.checked_mul(1_000_000),
        EpochUnit::Millis => n.checked_mul(1_000),
        EpochUnit::Micros => Some(n),
        EpochUnit::Nanos | EpochUnit::Auto => Some(n / 1_000),
    }
}

/// An instant (µs since 1970-01-01 UTC) as the local wall time in `zone` (None: UTC).
fn to_local(utc: i64, zone: Option<chrono_tz::Tz>) -> Option<i64> {
    use chrono::TimeZone as _;
    let Some(zone) = zone else { return Some(utc) };
    let utc = chrono::DateTime::from_timestamp_micros(utc)?.naive_utc();
    Some(zone.from_utc_datetime(&utc).naive_local().and_utc().timestamp_micros())
}

/// A text timestamp as local microseconds: an epoch number (10 to 19 digits), or
/// `2026-03-05 14:22:01` with `T`, fractions, `/` or 年月日 separators, `2026/3/5 14:22`, a bare
/// date, each optionally followed by an offset (`Z`, `+08:00`, `+0800`, `+08`: then converted
/// to the local time in `zone`); without an offset the time is already local.
fn text_micros(text: &str, unit: EpochUnit, zone: Option<chrono_tz::Tz>) -> Option<i64> {
    let t = text.trim();
    let digits = t.strip_prefix('-').unwrap_or(t);
    if (10..=19).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        return to_local(epoch_micros(t.parse().ok()?, unit)?, zone);
    }
    let t = match t.contains(['年', '月', '日', 'T', '/']) {
        true => std::borrow::Cow::Owned(t.replace("日 ", " ").replace(['年', '月', '/'], "-").replace(['日', 'T'], " ")),
        false => std::borrow::Cow::Borrowed(t),
    };
    // Only a value with a time can carry an offset: `2026-11-05` ends in `-05`, a day.
    match t.contains(':').then(|| offset_east(&t)).flatten() {
        Some((wall, minutes)) => to_local(naive_micros(wall)?.checked_sub(minutes * 60_000_000)?, zone),
        None => naive_micros(&t),
    }
}

/// A timestamp's offset at its end (`Z`, `+08:00`, `+0800`, `+08`): the text before it and
/// the offset in minutes east of UTC.
fn offset_east(t: &str) -> Option<(&str, i64)> {
    let t = t.trim_end();
    if let Some(wall) = t.strip_suffix('Z') {
        return Some((wall, 0));
    }
    for len in [6, 5, 3] {
        let Some(at) = t.len().checked_sub(len).filter(|&at| t.is_char_boundary(at)) else { continue };
        let (wall, offset) = t.split_at(at);
        if !offset.is_ascii() {
            continue; // and so every slice below falls on a character
        }
        let (hours, minutes) = match (len, offset.as_bytes()) {
            (6, [_, _, _, b':', ..]) => (&offset[1..3], &offset[4..6]),
            (5, _) => (&offset[1..3], &offset[3..5]),
            (3, _) => (&offset[1..3], "00"),
            _ => continue,
        };
        let sign = match offset.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => continue,
        };
        if hours.bytes().chain(minutes.bytes()).all(|b| b.is_ascii_digit()) {
            return Some((wall, sign * (hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?)));
        }
    }
    None
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

/// `2026-03-05`, optionally followed by ` 14:22`, `:01` and `.5` (each field of one or two
/// digits but the four-digit year; spaces around), as microseconds since 1970-01-01 00:00 of
/// that wall time; anything else, or a day or time that does not exist, is None.
fn naive_micros(s: &str) -> Option<i64> {
    let digits = |f: &str, max_len: usize| -> Option<u32> {
        (!f.is_empty() && f.len() <= max_len && f.bytes().all(|b| b.is_ascii_digit())).then(|| f.parse().ok()).flatten()
    };
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim_start())),
        None => (s, None),
    };
    let mut ymd = date.split('-');
    let (y, m, d) = (ymd.next()?, ymd.next()?, ymd.next()?);
    if ymd.next().is_some() || y.len() != 4 {
        return None;
    }
    let day = chrono::NaiveDate::from_ymd_opt(digits(y, 4)? as i32, digits(m, 2)?, digits(d, 2)?)?;
    let (mut hour, mut minute, mut second, mut micro) = (0, 0, 0, 0);
    if let Some(time) = time {
        let mut hms = time.split(':');
        (hour, minute) = (digits(hms.next()?, 2)?, digits(hms.next()?, 2)?);
        if let Some(sec) = hms.next() {
            let (whole, fraction) = sec.split_once('.').map_or((sec, None), |(w, f)| (w, Some(f)));
            second = digits(whole, 2)?;
            if let Some(fraction) = fraction {
                // Up to nanoseconds written; microseconds kept.
                digits(fraction, 9)?;
                micro = format!("{fraction:0<6.6}").parse().ok()?;
            }
        }
        if hms.next().is_some() {
            return None;
        }
    }
    let time = chrono::NaiveTime::from_hms_micro_opt(hour, minute, second, micro)?;
    Some(day.and_time(time).and_utc().timestamp_micros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_the_formats_sources_write() {
        let df = df!("d" => ["1990-03-05", "1990/3/5", "19900305", "1990.03.05", "1990年3月5日", "05/03/1990", "garbage", ""]).unwrap();
        let out = df
            .lazy()
            .select([parse(col("d"), &DataType::String, Kind::Date, &Times::permissive(), EpochUnit::Auto).alias("d")])
            .collect()
            .unwrap();
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
                parse(col("t"), &DataType::String, Kind::Datetime, &Times::permissive(), EpochUnit::Auto)
                    .dt()
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .alias("t"),
                parse(col("n"), &DataType::String, Kind::F64, &Times::permissive(), EpochUnit::Auto).alias("n"),
                parse(col("b"), &DataType::String, Kind::Bool, &Times::permissive(), EpochUnit::Auto).alias("b"),
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

    #[test]
    fn naive_timestamps_by_hand() {
        let at = |y, mo, d, h, mi, s, us| {
            let day = chrono::NaiveDate::from_ymd_opt(y, mo, d).unwrap();
            day.and_hms_micro_opt(h, mi, s, us).unwrap().and_utc().timestamp_micros()
        };
        assert_eq!(naive_micros("2026-03-05 14:22:01"), Some(at(2026, 3, 5, 14, 22, 1, 0)));
        assert_eq!(naive_micros(" 2026-3-5  4:22 "), Some(at(2026, 3, 5, 4, 22, 0, 0)));
        assert_eq!(naive_micros("2026-03-05 14:22:01.5"), Some(at(2026, 3, 5, 14, 22, 1, 500_000)));
        assert_eq!(naive_micros("2026-03-05 14:22:01.123456789"), Some(at(2026, 3, 5, 14, 22, 1, 123_456)));
        assert_eq!(naive_micros("2026-03-05"), Some(at(2026, 3, 5, 0, 0, 0, 0)));
        // Text where an offset would be: not one, and never a slice inside a character.
        assert_eq!(text_micros("2026-11-16 12午:00", EpochUnit::Auto, None), None);
        assert_eq!(text_micros("2026-11-16 12:00+0８", EpochUnit::Auto, None), None);
        for bad in [
            "2026-02-30",
            "2026-03-05 24:00",
            "2026-03-05 14:60",
            "2026-03-05 14:22:01.",
            "26-03-05",
            "2026-03-05 14",
            "2026-03-05 14:22:01:09",
            "2026-003-05",
            "garbage",
            "",
        ] {
            assert_eq!(naive_micros(bad), None, "{bad}");
        }
    }

    /// Local times as text, for comparing.
    fn local(values: Series, times: &Times, unit: EpochUnit) -> Vec<Option<String>> {
        let dtype = values.dtype().clone();
        let df = DataFrame::new_infer_height(vec![values.into()]).unwrap();
        let out = df
            .lazy()
            .select([parse_timestamp(col("t"), &dtype, times, unit).dt().strftime("%Y-%m-%d %H:%M:%S").alias("t")])
            .collect()
            .unwrap();
        out.column("t").unwrap().str().unwrap().iter().map(|v| v.map(String::from)).collect()
    }

    #[test]
    fn timestamps_with_offsets_chinese_forms_and_epochs() {
        let utc = Times::permissive();
        let shanghai = Times { zone: "Asia/Shanghai".into(), ..Times::permissive() };
        let text = Series::new(
            "t".into(),
            [
                "2026-11-16T20:31:32+08:00",
                "2026-11-16T20:31:32+0800",
                "2026-11-16 20:31:32+08",
                "2026-11-16T12:31:32Z",
                "2026-11-16T07:31:32.5-05:00",
                "2026年11月16日 12:31",
                "2026年11月16日12:31:32",
                "2026/11/16 12:31",
                "1794832292",
                "1794832292000",
                "2026-11-16",
                " 2026-11-16 20:31:32 +08:00 ",
                " 2026-11-16 ",
            ],
        );
        // All the same instant 2026-11-16 12:31:32 UTC, but for the minute-only forms and the date.
        let want = [
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:00",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:00",
            "2026-11-16 12:31:32",
            "2026-11-16 12:31:32",
            "2026-11-16 00:00:00",
            "2026-11-16 12:31:32",
            "2026-11-16 00:00:00",
        ];
        assert_eq!(local(text.clone(), &utc, EpochUnit::Auto), want.map(|w| Some(w.to_string())).to_vec());
        // In Shanghai the instants read 8 hours later; times without a zone are already local.
        let got = local(text, &shanghai, EpochUnit::Auto);
        assert_eq!(got[0].as_deref(), Some("2026-11-16 20:31:32"));
        assert_eq!(got[4].as_deref(), Some("2026-11-16 20:31:32"));
        assert_eq!(got[8].as_deref(), Some("2026-11-16 20:31:32"), "epoch seconds are an instant");
        assert_eq!(got[5].as_deref(), Some("2026-11-16 12:31:00"), "a local time stays as written");
        // Epoch numbers in an integer column, by magnitude or by the configured unit.
        let ints = Series::new("t".into(), [1_794_832_292i64, 1_794_832_292_000, 1_794_832_292_000_000]);
        assert_eq!(local(ints, &utc, EpochUnit::Auto), vec![Some("2026-11-16 12:31:32".to_string()); 3]);
        let ms = Series::new("t".into(), [1_794_832_292_000i64]);
        assert_eq!(local(ms.clone(), &utc, EpochUnit::Millis), vec![Some("2026-11-16 12:31:32".to_string())]);
        // Read as microseconds (the old behaviour) the same number is 1970-01-21.
        assert_eq!(local(ms, &utc, EpochUnit::Micros), vec![Some("1970-01-21 18:33:52".to_string())]);
    }

    #[test]
    fn numbers_as_a_spreadsheet_writes_them() {
        for yes in ["1.70000E+10", "4.40106E+17", "1E+5", "1.3800138e+10"] {
            assert!(is_spreadsheet_number(yes), "{yes}");
        }
        for no in ["13800000001", "1.5", "E+10", "1.E+10", "12.5E+10", "1.5E-3", "1.5E+", "1.5E+1234", "C00005985", "2E10"] {
            assert!(!is_spreadsheet_number(no), "{no}");
        }
    }
}
