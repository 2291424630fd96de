//! k-means (Lloyd's algorithm, k-means++ seeding, several restarts from a fixed seed) and the
//! silhouette score used to choose k. Points are rows of a row-major matrix of `dim` columns.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

pub struct Matrix<'a> {
    pub data: &'a [f64],
    pub dim: usize,
}

impl Matrix<'_> {
    pub fn rows(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
}

fn dist2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

#[derive(Clone, Debug)]
pub struct Clustering {
    pub k: usize,
    /// k rows of `dim` values, ordered by cluster size, largest first.
    pub centroids: Vec<Vec<f64>>,
    /// Cluster of each point, 0..k (0 = the largest).
    pub labels: Vec<u32>,
    pub sizes: Vec<usize>,
    /// Sum of squared distances to the assigned centroid.
    pub inertia: f64,
}

fn nearest(p: &[f64], centroids: &[Vec<f64>]) -> (u32, f64) {
    let mut best = (0u32, f64::INFINITY);
    for (j, c) in centroids.iter().enumerate() {
        let d = dist2(p, c);
        if d < best.1 {
            best = (j as u32, d);
        }
    }
    best
}

/// k-means++ seeding: each next centre drawn with probability proportional to D².
fn seed_centroids(m: &Matrix, k: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f64>> {
    let n = m.rows();
    let mut centroids = vec![m.row(rng.gen_range(0..n)).to_vec()];
    let mut d2: Vec<f64> = (0..n).into_par_iter().map(|i| dist2(m.row(i), &centroids[0])).collect();
    while centroids.len() < k {
        let total: f64 = d2.iter().sum();
        let next = if total <= 0.0 {
            rng.gen_range(0..n)
        } else {
            let mut target = rng.gen::<f64>() * total;
            let mut pick = n - 1;
            for (i, d) in d2.iter().enumerate() {
                target -= d;
                if target <= 0.0 {
                    pick = i;
                    break;
                }
            }
            pick
        };
        let c = m.row(next).to_vec();
        d2.par_iter_mut().enumerate().for_each(|(i, d)| *d = d.min(dist2(m.row(i), &c)));
        centroids.push(c);
    }
    centroids
}

fn lloyd(m: &Matrix, mut centroids: Vec<Vec<f64>>, max_iter: usize) -> (Vec<Vec<f64>>, Vec<u32>, f64) {
    let (n, k, dim) = (m.rows(), centroids.len(), m.dim);
    let mut labels = vec![u32::MAX; n];
    let mut inertia = 0.0;
    for _ in 0..max_iter {
        let assigned: Vec<(u32, f64)> = (0..n).into_par_iter().map(|i| nearest(m.row(i), &centroids)).collect();
        let changed = assigned.iter().zip(&labels).any(|(a, l)| a.0 != *l);
        labels = assigned.iter().map(|a| a.0).collect();
        inertia = assigned.iter().map(|a| a.1).sum();
        if !changed {
            break;
        }
        let mut sums = vec![vec![0.0; dim]; k];
        let mut counts = vec![0usize; k];
        for (i, &l) in labels.iter().enumerate() {
            counts[l as usize] += 1;
            for (s, v) in sums[l as usize].iter_mut().zip(m.row(i)) {
                *s += v;
            }
        }
        for j in 0..k {
            // An emptied cluster keeps its centre (it may win points back next round).
            if counts[j] > 0 {
                centroids[j] = sums[j].iter().map(|s| s / counts[j] as f64).collect();
            }
        }
    }
    (centroids, labels, inertia)
}

/// The best of `restarts` runs (lowest inertia), clusters renumbered by size.
pub fn kmeans(m: &Matrix, k: usize, restarts: usize, seed: u64) -> Option<Clustering> {
    if k == 0 || m.rows() < k {
        return None;
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut best: Option<(Vec<Vec<f64>>, Vec<u32>, f64)> = None;
    for _ in 0..restarts.max(1) {
        let run = lloyd(m, seed_centroids(m, k, &mut rng), 300);
        if best.as_ref().is_none_or(|b| run.2 < b.2) {
            best = Some(run);
        }
    }
    best.map(|(centroids, labels, inertia)| by_size(centroids, labels, inertia))
}

/// Lloyd iterations over `m` from given centres (the centres found on a sample).
pub fn refine(m: &Matrix, centroids: Vec<Vec<f64>>) -> Clustering {
    let (centroids, labels, inertia) = lloyd(m, centroids, 300);
    by_size(centroids, labels, inertia)
}

fn by_size(centroids: Vec<Vec<f64>>, labels: Vec<u32>, inertia: f64) -> Clustering {
    let k = centroids.len();
    let mut sizes = vec![0usize; k];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    let mut order: Vec<usize> = (0..k).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]).then(centroids[a].partial_cmp(&centroids[b]).unwrap_or(std::cmp::Ordering::Equal)));
    let mut new_of = vec![0u32; k];
    for (new, &old) in order.iter().enumerate() {
        new_of[old] = new as u32;
    }
    Clustering {
        k,
        centroids: order.iter().map(|&o| centroids[o].clone()).collect(),
        labels: labels.iter().map(|&l| new_of[l as usize]).collect(),
        sizes: order.iter().map(|&o| sizes[o]).collect(),
        inertia,
    }
}

