//! Incremental runs publish what a full run would (docs/design.md, "Incremental runs"): two
//! output roots over the same generated deliveries, day by day, one run as the state allows,
//! the other with `--full`, every table and the row accounting compared by content.

use crate::util::*;
use polars::prelude::*;
use std::path::{Path, PathBuf};

const TABLES: [&str; 11] = [
    "profiles",
    "tags",
    "recommendations",
    "audiences",
    "campaign_eval",
    "identity_map",
    "identity_review",
    "segment_summary",
    "model_eval",
    "profile_changes",
    "quarantine",
];

/// `input` holds the deliveries of `all` up to `day` (of `day` only the first when `first_only`),
/// as links to the delivered files.
fn deliver(all: &Path, input: &Path, day: &str, first_only: bool) {
    for table in std::fs::read_dir(all).unwrap().flatten() {
        let name = table.file_name().to_string_lossy().to_string();
        if name == "truth" {
            continue;
        }
        for folder in std::fs::read_dir(table.path()).unwrap().flatten() {
            let dt = folder.file_name().to_string_lossy().trim_start_matches("dt=").to_string();
            if dt.as_str() > day {
                continue;
            }
            let to = input.join(&name).join(folder.file_name());
            std::fs::create_dir_all(&to).unwrap();
            for file in std::fs::read_dir(folder.path()).unwrap().flatten() {
                let later = dt == day && first_only && file.file_name().to_string_lossy().starts_with("part-2");
                if !later && !to.join(file.file_name()).exists() {
                    std::os::unix::fs::symlink(file.path(), to.join(file.file_name())).unwrap();
                }
            }
        }
    }
}

/// A day's table sorted by every column that sorts (lists do not), for comparing by content.
fn sorted(out: &Path, table: &str, day: &str) -> DataFrame {
    let df = table_at(out, table, day);
    let by: Vec<PlSmallStr> = df.columns().iter().filter(|c| !matches!(c.dtype(), DataType::List(_))).map(|c| c.name().clone()).collect();
    df.sort(by, SortMultipleOptions::default().with_nulls_last(true).with_maintain_order(true)).unwrap()
}

