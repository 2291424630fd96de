//! Step 2 of DESIGN.md "Scale", route: one streaming pass per fact table parses and cleans its
//! rows, attaches the person (`_key`, a dense u32) through the identity map and appends each
//! row to its bucket's folder `<work>/<table>/_b=<b>/`, bucket `_key % B`. Rows that reach no
//! person (rejected by clean, unknown customer or order) go to the extra bucket `B`, which the
//! bucket pass turns into quarantine after deduplication. A second streaming pass counts the
//! rows read and the values that did not parse, and keeps the rows ingest quarantined.

use crate::error::{Error, Result};
use crate::io::{self, scan::InputFile};
use crate::schema::Table;
use crate::stages::clean;
use crate::stages::ingest::Ingested;
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// Why clean rejected a row (null: usable).
pub const REASON: &str = "_reason";
/// The bucket column the route partitions by (not stored in the files).
const BUCKET: &str = "_b";

/// Orders: the columns features, models and the accounting read.
pub const ORDER_COLUMNS: [&str; 9] =
    ["source", "order_id", "order_ts", "status", "channel", "gross_amount", "discount_amount", "net_amount", "coupon_code"];
/// Order lines: the columns carried; `_key`, `status` and `_in_time` come from the line's order.
const ITEM_COLUMNS: [&str; 3] = ["sku", "category", "quantity"];

/// The columns each table with its own customer id keeps for features.
pub fn kept_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Orders => &ORDER_COLUMNS,
        Table::OrderItems => &ITEM_COLUMNS,
        Table::Events => &["event_ts", "event_type"],
        Table::SocialInteractions => &["ts", "platform", "action", "followers"],
        Table::Feedback => &["ts", "kind", "rating", "nps", "text", "topic"],
        Table::Customers => &[],
    }
}

/// Rows written into buckets: `<dir>/_b=<b>/` per bucket that received rows.
pub struct Buckets {
    pub dir: PathBuf,
    /// The rows' columns (an empty bucket reads as an empty frame of them).
    pub schema: SchemaRef,
}

impl Buckets {
    /// Write `rows` (with the `_b` column) into buckets under `dir`; `run` false: plan only.
    fn write(mut rows: LazyFrame, dir: PathBuf, run: bool) -> Result<Buckets> {
        let mut schema = (*rows.collect_schema().map_err(|e| Error::internal("routed schema", e))?).clone();
        schema.remove(BUCKET);
        if run {
            io::parquet::sink_buckets(rows, &dir, BUCKET)?;
        }
        Ok(Buckets { dir, schema: std::sync::Arc::new(schema) })
    }

    /// The rows of bucket `b`.
    pub fn bucket(&self, b: u32) -> Result<LazyFrame> {
        io::parquet::scan_folder(&self.dir.join(format!("{BUCKET}={b}")), &self.schema)
    }
}

/// One table after its route pass.
pub struct Routed {
    pub table: Table,
    /// `<work>/<table>`.
    pub rows: Buckets,
    pub read: u64,
    /// One row: per canonical column, non-empty values that did not parse.
    pub unparseable: DataFrame,
    /// Rows ingest could not parse, in quarantine's shape.
    pub quarantine: DataFrame,
    pub files: Vec<InputFile>,
    pub missing_optional: Vec<String>,
}

/// The routed rows of a table with a customer id: cleaned, `_reason`, `_key` attached.
pub fn keyed_rows(ing: &Ingested, id_map: LazyFrame) -> LazyFrame {
    let table = ing.table;
    let cleaned = match table {
        Table::Orders => clean::orders(ing.rows.clone()),
        Table::Events => clean::events(ing.rows.clone()),
        Table::SocialInteractions => clean::social(ing.rows.clone()),
        Table::Feedback => clean::feedback(ing.rows.clone()),
        _ => unreachable!("{} has no customer id", table.name()),
    };
    let reason = if table == Table::Orders { col(REASON) } else { lit(NULL).cast(DataType::String).alias(REASON) };
    let mut carried = clean::carried(table, kept_columns(table));
    carried.push(reason);
    cleaned.select(carried).join(
        id_map.select([col("source"), col("source_customer_id"), col("_key")]),
        [col("source"), col("source_customer_id")],
        [col("source"), col("source_customer_id")],
        small_right(),
    )
}

