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
    /// Bought by many before, by nobody these weeks: the rest of the popularity order (人气商品).
    Popular,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::Repurchase => "repurchase",
            Reason::Trending => "trending",
            Reason::Popular => "popular",
        }
    }

    /// The label in the pipeline's locale (`zh` or English).
    pub fn label(self, zh: bool) -> &'static str {
        match (self, zh) {
            (Reason::Repurchase, true) => "常购商品",
            (Reason::Repurchase, false) => "you buy this regularly",
            (Reason::Trending, true) => "近期热销",
            (Reason::Trending, false) => "popular these weeks",
            (Reason::Popular, true) => "人气商品",
            (Reason::Popular, false) => "popular with other customers",
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

/// The popularity order of the items (skus; categories in the backtest's category level):
/// most distinct buyers in the trend window first, then most distinct buyers ever, then item
/// id (ids follow the items' names in string order). It gives the popularity list, the fill
/// of every list and the tie-break of every method (docs/design.md, "Recommendations").
pub struct Trend {
    /// Distinct buyers in the trend window, per item id.
    buyers: Vec<u32>,
    most: u32,
    /// Every item someone bought, most popular first.
    pub order: Vec<u32>,
    /// Each item's place in `order` (`u32::MAX`: nobody bought it).
    place: Vec<u32>,
}

impl Trend {
    /// From distinct buyers per item id in the trend window (`recent`) and ever (`ever`).
    pub fn new(recent: Vec<u32>, ever: &[u32]) -> Trend {
        let most = recent.iter().copied().max().unwrap_or(0);
        let ever_of = |i: u32| ever.get(i as usize).copied().unwrap_or(0);
        let bought = |i: u32| recent[i as usize] > 0 || ever_of(i) > 0;
        let mut order: Vec<u32> = (0..recent.len() as u32).filter(|&i| bought(i)).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(recent[i as usize]), std::cmp::Reverse(ever_of(i)), i));
        let mut place = vec![u32::MAX; recent.len()];
        for (p, &i) in order.iter().enumerate() {
            place[i as usize] = p as u32;
        }
        Trend { buyers: recent, most, order, place }
    }

    /// An item's buyers in the trend window as a share of the most any item had (0..1).
    fn share(&self, item: u32) -> f64 {
        match self.most {
            0 => 0.0,
            most => self.buyers.get(item as usize).copied().unwrap_or(0) as f64 / most as f64,
        }
    }

    /// An item's place in the popularity order (0 = the most popular).
    fn place(&self, item: u32) -> u32 {
        self.place.get(item as usize).copied().unwrap_or(u32::MAX)
    }

    /// Items by score, highest first, ties in popularity order.
    fn by_score(&self, a: (u32, f64), b: (u32, f64)) -> std::cmp::Ordering {
        b.1.total_cmp(&a.1).then(self.place(a.0).cmp(&self.place(b.0)))
    }
}

/// Every sku anyone bought, with its category and trend: the population step of the nightly
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
    /// From one row per sku: `sku`, `category`, `buyers` (distinct buyers in the trend window)
    /// and `buyers_ever` (distinct buyers up to as-of).
    pub fn new(skus: Vec<String>, categories: Vec<String>, buyers: Vec<u32>, buyers_ever: &[u32]) -> Catalogue {
        let (mut category_index, mut category_names) = (std::collections::HashMap::new(), Vec::new());
        let mut sku_category = Vec::with_capacity(categories.len());
        for c in categories {
            let id = *category_index.entry(c.clone()).or_insert_with(|| {
                category_names.push(c);
                category_names.len() as u32 - 1
            });
            sku_category.push(id);
        }
        Catalogue { skus, sku_category, category_index, category_names, trend: Trend::new(buyers, buyers_ever) }
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
/// the popularity order, `n` in all, best first (ties in popularity order). `today`: the as-of day.
pub fn trending_repurchase(own: &[Bought], trend: &Trend, today: i32, n: usize) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = own
        .iter()
        .map(|b| {
            let age = (today - b.last).max(0) as f64;
            let score = (1.0 + b.days as f64).ln() * 0.5f64.powf(age / HALF_LIFE_DAYS) + TREND_WEIGHT * trend.share(b.sku);
            Ranked { sku: b.sku, score, reason: Reason::Repurchase }
        })
        .collect();
    ranked.sort_by(|a, b| trend.by_score((a.sku, a.score), (b.sku, b.score)));
    ranked.truncate(n);
    fill_with_trending(ranked, trend, n)
}

/// Append the items of the popularity order not yet listed until there are `n` (score: trend
/// share).
fn fill_with_trending(mut ranked: Vec<Ranked>, trend: &Trend, n: usize) -> Vec<Ranked> {
    for &sku in &trend.order {
        if ranked.len() >= n {
            break;
        }
        if !ranked.iter().any(|r| r.sku == sku) {
            let reason = if trend.share(sku) > 0.0 { Reason::Trending } else { Reason::Popular };
            ranked.push(Ranked { sku, score: trend.share(sku), reason });
        }
    }
    ranked
}

