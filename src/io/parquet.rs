//! Writing output tables as Parquet the way analysts' engines expect (README "Outputs").

use crate::error::{Error, Result};
use polars::prelude::*;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Written into every file's key-value metadata; bump when an output column changes meaning.
pub const SCHEMA_VERSION: &str = "1";

#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    pub row_group_size: usize,
    pub zstd_level: i32,
}

impl WriteOptions {
    /// As the pipeline's `[output]` section sets them.
    pub fn of(output: &crate::config::OutputSpec) -> WriteOptions {
        WriteOptions { row_group_size: output.row_group_size, zstd_level: output.zstd_level }
    }
}

/// What was written: rows, and the file's size and sha256 as they are on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// The type a column is published as. Timestamps become INT64 microseconds tagged UTC: Spark
/// rejects nanoseconds and INT96 is deprecated. Unsigned integers become the signed type that
/// holds every value: Hive and StarRocks have no unsigned 64-bit type and Spark reads one as
/// decimal(20,0).
pub fn published_dtype(dtype: &DataType) -> DataType {
    match dtype {
        DataType::Datetime(_, _) => DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC)),
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 | DataType::UInt64 => DataType::Int64,
        other => other.clone(),
    }
}

/// `df` with every column in its published type.
fn as_published(df: &DataFrame) -> Result<DataFrame> {
    let exprs: Vec<Expr> = df
        .schema()
        .iter()
        .map(|(name, dtype)| match published_dtype(dtype) {
            same if same == *dtype => col(name.clone()),
            other => col(name.clone()).cast(other),
        })
        .collect();
    df.clone().lazy().select(exprs).collect().map_err(|e| Error::internal("casting to the published types", e))
}

/// Write `df` to `path` (zstd, explicit row groups, statistics, schema_version) and fsync it.
/// One row group at a time: polars' `finish` first copies a frame of many chunks (one per
/// bucket) into row-group-sized chunks, a second copy of the whole table.
pub fn write(df: &DataFrame, path: &Path, opts: WriteOptions) -> Result<Written> {
    let df = as_published(df)?;
    let mut file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    let level = polars::polars_utils::compression::ZstdLevel::try_new(opts.zstd_level).map_err(|e| Error::internal("zstd level", e))?;
    let failed = |e: PolarsError| match e {
        PolarsError::IO { error, .. } => Error::io(path, std::io::Error::new(error.kind(), error.to_string())),
        other => Error::io(path, std::io::Error::other(other.to_string())),
    };
    let mut writer = ParquetWriter::new(&mut file)
        .with_compression(ParquetCompression::Zstd(Some(level)))
        .with_statistics(StatisticsOptions::full())
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(vec![("schema_version".to_string(), SCHEMA_VERSION.to_string())])))
        .batched(df.schema())
        .map_err(failed)?;
    let rows = opts.row_group_size.max(1);
    for offset in (0..df.height()).step_by(rows) {
        let mut group = df.slice(offset as i64, rows);
        group.rechunk_mut_par();
        writer.write_batch(&group).map_err(failed)?;
    }
    writer.finish().map_err(failed)?;
    drop(writer);
    file.flush().map_err(|e| Error::io(path, e))?;
    file.sync_all().map_err(|e| Error::io(path, e))?;
    let (bytes, sha256) = digest(path)?;
    Ok(Written { rows: df.height() as u64, bytes, sha256 })
}

/// Write an intermediate file of the run (fast compression, no fsync: a crash removes it).
pub fn write_part(df: &mut DataFrame, path: &Path) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let file = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
    ParquetWriter::new(file)
        .with_compression(intermediate_compression()?)
        .finish(df)
        .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    Ok(())
}

/// How the run's intermediate files are compressed: zstd at its fastest level, which writes
/// fewer bytes than LZ4 at the same CPU (large runs wait on the disk).
fn intermediate_compression() -> Result<ParquetCompression> {
    let level = polars::polars_utils::compression::ZstdLevel::try_new(1).map_err(|e| Error::internal("zstd level", e))?;
    Ok(ParquetCompression::Zstd(Some(level)))
}

