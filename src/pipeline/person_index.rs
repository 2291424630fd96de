//! The source records and their people, for the route (docs/design.md, "The steps of a run"). A
//! routed row names its source record by a dense integer (`REC`), never by its person: a
//! record keeps its number from run to run while identity resolution may give it another
//! person (two people merged, or split by a steward), so rows written on an earlier run stay
//! valid and only the small record → person table changes. A person's bucket comes from their
//! `customer_key`, which stays with them: the rows of people nobody touched stay in their
//! bucket whatever else changes.

use crate::error::{Error, Result};
use crate::expr::KEY;
use polars::prelude::*;
use std::sync::Arc;

/// The person (`_key`) of an erased person's records: their rows go to bucket `B + 1`, which
/// the bucket pass only counts.
pub const ERASED: u32 = u32::MAX;

/// A routed row's source record (dense u32, null for a record the customers do not know).
pub const REC: &str = "_rec";

/// The records by source and id, each with its person and bucket (cheap to clone).
#[derive(Clone)]
pub struct PersonIndex(Arc<Records>);

struct Records {
    /// Per source, `source_customer_id` -> record.
    by_source: Vec<(String, PlHashMap<Box<str>, u32>)>,
    /// Per record its person (`_key`; `ERASED` for an erased person's record).
    person: Vec<u32>,
    /// Per person (`_key`) their bucket.
    person_bucket: Vec<u32>,
    buckets: u32,
}

/// FNV-1a of `bytes`: stable across runs, machines and versions (unlike the hasher of a map).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x100_0000_01b3))
}

/// The bucket of the person of `customer_key` among `buckets`.
pub fn bucket_of_key(customer_key: &str, buckets: u32) -> u32 {
    (fnv1a(customer_key.as_bytes()) % buckets as u64) as u32
}

impl PersonIndex {
    /// From an identity map (`source`, `source_customer_id`, `customer_key`, `_key`; a record's
    /// first row wins, as in the map's own dedupe) and the erased people's records (`source`,
    /// `source_customer_id`), whose rows find `ERASED`; records numbered in that order.
    pub fn build(id_map: &DataFrame, erased: &DataFrame, buckets: u32) -> Result<PersonIndex> {
        let internal = |e: PolarsError| Error::internal("identity map", e);
        let text = |df: &DataFrame, name: &str| df.column(name).and_then(|c| c.str().cloned()).map_err(internal);
        let keys = id_map.column(KEY).and_then(|c| c.cast(&DataType::UInt32)).map_err(internal)?;
        let keys = keys.u32().map_err(internal)?;
        let mut records = Records { by_source: Vec::new(), person: Vec::new(), person_bucket: Vec::new(), buckets };
        let (customer_keys, sources, ids) = (text(id_map, "customer_key")?, text(id_map, "source")?, text(id_map, "source_customer_id")?);
        for (((source, id), key), customer_key) in sources.iter().zip(ids.iter()).zip(keys.iter()).zip(customer_keys.iter()) {
            let (Some(source), Some(id), Some(key), Some(customer_key)) = (source, id, key, customer_key) else { continue };
            if records.person_bucket.len() <= key as usize {
                records.person_bucket.resize(key as usize + 1, 0);
            }
            records.person_bucket[key as usize] = bucket_of_key(customer_key, buckets);
            records.insert(source, id, key);
        }
        if erased.height() > 0 {
            let (sources, ids) = (text(erased, "source")?, text(erased, "source_customer_id")?);
            for (source, id) in sources.iter().zip(ids.iter()) {
                if let (Some(source), Some(id)) = (source, id) {
                    records.insert(source, id, ERASED);
                }
            }
        }
        Ok(PersonIndex(Arc::new(records)))
    }

    /// `_rec` of each row's record (`source`, `id`); null for a record the map does not know.
    pub fn lookup(&self, source: Expr, id: Expr) -> Expr {
        let records = self.0.clone();
        let look_up = move |c: &mut [Column]| {
            let (sources, ids) = (c[0].str()?, c[1].str()?);
            let recs: UInt32Chunked = sources.iter().zip(ids.iter()).map(|(source, id)| records.find(source?, id?)).collect();
            Ok(recs.with_name(REC.into()).into_column())
        };
        source.map_many(look_up, &[id], |_, _| Ok(Field::new(REC.into(), DataType::UInt32))).alias(REC)
    }

    /// `_key`: the person of each row's record (`REC`); `ERASED` for an erased person's.
    pub fn person(&self) -> Expr {
        let records = self.0.clone();
        let person = move |c: Column| {
            let keys: UInt32Chunked = c.u32()?.iter().map(|r| r.map(|r| records.person[r as usize])).collect();
            Ok(keys.with_name(KEY.into()).into_column())
        };
        col(REC).map(person, |_, _| Ok(Field::new(KEY.into(), DataType::UInt32))).alias(KEY)
    }