/// Baseline: the first `n` items of the popularity order, the same list for everyone.
pub fn popularity(trend: &Trend, n: usize) -> Vec<u32> {
    trend.order.iter().copied().take(n).collect()
}

/// Baseline: own items by distinct purchase days, then the most recent, then the popularity
/// order; filled with the popularity order.
pub fn repurchase(own: &[Bought], trend: &Trend, n: usize) -> Vec<u32> {
    let mut own = own.to_vec();
    own.sort_by_key(|b| (std::cmp::Reverse(b.days), std::cmp::Reverse(b.last), trend.place(b.sku)));
    let ranked = own.iter().take(n).map(|b| Ranked { sku: b.sku, score: 0.0, reason: Reason::Repurchase }).collect();
    fill_with_trending(ranked, trend, n).iter().map(|r| r.sku).collect()
}

/// Baseline: item-kNN, cosine similarity of items over the binary customer x item matrix,
/// sim(i, i) = 0; a customer's score of item j is the sum of sim(i, j) over the items i they
/// bought (their own items not excluded).
pub struct ItemKnn<'a> {
    /// Every customer's items.
    customers: &'a [Vec<Bought>],
    /// Every item's customers.
    buyers: Vec<Vec<u32>>,
}

impl<'a> ItemKnn<'a> {
    pub fn new(customers: &'a [Vec<Bought>], items: usize) -> ItemKnn<'a> {
        let mut buyers = vec![Vec::new(); items];
        for (c, own) in customers.iter().enumerate() {
            for b in own {
                buyers[b.sku as usize].push(c as u32);
            }
        }
        ItemKnn { customers, buyers }
    }

    /// Customer `c`'s score of every item, rounded to 9 decimals (so that float noise does not
    /// break ties). With n_i the buyers of i: sum over own i of co(i, j) / sqrt(n_i n_j) =
    /// (1 / sqrt(n_j)) sum over customers v of w_v [j in v], w_v = sum over own i in v of
    /// 1 / sqrt(n_i): two passes instead of an item x item matrix. An own item j meets itself
    /// once per buyer, n_j / sqrt(n_j) = sqrt(n_j), taken off for sim(j, j) = 0.
    pub fn scores(&self, c: usize) -> Vec<f64> {
        // Dense accumulators (a hash map per customer was much slower).
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
        for b in &self.customers[c] {
            score[b.sku as usize] -= (self.buyers[b.sku as usize].len() as f64).sqrt();
        }
        for (j, s) in score.iter_mut().enumerate() {
            let n = self.buyers[j].len();
            *s = if n == 0 { 0.0 } else { round9((*s / (n as f64).sqrt()).max(0.0)) };
        }
        score
    }
}

/// Baseline: repurchase and item-kNN blended, r / max r + s / max s, where r is the customer's
/// distinct purchase days of an item and s its item-kNN score (a term is 0 when its maximum
/// is); top `n`, ties in popularity order.
pub fn blend(own: &[Bought], knn: &[f64], trend: &Trend, n: usize) -> Vec<u32> {
    let most_days = own.iter().map(|b| b.days).max().unwrap_or(0) as f64;
    let most_knn = knn.iter().copied().fold(0.0, f64::max);
    let mut score: Vec<f64> = knn.iter().map(|&s| if most_knn > 0.0 { s / most_knn } else { 0.0 }).collect();
    if most_days > 0.0 {
        for b in own {
            score[b.sku as usize] += b.days as f64 / most_days;
        }
    }
    score.iter_mut().for_each(|s| *s = round9(*s));
    top(&score, trend, n)
}

/// The `n` items someone bought with the highest scores, ties in popularity order (items that
/// score 0 come in popularity order): item-kNN's list from its scores.
pub fn top(score: &[f64], trend: &Trend, n: usize) -> Vec<u32> {
    let mut ranked: Vec<(u32, f64)> = trend.order.iter().map(|&i| (i, score.get(i as usize).copied().unwrap_or(0.0))).collect();
    let n = n.min(ranked.len());
    if n == 0 {
        return Vec::new();
    }
    ranked.select_nth_unstable_by(n - 1, |&a, &b| trend.by_score(a, b));
    ranked.truncate(n);
    ranked.sort_by(|&a, &b| trend.by_score(a, b));
    ranked.into_iter().map(|(i, _)| i).collect()
}

fn round9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Ranking quality averaged over customers.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Metrics {
    pub hit_rate_10: f64,
    pub recall_10: f64,
    pub ndcg_10: f64,
    pub category_hit_rate_5: f64,
}

/// HitRate, Recall and NDCG at `k` of one list (best first) against the distinct items the
/// customer bought (`truth`): Recall = hits / min(k, |truth|); NDCG with binary relevance, the
/// sum of 1 / log2(rank + 1) over hits over the same for a perfect list.
pub fn at_k(ranked: &[u32], truth: &[u32], k: usize) -> [f64; 3] {
    let gain = |i: usize| 1.0 / ((i + 2) as f64).log2();
    let hits: Vec<usize> = ranked.iter().take(k).enumerate().filter(|(_, s)| truth.contains(s)).map(|(i, _)| i).collect();
    let ideal: f64 = (0..truth.len().min(k)).map(gain).sum();
    [
        if hits.is_empty() { 0.0 } else { 1.0 },
        if truth.is_empty() { 0.0 } else { hits.len() as f64 / truth.len().min(k) as f64 },
        // `+ 0.0`: an empty f64 sum is -0.0.
        if ideal > 0.0 { (hits.iter().map(|&i| gain(i)).sum::<f64>() + 0.0) / ideal } else { 0.0 },
    ]
}

/// One customer's scores of a sku list: `at_k` with k = 10, and whether the first 5 categories
/// of the list (in order of first appearance) hold one they bought (`truth_categories`).
pub fn score_one(ranked: &[u32], truth: &[u32], category: &dyn Fn(u32) -> u32, truth_categories: &[u32]) -> Metrics {
    let [hit_rate_10, recall_10, ndcg_10] = at_k(ranked, truth, 10);
    let mut categories: Vec<u32> = Vec::new();
    for &s in ranked {
        let c = category(s);
        if categories.len() < 5 && !categories.contains(&c) {
            categories.push(c);
        }
    }
    let category_hit = categories.iter().any(|c| truth_categories.contains(c));
    Metrics { hit_rate_10, recall_10, ndcg_10, category_hit_rate_5: if category_hit { 1.0 } else { 0.0 } }
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
        // Buyers in the trend window (and ever): sku 0: 1 (1), sku 1: 3 (3), sku 2: 3 (4),
        // sku 3: 0 (2), sku 4: 2 (2). Popularity: 2 and 1 tie on the window, 2 has more buyers
        // ever; then 4, 0, and 3 (no buyer in the window, but bought).
        let trend = Trend::new(vec![1, 3, 3, 0, 2], &[1, 3, 4, 2, 2]);
        assert_eq!(trend.order, [2, 1, 4, 0, 3]);
        assert_eq!(popularity(&trend, 3), [2, 1, 4]);
        // Own: sku 3 on 2 days, sku 0 on 2 days but earlier, sku 4 once: 3, 0, 4, then 2.
        let own = [b(0, 2, 100), b(3, 2, 120), b(4, 1, 130)];
        assert_eq!(repurchase(&own, &trend, 4), [3, 0, 4, 2]);
        // Equal days and last day: the popularity order (4 before 0), not the sku id.
        assert_eq!(repurchase(&[b(0, 1, 100), b(4, 1, 100)], &trend, 2), [4, 0]);
    }

