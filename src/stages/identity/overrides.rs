//! A data steward's manual decisions (the overrides CSV): records that are one person, and
//! records that must stay apart.

use super::member_id;
use crate::error::{Error, Result};

/// A manual decision from the overrides file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Override {
    /// These two records are one person.
    Link(String, String),
    /// These two records are different people (`None`: this record is nobody else).
    Split(String, Option<String>),
}

/// Read a manual-decisions file: `action,source,source_customer_id,other_source,
/// other_source_customer_id`, action `link` or `split` (a split without the other record
/// keeps the record apart from everyone).
pub fn read_overrides(path: &std::path::Path) -> Result<Vec<Override>> {
    if !path.exists() {
        return Err(Error::MissingInput(format!("identity overrides file {} does not exist", path.display())));
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).map_err(|e| Error::input(path.display(), e.to_string()))?;
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| Error::input(path.display(), format!("row {}: {e}", i + 2)))?;
        let get = |k: usize| row.get(k).map(str::trim).filter(|v| !v.is_empty());
        let bad = |why: &str| Error::input(path.display(), format!("row {}: {why}", i + 2));
        let first = match (get(1), get(2)) {
            (Some(s), Some(id)) => member_id(&s.to_lowercase(), id),
            _ => return Err(bad("source and source_customer_id are required")),
        };
        let other = match (get(3), get(4)) {
            (Some(s), Some(id)) => Some(member_id(&s.to_lowercase(), id)),
            (None, None) => None,
            _ => return Err(bad("give both other_source and other_source_customer_id, or neither")),
        };
        out.push(match (get(0).map(str::to_lowercase).as_deref(), other) {
            (Some("link"), Some(o)) => Override::Link(first, o),
            (Some("link"), None) => return Err(bad("link needs the other record")),
            (Some("split"), o) => Override::Split(first, o),
            _ => return Err(bad("action must be link or split")),
        });
    }
    Ok(out)
}