    /// `column`: the bucket of each row: its person's for a usable row (`reason` null) of a
    /// known person (`REC`), `B + 1` for an erased person's, `B` for every other row.
    pub fn bucket(&self, column: &str, reason: Expr) -> Expr {
        let records = self.0.clone();
        let name: PlSmallStr = column.into();
        let field = Field::new(name.clone(), DataType::UInt32);
        let bucket = move |c: &mut [Column]| {
            let (recs, reasons) = (c[0].u32()?, c[1].str()?);
            let rejected = records.buckets;
            let buckets: UInt32Chunked = recs
                .iter()
                .zip(reasons.iter())
                .map(|(rec, reason)| match rec.map(|r| records.person[r as usize]) {
                    Some(ERASED) => Some(rejected + 1),
                    Some(person) if reason.is_none() => Some(records.person_bucket[person as usize]),
                    _ => Some(rejected),
                })
                .collect();
            Ok(buckets.with_name(name.clone()).into_column())
        };
        col(REC).map_many(bucket, &[reason], move |_, _| Ok(field.clone())).alias(column)
    }

    /// Every record's bucket, by record (`B + 1` for an erased person's).
    pub fn record_buckets(&self) -> Vec<u32> {
        let r = &self.0;
        r.person.iter().map(|&p| if p == ERASED { r.buckets + 1 } else { r.person_bucket[p as usize] }).collect()
    }

    /// `column`: the bucket of each person (`_key`).
    pub fn bucket_of_person(&self, column: &str) -> Expr {
        let records = self.0.clone();
        let name: PlSmallStr = column.into();
        let field = Field::new(name.clone(), DataType::UInt32);
        let bucket = move |c: Column| {
            let buckets: UInt32Chunked = c.u32()?.iter().map(|k| k.map(|k| records.person_bucket[k as usize])).collect();
            Ok(buckets.with_name(name.clone()).into_column())
        };
        col(KEY).map(bucket, move |_, _| Ok(field.clone())).alias(column)
    }
}

impl Records {
    /// Number the record (`source`, `id`) if it is new, with its person.
    fn insert(&mut self, source: &str, id: &str, person: u32) {
        let i = match self.by_source.iter().position(|(s, _)| s == source) {
            Some(i) => i,
            None => {
                self.by_source.push((source.to_string(), PlHashMap::default()));
                self.by_source.len() - 1
            }
        };
        let ids = &mut self.by_source[i].1;
        if !ids.contains_key(id) {
            ids.insert(id.into(), self.person.len() as u32);
            self.person.push(person);
        }
    }

    fn find(&self, source: &str, id: &str) -> Option<u32> {
        let (_, ids) = self.by_source.iter().find(|(s, _)| s == source)?;
        ids.get(id).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persons(ids: &[(&str, &str, &str, u32)], erased: &[(&str, &str)], buckets: u32) -> PersonIndex {
        let map = df!(
            "source" => ids.iter().map(|r| r.0).collect::<Vec<_>>(),
            "source_customer_id" => ids.iter().map(|r| r.1).collect::<Vec<_>>(),
            "customer_key" => ids.iter().map(|r| r.2).collect::<Vec<_>>(),
            KEY => ids.iter().map(|r| r.3).collect::<Vec<_>>(),
        )
        .unwrap();
        let erased = df!(
            "source" => erased.iter().map(|r| r.0).collect::<Vec<_>>(),
            "source_customer_id" => erased.iter().map(|r| r.1).collect::<Vec<_>>(),
        )
        .unwrap();
        PersonIndex::build(&map, &erased, buckets).unwrap()
    }

    fn u32s(df: &DataFrame, name: &str) -> Vec<Option<u32>> {
        df.column(name).unwrap().u32().unwrap().iter().collect()
    }

    #[test]
    fn each_record_finds_its_number_and_person_and_an_unknown_one_none() {
        // The same id in two sources is two records; a record listed twice keeps its first person.
        let index =
            persons(&[("shop", "7", "ck_a", 0), ("crm", "7", "ck_b", 1), ("shop", "8", "ck_c", 2), ("crm", "7", "ck_d", 3)], &[], 1);
        let rows = df!(
            "source" => [Some("crm"), Some("shop"), Some("shop"), Some("wechat"), None, Some("shop")],
            "source_customer_id" => [Some("7"), Some("8"), Some("9"), Some("7"), Some("7"), None],
        )
        .unwrap();
        let found =
            rows.lazy().select([index.lookup(col("source"), col("source_customer_id"))]).with_column(index.person()).collect().unwrap();
        assert_eq!(u32s(&found, REC), [Some(1), Some(2), None, None, None, None]);
        assert_eq!(u32s(&found, KEY), [Some(1), Some(2), None, None, None, None]);
    }

    #[test]
    fn rows_go_to_their_persons_bucket_an_erased_persons_to_b_plus_1_the_rest_to_b() {
        let index = persons(&[("shop", "7", "ck_a", 0), ("shop", "8", "ck_b", 1)], &[("crm", "7")], 4);
        let rows = df!(
            "source" => ["shop", "shop", "crm", "shop", "web"],
            "source_customer_id" => ["7", "8", "7", "8", "1"],
            "_reason" => [None, None, None, Some("negative amount"), None],
        )
        .unwrap();
        let out = rows
            .lazy()
            .with_column(index.lookup(col("source"), col("source_customer_id")))
            .select([index.bucket("_b", col("_reason"))])
            .collect()
            .unwrap();
        let (a, b) = (bucket_of_key("ck_a", 4), bucket_of_key("ck_b", 4));
        assert_eq!(u32s(&out, "_b"), [Some(a), Some(b), Some(5), Some(4), Some(4)]);
        // FNV-1a of "a": the published constant 0xaf63dc4c8601ec8c.
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
