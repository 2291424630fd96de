//! Criterion benches of each stage of `portrait run` on generated data (`portrait sample`,
//! SF 0.05 = 5,000 people, about 590k input rows; `PORTRAIT_BENCH_SCALE` changes it):
//!
//!     cargo bench --bench stages
//!
//! Each bench times one stage on the output of the stages before it, as `run` chains them.
//! The whole run against DuckDB is `benches/whole_run.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use portrait::config::{self, Overrides, Plan};
use portrait::day::Day;
use portrait::stages::{identity, predict};
use portrait::{io, outputs, pipeline};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AS_OF: &str = "2026-11-22";

fn data() -> PathBuf {
    let scale: f64 = std::env::var("PORTRAIT_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(0.05);
    let dir = std::env::temp_dir().join(format!("portrait-bench-sf{scale}"));
    if !dir.join("customers").exists() {
        let as_of = Day::parse(AS_OF).unwrap().0;
        portrait::sample::generate(&portrait::sample::Options { scale, seed: 42, as_of, name_variants: 0.2 }, &dir)
            .expect("generate bench data");
    }
    dir
}

fn plan(input: &Path) -> Plan {
    let overrides = Overrides {
        input: Some(input.to_path_buf()),
        output: Some(std::env::temp_dir().join("portrait-bench-out")),
        as_of: Day::parse(AS_OF),
    };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/nightly.toml");
    config::load(&manifest, &overrides).expect("the sample pipeline loads").0
}

fn stages(c: &mut Criterion) {
    let input = data();
    let plan = plan(&input);
    let mut g = c.benchmark_group("stages");
    g.sample_size(10).measurement_time(Duration::from_secs(20));

    let customers = || {
        let ingested = pipeline::ingest_all(&plan).unwrap();
        io::collect(pipeline::customer_records(&ingested[&portrait::schema::Table::Customers])).unwrap()
    };
    g.bench_function("ingest_customers", |b| b.iter(customers));

    let records = customers();
    let ctx = identity::Context { previous: None, overrides: &[], as_of: Some(plan.as_of.0) };
    g.bench_function("identity", |b| b.iter(|| identity::resolve_with(&records, &plan.identity, &ctx).unwrap()));

    let (resolved, _) = identity::resolve_with(&records, &plan.identity, &ctx).unwrap();
    let work = std::env::temp_dir().join("portrait-bench-work");
    let execute = || pipeline::execute(&plan, pipeline::ingest_all(&plan).unwrap(), resolved.clone(), &work).unwrap().profile;
    g.bench_function("execute", |b| b.iter(execute));

    let profile = execute();
    g.bench_function("models", |b| b.iter(|| predict::predict(profile.clone(), &plan, None).unwrap()));

    let (predicted, outcome) = predict::predict(profile, &plan, None).unwrap();
    let score = || {
        let s = outputs::scored(&plan, predicted.clone().lazy(), &outcome, None).unwrap();
        io::collect_all(vec![s.profiles, s.tags, s.segment_summary, s.model_eval, s.profile_changes]).unwrap()
    };
    g.bench_function("score", |b| b.iter(score));
    g.finish();
}

use polars::prelude::IntoLazy;

criterion_group!(benches, stages);
criterion_main!(benches);
