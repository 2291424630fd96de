//! `recommendations`: per customer with a paid purchase, the skus they are likely to buy next
//! (`stages::recommend::trending_repurchase`) and the categories those fall in. Written bucket
//! by bucket in the score pass, from the bucket pass's purchase counts.

use super::{column, ColumnDoc, TableDoc, Values};
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::stages::recommend::{self, Bought, Catalogue, Metrics, Ranked};
use polars::prelude::*;
use std::collections::HashMap;

/// How many categories each customer's list names.
pub const TOP_CATEGORIES: usize = 3;

/// One bucket's rows, and for each of its people who also bought in the 28 days after as-of (a
/// past-dated run) how the chosen method and the popularity and repurchase baselines did.
pub struct Built {
    pub rows: DataFrame,
    /// Per checked person: (method, popularity, repurchase).
    pub checked: Vec<[Metrics; 3]>,
}

/// The rows of one bucket. `bought`: `_key, sku, days, last` (epoch day), `after` per person
/// and sku; `keys`: `_key, customer_key` of the bucket's people; `catalogue`: every sku bought
/// (`ids`: its `sku` with `_sku`, the catalogue's sku id); `today`: as-of (epoch day). People
/// and skus are ranked as integer ids; names are joined on at the end.
pub fn build(
    bought: LazyFrame,
    keys: LazyFrame,
    ids: &DataFrame,
    catalogue: &Catalogue,
    today: i32,
    top_n: usize,
    zh: bool,
) -> Result<Built> {
    let fail = |e: PolarsError| Error::internal("recommendations", e);
    let by_sku = || [col("sku")];
    let bought = crate::io::collect(bought.join(ids.clone().lazy(), by_sku(), by_sku(), JoinArgs::new(JoinType::Left)))?;
    let person = bought.column(KEY).and_then(|c| c.u32()).map_err(fail)?;
    let sku = bought.column("_sku").and_then(|c| c.u32()).map_err(fail)?;
    let days = bought.column("days").and_then(|c| c.cast(&DataType::UInt32)).map_err(fail)?;
    let last = bought.column("last").and_then(|c| c.cast(&DataType::Int32)).map_err(fail)?;
    let category = bought.column("category").and_then(|c| c.str()).map_err(fail)?;
    let (days, last) = (days.u32().map_err(fail)?, last.i32().map_err(fail)?);
    let after = bought.column("after").and_then(|c| c.bool()).map_err(fail)?;
    // Each person's purchases, in the frame's order within a person (a sort, not a map per
    // person, whose hashing was a tenth of scoring), and what they bought later.
    let mut own: Vec<(u32, Bought)> = Vec::with_capacity(bought.height());
    let mut later: HashMap<u32, Vec<(u32, u32)>> = HashMap::new();
    let rows = person.iter().zip(sku.iter()).zip(days.iter().zip(last.iter())).zip(after.iter().zip(category.iter()));
    for (((p, id), (d, l)), (after, category)) in rows {
        let (Some(p), Some(d), Some(l)) = (p, d, l) else { continue };
        match (after == Some(true), id) {
            (false, Some(id)) => own.push((p, Bought { sku: id, days: d, last: l })),
            (true, id) => later.entry(p).or_default().push((id.unwrap_or(u32::MAX), catalogue.category_id(category.unwrap_or_default()))),
            _ => {}
        }
    }
    own.sort_by_key(|(p, _)| *p);
    let mut rows = Rows::default();
    let mut checked = Vec::new();
    for person in own.chunk_by(|a, b| a.0 == b.0) {
        let p = person[0].0;
        let own: Vec<Bought> = person.iter().map(|(_, b)| *b).collect();
        let ranked = recommend::trending_repurchase(&own, &catalogue.trend, today, top_n);
        if let Some(truth) = later.get(&p) {
            checked.push(check(&ranked, &own, truth, catalogue, top_n));
        }
        for (i, r) in ranked.iter().enumerate() {
            rows.push(p, "sku", i, Some(r.sku), catalogue.category_of(r.sku), r.score, r.reason, zh);
        }
        for (i, (category, score, reason)) in top_categories(&ranked, catalogue).into_iter().enumerate() {
            rows.push(p, "category", i, None, category, score, reason, zh);
        }
    }
    let names = |ids: &str, column: &str, values: &[String]| {
        df!(ids => (0..values.len() as u32).collect::<Vec<_>>(), column => values).map(|df| df.lazy()).map_err(fail)
    };
    let in_order = JoinArgs { maintain_order: MaintainOrderJoin::Left, ..JoinArgs::new(JoinType::Left) };
    let left = |lf: LazyFrame, other: LazyFrame, on: &str| lf.join(other, [col(on)], [col(on)], in_order.clone());
    let rows = left(rows.frame()?.lazy(), keys, KEY);
    let rows = left(
        left(rows, names("_sku", "sku", &catalogue.skus)?, "_sku"),
        names("_category", "category", &catalogue.category_names)?,
        "_category",
    );
    let columns = ["customer_key", "kind", "rank", "sku", "category", "score", "reason", "reason_label"];
    // In the order made: people by `_key`, then skus and categories by rank (no sort needed).
    let rows = rows.select(columns.map(col));
    Ok(Built { rows: crate::io::collect(rows)?, checked })
}

