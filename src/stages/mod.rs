//! The stages of a run, in order: ingest, clean (with identity), features, score, write.

pub mod clean;
pub mod features;
pub mod gates;
pub mod history;
pub mod identity;
pub mod ingest;
pub mod predict;
pub mod privacy;
pub mod score;
pub mod write;
