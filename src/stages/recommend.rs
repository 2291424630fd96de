//! Act, recommendations (个性化推荐): which skus each customer is likely to buy next, from
//! their own paid purchases and what everyone is buying now. The method was chosen by the
//! backtest `portrait recommend-eval` (README "Recommendations"): on a real retailer's year of
//! invoices, people mostly re-buy what they bought before, and among those the items in
//! season now come first.
//!
//! `trending_repurchase`: a customer's own skus scored ln(1 + distinct purchase days) x
//! 0.5^(days since the last / 730) + the sku's share of the top trend (distinct buyers in the
//! last 28 days / the most any sku had); the rest of the list is the trending skus.
//! Baselines of the backtest: popularity, personal repurchase and item-kNN.

/// Days over which a sku's buyers make it "trending" (the backtest's popularity window).
pub const TREND_DAYS: i32 = 28;
/// Weight of the trend against a customer's own purchase score, and the half-life in days of an
/// old purchase's weight: chosen on the backtests of Online Retail II and of generated data
/// (README "Recommendations": the grid tried and what each scored).
const TREND_WEIGHT: f64 = 1.0;
const HALF_LIFE_DAYS: f64 = 730.0;

/// One customer's purchases of one sku: on how many distinct days, and the last (epoch day).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bought {
    pub sku: u32,
    pub days: u32,
    pub last: i32,
}

/// Why a sku is recommended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The customer bought it before (常购商品).
    Repurchase,
    /// Many people are buying it these weeks (近期热销).
    Trending,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Repurchase => "repurchase",
            Reason::Trending => "trending",
        }
    }

    /// The label in the pipeline's locale (`zh` or English).
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Reason::Repurchase, true) => "常购商品",
            (Reason::Repurchase, false) => "you buy this regularly",
            (Reason::Trending, true) => "近期热销",
            (Reason::Trending, false) => "popular these weeks",
        }
    }
}

/// One recommended sku.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ranked {
    pub sku: u32,
    pub score: f64,
    pub reason: Reason,
}

/// What everyone bought in the trend window: distinct buyers per sku id, and the skus in
/// trend order (most buyers first, ties by sku id, only skus someone bought).
pub struct Trend {
    buyers: Vec<u32>,
    most: u32,
    pub order: Vec<u32>,
}

impl Trend {
    /// From distinct buyers per sku id.
    pub fn new(buyers: Vec<u32>) -> Trend {
        let most = buyers.iter().copied().max().unwrap_or(0);
        let mut order: Vec<u32> = (0..buyers.len() as u32).filter(|&s| buyers[s as usize] > 0).collect();
        order.sort_by_key(|&s| (std::cmp::Reverse(buyers[s as usize]), s));
        Trend { buyers, most, order }
    }

    /// A sku's buyers as a share of the most any sku had (0..1).
    fn share(&self, sku: u32) -> f64 {
        match self.most {
            0 => 0.0,
            most => self.buyers.get(sku as usize).copied().unwrap_or(0) as f64 / most as f64,
        }
    }
}

/// Every sku anyone bought, with its category and trend: the global step of the nightly
/// recommendations (from the bucket pass's per-bucket counts).
pub struct Catalogue {
    pub skus: Vec<String>,
    /// Each sku's category id.
    sku_category: Vec<u32>,
    category_index: std::collections::HashMap<String, u32>,
    /// The distinct categories, by category id.
    pub category_names: Vec<String>,
    pub trend: Trend,
}

impl Catalogue {
    /// From one row per sku: `sku`, `category`, `buyers` (distinct buyers in the trend window).
    pub fn new(skus: Vec<String>, categories: Vec<String>, buyers: Vec<u32>) -> Catalogue {
        let (mut category_index, mut category_names) = (std::collections::HashMap::new(), Vec::new());
        let mut sku_category = Vec::with_capacity(categories.len());
        for c in categories {
            let id = *category_index.entry(c.clone()).or_insert_with(|| {
                category_names.push(c);
                category_names.len() as u32 - 1
            });
            sku_category.push(id);
        }
        Catalogue { skus, sku_category, category_index, category_names, trend: Trend::new(buyers) }
    }

    /// A category's id (`u32::MAX` for one no sku of the catalogue has).
    pub fn category_id(&self, name: &str) -> u32 {
        self.category_index.get(name).copied().unwrap_or(u32::MAX)
    }

    /// The category id of a sku id.
    pub fn category_of(&self, sku: u32) -> u32 {
        self.sku_category.get(sku as usize).copied().unwrap_or(u32::MAX)
    }
}

