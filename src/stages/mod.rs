//! The stages of a run, in order: ingest, clean (with identity), features, predict, score,
//! privacy, history and gates. Each is one job over lazy frames or a materialised profile;
//! wiring them together is `pipeline`'s, publishing is `store`'s.

pub mod campaign;
pub mod clean;
pub mod erasure;
pub mod features;
pub mod gates;
pub mod history;
pub mod identity;
pub mod ingest;
pub mod predict;
pub mod privacy;
pub mod recommend;
pub mod score;
