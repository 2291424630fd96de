//! `portrait sample --deliveries`: the same generated rows, delivered day by day with what real
//! deliveries contain.

use crate::util::*;
use polars::prelude::*;
use std::path::Path;

/// Every file of a table, read as text columns, with the `dt` of its folder and its file name.
fn delivered(root: &Path, table: &str) -> DataFrame {
    let mut frames = Vec::new();
    for day in std::fs::read_dir(root.join(table)).unwrap() {
        let day = day.unwrap().path();
        let dt = day.file_name().unwrap().to_str().unwrap().trim_start_matches("dt=").to_string();
        for f in std::fs::read_dir(&day).unwrap() {
            let f = f.unwrap().path();
            let name = f.file_name().unwrap().to_str().unwrap().to_string();
            let df = read_any(&f).lazy().with_columns([lit(dt.clone()).alias("dt"), lit(name).alias("file")]);
            frames.push(df);
        }
    }
    concat(frames, UnionArgs::default()).unwrap().collect().unwrap()
}

/// A generated file with every column as text.
fn read_any(f: &Path) -> DataFrame {
    let df = match f.extension().unwrap().to_str().unwrap() {
        "parquet" => portrait::io::parquet::read(f).unwrap(),
        "csv" => CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(f.to_path_buf()))
            .unwrap()
            .finish()
            .unwrap(),
        _ => LazyJsonLineReader::new(PlRefPath::new(s(f))).finish().unwrap().collect().unwrap(),
    };
    let text: Vec<Expr> = df.get_column_names().iter().map(|c| col(c.as_str()).cast(DataType::String)).collect();
    df.lazy().select(text).collect().unwrap()
}

fn count(df: &DataFrame, filter: Expr) -> usize {
    df.clone().lazy().filter(filter).collect().unwrap().height()
}

#[test]
fn deliveries_hold_the_generated_rows_with_late_rows_resends_and_new_records() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, daily) = (dir.path().join("whole"), dir.path().join("daily"));
    let args = ["sample", "--scale", "0.02", "--seed", "3"];
    assert_eq!(portrait(&[&args[..], &["--out", s(&whole)]].concat()).code, 0);
    let o = portrait(&[&args[..], &["--out", s(&daily), "--deliveries", "14"]].concat());
    assert_eq!(o.code, 0, "{}", o.stderr);

    // The initial load on 2026-11-08, then a folder a day up to as-of, two deliveries a day.
    let orders = delivered(&daily, "orders");
    let days: Vec<String> =
        orders.column("dt").unwrap().unique_stable().unwrap().str().unwrap().iter().map(|d| d.unwrap().to_string()).collect();
    let mut sorted = days.clone();
    sorted.sort();
    assert_eq!(sorted.len(), 15);
    assert_eq!((sorted[0].as_str(), sorted[14].as_str()), ("2026-11-08", AS_OF));
    assert!(count(&orders, col("file").str().starts_with(lit("part-2-")).and(col("dt").eq(lit(AS_OF)))) > 0);

    // The same rows as the one-file-per-chunk layout (customers: plus earlier versions).
    for table in ["orders", "order_items", "events", "social_interactions", "feedback"] {
        let whole_rows =
            read_any(&whole.join(table).join(std::fs::read_dir(whole.join(table)).unwrap().next().unwrap().unwrap().file_name()));
        let daily_rows = delivered(&daily, table).drop_many(["dt", "file"]);
        let sort = |df: DataFrame| {
            let names: Vec<PlSmallStr> = df.get_column_names().into_iter().cloned().collect();
            df.sort(names, SortMultipleOptions::default().with_nulls_last(true)).unwrap()
        };
        assert!(sort(whole_rows).equals_missing(&sort(daily_rows)), "{table}");
    }

    // Late rows: events delivered one to three days after they happened.
    let events = delivered(&daily, "events").lazy().filter(col("dt").neq(lit("2026-11-08"))).collect().unwrap();
    let late = col("event_ts").str().slice(lit(0), lit(10)).lt(col("dt"));
    assert!(count(&events, late.clone()) > 0 && count(&events, late.clone().not()) > count(&events, late));

    // An order re-sent in a later delivery with a new status.
    let copies =
        orders.lazy().group_by([col("order_id")]).agg([col("dt").n_unique().alias("days"), col("status").n_unique().alias("statuses")]);
    assert!(count(&copies.collect().unwrap(), col("days").gt(lit(1)).and(col("statuses").gt(lit(1)))) > 0);

    // Customers: earlier versions of a record (same id, older updated_at, delivered first), and
    // further records of a person whose first record was delivered before.
    let customers = delivered(&daily, "customers");
    let versions = customers.clone().lazy().group_by([col("source"), col("source_customer_id")]).agg([
        len().alias("n"),
        col("dt").n_unique().alias("days"),
        col("updated_at").n_unique().alias("updates"),
    ]);
    assert!(count(&versions.collect().unwrap(), col("n").eq(lit(2)).and(col("days").eq(lit(2))).and(col("updates").eq(lit(2)))) > 0);
    let truth = CsvReadOptions::default()
        .with_infer_schema_length(Some(0))
        .try_into_reader_with_file_path(Some(daily.join("truth/customers_truth.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let first_day = customers
        .lazy()
        .join(
            truth.lazy(),
            [col("source"), col("source_customer_id")],
            [col("source"), col("source_customer_id")],
            JoinArgs::new(JoinType::Inner),
        )
        .group_by([col("entity_id")])
        .agg([col("dt").min().alias("first"), col("dt").max().alias("last")]);
    assert!(count(&first_day.collect().unwrap(), col("first").eq(lit("2026-11-08")).and(col("last").gt(lit("2026-11-08")))) > 0);
}
