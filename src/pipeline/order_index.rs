//! The last-read copy of each order (docs/design.md, "The steps of a run"), found by the order's source
//! and id, for its lines to take its record (`_rec`, hence their person), and its first-read
//! copy's position, which names the order whatever copy is read later (`route::ORDER`). A hash
//! table built once and looked up by every group of line files, in place of a join of the
//! lines to the orders' copies (which sorted and deduplicated the copies, built its own hash
//! table per group of files and row-encoded the two text keys of every line). Small: the ids
//! held once, back to back, and a 4-byte slot per order.

use super::person_index::REC;
use crate::error::{Error, Result};
use crate::io;
use hashbrown::hash_table::{Entry, HashTable};
use polars::prelude::*;
use rayon::prelude::*;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The record of a last-read copy whose customer is unknown: its lines reach no person.
const NO_RECORD: u32 = u32::MAX;
/// The winning copy's index in `Copies` (a column that lives only inside `lookup`).
const COPY: &str = "_copy";
/// The position of an order's first-read copy, beside its last-read copy's `_pos` (`used`).
pub const FIRST: &str = "_first";
/// Bytes one order takes in `OrderIndex` besides its id's: its source, its id's end, two
/// positions and record (26, in vectors sized to the orders with a margin of 3 %), and its
/// share of the hash table (a 4-byte slot and a control byte per bucket, at a load of 7/16 to
/// 7/8: at most 11.4). A unit test holds the table to it.
pub const BYTES_BESIDES_ID: u64 = 40;
/// Orders are split by the top bits of their hash into shards, built in parallel, each small
/// enough to stay near the CPU.
const SHARD_BITS: u32 = 6;
/// A copy's index: its shard in the top `SHARD_BITS`, its place in the shard below.
const LOCAL_BITS: u32 = 32 - SHARD_BITS;

/// Each order's last-read copy (cheap to clone: the lines' plans share it).
#[derive(Clone, Default)]
pub struct OrderIndex(Arc<Copies>);

#[derive(Default)]
struct Copies {
    /// Each source's index (a few systems; at most 65,536).
    sources: PlHashMap<String, u16>,
    shards: Vec<Shard>,
    state: PlFixedStateQuality,
}

#[derive(Default)]
struct Shard {
    /// Per order: its source (index into `Copies::sources`), where its id ends in `ids`, and
    /// its last-read copy's `_pos` and record, and its first-read copy's `_pos`.
    source: Vec<u16>,
    ends: Vec<u32>,
    ids: Vec<u8>,
    pos: Vec<u64>,
    first: Vec<u64>,
    record: Vec<u32>,
    /// Order indices by the hash of (source, id).
    table: HashTable<u32>,
}

fn shard_of(hash: u64) -> usize {
    (hash >> (64 - SHARD_BITS)) as usize
}

impl Copies {
    fn hash(&self, source: u16, id: &str) -> u64 {
        self.state.hash_one((source, id.as_bytes()))
    }

    fn source_index(&mut self, source: &str) -> Result<u16> {
        if let Some(&s) = self.sources.get(source) {
            return Ok(s);
        }
        let s = u16::try_from(self.sources.len()).map_err(|_| {
            Error::input("table orders", "column `source` has more than 65,536 distinct values: it names the system an order came from")
        })?;
        self.sources.insert(source.to_string(), s);
        Ok(s)
    }

    /// The index of the last-read copy of order (`source`, `id`).
    fn find(&self, source: &str, id: &str) -> Option<u32> {
        let s = *self.sources.get(source)?;
        let hash = self.hash(s, id);
        let shard = shard_of(hash);
        let local = self.shards[shard].find(hash, s, id.as_bytes())?;
        Some(((shard as u32) << LOCAL_BITS) | local)
    }

    fn at(&self, copy: u32) -> (&Shard, usize) {
        (&self.shards[(copy >> LOCAL_BITS) as usize], (copy & ((1 << LOCAL_BITS) - 1)) as usize)
    }

    fn record_of(&self, copy: u32) -> u32 {
        let (shard, i) = self.at(copy);
        shard.record[i]
    }

