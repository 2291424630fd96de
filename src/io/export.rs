//! Frames written as input files, in the formats companies deliver them (the sample
//! generator's data): CSV, NDJSON and plain Parquet, without the published tables' metadata.

use crate::error::{Error, Result};
use polars::prelude::*;
use std::path::Path;

/// A file format an input table can be delivered in.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    Csv,
    Ndjson,
    Parquet,
}

impl Format {
    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Ndjson => "ndjson",
            Format::Parquet => "parquet",
        }
    }
}

/// Write `df` to `path` in `format`; a failure is an I/O error naming the file.
pub fn write(df: &mut DataFrame, path: &Path, format: Format) -> Result<()> {
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let written = match format {
        Format::Csv => CsvWriter::new(file).finish(df),
        Format::Ndjson => JsonWriter::new(file).with_json_format(JsonFormat::JsonLines).finish(df),
        Format::Parquet => ParquetWriter::new(file).with_compression(ParquetCompression::Zstd(None)).finish(df).map(|_| ()),
    };
    written.map_err(|e| match e {
        PolarsError::IO { error, .. } => Error::io(path, std::io::Error::new(error.kind(), error.to_string())),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    })
}
