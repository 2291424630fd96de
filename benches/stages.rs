//! Criterion benches of each stage of `portrait run` on generated data (`portrait sample`,
//! SF 0.05 = 5,000 people, about 590k input rows; `PORTRAIT_BENCH_SCALE` changes it):
//!
//!     cargo bench --bench stages
//!
//! Each bench times one step on the output of the steps before it, as `run` chains them (the
//! score pass and publishing are timed by the whole run). The whole run against DuckDB is
//! `benches/whole_run.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use polars::prelude::{DataFrame, IntoLazy};
use portrait::config::{self, Overrides, Plan};
use portrait::day::Day;
use portrait::io::text::DecodedCopies;
use portrait::schema::Table;
use portrait::stages::identity;
use portrait::{io, pipeline};
use std::path::{Path, PathBuf};
use std::time::Duration;

const AS_OF: &str = "2026-11-22";

fn data() -> PathBuf {
    let scale: f64 = std::env::var("PORTRAIT_BENCH_SCALE").ok().and_then(|s| s.parse().ok()).unwrap_or(0.05);
    let dir = std::env::temp_dir().join(format!("portrait-bench-sf{scale}"));
    if !dir.join("customers").exists() {
        let as_of = Day::parse(AS_OF).unwrap().0;
        portrait::sample::generate(&portrait::sample::Options { scale, seed: 42, as_of, name_variants: 0.2, deliveries: 0 }, &dir)
            .expect("generate bench data");
    }
    dir
}

fn plan(input: &Path) -> Plan {
    let overrides = Overrides {
        input: Some(input.to_path_buf()),
        output: Some(std::env::temp_dir().join("portrait-bench-out")),
        as_of: Day::parse(AS_OF),
        memory_limit: None,
        full: true,
    };
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pipelines/nightly.toml");
    config::load(&manifest, &overrides).expect("the sample pipeline loads").0
}

/// Every stage as a full run does it (no state).
fn full() -> pipeline::incremental::Start {
    pipeline::incremental::Start::Full { reason: "benchmark".into() }
}

fn stages(c: &mut Criterion) {
    let input = data();
    let plan = plan(&input);
    let copies = DecodedCopies::temporary();
    let mut g = c.benchmark_group("stages");
    g.sample_size(10).measurement_time(Duration::from_secs(20));

    let customers = || {
        let ingested = pipeline::ingest_all(&plan, &copies, &full()).unwrap();
        io::collect(pipeline::customers::records(&ingested[&Table::Customers])).unwrap()
    };
    g.bench_function("ingest_customers", |b| b.iter(customers));

    let records = customers();
    let ctx = identity::Context { previous: None, overrides: &[], as_of: Some(plan.as_of.0) };
    g.bench_function("identity", |b| b.iter(|| identity::resolve_with(&records, &plan.identity, &ctx).unwrap()));

    // Route and bucket pass: every person's per-person columns, on disk.
    let (resolved, _) = identity::resolve_with(&records, &plan.identity, &ctx).unwrap();
    let work = std::env::temp_dir().join("portrait-bench-work");
    let no_one = DataFrame::empty();
    let places = pipeline::Places { work: &work, root: &plan.output_root, run_id: "bench", copies: &copies };
    let execute = || {
        // A full run's routed rows start a state of their own.
        let _ = std::fs::remove_dir_all(portrait::store::state::dir(&plan.output_root));
        let ingested = pipeline::ingest_all(&plan, &copies, &full()).unwrap();
        let (records, nothing_held) = ((resolved.clone(), Default::default()), pipeline::incremental::Held::read(&work, &full()).unwrap());
        pipeline::execute(&plan, ingested, records, &no_one, full(), &nothing_held, &places).unwrap()
    };
    g.bench_function("route_and_bucket_pass", |b| b.iter(execute));

    // The population steps: statistics over everyone and the models' fits.
    let people = execute().people.all().unwrap();
    let population = || {
        let everyone = io::collect(pipeline::population::everyone(people.clone(), &plan)).unwrap();
        pipeline::population::models(people.clone(), everyone.lazy(), &plan, None).unwrap()
    };
    g.bench_function("population", |b| b.iter(population));
    g.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