    #[test]
    fn item_knn_and_blend_by_hand() {
        // Customers A {0, 1}, B {1, 2}, C {1}, D {2, 3}: buyers n = (1, 3, 2, 1). For A, with
        // sim(i, i) = 0: score(0) = sim(1, 0) = 1 / sqrt(3 x 1) = 0.577350269,
        // score(1) = sim(0, 1) = 0.577350269, score(2) = sim(1, 2) = 1 / sqrt(3 x 2) = 0.408248290,
        // score(3) = 0. Popularity (no window buyers; ever 1, 3, 2, 1): 1, 2, 0, 3.
        let customers = vec![vec![b(0, 2, 1), b(1, 1, 1)], vec![b(1, 1, 1), b(2, 1, 1)], vec![b(1, 1, 1)], vec![b(2, 1, 1), b(3, 1, 1)]];
        let trend = Trend::new(vec![0; 4], &[1, 3, 2, 1]);
        let knn = ItemKnn::new(&customers, 4);
        assert_eq!(knn.scores(0), [0.577350269, 0.577350269, 0.40824829, 0.0]);
        // 0 and 1 tie: the more popular 1 first; 3 scores 0 and comes by popularity.
        assert_eq!(top(&knn.scores(0), &trend, 4), [1, 0, 2, 3]);
        // Blend: days / 2 + knn / 0.577350269: sku 0 1 + 1 = 2, sku 1 0.5 + 1 = 1.5,
        // sku 2 0 + 0.707106781, sku 3 0.
        assert_eq!(blend(&customers[0], &knn.scores(0), &trend, 4), [0, 1, 2, 3]);
        assert_eq!(blend(&customers[0], &knn.scores(0), &trend, 2), [0, 1]);
    }

    #[test]
    fn trending_repurchase_by_hand() {
        let trend = Trend::new(vec![1, 4, 0, 2], &[1, 4, 1, 2]);
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
