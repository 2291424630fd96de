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
        "stages: ingest -> clean (normalise, dedupe, identity) -> features (basic, power, behavior, social, psych) -> predict (BG/NBD, Gamma-Gamma, clusters) -> score (rfm, config features, segment, lifecycle, tags) -> write\n",
    );
    let ingested = pipeline::ingest_all(plan)?;
    let mut built = pipeline::build(plan, ingested, empty_resolved())?;
    out.push_str(&format!("\n== profile (materialised before the models) ==\n{}\n", io::explain(&built.profile)?));
    // The outputs read the predicted profile; here an empty one with its columns.
    let schema = built.profile.collect_schema().map_err(|e| Error::internal("profile schema", e))?;
    let (predicted, outcome) = predict::predict(DataFrame::empty_with_schema(&schema), plan, None)?;
    let s = outputs::scored(plan, predicted.lazy(), &outcome, None)?;
    let plans = [
        ("profiles", s.profiles),
        ("tags", s.tags),
        ("segment_summary", s.segment_summary),
        ("model_eval", s.model_eval),
        ("profile_changes", s.profile_changes),
        ("identity_map", built.identity_map),
        ("quarantine", built.quarantine),
    ];
    for (name, lf) in plans {
        out.push_str(&format!("\n== {name} ==\n{}\n", io::explain(&lf)?));
    }
    Ok(out)
}
