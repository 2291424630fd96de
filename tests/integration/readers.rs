//! The outputs open in DuckDB, pyarrow and polars (Python) with the documented columns and
//! types, Hive `dt=` partitions, zstd, statistics and schema_version metadata.

use crate::util::*;

const SCRIPT: &str = r#"
import sys, duckdb, pyarrow.parquet as pq, polars as pl
out = sys.argv[1]
con = duckdb.connect()
rows = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{out}/profiles/*/*.parquet', hive_partitioning=true)").fetchall()
types = {r[0]: r[1] for r in rows}
expect = {"customer_key": "VARCHAR", "basic_age": "INTEGER", "power_total_spend": "DOUBLE", "rfm_r": "TINYINT",
          "rfm_cell": "VARCHAR", "segment": "VARCHAR", "lifecycle_stage": "VARCHAR", "tags": "VARCHAR[]",
          "behavior_last_purchase_date": "DATE", "basic_marketing_opt_in": "BOOLEAN", "dt": "DATE"}
for c, t in expect.items():
    assert types.get(c) == t, (c, types.get(c), t)
n = con.execute(f"SELECT count(*), count(DISTINCT customer_key) FROM read_parquet('{out}/profiles/*/*.parquet')").fetchone()
assert n[0] == n[1] == 10, n
seg = con.execute(f"SELECT segment FROM read_parquet('{out}/segment_summary/*/*.parquet') ORDER BY 1").fetchall()
assert ("champions",) in seg, seg
n_tags = con.execute(f"SELECT count(*) FROM read_parquet('{out}/tags/*/*.parquet')").fetchone()[0]
n_list = con.execute(f"SELECT sum(len(tags)) FROM read_parquet('{out}/profiles/*/*.parquet')").fetchone()[0]
assert n_tags == n_list, (n_tags, n_list)
for table in ["profiles", "tags", "identity_map", "segment_summary", "quarantine"]:
    import glob
    (path,) = glob.glob(f"{out}/{table}/dt=*/part-*.parquet")
    f = pq.ParquetFile(path)
    assert f.metadata.metadata[b"schema_version"] == b"1", table
    rg = f.metadata.row_group(0)
    for i in range(rg.num_columns):
        col = rg.column(i)
        assert col.compression == "ZSTD", (table, col.compression)
        assert col.statistics is not None and col.statistics.has_null_count, (table, col.path_in_schema)
    for field in f.schema_arrow:
        if str(field.type).startswith("timestamp"):
            assert field.type.unit == "us" and field.type.tz == "UTC", (table, field)
    df = pl.read_parquet(path)
    assert df.height == f.metadata.num_rows
    nan = [c for c in df.columns if df[c].dtype == pl.Float64 and df[c].is_nan().any()]
    assert not nan, (table, "NaN in", nan)  # ratios without a denominator are null
print("ok")
"#;

#[test]
fn duckdb_pyarrow_and_polars_read_the_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&nightly(), &tiny(), &out);
    let o = std::process::Command::new("python3")
        .arg("-c")
        .arg(SCRIPT)
        .arg(&out)
        .output()
        .expect("python3 (with duckdb, pyarrow, polars: .ci/run installs them)");
    assert!(
        o.status.success(),
        "readers failed (install with `pip install duckdb pyarrow polars`):\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
