//! `portrait explain`: the stages in order and the optimised polars plan of every output.
//! Input schemas are read, no data is; identity resolution is shown over an empty map.

use super::validate::empty_resolved;
use crate::config::Plan;
use crate::error::{Error, Result};
use crate::stages::predict;
use crate::{io, outputs, pipeline};
use polars::prelude::*;

pub fn explain(plan: &Plan) -> Result<String> {
    let mut out = String::from(
        "stages: ingest -> identity -> route (clean, key, bucket) -> bucket pass (dedupe, features per person) -> population (statistics over everyone, BG/NBD, Gamma-Gamma, clusters) -> score pass (price tiers, rfm, config features, predictions, segment, lifecycle, tags) -> write\n",
    );
    let copies = io::text::DecodedCopies::temporary();
    let ingested = pipeline::ingest_all(plan, &copies, &pipeline::incremental::Start::Full { reason: "explain".into() })?;
    let resolved = empty_resolved();
    let identity_map = outputs::identity_map::build(crate::stages::identity::identity_map(resolved.clone().lazy()));
    let mut plans = pipeline::explained(plan, ingested, resolved)?;
    // The outputs read the predicted profile; here an empty one with its columns.
    let mut profile = plans.last().map(|(_, lf)| lf.clone()).ok_or_else(|| Error::Internal("no profile plan".into()))?;
    let schema = profile.collect_schema().map_err(|e| Error::internal("profile schema", e))?;
    let (predicted, outcome) = predict::predict(DataFrame::empty_with_schema(&schema), plan, None)?;
    let (p, s) = outputs::scored(plan, predicted.lazy(), &outcome)?;
    plans.extend([
        ("profiles".to_string(), p.profiles),
        ("tags".into(), p.tags),
        ("segment_summary".into(), s.segment_summary),
        ("model_eval".into(), s.model_eval),
        ("profile_changes".into(), s.profile_changes),
        ("identity_map".into(), identity_map),
    ]);
    for (name, lf) in plans {
        out.push_str(&format!("\n== {name} ==\n{}\n", io::explain(&lf)?));
    }
    Ok(out)
}