/// The chosen method: a customer's own skus by `ln(1 + days) x decay + trend share`, then
/// the trending skus, `n` in all, best first (ties by sku id). `today`: the as-of day.
pub fn trending_repurchase(own: &[Bought], trend: &Trend, today: i32, n: usize) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = own
        .iter()
        .map(|b| {
            let age = (today - b.last).max(0) as f64;
            let score = (1.0 + b.days as f64).ln() * 0.5f64.powf(age / HALF_LIFE_DAYS) + TREND_WEIGHT * trend.share(b.sku);
            Ranked { sku: b.sku, score, reason: Reason::Repurchase }
        })
        .collect();
    ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.sku.cmp(&b.sku)));
    ranked.truncate(n);
    fill_with_trending(ranked, trend, n)
}

/// Append the trending skus not yet listed until there are `n` (score: trend share).
fn fill_with_trending(mut ranked: Vec<Ranked>, trend: &Trend, n: usize) -> Vec<Ranked> {
    for &sku in &trend.order {
        if ranked.len() >= n {
            break;
        }
        if !ranked.iter().any(|r| r.sku == sku) {
            ranked.push(Ranked { sku, score: trend.share(sku), reason: Reason::Trending });
        }
    }
    ranked
}

/// Baseline: the trending skus, the same list for everyone.
pub fn popularity(trend: &Trend, n: usize) -> Vec<u32> {
    trend.order.iter().copied().take(n).collect()
}

/// Baseline: own skus by distinct purchase days, ties by the most recent, then the trending
/// skus.
pub fn repurchase(own: &[Bought], trend: &Trend, n: usize) -> Vec<u32> {
    let mut own = own.to_vec();
    own.sort_by_key(|b| (std::cmp::Reverse(b.days), std::cmp::Reverse(b.last), b.sku));
    let ranked = own.iter().take(n).map(|b| Ranked { sku: b.sku, score: 0.0, reason: Reason::Repurchase }).collect();
    fill_with_trending(ranked, trend, n).iter().map(|r| r.sku).collect()
}

/// Baseline: item-kNN, cosine similarity of skus over the binary customer x sku matrix; a
/// customer's score of sku j is the sum of sim(i, j) over the skus i they bought (their own
/// skus not excluded).
pub struct ItemKnn<'a> {
    /// Every customer's skus.
    customers: &'a [Vec<Bought>],
    /// Every sku's customers.
    buyers: Vec<Vec<u32>>,
}

impl<'a> ItemKnn<'a> {
    pub fn new(customers: &'a [Vec<Bought>], skus: usize) -> ItemKnn<'a> {
        let mut buyers = vec![Vec::new(); skus];
        for (c, own) in customers.iter().enumerate() {
            for b in own {
                buyers[b.sku as usize].push(c as u32);
            }
        }
        ItemKnn { customers, buyers }
    }

    /// Customer `c`'s top `n`. With n_i the buyers of i: score(j) = sum over i in own of
    /// co(i, j) / sqrt(n_i n_j) = (1 / sqrt(n_j)) sum over customers v of w_v [j in v], where
    /// w_v = sum over i in own and in v of 1 / sqrt(n_i): two passes instead of a sku x sku
    /// matrix.
    pub fn rank(&self, c: usize, n: usize) -> Vec<u32> {
        // Dense accumulators (a hash map per customer was 40x slower on 4,000 skus).
        let mut weight = vec![0.0f64; self.customers.len()];
        for b in &self.customers[c] {
            let buyers = &self.buyers[b.sku as usize];
            let w = 1.0 / (buyers.len() as f64).sqrt();
            for &v in buyers {
                weight[v as usize] += w;
            }
        }
        let mut score = vec![0.0f64; self.buyers.len()];
        for (v, &w) in weight.iter().enumerate().filter(|(_, w)| **w > 0.0) {
            for b in &self.customers[v] {
                score[b.sku as usize] += w;
            }
        }
        let mut ranked: Vec<(u32, f64)> = score
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 0.0)
            .map(|(j, s)| (j as u32, s / (self.buyers[j].len() as f64).sqrt()))
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked.into_iter().take(n).map(|(j, _)| j).collect()
    }
}

/// Ranking quality averaged over customers.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub hit_rate_10: f64,
    pub recall_10: f64,
    pub ndcg_10: f64,
    pub category_hit_rate_5: f64,
}

/// One customer's scores: `ranked` skus (best first) against the skus they bought (`truth`),
/// and the categories of the ranked skus in order of first appearance (the first 5) against
/// the categories they bought. Recall@10 = hits / min(10, |truth|); NDCG@10 with binary
/// relevance: sum of 1 / log2(rank + 1) over hits, over the same for a perfect list.
pub fn score_one(ranked: &[u32], truth: &[u32], category: &dyn Fn(u32) -> u32, truth_categories: &[u32]) -> Metrics {
    let top: Vec<u32> = ranked.iter().copied().take(10).collect();
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let hits: Vec<usize> = top.iter().enumerate().filter(|(_, s)| truth.contains(s)).map(|(i, _)| i).collect();
    let ideal: f64 = (0..truth.len().min(10)).map(gain).sum();
    let mut categories: Vec<u32> = Vec::new();
    for &s in ranked {
        let c = category(s);
        if categories.len() < 5 && !categories.contains(&c) {
            categories.push(c);
        }
    }
    let hit = |b: bool| if b { 1.0 } else { 0.0 };
    Metrics {
        hit_rate_10: hit(!hits.is_empty()),
        recall_10: if truth.is_empty() { 0.0 } else { hits.len() as f64 / truth.len().min(10) as f64 },
        // `+ 0.0`: an empty f64 sum is -0.0.
        ndcg_10: if ideal > 0.0 { (hits.iter().map(|&i| gain(i)).sum::<f64>() + 0.0) / ideal } else { 0.0 },
        category_hit_rate_5: hit(categories.iter().any(|c| truth_categories.contains(c))),
    }
}

