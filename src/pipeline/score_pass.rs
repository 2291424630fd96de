//! Step 5 of DESIGN.md "Scale", the score pass: per bucket of people, the columns that compare
//! each person with everyone, the models' predictions, the keyed hashes, segment, lifecycle
//! stage and tags; the bucket's parts of `profiles` and `tags` are staged as they are made,
//! so no table of every person is held in memory. The tables over everyone are read back
//! from the staged parts (`outputs::summaries`).

use super::global;
use super::route::Buckets;
use crate::config::{OutputTable, Plan};
use crate::error::{Error, Result};
use crate::io;
use crate::outputs::{self, Staged};
use crate::stages::predict::Outcome;
use crate::stages::privacy;
use crate::store::manifest::FileEntry;
use polars::prelude::*;
use std::collections::BTreeMap;

/// The tables written bucket by bucket.
pub const BY_BUCKET: [OutputTable; 2] = [OutputTable::Profiles, OutputTable::Tags];

pub struct Scored {
    pub staged: BTreeMap<OutputTable, Staged>,
    /// `model_eval`'s inputs of every bucket (`outputs::ByPerson::holdout`).
    pub holdout: DataFrame,
}

/// Score every bucket of `people` and stage its parts with `stage(table, bucket, rows)`.
/// `everyone`: the statistics of `global::everyone`; `predictions`: the models' columns of
/// every person (`global::models`); `key`: the privacy key, when fields are hashed.
pub fn score_pass(
    plan: &Plan,
    people: &Buckets,
    buckets: u32,
    everyone: &DataFrame,
    predictions: &DataFrame,
    outcome: &Outcome,
    key: Option<&privacy::Key>,
    mut stage: impl FnMut(OutputTable, u32, &DataFrame) -> Result<FileEntry>,
) -> Result<Scored> {
    let mut staged: BTreeMap<OutputTable, Staged> = BTreeMap::new();
    let mut holdout: Option<DataFrame> = None;
    for b in 0..buckets {
        let mine = predictions.clone().lazy().filter((col("_key") % lit(buckets)).eq(lit(b)));
        let compared = global::across_people(people.bucket(b)?, everyone.clone().lazy(), plan);
        let predicted = io::collect(compared.join(mine, [col("_key")], [col("_key")], JoinArgs::new(JoinType::Left)))?;
        let scored = outputs::by_person(plan, privacy::hash_fields(predicted, &plan.privacy, key)?.lazy(), outcome)?;
        let [profiles, tags, rows]: [DataFrame; 3] = io::collect_all(vec![scored.profiles, scored.tags, scored.holdout])?
            .try_into()
            .map_err(|_| Error::Internal("a score plan was not executed".into()))?;
        for (table, df) in BY_BUCKET.into_iter().zip([profiles, tags]) {
            // Buckets without rows write no part, unless the table would have none at all.
            let none_yet = !staged.contains_key(&table);
            if df.height() > 0 || (b + 1 == buckets && none_yet) {
                let entry = stage(table, b, &df)?;
                let s = staged.entry(table).or_insert_with(|| Staged { files: Vec::new(), schema: (**df.schema()).clone() });
                s.files.push(entry);
            }
        }
        match holdout.as_mut() {
            Some(all) => {
                all.vstack_mut(&rows).map_err(|e| Error::internal("holdout rows", e))?;
            }
            None => holdout = Some(rows),
        }
    }
    let holdout = holdout.ok_or_else(|| Error::Internal("no bucket of people".into()))?;
    Ok(Scored { staged, holdout })
}