/// Mean silhouette (Rousseeuw 1987) of the points: (b - a) / max(a, b) with a the mean
/// distance to the own cluster and b to the nearest other. O(n²): callers pass a sample.
pub fn silhouette(m: &Matrix, labels: &[u32], k: usize) -> f64 {
    let n = m.rows();
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut sum = vec![0.0; k];
            let mut count = vec![0usize; k];
            for j in 0..n {
                if i != j {
                    sum[labels[j] as usize] += dist2(m.row(i), m.row(j)).sqrt();
                    count[labels[j] as usize] += 1;
                }
            }
            let own = labels[i] as usize;
            if count[own] == 0 {
                return 0.0; // a singleton cluster scores 0 by convention
            }
            let a = sum[own] / count[own] as f64;
            let b = (0..k).filter(|&c| c != own && count[c] > 0).map(|c| sum[c] / count[c] as f64).fold(f64::INFINITY, f64::min);
            if !b.is_finite() {
                0.0
            } else {
                (b - a) / a.max(b)
            }
        })
        .collect();
    scores.iter().sum::<f64>() / n.max(1) as f64
}

/// Every `step`-th row, so a sample is spread over the data and the same on every run.
pub fn sample_rows(m: &Matrix, max_rows: usize) -> Vec<f64> {
    let step = m.rows().div_ceil(max_rows.max(1)).max(1);
    (0..m.rows()).step_by(step).flat_map(|i| m.row(i).iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three well-separated Gaussian-ish blobs of 200 points around (0,0), (10,10), (-10,10).
    fn blobs() -> (Vec<f64>, Vec<u32>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let centres = [(0.0, 0.0), (10.0, 10.0), (-10.0, 10.0)];
        let (mut data, mut truth) = (Vec::new(), Vec::new());
        for (c, (cx, cy)) in centres.iter().enumerate() {
            for _ in 0..200 {
                data.push(cx + rng.gen_range(-1.5..1.5));
                data.push(cy + rng.gen_range(-1.5..1.5));
                truth.push(c as u32);
            }
        }
        (data, truth)
    }

    #[test]
    fn recovers_three_blobs_and_silhouette_picks_k3() {
        let (data, truth) = blobs();
        let m = Matrix { data: &data, dim: 2 };
        let c = kmeans(&m, 3, 5, 42).unwrap();
        // Every blob maps to exactly one cluster and vice versa.
        for blob in 0..3u32 {
            let labels: std::collections::BTreeSet<u32> =
                truth.iter().zip(&c.labels).filter(|(t, _)| **t == blob).map(|(_, l)| *l).collect();
            assert_eq!(labels.len(), 1, "blob {blob} split over {labels:?}");
        }
        assert_eq!(c.sizes, vec![200, 200, 200]);
        let s: Vec<f64> = (2..=5).map(|k| silhouette(&m, &kmeans(&m, k, 5, 42).unwrap().labels, k)).collect();
        let best = s.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 + 2;
        assert_eq!(best, 3, "silhouettes {s:?}");
        assert!(s[1] > 0.8);
    }

    #[test]
    fn same_seed_same_clusters() {
        let (data, _) = blobs();
        let m = Matrix { data: &data, dim: 2 };
        assert_eq!(kmeans(&m, 4, 3, 1).unwrap().labels, kmeans(&m, 4, 3, 1).unwrap().labels);
    }
}