    fn first_of(&self, copy: u32) -> u64 {
        let (shard, i) = self.at(copy);
        shard.first[i]
    }
}

impl Shard {
    fn id(&self, i: usize) -> &[u8] {
        id_in(&self.ends, &self.ids, i)
    }

    fn find(&self, hash: u64, s: u16, id: &[u8]) -> Option<u32> {
        self.table.find(hash, |&i| self.source[i as usize] == s && self.id(i as usize) == id).copied()
    }

    /// Count the copy at `pos` of order (`s`, `id`): the largest `pos` is the last-read copy.
    fn add(&mut self, state: &PlFixedStateQuality, hash: u64, (s, id, pos, record): Row) -> Result<()> {
        let Shard { source: sources, ends, ids, pos: positions, first, record: records, table } = self;
        let same = |&i: &u32| sources[i as usize] == s && id_in(ends, ids, i as usize) == id.as_bytes();
        let rehash = |&i: &u32| state.hash_one((sources[i as usize], id_in(ends, ids, i as usize)));
        match table.entry(hash, same, rehash) {
            Entry::Occupied(e) => {
                let i = *e.get() as usize;
                if pos > positions[i] {
                    (positions[i], records[i]) = (pos, record);
                }
                first[i] = first[i].min(pos);
            }
            Entry::Vacant(e) => {
                let i = positions.len() as u32;
                if i >= 1 << LOCAL_BITS {
                    return Err(Error::Internal("too many orders for the lines' hash table".into()));
                }
                e.insert(i);
                ids.extend_from_slice(id.as_bytes());
                ends.push(u32::try_from(ids.len()).map_err(|_| Error::Internal("over 4 GB of order ids in a shard".into()))?);
                sources.push(s);
                positions.push(pos);
                first.push(pos);
                records.push(record);
            }
        }
        Ok(())
    }
}

/// A usable copy of an order: its source's index, id, `_pos` and record.
type Row<'a> = (u16, &'a str, u64, u32);

fn id_in<'a>(ends: &[u32], ids: &'a [u8], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &ids[start..ends[i] as usize]
}

impl OrderIndex {
    /// From the usable copies of orders, in frames of `source`, `order_id`, `_pos` and `_rec`
    /// (collected one at a time). `orders` (about how many copies) and `id_bytes` (their ids'
    /// mean length) size the shards once: grown by doubling, they held about 60 bytes an order.
    pub fn build(frames: impl IntoIterator<Item = Result<LazyFrame>>, orders: usize, id_bytes: usize) -> Result<OrderIndex> {
        // A shard's share, with a margin for the hash's uneven split.
        let per_shard = (orders >> SHARD_BITS) + (orders >> (SHARD_BITS + 5)) + 64;
        let shard = || Shard {
            table: HashTable::with_capacity(per_shard),
            source: Vec::with_capacity(per_shard),
            ends: Vec::with_capacity(per_shard),
            ids: Vec::with_capacity(per_shard * id_bytes),
            pos: Vec::with_capacity(per_shard),
            first: Vec::with_capacity(per_shard),
            record: Vec::with_capacity(per_shard),
        };
        let mut copies = Copies { shards: (0..1 << SHARD_BITS).map(|_| shard()).collect(), ..Default::default() };
        for frame in frames {
            let df = io::collect(frame?)?;
            let typed = || -> PolarsResult<_> {
                Ok((df.column("source")?.str()?, df.column("order_id")?.str()?, df.column("_pos")?.u64()?, df.column(REC)?.u32()?))
            };
            let (sources, ids, pos, keys) = typed().map_err(|e| Error::internal("orders' last-read copies", e))?;
            let mut rows: Vec<Row> = Vec::with_capacity(df.height());
            for (((source, id), pos), key) in sources.iter().zip(ids.iter()).zip(pos.iter()).zip(keys.iter()) {
                // Ingest quarantines a row without its source, id or time.
                let (Some(source), Some(id), Some(pos)) = (source, id, pos) else {
                    return Err(Error::Internal("a usable order without its source, id or position".into()));
                };
                rows.push((copies.source_index(source)?, id, pos, key.unwrap_or(NO_RECORD)));
            }
            let hashes: Vec<u64> = rows.par_iter().map(|r| copies.hash(r.0, r.1)).collect();
            let mut by_shard: Vec<Vec<u32>> = vec![Vec::new(); 1 << SHARD_BITS];
            for (i, h) in hashes.iter().enumerate() {
                by_shard[shard_of(*h)].push(i as u32);
            }
            let state = &copies.state;
            copies
                .shards
                .par_iter_mut()
                .zip(by_shard)
                .try_for_each(|(shard, mine)| mine.into_iter().try_for_each(|i| shard.add(state, hashes[i as usize], rows[i as usize])))?;
        }
        Ok(OrderIndex(Arc::new(copies)))
    }

