//! The guards of identity resolution: clusters that carry their phones and national ids, so
//! that no link chains two people with different ones, and their size, so that no cluster
//! grows past the cap; manual splits keep records apart.

use super::union_find::UnionFind;
use polars::prelude::PlHashMap;

/// Union-find carrying each cluster's phones and national ids, so that no link joins two
/// clusters that hold different ones (the chain guard), and its size (the size cap).
pub(super) struct Clusters {
    pub(super) uf: UnionFind,
    /// Per cluster root, its phones and ids as dense numbers (`value_ids`), not text.
    pub(super) phones: Vec<Vec<u32>>,
    pub(super) ids: Vec<Vec<u32>>,
    /// Records that must stay apart (manual splits): each record's forbidden partners.
    pub(super) apart: PlHashMap<u32, Vec<u32>>,
    /// Records that must stay alone.
    pub(super) alone: Vec<bool>,
}

pub(super) enum Joined {
    Yes,
    Already,
    Conflict,
    Size,
    Override,
}

impl Clusters {
    /// `phones_guarded`: false for a national-id link (the same valid id outweighs a changed phone).
    pub(super) fn join(&mut self, a: u32, b: u32, guarded: bool, phones_guarded: bool, max_size: usize) -> Joined {
        let (ra, rb) = (self.uf.find(a), self.uf.find(b));
        if ra == rb {
            return Joined::Already;
        }
        if self.alone[a as usize] || self.alone[b as usize] || self.breaks_split(ra, rb) {
            return Joined::Override;
        }
        if guarded {
            let differ = |x: &Vec<u32>, y: &Vec<u32>| !x.is_empty() && !y.is_empty() && !x.iter().any(|v| y.contains(v));
            let phones = phones_guarded && differ(&self.phones[ra as usize], &self.phones[rb as usize]);
            if phones || differ(&self.ids[ra as usize], &self.ids[rb as usize]) {
                return Joined::Conflict;
            }
            if (self.uf.size(ra) + self.uf.size(rb)) as usize > max_size {
                return Joined::Size;
            }
        }
        self.uf.union(ra, rb);
        let root = self.uf.find(ra) as usize;
        let other = if root == ra as usize { rb as usize } else { ra as usize };
        for list in [&mut self.phones, &mut self.ids] {
            let moved = std::mem::take(&mut list[other]);
            for v in moved {
                if !list[root].contains(&v) {
                    list[root].push(v);
                }
            }
        }
        Joined::Yes
    }

    fn breaks_split(&mut self, ra: u32, rb: u32) -> bool {
        let pairs: Vec<(u32, u32)> = self.apart.iter().flat_map(|(x, ys)| ys.iter().map(move |y| (*x, *y))).collect();
        pairs.into_iter().any(|(x, y)| {
            let (fx, fy) = (self.uf.find(x), self.uf.find(y));
            (fx == ra && fy == rb) || (fx == rb && fy == ra)
        })
    }
}
