//! Criterion benches of each stage of `portrait run` on generated data (`portrait sample`,
//! SF 0.05 = 5,000 people, about 590k input rows; `PORTRAIT_BENCH_SCALE` changes it):
//!
//!     cargo bench --bench stages
//!
//! Each bench times one stage on the output of the stages before it, as `run` chains them.
//! The whole run against DuckDB is `benches/whole_run.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use portrait::config::{self, Overrides, Plan};
use portrait::stages::{identity, predict};
use portrait::{io, pipeline};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AS_OF: (i32, u32, u32) = (2026, 11, 22);

fn data() -> PathBuf {
    let scale: f64 = std::env::var("PORTRAIT_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(0.05);
    let dir = std::env::temp_dir().join(format!("portrait-bench-sf{scale}"));
    if !dir.join("customers").exists() {
        let as_of = chrono::NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).unwrap();
        portrait::sample::generate(&portrait::sample::Options { scale, seed: 42, as_of }, &dir).expect("generate bench data");
    }
    dir
}

fn plan(input: &Path) -> Plan {
    let overrides = Overrides {
        input: Some(input.to_path_buf()),
        output: Some(std::env::temp_dir().join("portrait-bench-out")),
        as_of: chrono::NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2),
    };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/nightly.toml");
    config::load(&manifest, &overrides).expect("the sample pipeline loads").0
}

fn stages(c: &mut Criterion) {
    let input = data();
    let plan = plan(&input);
    let mut g = c.benchmark_group("stages");
    g.sample_size(10).measurement_time(Duration::from_secs(20));

    let customers = || io::collect(pipeline::customer_records(&pipeline::ingest_all(&plan).unwrap())).unwrap();
    g.bench_function("ingest_customers", |b| b.iter(customers));

    let records = customers();
    let ctx = identity::Context { previous: None, overrides: &[], as_of: Some(plan.as_of) };
    g.bench_function("identity", |b| b.iter(|| identity::resolve_with(&records, &plan.spec.identity, &ctx).unwrap()));

    let (resolved, _) = identity::resolve_with(&records, &plan.spec.identity, &ctx).unwrap();
    let execute = || {
        let built = pipeline::build(&plan, pipeline::ingest_all(&plan).unwrap(), resolved.clone()).unwrap();
        let mut plans = vec![built.profile, built.newest_after, built.identity_map, built.quarantine];
        plans.extend(built.accounting.into_iter().chain(built.unparseable).map(|(_, lf)| lf));
        io::collect_all(plans).unwrap().swap_remove(0)
    };
    g.bench_function("execute", |b| b.iter(execute));

    let profile = execute();
    g.bench_function("models", |b| b.iter(|| predict::predict(profile.clone(), &plan, None).unwrap()));

    let (predicted, outcome) = predict::predict(profile, &plan, None).unwrap();
    let score = || {
        let outputs = pipeline::outputs(&plan, predicted.clone().lazy(), &outcome, None).unwrap();
        io::collect_all(outputs.into_iter().map(|(_, lf)| lf).collect()).unwrap()
    };
    g.bench_function("score", |b| b.iter(score));
    g.finish();
}

use polars::prelude::IntoLazy;

criterion_group!(benches, stages);
criterion_main!(benches);
