//! Step 5 of a run (docs/design.md), the score pass: per bucket of people, the columns that compare
//! each person with everyone, the models' predictions, the keyed hashes, segment, lifecycle
//! stage, tags, recommendations and audiences; a bucket's parts are staged while the next
//! bucket is scored, so no table of every person is held in memory. The tables over everyone are read back
//! from the staged parts (`outputs::summaries`).

use super::population;
use super::route::Buckets;
use crate::config::{OutputTable, Plan};
use crate::error::{Error, Result};
use crate::expr::KEY;
use crate::io;
use crate::outputs::{self, Staged};
use crate::stages::predict::Outcome;
use crate::stages::recommend::Catalogue;
use crate::stages::{campaign, privacy};
use crate::store::manifest::FileEntry;
use polars::prelude::*;
use std::collections::BTreeMap;

/// The tables written bucket by bucket.
pub const BY_BUCKET: [OutputTable; 4] = [OutputTable::Profiles, OutputTable::Tags, OutputTable::Recommendations, OutputTable::Audiences];

pub struct Scored {
    pub staged: BTreeMap<OutputTable, Staged>,
    /// `model_eval`'s inputs of every bucket (`outputs::ByPerson::holdout`).
    pub holdout: DataFrame,
    /// `model_eval`'s rows of the recommendations (`outputs::model_eval::recommendations`).
    pub recommendations_checked: DataFrame,
    /// Per campaign, the audiences' counts over every bucket.
    pub campaigns: Vec<campaign::Counts>,
}

/// What the score pass reads of the bucket pass: every bucket's per-person columns and
/// purchases per sku, and the skus everyone bought (`Executed`).
pub struct Passed<'a> {
    pub people: &'a Buckets,
    pub bought: &'a Buckets,
    pub catalogue: &'a DataFrame,
    pub buckets: u32,
}

/// What the score pass reads: `everyone`, the statistics of `population::everyone`;
/// `predictions`, the models' columns of every person (`population::models`); `key`, the privacy
/// key, when fields are hashed; `reach`, who campaigns may not select today.
pub struct ScorePass<'a> {
    pub plan: &'a Plan,
    pub passed: Passed<'a>,
    pub everyone: &'a DataFrame,
    pub predictions: &'a DataFrame,
    pub outcome: &'a Outcome,
    pub key: Option<&'a privacy::Key>,
    pub reach: &'a campaign::Reach,
}

/// A bucket's part of a table, on its way to staging.
type Part = (OutputTable, u32, DataFrame);