/// Size and sha256 of a file as it is on disk, read in blocks (a profiles file can be GBs).
pub fn digest(path: &Path) -> Result<(u64, String)> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let bytes = std::io::copy(&mut file, &mut hasher).map_err(|e| Error::io(path, e))?;
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// A Parquet file's row count, from its footer.
pub fn rows(path: &Path) -> Result<u64> {
    let df = scan_files(&[path.to_path_buf()]).and_then(|lf| super::collect(lf.select([len().cast(DataType::UInt64).alias("n")])))?;
    Ok(df.column("n").ok().and_then(|c| c.u64().ok()?.get(0)).unwrap_or(0))
}

/// Parquet files as one lazy frame, in the order given.
pub fn scan_files(files: &[std::path::PathBuf]) -> Result<LazyFrame> {
    let scans = files
        .iter()
        .map(|f| {
            let args = ScanArgsParquet { glob: false, hive_options: HiveOptions::new_disabled(), ..Default::default() };
            LazyFrame::scan_parquet(PlRefPath::new(f.to_string_lossy().as_ref()), args)
        })
        .collect::<PolarsResult<Vec<_>>>()
        .map_err(|e| Error::internal("scanning Parquet files", e))?;
    concat(scans, UnionArgs::default()).map_err(|e| Error::internal("union of Parquet files", e))
}

/// Read a published Parquet table back (previous run's outputs, tests).
pub fn read(path: &Path) -> Result<DataFrame> {
    let p = PlRefPath::new(path.to_string_lossy().as_ref());
    LazyFrame::scan_parquet(p, Default::default()).and_then(|lf| lf.collect()).map_err(|e| Error::input(path.display(), e.to_string()))
}

/// Stream `rows` into Parquet files under `dir`, one folder `<k1>=<v1>/<k2>=<v2>/…` per value
/// of the columns `keys` (which the files do not hold), on the streaming engine, and compute
/// the small results `with` (counts over the same scans) in the same pass; their frames.
pub fn sink_buckets(rows: LazyFrame, dir: &Path, keys: &[&str], with: Vec<LazyFrame>) -> Result<Vec<DataFrame>> {
    let opt = rows.get_current_optimizations();
    // Row groups and file sizes bound what each open bucket file buffers.
    let options = ParquetWriteOptions { compression: intermediate_compression()?, row_group_size: Some(1 << 16), ..Default::default() };
    let sink = rows
        .sink(
            SinkDestination::Partitioned {
                base_path: PlRefPath::new(dir.to_string_lossy().as_ref()),
                file_path_provider: None,
                partition_strategy: PartitionStrategy::Keyed {
                    keys: keys.iter().map(|k| col(*k)).collect(),
                    include_keys: false,
                    keys_pre_grouped: false,
                },
                max_rows_per_file: 1 << 20,
                approximate_bytes_per_file: 64 << 20,
            },
            FileWriteFormat::Parquet(std::sync::Arc::new(options)),
            UnifiedSinkArgs { mkdir: true, maintain_order: false, ..Default::default() },
        )
        .map_err(|e| Error::internal("bucket sink", e))?;
    let mut plans = vec![sink.logical_plan];
    plans.extend(with.into_iter().map(|lf| lf.logical_plan));
    let mut frames = super::guarded(|| LazyFrame::collect_all_with_engine(plans, Engine::Streaming, opt)).map_err(|e| match e {
        // A full disk while writing the buckets is the run's I/O error (exit 74), not the input's.
        Error::InputData { message, .. } if message.contains("os error 28") || message.contains("os error 122") => {
            Error::io(dir, std::io::Error::new(std::io::ErrorKind::StorageFull, message))
        }
        other => other,
    })?;
    frames.remove(0);
    Ok(frames)
}

/// Every Parquet file under `dir` (and its sub-folders), in path order, as one lazy frame; a
/// missing folder is an empty frame of `schema`.
pub fn scan_folder(dir: &Path, schema: &SchemaRef) -> Result<LazyFrame> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files);
    files.sort();
    if files.is_empty() {
        return Ok(DataFrame::empty_with_schema(schema).lazy());
    }
    scan_files(&files)
}

/// The Parquet files under `dir`, recursively, in path order (none when it does not exist).
pub fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files);
    files.sort();
    files
}

/// The Parquet files under `dir`, recursively (none when it does not exist).
fn parquet_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for path in std::fs::read_dir(dir).into_iter().flatten().filter_map(|e| e.ok().map(|e| e.path())) {
        if path.is_dir() {
            parquet_files(&path, files);
        } else if path.extension().is_some_and(|x| x == "parquet") {
            files.push(path);
        }
    }
}