    /// How many orders it holds.
    pub fn orders(&self) -> usize {
        self.0.shards.iter().map(|s| s.pos.len()).sum()
    }

    /// The bytes the table holds (its vectors' and hash tables' allocations).
    pub fn bytes(&self) -> usize {
        let shard = |s: &Shard| {
            s.source.capacity() * 2
                + s.ends.capacity() * 4
                + s.ids.capacity()
                + s.pos.capacity() * 8
                + s.first.capacity() * 8
                + s.record.capacity() * 4
                + s.table.allocation_size()
        };
        self.0.shards.iter().map(shard).sum()
    }

    /// Every last-read copy: `_pos`, its order's first-read copy's (`FIRST`) and its record
    /// (`_rec`; null: unknown customer).
    pub fn used(&self) -> Result<DataFrame> {
        let shards = &self.0.shards;
        let pos: Vec<u64> = shards.iter().flat_map(|s| s.pos.iter().copied()).collect();
        let first: Vec<u64> = shards.iter().flat_map(|s| s.first.iter().copied()).collect();
        let record: Vec<Option<u32>> = shards.iter().flat_map(|s| s.record.iter().map(|&p| (p != NO_RECORD).then_some(p))).collect();
        df!("_pos" => pos, FIRST => first, REC => record).map_err(|e| Error::internal("orders' last-read copies", e))
    }

    /// `lines` with their order's first-read copy's position (`order`) and last-read copy's
    /// record (`_rec`): both null for a line of no usable order, or of an order of an unknown
    /// customer.
    pub fn lookup(&self, lines: LazyFrame, order: &str) -> LazyFrame {
        let copies = self.0.clone();
        let find = move |c: &mut [Column]| {
            let (sources, ids) = (c[0].str()?, c[1].str()?);
            let found: UInt32Chunked = sources
                .iter()
                .zip(ids.iter())
                .map(|(source, id)| copies.find(source?, id?).filter(|&c| copies.record_of(c) != NO_RECORD))
                .collect();
            Ok(found.with_name(COPY.into()).into_column())
        };
        let copy = col("source").map_many(find, &[col("order_id")], |_, _| Ok(Field::new(COPY.into(), DataType::UInt32))).alias(COPY);
        lines
            .with_column(copy)
            .with_columns([self.of_copy(order, DataType::UInt64), self.of_copy(REC, DataType::UInt32)])
            .drop(cols([COPY]))
    }