impl ScorePass<'_> {
    /// Score every bucket of people and stage its parts with `stage(table, bucket, rows)`.
    pub fn run(self, stage: impl Fn(OutputTable, u32, &DataFrame) -> Result<FileEntry> + Sync) -> Result<Scored> {
        // A bucket's parts are staged (encoded, compressed, synced: one thread's work) on their
        // own thread while the next bucket is scored; at most one bucket's parts wait.
        std::thread::scope(|s| {
            let (parts, to_stage) = std::sync::mpsc::sync_channel::<Part>(BY_BUCKET.len());
            let stager = s.spawn(|| stage_all(to_stage, &stage));
            let scored = self.score_buckets(parts);
            let staged = stager.join().unwrap_or_else(|_| Err(Error::Internal("staging panicked".into())));
            // The stager's error first: when it stops, scoring stops for want of a receiver.
            let staged = staged?;
            Ok(Scored { staged, ..scored? })
        })
    }

    /// Score every bucket, sending its parts to `parts`; `staged` of the result is left empty.
    fn score_buckets(self, parts: std::sync::mpsc::SyncSender<Part>) -> Result<Scored> {
        let ScorePass { plan, passed, everyone, predictions, outcome, key, reach } = self;
        let Passed { people, bought, buckets, .. } = passed;
        let catalogue = catalogue(passed.catalogue)?;
        let sku_ids = outputs::recommendations::ids(&catalogue)?;
        let (today, zh) = (plan.as_of.epoch_days(), plan.locale == crate::config::Locale::Zh);
        let mut sent = std::collections::BTreeSet::new();
        let mut holdout: Option<DataFrame> = None;
        let mut checked = Vec::new();
        let mut campaigns: Vec<campaign::Counts> = Vec::new();
        for b in 0..buckets {
            let in_bucket = people.bucket(b)?.select([col(KEY)]);
            let mine = predictions.clone().lazy().join(in_bucket, [col(KEY)], [col(KEY)], JoinArgs::new(JoinType::Semi));
            let compared = population::across_people(people.bucket(b)?, everyone.clone().lazy(), plan);
            let predicted = io::collect(compared.join(mine, [col(KEY)], [col(KEY)], JoinArgs::new(JoinType::Left)))?;
            let keys = predicted.select([KEY, "customer_key"]).map_err(|e| Error::internal("score pass", e))?;
            let scored = outputs::by_person(plan, privacy::hash_fields(predicted, &plan.privacy, key)?.lazy(), outcome)?;
            // The recommender, mostly one thread's work, ranks while polars scores the profiles.
            let (frames, recommendations) = std::thread::scope(|s| {
                let ranked = s.spawn(|| {
                    outputs::recommendations::build(bought.bucket(b)?, keys.lazy(), &sku_ids, &catalogue, today, plan.recommend.top_n, zh)
                });
                let frames = io::collect_all(vec![scored.profiles, scored.tags, scored.holdout]);
                (frames, ranked.join().unwrap_or_else(|_| Err(Error::Internal("the recommender panicked".into()))))
            });
            let [profiles, tags, rows]: [DataFrame; 3] =
                frames?.try_into().map_err(|_| Error::Internal("a score plan was not executed".into()))?;
            let recommendations = recommendations?;
            checked.extend(recommendations.checked);
            let (audiences, counts) = outputs::audiences::build(&profiles, &recommendations.rows, plan, reach)?;
            campaigns.resize_with(counts.len(), Default::default);
            for (all, bucket) in campaigns.iter_mut().zip(&counts) {
                all.campaign.clone_from(&bucket.campaign);
                all.add(bucket);
            }
            match holdout.as_mut() {
                Some(all) => {
                    all.vstack_mut(&rows).map_err(|e| Error::internal("holdout rows", e))?;
                }
                None => holdout = Some(rows),
            }
            for (table, df) in BY_BUCKET.into_iter().zip([profiles, tags, recommendations.rows, audiences]) {
                // Buckets without rows write no part, unless the table would have none at all.
                if df.height() > 0 || (b + 1 == buckets && !sent.contains(&table)) {
                    sent.insert(table);
                    if parts.send((table, b, df)).is_err() {
                        return Err(Error::Internal("staging stopped".into())); // the stager's error is reported
                    }
                }
            }
        }
        let holdout = holdout.ok_or_else(|| Error::Internal("no bucket of people".into()))?;
        Ok(Scored { staged: BTreeMap::new(), holdout, recommendations_checked: outputs::model_eval::recommendations(&checked)?, campaigns })
    }
}

/// Stage every part received, in the order sent.
fn stage_all(
    to_stage: std::sync::mpsc::Receiver<Part>,
    stage: &impl Fn(OutputTable, u32, &DataFrame) -> Result<FileEntry>,
) -> Result<BTreeMap<OutputTable, Staged>> {
    let mut staged: BTreeMap<OutputTable, Staged> = BTreeMap::new();
    for (table, b, df) in to_stage {
        let entry = stage(table, b, &df)?;
        staged.entry(table).or_insert_with(|| Staged { files: Vec::new(), schema: (**df.schema()).clone() }).files.push(entry);
    }
    Ok(staged)
}

/// The skus everyone bought (`sku`, `category`, `buyers`, `buyers_ever`, sorted by sku) as the recommender
/// reads them.
fn catalogue(skus: &DataFrame) -> Result<Catalogue> {
    let fail = |e: PolarsError| Error::internal("skus", e);
    let text = |c: &str| -> Result<Vec<String>> {
        Ok(skus.column(c).and_then(|c| c.str().cloned()).map_err(fail)?.iter().map(|v| v.unwrap_or_default().to_string()).collect())
    };
    let count = |c: &str| -> Result<Vec<u32>> {
        let counts = skus.column(c).and_then(|c| c.cast(&DataType::UInt32)).map_err(fail)?;
        Ok(counts.u32().map_err(fail)?.iter().map(|v| v.unwrap_or(0)).collect())
    };
    Ok(Catalogue::new(text("sku")?, text("category")?, count("buyers")?, &count("buyers_ever")?))
}
