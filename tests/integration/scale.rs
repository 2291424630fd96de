//! The steps of a run (docs/design.md): the memory limit picks the number of buckets of people, and how people
//! are split into buckets never changes an answer.

use crate::util::*;
use polars::prelude::DataFrame;

/// One bucket and 64 publish the same tables, and account for every input row the same way;
/// so do 64 buckets whose order lines find their orders in slices of the orders (a memory
/// limit too small for every order's last-read copy: the sample's 20,000 orders of 11-byte ids take
/// about 20,000 x (32 + 11) = 0.86 MB, 2 slices of half of 1 MB).
#[test]
fn one_bucket_and_sixty_four_publish_the_same_tables() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    assert_eq!(portrait(&["sample", "--scale", "0.01", "--seed", "5", "--out", s(&input)]).code, 0);
    let mut published = Vec::new();
    for (buckets, memory_limit) in [(1, "8GB"), (64, "8GB"), (64, "1MB")] {
        let pipeline = dir.path().join(format!("b{buckets}-{memory_limit}.toml"));
        let text = std::fs::read_to_string(nightly()).unwrap();
        std::fs::write(&pipeline, format!("{text}\n[run]\nbuckets = {buckets}\nmemory_limit = \"{memory_limit}\"\n")).unwrap();
        let out = dir.path().join(format!("out{buckets}-{memory_limit}"));
        let o = portrait(&["run", "--pipeline", s(&pipeline), "--input", s(&input), "--output", s(&out), "--as-of", AS_OF]);
        assert_eq!(o.code, 0, "{}", o.stderr);
        assert_eq!(o.stdout.matches("profiles=").count(), 1, "rows per table, not per part: {}", o.stdout);
        assert_eq!(manifest(&out)["execution"]["buckets"].as_u64(), Some(buckets));
        assert_eq!(o.stderr.contains("\"slices\":1,"), memory_limit != "1MB", "{}", o.stderr);
        published.push(out);
    }
    for many in &published[1..] {
        same_tables(&published[0], many);
    }
}

/// `one` (one bucket) and `many` (64) publish the same tables and accounting.
fn same_tables(one: &std::path::Path, many: &std::path::Path) {
    // The score pass writes profiles and tags one part per bucket of people (each sorted);
    // the other tables are one file.
    for (t, parts) in [("profiles", 64), ("tags", 64), ("identity_map", 1), ("segment_summary", 1)] {
        assert_eq!(table_files_at(one, t, AS_OF).len(), 1, "{t} with one bucket");
        assert_eq!(table_files_at(many, t, AS_OF).len(), parts, "{t} with 64 buckets");
    }
    let sorted = |df: DataFrame, t: &str| match t {
        "profiles" => df.sort(["customer_key"], Default::default()).unwrap(),
        "tags" => df.sort(["customer_key", "tag"], Default::default()).unwrap(),
        _ => df,
    };
    for t in ["profiles", "tags", "identity_map", "segment_summary", "model_eval", "profile_changes", "quarantine"] {
        let (a, b) = (sorted(table(one, t), t), sorted(table(many, t), t));
        assert!(a.height() > 0 || t == "profile_changes" || t == "model_eval", "{t} is empty: the comparison would prove nothing");
        assert!(a.equals_missing(&b), "{t} differs between 1 and 64 buckets:\n{a}\n{b}");
    }
    assert_eq!(manifest(one)["accounting"], manifest(many)["accounting"]);
    let quarantined = manifest(one)["accounting"]["orders"]["quarantined"].as_u64().unwrap();
    let duplicate = manifest(one)["accounting"]["orders"]["duplicate"].as_u64().unwrap();
    assert!(quarantined > 0 && duplicate > 0, "the sample has rejected and re-sent orders to route");
}

/// The bucket count follows the memory limit: a quarter of it per bucket, the fact tables'
/// text files counted at four times their size (tiny: 1797 + 216 + 318 + 2028 + 469 = 4828
/// bytes, 19312 in memory; a 10 KB limit leaves 2500 bytes a bucket: 7.7, so 8 buckets).
#[test]
fn the_memory_limit_picks_the_bucket_count_and_a_bad_limit_is_a_config_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--memory-limit", "10KB"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(manifest(&out)["execution"]["buckets"].as_u64(), Some(8));
    assert_eq!(manifest(&out)["execution"]["memory_limit_bytes"].as_u64(), Some(10_000));
    assert_eq!(table(&out, "profiles").height(), 10);
    let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--memory-limit", "lots"]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    assert!(o.stderr.contains("--memory-limit") && o.stderr.contains("`lots` is not an amount of memory"), "{}", o.stderr);
    // The same checks on the config keys, both listed at once.
    let pipeline = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(nightly()).unwrap();
    std::fs::write(&pipeline, format!("{text}\n[run]\nmemory_limit = \"8 gigs\"\nbuckets = 0\n")).unwrap();
    let o = portrait(&["validate", "--pipeline", s(&pipeline)]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    assert!(o.stderr.contains("run.memory_limit") && o.stderr.contains("run.buckets") && o.stderr.contains("1..=4096"), "{}", o.stderr);
}
