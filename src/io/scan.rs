//! Finding a table's files and opening them lazily. Every polars reader call lives here.

use super::{excel, text};
use crate::config::{Format, TableSource};
use crate::error::{Error, Result};
use polars::prelude::*;
use std::path::{Path, PathBuf};

/// One input file of a table.
#[derive(Clone, Debug)]
pub struct InputFile {
    pub path: PathBuf,
    /// Never `Auto`: decided per file by `discover`.
    pub format: Format,
    pub bytes: u64,
    /// The same content was delivered earlier under this name: the file is not read again.
    pub duplicate_of: Option<PathBuf>,
}

/// The files of a table: a file, a folder walked recursively (Hive `key=value/` folders
/// included; names starting with `_` or `.` skipped as Spark does), or a glob. Sorted by path
/// so that "latest wins" dedupe and row numbers are the same on every run.
pub fn discover(source: &TableSource) -> Result<Vec<InputFile>> {
    let loc = &source.location;
    let text = loc.to_string_lossy();
    let mut paths = Vec::new();
    if text.contains(['*', '?', '[']) {
        let entries = glob::glob(&text).map_err(|e| Error::MissingInput(format!("bad glob {text}: {e}")))?;
        paths.extend(entries.filter_map(|e| e.ok()).filter(|p| p.is_file()));
    } else if loc.is_dir() {
        walk(loc, &mut paths).map_err(|e| Error::input(loc.display(), format!("cannot list folder: {e}")))?;
    } else if loc.is_file() {
        paths.push(loc.clone());
    } else {
        return Err(Error::MissingInput(format!("table {}: no file or folder at {}", source.table.name(), loc.display())));
    }
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let format = match source.format {
            Format::Auto => match Format::from_path(&path) {
                Some(f) => f,
                None => continue, // README, .crc and other non-data files
            },
            f => f,
        };
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        files.push(InputFile { path, format, bytes, duplicate_of: None });
    }
    if files.is_empty() {
        return Err(Error::MissingInput(format!("table {}: no Parquet, CSV or NDJSON files at {}", source.table.name(), loc.display())));
    }
    mark_duplicates(&mut files)?;
    Ok(files)
}

/// A file whose content equals an earlier file's (same size, same sha256) is a re-delivery
/// under another name: marked, logged, and not read, so its rows are counted once. Only files
/// of equal size are hashed, so the usual night costs nothing.
fn mark_duplicates(files: &mut [InputFile]) -> Result<()> {
    let mut by_size: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
    for (i, f) in files.iter().enumerate() {
        by_size.entry(f.bytes).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = by_size.into_values().filter(|g| g.len() > 1).collect();
    groups.sort();
    for group in groups {
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for i in group {
            let (_, digest) = crate::io::parquet::digest(&files[i].path)?;
            match seen.get(&digest) {
                Some(&first) => {
                    tracing::warn!(file = %files[i].path.display(), same_as = %files[first].path.display(), "input delivered twice: read once");
                    files[i].duplicate_of = Some(files[first].path.clone());
                }
                None => {
                    seen.insert(digest, i);
                }
            }
        }
    }
    Ok(())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Open one file lazily with a 1-based `_row` (the data row; for CSV, the line after the
/// header) and return it with its schema. CSV is read as text so that ingest parses every
/// value itself and can tell a garbage value from a missing one; Excel likewise. Text in
/// another encoding than UTF-8 (`source.encoding`) is scanned from its decoded copy in `copies`.
pub fn scan(file: &InputFile, source: &TableSource, copies: &text::DecodedCopies) -> Result<Scanned> {
    let path_str = file.path.to_string_lossy().to_string();
    let mut malformed = Vec::new();
    let lf = match file.format {
        Format::Parquet => {
            if file.bytes < 12 {
                return Err(Error::input(&path_str, format!("not a Parquet file ({} bytes, no footer)", file.bytes)));
            }
            let args = ScanArgsParquet { row_index: row_index(), glob: false, ..Default::default() };
            LazyFrame::scan_parquet(PlRefPath::new(path_str.as_str()), args)
        }
        Format::Csv | Format::Ndjson => {
            let utf8 = text::as_utf8(&file.path, source, copies, file.format == Format::Csv)?;
            let utf8 = match file.format {
                Format::Csv => {
                    malformed = text::ragged_rows(&utf8, separator(&file.path)).map_err(|e| Error::input(&path_str, e))?;
                    utf8
                }
                _ => {
                    let (whole, incomplete) = text::incomplete_json_lines(&utf8, copies)?;
                    malformed = incomplete;
                    whole
                }
            };
            scan_text(file, &utf8)
        }
        Format::Xlsx => {
            return excel::read(&file.path, source.sheet.as_deref()).and_then(|df| with_schema(df.lazy(), file, &path_str, malformed))
        }
        Format::Auto => return Err(Error::Internal(format!("{path_str}: the format was not decided before reading"))),
    }
    .map_err(|e| Error::input(&path_str, format!("cannot open: {e}")))?;
    with_schema(lf, file, &path_str, malformed)
}

/// One input file, opened: its rows (with `_row`, 1 = the first data row), its columns, and
/// the rows of a text file the reader would misread (`text::Malformed`).
pub struct Scanned {
    pub rows: LazyFrame,
    pub schema: Schema,
    pub malformed: Vec<text::Malformed>,
}

fn with_schema(mut lf: LazyFrame, file: &InputFile, path: &str, malformed: Vec<text::Malformed>) -> Result<Scanned> {
    let schema =
        lf.collect_schema().map_err(|e| Error::input(path, format!("cannot read the schema (corrupt or not {:?}?): {e}", file.format)))?;
    Ok(Scanned { rows: lf, schema: (*schema).clone(), malformed })
}

fn row_index() -> Option<RowIndex> {
    Some(RowIndex { name: "_row".into(), offset: 1 })
}

fn separator(path: &Path) -> u8 {
    if path.extension().is_some_and(|e| e == "tsv") {
        b'\t'
    } else {
        b','
    }
}

/// A text file, scanned lazily from `utf8` (the file itself, or its decoded copy).
fn scan_text(file: &InputFile, utf8: &Path) -> PolarsResult<LazyFrame> {
    let p = PlRefPath::new(utf8.to_string_lossy().as_ref());
    match file.format {
        Format::Csv => LazyCsvReader::new(p)
            .with_has_header(true)
            .with_infer_schema_length(Some(0))
            .with_truncate_ragged_lines(true)
            .with_missing_is_null(true)
            .with_raise_if_empty(false)
            .with_glob(false)
            .with_separator(separator(&file.path))
            .with_row_index(row_index())
            .finish(),
        _ => LazyJsonLineReader::new(p)
            .with_infer_schema_length(Some(std::num::NonZeroUsize::new(1000).unwrap()))
            .with_row_index(row_index())
            .finish(),
    }
}