/// Records whose person moved to another bucket, over the incremental runs.
static MOVED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Run `day` into both roots; the incremental run's mode and the reason of a full one.
fn run_both(config: &Path, input: &Path, (inc, full): (&Path, &Path), day: &str) -> (String, String) {
    let run = |out: &Path, extra: &[&str]| {
        let args = [&["run", "--pipeline", s(config), "--input", s(input), "--output", s(out), "--as-of", day][..], extra].concat();
        let o = portrait(&args);
        assert_eq!(o.code, 0, "run {day} {extra:?}:\n{}", o.stderr);
        o.stderr
    };
    let log = run(inc, &[]);
    if log.contains("records moved to a person in another bucket") {
        MOVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // An incremental run cleans only the customer records of the files delivered since.
    let records = |which: &str| log.split(&format!("\"{which}\":")).nth(1).and_then(|t| t.split([',', '}']).next()?.parse::<u64>().ok());
    if log.contains("\"mode\":\"incremental\"") {
        let (new, held) = (records("new").expect("new records logged"), records("held").expect("held records logged"));
        assert!(new < held, "{day}: {new} customer records cleaned, {held} from the state");
    }
    run(full, &["--full"]);
    for table in TABLES {
        assert!(sorted(inc, table, day).equals_missing(&sorted(full, table, day)), "{table} of {day} differs");
    }
    let (a, b) = (manifest_at(inc, day), manifest_at(full, day));
    assert_eq!(a["accounting"], b["accounting"], "row accounting of {day}");
    let execution = &a["execution"];
    (execution["mode"].as_str().unwrap().to_string(), execution["full_because"].as_str().unwrap_or("").to_string())
}

/// Two records of one person on `day` (`source`, `id` each).
fn one_persons_records(out: &Path, day: &str) -> [(String, String); 2] {
    let map = table_at(out, "identity_map", day);
    let keys = map.column("customer_key").unwrap().str().unwrap().clone();
    let (src, id) =
        (map.column("source").unwrap().str().unwrap().clone(), map.column("source_customer_id").unwrap().str().unwrap().clone());
    let mut first: std::collections::HashMap<&str, usize> = Default::default();
    for i in 0..map.height() {
        if let Some(&j) = first.get(keys.get(i).unwrap()) {
            let rec = |k: usize| (src.get(k).unwrap().to_string(), id.get(k).unwrap().to_string());
            return [rec(j), rec(i)];
        }
        first.insert(keys.get(i).unwrap(), i);
    }
    panic!("no person with two records on {day}");
}

/// Records whose key on `day` is a key another record had the day before (people merged).
fn merged(out: &Path, before: &str, day: &str) -> usize {
    let (was, now) = (keys_at(out, before), keys_at(out, day));
    let old_keys: std::collections::HashSet<&String> = was.values().collect();
    was.iter().filter(|(record, key)| now.get(*record).is_some_and(|k| k != *key && old_keys.contains(k))).count()
}

#[test]
fn every_day_incremental_publishes_what_a_full_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let (all, input) = (dir.path().join("deliveries"), dir.path().join("in"));
    let (inc, full) = (dir.path().join("incremental"), dir.path().join("full"));
    let o = portrait(&["sample", "--scale", "0.02", "--seed", "7", "--out", s(&all), "--deliveries", "14"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // Two buckets of people: records that merge two people move rows between buckets.
    let nightly = std::fs::read_to_string(nightly()).unwrap().replace("[identity]\n", "[identity]\noverrides = \"overrides.csv\"\n")
        + "\n[run]\nbuckets = 2\n";
    let config: PathBuf = dir.path().join("pipeline.toml");
    std::fs::write(&config, &nightly).unwrap();
    let overrides = "action,source,source_customer_id,other_source,other_source_customer_id\n";
    std::fs::write(dir.path().join("overrides.csv"), overrides).unwrap();

    let days: Vec<String> = (9..=22).map(|d| format!("2026-11-{d:02}")).collect();
    let (mut modes, mut merges) = (Vec::new(), 0);
    for (i, day) in days.iter().enumerate() {
        if i > 0 {
            let prev = &days[i - 1];
            match day.as_str() {
                // A data steward splits a person in two.
                "2026-11-13" => {
                    let [(s1, i1), (s2, i2)] = one_persons_records(&inc, prev);
                    std::fs::write(dir.path().join("overrides.csv"), format!("{overrides}split,{s1},{i1},{s2},{i2}\n")).unwrap();
                }
                // A person asks to be erased, another not to be contacted.
                "2026-11-15" | "2026-11-17" => {
                    let [(source, id), _] = one_persons_records(&inc, prev);
                    let table = if day == "2026-11-15" { "erasures" } else { "suppressions" };
                    std::fs::create_dir_all(input.join(table)).unwrap();
                    let request =
                        format!("source,source_customer_id,phone_hmac,email_hmac,requested_at\n{source},{id},,,{prev} 08:00:00\n");
                    std::fs::write(input.join(table).join("requests.csv"), request).unwrap();
                }
                // How orders are read changes (a rebuild), then a gate (no rebuild).
                "2026-11-19" => {
                    std::fs::write(&config, nightly.replace("[tables.orders]\n", "[tables.orders]\nformat = \"parquet\"\n")).unwrap()
                }
                "2026-11-20" => {
                    let text = std::fs::read_to_string(&config).unwrap().replacen("max = 0.5", "max = 0.6", 1);
                    std::fs::write(&config, text).unwrap();
                }
                _ => {}
            }
        }
        // Two deliveries of 11-12 and 11-18, each run as it arrives.
        if day == "2026-11-12" || day == "2026-11-18" {
            deliver(&all, &input, day, true);
            modes.push((format!("{day} am"), run_both(&config, &input, (&inc, &full), day)));
        }
        deliver(&all, &input, day, false);
        modes.push((day.clone(), run_both(&config, &input, (&inc, &full), day)));
        if i > 0 {
            merges += merged(&full, &days[i - 1], day);
        }
    }
    let mode = |day: &str| modes.iter().find(|(d, _)| d == day).map(|(_, m)| m.clone()).unwrap();
    assert_eq!(mode("2026-11-09"), ("full".into(), "no state from an earlier run".into()));
    assert!(mode("2026-11-15").1.contains("erasure requests changed"), "{:?}", mode("2026-11-15"));
    assert_eq!(mode("2026-11-19"), ("full".into(), "the input tables' config changed".into()));
    for day in ["2026-11-10", "2026-11-12 am", "2026-11-12", "2026-11-13", "2026-11-17", "2026-11-18 am", "2026-11-18", "2026-11-20"] {
        assert_eq!(mode(day).0, "incremental", "{day}: {modes:?}");
    }
    assert!(merges > 0, "no two people merged on any day");
    assert!(MOVED.load(std::sync::atomic::Ordering::Relaxed) > 0, "no record moved to another bucket");
    // The split held: the two records are two people from that day on.
    let steward = std::fs::read_to_string(dir.path().join("overrides.csv")).unwrap();
    let split: Vec<&str> = steward.lines().nth(1).unwrap().split(',').collect();
    let keys = keys_at(&inc, "2026-11-13");
    assert_ne!(keys[&format!("{}:{}", split[1], split[2])], keys[&format!("{}:{}", split[3], split[4])]);

    // `status` tells what the next run will do; a file read before that changes forces a full
    // run that says which.
    let status = |out: &Path| portrait(&["status", "--output", s(out), "--pipeline", s(&config), "--input", s(&input)]).stdout;
    assert!(status(&inc).contains("state for incremental runs: as-of 2026-11-22"), "{}", status(&inc));
    assert!(status(&inc).contains("next run: incremental"), "{}", status(&inc));
    let changed = std::fs::read_dir(input.join("events/dt=2026-11-20")).unwrap().next().unwrap().unwrap().path();
    let rows = portrait::io::parquet::read(&changed).unwrap();
    std::fs::remove_file(&changed).unwrap();
    let mut fewer = rows.head(Some(rows.height() / 2));
    ParquetWriter::new(std::fs::File::create(&changed).unwrap()).finish(&mut fewer).unwrap();
    let reason = format!("{} changed since it was read", changed.display());
    assert!(status(&inc).contains(&format!("next run: full, because {reason}")), "{}", status(&inc));
    assert_eq!(run_both(&config, &input, (&inc, &full), "2026-11-22"), ("full".to_string(), reason));
}
