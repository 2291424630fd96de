//! The subcommands' work, each calling the library below it: `run` (and backfill),
//! `erase`, `validate`, `explain`, `docs`, `status`, `inspect`, `models`, `identity-eval`, `recommend-eval`, `sample-responses`. No stage,
//! model or store imports a command.

pub mod docs;
pub mod erase;
pub mod explain;
pub mod identity_eval;
pub mod inspect;
pub mod models;
pub mod recommend_eval;
pub mod run;
pub mod sample_responses;
pub mod status;
pub mod validate;