/// The routed order lines: each takes the person, status and `_in_time` of its order
/// (`winners`: the used copy of every order with a known customer).
pub fn item_rows(ing: &Ingested, winners: LazyFrame) -> LazyFrame {
    let mut carried = clean::carried(Table::OrderItems, &ITEM_COLUMNS);
    carried.push(lit(NULL).cast(DataType::String).alias(REASON));
    clean::items(ing.rows.clone()).select(carried).join(
        winners.filter(col("_key").is_not_null()).select([col("source"), col("order_id"), col("_key"), col("status"), col("_in_time")]),
        [col("source"), col("order_id")],
        [col("source"), col("order_id")],
        small_right(),
    )
}

/// A left join whose right side (the identity map, the orders' winners: small, in memory) is
/// the hash table, so the streaming engine need not sample both inputs to choose.
fn small_right() -> JoinArgs {
    JoinArgs::new(JoinType::Left).with_build_side(Some(JoinBuildSide::ForceRight))
}

/// `_key % buckets` for usable rows of a known person; `buckets` for every other row.
fn bucket_of(buckets: u32) -> Expr {
    when(col("_key").is_not_null().and(col(REASON).is_null()))
        .then((col("_key") % lit(buckets)).cast(DataType::UInt32))
        .otherwise(lit(buckets))
        .alias(BUCKET)
}

/// Write `rows` (from `keyed_rows` or `item_rows`) into the buckets under `work`, then count
/// the rows read and the values that did not parse, and keep the rows ingest rejected, in a
/// second streaming pass. In one shared pass polars' multiplexer buffers rows for the slower
/// sink while the counts run ahead: measured at SF 10, one pass was 11 s faster but peaked
/// 0.5-1.6 GB higher (8.9 GB against 7.3-8.4 GB); memory is this core's first goal.
pub fn route(ing: Ingested, rows: LazyFrame, work: &Path, buckets: u32, run: bool) -> Result<Routed> {
    let started = std::time::Instant::now();
    let rows = Buckets::write(rows.with_column(bucket_of(buckets)), work.join(ing.table.name()), run)?;
    let (mut read, mut unparseable, mut quarantine) = (0, DataFrame::empty(), DataFrame::empty());
    if run {
        let [r, u, q]: [DataFrame; 3] = io::collect_all_streaming(vec![ing.read, ing.unparseable, ing.quarantine])?
            .try_into()
            .map_err(|_| Error::Internal("a route plan was not executed".into()))?;
        read = r.column("read").ok().and_then(|c| c.cast(&DataType::UInt64).ok()).and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0);
        (unparseable, quarantine) = (u, q);
        tracing::info!(table = ing.table.name(), rows = read, seconds = started.elapsed().as_secs_f64(), "routed");
    }
    Ok(Routed { table: ing.table, rows, read, unparseable, quarantine, files: ing.files, missing_optional: ing.missing_optional })
}

/// Per (source, order_id), the copy of an order that is used: the one read last among those
/// clean accepted (re-sent orders; DESIGN.md), with its person (null: unknown customer),
/// status, whether it is on or before as-of, and its bucket. Built from the routed orders'
/// small columns.
pub fn order_winners(orders: &Routed, buckets: u32, as_of_end: Expr) -> Result<DataFrame> {
    let parts: Vec<LazyFrame> = (0..=buckets).map(|b| orders.rows.bucket(b)).collect::<Result<_>>()?;
    let all = concat(parts, UnionArgs::default()).map_err(|e| Error::internal("orders union", e))?;
    io::collect(
        all.filter(col(REASON).is_null())
            .select([
                col("source"),
                col("order_id"),
                position(),
                col("_key"),
                col("status"),
                col("order_ts").lt(as_of_end).alias("_in_time"),
                col(REASON),
            ])
            .sort(["_pos"], Default::default())
            .unique_stable(Some(cols(["source", "order_id"])), UniqueKeepStrategy::Last)
            .with_column(bucket_of(buckets))
            .drop(cols([REASON])),
    )
}

/// The winners' positions, by bucket, for the bucket pass (the winners themselves are freed
/// once the order lines are routed).
pub fn winner_positions(winners: &DataFrame, work: &Path, run: bool) -> Result<Buckets> {
    Buckets::write(winners.clone().lazy().select([col("_pos"), col(BUCKET)]), work.join("_winners"), run)
}

/// A row's place in the input (file, then row): "read last" is the largest.
pub fn position() -> Expr {
    ((col("_file").cast(DataType::UInt64) * lit(1u64 << 32)) + col("_row").cast(DataType::UInt64)).alias("_pos")
}