    /// The first-read copy's `_pos` (as `name`, UInt64) or the last-read copy's record (`_rec`,
    /// UInt32) by `COPY`.
    fn of_copy(&self, name: &str, dtype: DataType) -> Expr {
        let (copies, position) = (self.0.clone(), dtype == DataType::UInt64);
        let take = move |c: Column| {
            let found = c.u32()?;
            let column = if position {
                found.iter().map(|c| c.map(|c| copies.first_of(c))).collect::<UInt64Chunked>().into_column()
            } else {
                found.iter().map(|c| c.map(|c| copies.record_of(c))).collect::<UInt32Chunked>().into_column()
            };
            Ok(column)
        };
        let field = Field::new(name.into(), dtype);
        col(COPY).map(take, move |_, _| Ok(field.clone())).alias(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Copies of orders over two frames (as two buckets): per row source, id, `_pos`, record.
    fn copies() -> OrderIndex {
        let frame = |rows: &[(&str, &str, u64, Option<u32>)]| {
            Ok(df!(
                "source" => rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                "order_id" => rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                "_pos" => rows.iter().map(|r| r.2).collect::<Vec<_>>(),
                REC => rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            )
            .unwrap()
            .lazy())
        };
        // Order shop/1 re-sent by a later file with another customer; crm/1 is another order;
        // shop/2's last copy has an unknown customer.
        let first = frame(&[("shop", "1", 10, Some(0)), ("crm", "1", 11, Some(1)), ("shop", "2", 12, Some(2))]);
        let second = frame(&[("shop", "1", 20, Some(3)), ("shop", "2", 21, None), ("shop", "3", 5, Some(4))]);
        OrderIndex::build([first, second], 1, 1).unwrap()
    }

    #[test]
    fn each_line_takes_its_orders_first_position_and_last_read_record() {
        let lines = df!(
            "source" => [Some("shop"), Some("crm"), Some("shop"), Some("shop"), Some("web"), None, Some("shop")],
            "order_id" => [Some("1"), Some("1"), Some("2"), Some("3"), Some("1"), Some("1"), Some("9")],
        )
        .unwrap();
        let out = copies().lookup(lines.lazy(), "_order").collect().unwrap();
        assert_eq!(out.get_column_names(), ["source", "order_id", "_order", REC]);
        let order: Vec<Option<u64>> = out.column("_order").unwrap().u64().unwrap().iter().collect();
        let key: Vec<Option<u32>> = out.column(REC).unwrap().u32().unwrap().iter().collect();
        assert_eq!(order, [Some(10), Some(11), None, Some(5), None, None, None]);
        assert_eq!(key, [Some(3), Some(1), None, Some(4), None, None, None]);
    }

    #[test]
    fn every_order_has_one_used_copy() {
        let used = copies().used().unwrap().sort(["_pos"], Default::default()).unwrap();
        let pos: Vec<Option<u64>> = used.column("_pos").unwrap().u64().unwrap().iter().collect();
        let first: Vec<Option<u64>> = used.column(FIRST).unwrap().u64().unwrap().iter().collect();
        let key: Vec<Option<u32>> = used.column(REC).unwrap().u32().unwrap().iter().collect();
        assert_eq!(pos, [Some(5), Some(11), Some(20), Some(21)]);
        assert_eq!(first, [Some(5), Some(11), Some(10), Some(12)]);
        assert_eq!(key, [Some(4), Some(1), Some(3), None]);
    }

    #[test]
    fn more_sources_than_an_index_holds_is_an_input_error() {
        let n = u16::MAX as usize + 2;
        let frame = df!(
            "source" => (0..n).map(|i| format!("s{i}")).collect::<Vec<_>>(),
            "order_id" => vec!["1"; n],
            "_pos" => (0..n as u64).collect::<Vec<_>>(),
            REC => vec![0u32; n],
        )
        .unwrap();
        let err = OrderIndex::build([Ok(frame.lazy())], n, 3).err().expect("65,537 sources do not fit");
        assert!(matches!(&err, Error::InputData { message, .. } if message.contains("`source`")), "{err}");
    }

    #[test]
    fn the_table_takes_at_most_its_bytes_an_order() {
        // 300,000 orders of 11-byte ids, each copy sent twice, sized for every copy: the
        // table's allocations stay within 40 + 11 bytes an order.
        let n = 300_000usize;
        let ids: Vec<String> = (0..n).map(|i| format!("O{i:010}")).collect();
        let frame = || {
            Ok(df!(
                "source" => vec!["shop"; n],
                "order_id" => ids.clone(),
                "_pos" => (0..n as u64).collect::<Vec<_>>(),
                REC => vec![0u32; n],
            )
            .unwrap()
            .lazy())
        };
        let orders = OrderIndex::build([frame(), frame()], n, 11).unwrap();
        assert_eq!(orders.orders(), n);
        assert!(orders.bytes() as u64 <= n as u64 * (BYTES_BESIDES_ID + 11), "{} bytes", orders.bytes());
    }
}
