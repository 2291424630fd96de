//! The order lines' dedupe in the bucket pass: of the copies of a line (an order's sku) that
//! re-sent exports bring, the last read wins. A bucket holds millions of lines of which a few
//! percent are copies; this hash pass takes half the time of sorting them by position and
//! deduplicating on the two keys in polars.

use polars::prelude::*;
use rayon::prelude::*;
use std::hash::{BuildHasher, Hash};

/// Whether each row is the last-read copy (largest `pos`) of its (`order`, `sku`). Over the
/// whole column at once (`apply_many`): copies may lie in different chunks.
pub fn is_last_read(order: Expr, sku: Expr, pos: Expr) -> Expr {
    let mask = |c: &mut [Column]| {
        let keys: Vec<(Option<u64>, Option<&str>)> = c[0].u64()?.iter().zip(c[1].str()?.iter()).collect();
        let pos: Vec<u64> = c[2].u64()?.iter().map(|p| p.unwrap_or(0)).collect();
        let state = PlFixedStateQuality::default();
        let keep = last_of_each(&keys, &pos, |k| state.hash_one(k));
        Ok(BooleanChunked::from_slice("_last".into(), &keep).into_column())
    };
    order.apply_many(mask, &[sku, pos], |_, _| Ok(Field::new("_last".into(), DataType::Boolean)))
}

/// Whether each row has the largest `pos` among the rows of its key. Rows are split by the
/// top bits of their key's `hash` into partitions whose hash maps stay in the CPU's cache (one
/// map for every line was nearly three times slower); the rows of a key whose hash a
/// different key already holds are settled exactly among themselves.
fn last_of_each<K: Copy + Eq + Hash + Sync>(keys: &[K], pos: &[u64], hash: impl Fn(&K) -> u64 + Sync) -> Vec<bool> {
    const BITS: u32 = 8;
    let part = |h: u64| (h >> (64 - BITS)) as usize;
    let hashes: Vec<u64> = keys.par_iter().map(&hash).collect();
    let mut starts = vec![0usize; (1 << BITS) + 1];
    for h in &hashes {
        starts[part(*h) + 1] += 1;
    }
    for p in 1..starts.len() {
        starts[p] += starts[p - 1];
    }
    // (hash, row) in partition order, so that each partition reads memory in sequence.
    let mut rows = vec![(0u64, 0usize); keys.len()];
    let mut next = starts.clone();
    for (i, h) in hashes.into_iter().enumerate() {
        rows[next[part(h)]] = (h, i);
        next[part(h)] += 1;
    }
    // Per partition: the rows kept, and the rows whose hash a different key holds.
    let parts: Vec<(Vec<usize>, Vec<usize>)> = (0..1 << BITS)
        .into_par_iter()
        .map(|p| {
            let mut last: PlHashMap<u64, usize> = PlHashMap::with_capacity(starts[p + 1] - starts[p]);
            let mut collided = Vec::new();
            for &(h, i) in &rows[starts[p]..starts[p + 1]] {
                match last.get_mut(&h) {
                    None => {
                        last.insert(h, i);
                    }
                    Some(j) if keys[*j] != keys[i] => collided.push(i),
                    Some(j) if pos[i] > pos[*j] => *j = i,
                    Some(_) => {}
                }
            }
            (last.into_values().collect(), collided)
        })
        .collect();
    let mut keep = vec![false; keys.len()];
    let mut exact: PlHashMap<K, usize> = PlHashMap::new();
    for (kept, collided) in parts {
        kept.into_iter().for_each(|i| keep[i] = true);
        for i in collided {
            let j = exact.entry(keys[i]).or_insert(i);
            if pos[i] > pos[*j] {
                *j = i;
            }
        }
    }
    exact.values().for_each(|&i| keep[i] = true);
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    // Order 1's sku "a" read three times (positions 5, 9, 2: the copy at 9 wins) and "b" once;
    // order 2's "a" twice (7 wins over 3); a line without sku and one without order are keys
    // of their own, their copies deduplicated like any other.
    type Line = (Option<u64>, Option<&'static str>);

    fn lines() -> (Vec<Line>, Vec<u64>) {
        let keys = vec![
            (Some(1), Some("a")),
            (Some(1), Some("b")),
            (Some(2), Some("a")),
            (Some(1), Some("a")),
            (Some(2), Some("a")),
            (Some(1), Some("a")),
            (Some(1), None),
            (None, Some("a")),
            (Some(1), None),
        ];
        (keys, vec![5, 1, 3, 9, 7, 2, 4, 8, 6])
    }
    const KEPT: [bool; 9] = [false, true, false, true, true, false, false, true, true];

    #[test]
    fn the_last_read_copy_of_each_line_is_kept() {
        let (keys, pos) = lines();
        let state = PlFixedStateQuality::default();
        assert_eq!(last_of_each(&keys, &pos, |k| state.hash_one(k)), KEPT);
    }

    #[test]
    fn keys_that_share_a_hash_are_told_apart() {
        // Every key hashes alike: all but the first key are settled by the exact pass.
        let (keys, pos) = lines();
        assert_eq!(last_of_each(&keys, &pos, |_| 42), KEPT);
        assert_eq!(last_of_each(&keys, &pos, |k| k.0.unwrap_or(0) << 60), KEPT);
    }

    #[test]
    fn the_expression_keeps_the_last_copy_across_chunks() {
        let (keys, pos) = lines();
        let frame = |r: std::ops::Range<usize>| {
            df!(
                "order" => keys[r.clone()].iter().map(|k| k.0).collect::<Vec<_>>(),
                "sku" => keys[r.clone()].iter().map(|k| k.1).collect::<Vec<_>>(),
                "pos" => pos[r].to_vec(),
            )
            .unwrap()
        };
        let mut df = frame(0..4);
        df.vstack_mut(&frame(4..9)).unwrap();
        let kept = df.lazy().select([is_last_read(col("order"), col("sku"), col("pos")).alias("kept")]).collect().unwrap();
        let kept: Vec<bool> = kept.column("kept").unwrap().bool().unwrap().iter().map(|b| b == Some(true)).collect();
        assert_eq!(kept, KEPT);
    }
}