/// The mean of per-customer metrics, rounded to 4 places.
pub fn mean(all: &[Metrics]) -> Metrics {
    let n = all.len().max(1) as f64;
    let avg = |f: fn(&Metrics) -> f64| (all.iter().map(f).sum::<f64>() / n * 1e4).round() / 1e4;
    Metrics {
        hit_rate_10: avg(|m| m.hit_rate_10),
        recall_10: avg(|m| m.recall_10),
        ndcg_10: avg(|m| m.ndcg_10),
        category_hit_rate_5: avg(|m| m.category_hit_rate_5),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(sku: u32, days: u32, last: i32) -> Bought {
        Bought { sku, days, last }
    }

    #[test]
    fn metrics_by_hand() {
        // Ranked 5, 1, 7, 2; truth {1, 2, 9}: hits at ranks 2 and 4.
        // Recall = 2 / min(10, 3); NDCG = (1/log2 3 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4)
        //        = (0.630930 + 0.430677) / (1 + 0.630930 + 0.5) = 1.061607 / 2.130930 = 0.498189.
        let cat = |s: u32| s % 2; // odd skus category 1, even 0
        let m = score_one(&[5, 1, 7, 2], &[1, 2, 9], &cat, &[0]);
        assert_eq!((m.hit_rate_10, m.category_hit_rate_5), (1.0, 1.0));
        assert!((m.recall_10 - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.ndcg_10 - 0.498189).abs() < 1e-6, "{}", m.ndcg_10);
        let miss = score_one(&[5, 7], &[2], &cat, &[0]);
        assert_eq!(miss, Metrics::default());
        // Category ranking by first appearance: 5 (1) then 2 (0) — category 0 is second.
        assert_eq!(score_one(&[5, 2], &[4], &cat, &[0]).category_hit_rate_5, 1.0);
    }

    #[test]
    fn baselines_by_hand() {
        // Buyers in the trend window: sku 0: 1, sku 1: 3, sku 2: 3, sku 3: 0, sku 4: 2.
        let trend = Trend::new(vec![1, 3, 3, 0, 2]);
        assert_eq!(popularity(&trend, 3), [1, 2, 4]);
        // Own: sku 3 on 2 days, sku 0 on 2 days but earlier, sku 4 once: 3, 0, 4, then trend 1.
        let own = [b(0, 2, 100), b(3, 2, 120), b(4, 1, 130)];
        assert_eq!(repurchase(&own, &trend, 4), [3, 0, 4, 1]);
        // Item-kNN on customers A {0, 1}, B {1, 2}, C {1}: n = (1, 3, 1); for A,
        // score(0) = sim(0,0) + sim(1,0) = 1 + 1/sqrt(3) = 1.577, score(1) = 1/sqrt(3) + 1 = 1.577,
        // score(2) = co(1,2)/sqrt(3 x 1) = 0.577: 0 and 1 tie (sku order), then 2.
        let customers = vec![vec![b(0, 1, 1), b(1, 1, 1)], vec![b(1, 1, 1), b(2, 1, 1)], vec![b(1, 1, 1)]];
        assert_eq!(ItemKnn::new(&customers, 3).rank(0, 10), [0, 1, 2]);
    }

    #[test]
    fn trending_repurchase_by_hand() {
        let trend = Trend::new(vec![1, 4, 0, 2]);
        let today = 730;
        // sku 0: ln 4 x 0.5^(365/730) + 1/4 = 1.386294 x 0.707107 + 0.25 = 1.230258;
        // sku 3: ln 2 x 0.5^(730/730) + 2/4 = 0.846574; sku 2: ln 2 x 1 + 0 = 0.693147.
        let own = [b(0, 3, 365), b(2, 1, 730), b(3, 1, 0)];
        let ranked = trending_repurchase(&own, &trend, today, 4);
        let skus: Vec<u32> = ranked.iter().map(|r| r.sku).collect();
        assert_eq!(skus, [0, 3, 2, 1]);
        assert!((ranked[0].score - 1.230258).abs() < 1e-6 && (ranked[1].score - 0.846574).abs() < 1e-6);
        assert_eq!(ranked[3].reason, Reason::Trending);
        assert_eq!(ranked[0].reason, Reason::Repurchase);
    }
}