/// The table with no rows (its schema, for the dictionary).
pub fn empty() -> Result<DataFrame> {
    let catalogue = Catalogue::new(Vec::new(), Vec::new(), Vec::new(), &[]);
    let keys = df!(KEY => Vec::<u32>::new(), "customer_key" => Vec::<String>::new()).map_err(|e| Error::internal("recommendations", e))?;
    let bought = df!(
        KEY => Vec::<u32>::new(), "sku" => Vec::<String>::new(), "days" => Vec::<u32>::new(),
        "last" => Vec::<i32>::new(), "category" => Vec::<String>::new(), "after" => Vec::<bool>::new()
    )
    .map_err(|e| Error::internal("recommendations", e))?;
    Ok(build(bought.lazy(), keys.lazy(), &ids(&catalogue)?, &catalogue, 0, 1, false)?.rows)
}

/// `sku` -> `_sku`, the catalogue's sku ids, for `build`'s join.
pub fn ids(catalogue: &Catalogue) -> Result<DataFrame> {
    df!("sku" => &catalogue.skus, "_sku" => (0..catalogue.skus.len() as u32).collect::<Vec<_>>())
        .map_err(|e| Error::internal("recommendations", e))
}

/// The categories of a list by the sum of their skus' scores (ties: first listed), with the
/// reason of their best sku: (category id, score, reason).
fn top_categories(ranked: &[Ranked], catalogue: &Catalogue) -> Vec<(u32, f64, recommend::Reason)> {
    let mut categories: Vec<(u32, f64, recommend::Reason)> = Vec::new();
    for r in ranked {
        let c = catalogue.category_of(r.sku);
        match categories.iter_mut().find(|(id, ..)| *id == c) {
            Some(entry) => entry.1 += r.score,
            None => categories.push((c, r.score, r.reason)),
        }
    }
    categories.sort_by(|a, b| b.1.total_cmp(&a.1)); // stable: ties keep list order
    categories.truncate(TOP_CATEGORIES);
    categories
}

/// How a person's list, and the popularity and repurchase baselines, did against what they
/// bought after as-of (`truth`: sku id, category).
fn check(ranked: &[Ranked], own: &[Bought], truth: &[(u32, u32)], catalogue: &Catalogue, top_n: usize) -> [Metrics; 3] {
    let of_sku = |s: u32| catalogue.category_of(s);
    let skus: Vec<u32> = truth.iter().map(|t| t.0).collect();
    let categories: Vec<u32> = truth.iter().map(|t| t.1).collect();
    let method: Vec<u32> = ranked.iter().map(|r| r.sku).collect();
    let lists = [method, recommend::popularity(&catalogue.trend, top_n), recommend::repurchase(own, &catalogue.trend, top_n)];
    lists.map(|list| recommend::score_one(&list, &skus, &of_sku, &categories))
}

/// The rows as ids (`_key`, `_sku`, `_category`), names joined on in `build`.
#[derive(Default)]
struct Rows {
    key: Vec<u32>,
    kind: Vec<&'static str>,
    rank: Vec<u32>,
    sku: Vec<Option<u32>>,
    category: Vec<u32>,
    score: Vec<f64>,
    reason: Vec<&'static str>,
    reason_label: Vec<&'static str>,
}

impl Rows {
    #[allow(clippy::too_many_arguments)] // one argument per column of the row
    fn push(
        &mut self,
        key: u32,
        kind: &'static str,
        i: usize,
        sku: Option<u32>,
        category: u32,
        score: f64,
        reason: recommend::Reason,
        zh: bool,
    ) {
        self.key.push(key);
        self.kind.push(kind);
        self.rank.push(i as u32 + 1);
        self.sku.push(sku);
        self.category.push(category);
        self.score.push((score * 1e4).round() / 1e4);
        self.reason.push(reason.code());
        self.reason_label.push(reason.label(zh));
    }

    fn frame(self) -> Result<DataFrame> {
        df!(
            KEY => self.key,
            "kind" => self.kind,
            "rank" => self.rank,
            "_sku" => self.sku,
            "_category" => self.category,
            "score" => self.score,
            "reason" => self.reason,
            "reason_label" => self.reason_label,
        )
        .map_err(|e| Error::internal("recommendations", e))
    }
}

pub const DOC: TableDoc = TableDoc {
    grain: "customer, kind and rank",
    about: "What each customer with a paid purchase is likely to buy next: skus ranked from their own purchases (by how often and how lately, with what is selling now) and filled with the skus selling most now; then the categories of that list.",
    columns: COLUMNS,
};

const COLUMNS: &[ColumnDoc] = &[
    column("customer_key", "The customer.", "", Values::Said("a profiles.customer_key")),
    column("kind", "A recommended sku, or a category of the customer's list.", "", Values::OneOf(&["sku", "category"])),
    column("rank", "Position in the customer's list of this kind (1 = best).", "", Values::Said("1..top_n (categories 1..3)")),
    column("sku", "The recommended sku (null on category rows).", "", Values::Any),
    column("category", "The sku's category, or the recommended category.", "", Values::Any),
    column("score", "Own purchase score ln(1 + purchase days) x 0.5^(days since the last / 730) + the sku's trend (its buyers in the last 28 days / the most any sku had); a trending sku's trend; a category's sum over its skus.", "score", Values::Between(0.0, f64::INFINITY)),
    column(
        "reason",
        "Why it is recommended: repurchase (bought before), trending (many buyers in the last 28 days), popular (no buyer in the last 28 days, many before).",
        "",
        Values::OneOf(&["repurchase", "trending", "popular"]),
    ),
    column("reason_label", "The reason in the pipeline's locale.", "", Values::Any),
];
