//! `portrait docs`: the data dictionary of a pipeline's outputs without data, as
//! `DIR/data_dictionary.md` (types from the plan over empty inputs).

use super::validate::output_schemas;
use crate::config::Plan;
use crate::dictionary;
use crate::error::{Error, Result};
use std::path::Path;

pub fn docs(plan: &Plan, out: &Path) -> Result<String> {
    let docs = dictionary::describe(plan, &output_schemas(plan)?)?;
    let path = out.join(dictionary::FILE_NAME);
    crate::store::publish::mkdirs(out)?;
    std::fs::write(&path, dictionary::markdown(plan, &docs)?).map_err(|e| Error::io(&path, e))?;
    Ok(format!("wrote {} ({} tables, {} columns)", path.display(), docs.len(), docs.iter().map(|t| t.columns.len()).sum::<usize>()))
}
