//! Running like a warehouse job: quality gates stop a publish, backfills run day by day.

use crate::util::{manifest, nightly, portrait, run_ok, s, tiny};
use std::path::Path;

/// The sample pipeline with extra gates appended.
fn pipeline_with(dir: &Path, gates: &str) -> std::path::PathBuf {
    let config = dir.join("pipeline.toml");
    std::fs::write(&config, format!("{}\n{gates}", std::fs::read_to_string(nightly()).unwrap())).unwrap();
    config
}

/// A gate no real day passes: every lifecycle stage but `new` is outside its values.
const ONLY_NEW: &str =
    "[[gates]]\nname = \"only_new_customers\"\ncheck = \"accepted_values\"\ntable = \"profiles\"\ncolumn = \"lifecycle_stage\"\nvalues = [\"new\"]\n";

#[test]
fn a_failing_gate_publishes_nothing_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_with(dir.path(), ONLY_NEW);
    let out = dir.path().join("out");
    let o = portrait(&[
        "--log-format",
        "json",
        "run",
        "--pipeline",
        s(&config),
        "--input",
        s(&tiny()),
        "--output",
        s(&out),
        "--as-of",
        "2026-11-22",
    ]);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(o.stderr.contains("only_new_customers"), "the log names the gate: {}", o.stderr);
    assert!(!out.join("profiles").exists() && !out.join("_manifest").exists(), "nothing published");
    let rejected: Vec<_> = std::fs::read_dir(out.join("_rejected/dt=2026-11-22")).unwrap().collect();
    assert_eq!(rejected.len(), 1, "a report of the rejected run");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(rejected[0].as_ref().unwrap().path()).unwrap()).unwrap();
    let gate = report["gates"].as_array().unwrap().iter().find(|g| g["name"] == "only_new_customers").unwrap();
    assert_eq!(gate["status"], "fail");
    // As a warning the same gate lets the day publish and is recorded in the manifest.
    let config = pipeline_with(dir.path(), &format!("{ONLY_NEW}severity = \"warn\"\n"));
    crate::util::run_ok(&config, &tiny(), &out);
    let m = crate::util::manifest(&out);
    let gate = m["gates"].as_array().unwrap().iter().find(|g| g["name"] == "only_new_customers").unwrap();
    assert_eq!(gate["status"], "warn");
}

#[test]
fn backfill_runs_each_day_skips_published_and_stops_at_the_first_failure() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let input = tiny();
    let run = |config: &Path, from: &str, to: &str, force: bool| {
        let mut args = vec!["run", "--pipeline", s(config), "--input", s(&input), "--output", s(&out), "--from", from, "--to", to];
        if force {
            args.push("--force");
        }
        portrait(&args)
    };
    let o = run(&nightly(), "2026-11-20", "2026-11-22", false);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.contains("published 3 days, skipped 0"), "{}", o.stdout);
    for day in ["2026-11-20", "2026-11-21", "2026-11-22"] {
        assert!(out.join(format!("_manifest/dt={day}/_manifest.json")).exists(), "{day}");
    }
    let o = run(&nightly(), "2026-11-20", "2026-11-22", false);
    assert!(o.stdout.contains("published 0 days, skipped 3"), "{}", o.stdout);
    let o = run(&nightly(), "2026-11-22", "2026-11-22", true);
    assert!(o.stdout.contains("published 1 days, skipped 0"), "{}", o.stdout);
    // The newest order is on 2026-11-23: with a strict freshness gate 11-23 passes, 11-24 fails
    // (one day old) and 11-25 is never tried.
    let config = pipeline_with(dir.path(), "[[gates]]\ncheck = \"freshness\"\ntable = \"orders\"\nmax = 0\n");
    let o = run(&config, "2026-11-23", "2026-11-25", false);
    assert_eq!(o.code, 1, "{}", o.stderr);
    assert!(out.join("_manifest/dt=2026-11-23/_manifest.json").exists());
    assert!(!out.join("_manifest/dt=2026-11-24").exists() && !out.join("_rejected/dt=2026-11-25").exists());
    assert!(out.join("_rejected/dt=2026-11-24").exists());
    assert_eq!(portrait(&["run", "--pipeline", s(&nightly()), "--from", "2026-11-22", "--to", "2026-11-20"]).code, 2, "--to before --from");
    // `status` lists the published days (10 people each) and the rejected run.
    let o = portrait(&["status", "--output", s(&out)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stdout.starts_with("4 published day(s)"), "{}", o.stdout);
    for day in ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"] {
        let line = o.stdout.lines().find(|l| l.starts_with(day)).unwrap_or_else(|| panic!("{day} in {}", o.stdout));
        assert_eq!(line.split_whitespace().nth(1), Some("10"), "{line}");
    }
    assert!(o.stdout.contains("1 run(s) rejected") && o.stdout.contains("dt=2026-11-24"), "{}", o.stdout);
}

#[test]
fn profile_changes_and_migrations_against_the_previous_day() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    crate::util::copy_dir(&tiny(), &input);
    let run = |as_of: &str| {
        let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&input), "--output", s(&out), "--as-of", as_of]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    };
    run("2026-10-01");
    // No previous day: no changes, no migration rows.
    assert_eq!(crate::util::table_at(&out, "profile_changes", "2026-10-01").height(), 0);
    // A new person arrives for the second day.
    let customers = input.join("customers/customers.csv");
    let mut text = std::fs::read_to_string(&customers).unwrap();
    text.push_str("app,N1,New Person,F,1990-01-01,13600000042,,,,,四川,成都,,,,2026-11-01 10:00:00,2026-11-01 10:00:00,\n");
    std::fs::write(&customers, text).unwrap();
    run("2026-11-22");

    let before = crate::util::table_at(&out, "profiles", "2026-10-01");
    let after = crate::util::table_at(&out, "profiles", "2026-11-22");
    let changes = crate::util::table_at(&out, "profile_changes", "2026-11-22");
    // Independent check: compare the two published profiles field by field.
    let values = |df: &polars::prelude::DataFrame, f: &str| -> std::collections::HashMap<String, Option<String>> {
        let keys = df.column("customer_key").unwrap().str().unwrap().clone();
        let col = df.column(f).unwrap();
        (0..df.height())
            .map(|i| {
                let v = match col.get(i).unwrap() {
                    polars::prelude::AnyValue::Null => None,
                    polars::prelude::AnyValue::List(l) => Some(l.str().unwrap().iter().flatten().collect::<Vec<_>>().join(",")),
                    other => Some(other.str_value().to_string()),
                };
                (keys.get(i).unwrap().to_string(), v)
            })
            .collect()
    };
    let mut expected = 0;
    for f in ["segment", "lifecycle_stage", "tags"] {
        let (b, a) = (values(&before, f), values(&after, f));
        for (k, v) in &a {
            if b.get(k) != Some(v) {
                expected += 1;
            }
        }
        expected += b.keys().filter(|k| !a.contains_key(*k)).count();
    }
    assert!(expected > 0, "the fixture's customers moved between October and November");
    assert_eq!(changes.height(), expected, "{changes}");
    let new_key = after
        .column("customer_key")
        .unwrap()
        .str()
        .unwrap()
        .iter()
        .flatten()
        .find(|k| !values(&before, "segment").contains_key(*k))
        .unwrap()
        .to_string();
    let new_rows = changes.column("customer_key").unwrap().str().unwrap().iter().filter(|k| *k == Some(new_key.as_str())).count();
    assert_eq!(new_rows, 3, "a new customer appears in every field");
    // Migration rows: every customer of either day once per matrix.
    let summary = crate::util::table_at(&out, "segment_summary", "2026-11-22");
    let grouping = summary.column("grouping").unwrap().str().unwrap().clone();
    let customers = summary.column("customers").unwrap().i64().unwrap().clone();
    for matrix in ["migration:segment", "migration:lifecycle_stage"] {
        let total: i64 = (0..summary.height()).filter(|&i| grouping.get(i) == Some(matrix)).map(|i| customers.get(i).unwrap()).sum();
        assert_eq!(total, 11, "{matrix}: 10 people on both days and one new");
    }
    let seg = summary.column("segment").unwrap().str().unwrap().clone();
    assert!(
        (0..summary.height()).any(|i| grouping.get(i) == Some("migration:lifecycle_stage") && seg.get(i).unwrap().starts_with("(new) -> "))
    );
}

#[test]
fn personal_data_never_in_clear_and_hashed_with_a_key_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    crate::util::run_ok(&nightly(), &tiny(), &out);
    // Every name, phone (as written and normalised) and email of the fixture.
    let clear = [
        "Alice Wang",
        "王伟",
        "张敏",
        "13800000001",
        "+8613800000001",
        "13900000003",
        "alice@example.com",
        "wangwei@example.com",
        "110101199202020025",
        "Ghost", // the name on a quarantined record
    ];
    use portrait::config::Closed;
    for table in portrait::config::OutputTable::ALL.iter().map(|t| t.name()) {
        let df = crate::util::table(&out, table);
        for c in df.columns() {
            if let Ok(values) = c.cast(&polars::prelude::DataType::String) {
                for v in values.str().unwrap().iter().flatten() {
                    assert!(!clear.iter().any(|p| v.contains(p)), "{table}.{}: {v}", c.name());
                }
            }
        }
    }
    // Asked to hash phones and emails: the key comes from the environment, missing key exit 78.
    // With a campaign for everyone who consented (P1, P2), to see its audience's contact columns.
    let everyone = "[[campaigns]]\nname = \"hello\"\naudience = \"basic_marketing_opt_in\"\naction = \"hello\"\nchannel = \"sms\"\n";
    let config =
        pipeline_with(dir.path(), &format!("[privacy]\nhash_fields = [\"phone\", \"email\"]\nkey_env = \"PORTRAIT_TEST_KEY\"\n{everyone}"));
    let o = portrait(&["run", "--pipeline", s(&config), "--input", s(&tiny()), "--output", s(&dir.path().join("o2"))]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    assert!(o.stderr.contains("PORTRAIT_TEST_KEY"), "{}", o.stderr);
    let (o2, input) = (dir.path().join("o2"), tiny());
    let args = ["run", "--pipeline", s(&config), "--input", s(&input), "--output", s(&o2), "--as-of", crate::util::AS_OF];
    let o = crate::util::portrait_with_env(&args, &[("PORTRAIT_TEST_KEY", "correct horse battery staple, 2026")]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let p = crate::util::table(&dir.path().join("o2"), "profiles");
    let keys = crate::util::keys(&dir.path().join("o2"));
    let p1 = crate::util::Row::of(&p, &keys["crm:C1"]);
    assert_eq!(
        p1.s("basic_phone_hmac"),
        Some(portrait::stages::privacy::hmac_hex(b"correct horse battery staple, 2026", "+8613800000001"))
    );
    assert_eq!(
        p1.s("basic_email_hmac"),
        Some(portrait::stages::privacy::hmac_hex(b"correct horse battery staple, 2026", "alice@example.com"))
    );
    use polars::prelude::ChunkCompareEq;
    // Campaign audiences carry the contact hashes, never the contact data (P1 is in one).
    let audiences = crate::util::table(&dir.path().join("o2"), "audiences");
    let p1 = audiences.filter(&audiences.column("customer_key").unwrap().str().unwrap().equal(keys["crm:C1"].as_str())).unwrap();
    assert_eq!(p1.height(), 1, "{audiences}");
    let phone = p1.column("phone_hmac").unwrap().str().unwrap().get(0).map(str::to_string);
    assert_eq!(phone, Some(portrait::stages::privacy::hmac_hex(b"correct horse battery staple, 2026", "+8613800000001")));
}

#[test]
fn a_file_delivered_twice_under_two_names_is_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out, once) = (dir.path().join("in"), dir.path().join("out"), dir.path().join("once"));
    crate::util::copy_dir(&tiny(), &input);
    crate::util::run_ok(&nightly(), &input, &once);
    std::fs::copy(input.join("orders/orders.csv"), input.join("orders/orders_resent.csv")).unwrap();
    crate::util::run_ok(&nightly(), &input, &out);
    let (m1, m2) = (crate::util::manifest(&once), crate::util::manifest(&out));
    assert_eq!(m2["accounting"]["orders"], m1["accounting"]["orders"], "the same rows read, used and quarantined");
    let inputs = m2["inputs"].as_array().unwrap();
    let resent = inputs.iter().find(|i| i["path"].as_str().unwrap().ends_with("orders_resent.csv")).unwrap();
    assert!(resent["duplicate_of"].as_str().unwrap().ends_with("orders/orders.csv"), "{resent}");
    assert_eq!(crate::util::table(&out, "profiles"), crate::util::table(&once, "profiles"));
}

#[test]
fn the_same_day_twice_gives_the_same_content() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let strip = |mut m: serde_json::Value| {
        let o = m.as_object_mut().unwrap();
        o.remove("run_id");
        o.remove("stage_seconds");
        o.remove("peak_memory_bytes"); // measured, like the timings
        o.remove("work_disk_bytes");
        // The first run reads every file, the second none (docs/design.md, "Incremental runs").
        o["execution"].as_object_mut().unwrap().remove("mode");
        o["execution"].as_object_mut().unwrap().remove("full_because");
        for e in o["outputs"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("path"); // part-<run_id>-00000.parquet
        }
        m
    };
    crate::util::run_ok(&nightly(), &tiny(), &out);
    let first = strip(crate::util::manifest(&out));
    let profiles = std::fs::read(crate::util::table_file(&out, "profiles")).unwrap();
    crate::util::run_ok(&nightly(), &tiny(), &out);
    assert_eq!(strip(crate::util::manifest(&out)), first, "same rows, bytes and sha256 of every file");
    assert_eq!(std::fs::read(crate::util::table_file(&out, "profiles")).unwrap(), profiles, "one part file, replaced");
}

#[test]
fn two_concurrent_runs_one_publishes_the_other_exits_75() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for round in 0..20 {
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_portrait"))
                .args(["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--as-of", crate::util::AS_OF])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let mut codes = [a.wait_with_output().unwrap().status.code(), b.wait_with_output().unwrap().status.code()];
        codes.sort();
        assert_eq!(codes, [Some(0), Some(75)], "round {round}");
        assert!(out.join("profiles/dt=2026-11-22/_SUCCESS").exists());
        assert!(!out.join("_portrait.lock").exists(), "the lock is released");
    }
}

/// A folder with little room: a small tmpfs when this user may mount one (root in CI), else
/// None (the caller then limits file sizes with `ulimit -f`).
fn small_filesystem(path: &Path, size: &str) -> bool {
    std::fs::create_dir_all(path).unwrap();
    std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", s(path)])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn disk_full_while_writing_exits_74_and_keeps_the_previous_day() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mounted = small_filesystem(&out, "8m");
    crate::util::run_ok(&nightly(), &tiny(), &out);
    let before: Vec<(std::path::PathBuf, Vec<u8>)> = ["profiles", "tags", "identity_map"]
        .iter()
        .map(|t| {
            let f = crate::util::table_file(&out, t);
            let bytes = std::fs::read(&f).unwrap();
            (f, bytes)
        })
        .collect();
    let next_day = "2026-11-23";
    let o = if mounted {
        // Fill the file system but for a few kilobytes.
        let free = {
            let o = std::process::Command::new("df").args(["--output=avail", "-B1", s(&out)]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
        };
        std::fs::write(out.join("_filler"), vec![0u8; (free.saturating_sub(16 * 1024)) as usize]).unwrap();
        portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--as-of", next_day])
    } else {
        // No mount allowed: every file the run writes may hold 8 KiB (SIGXFSZ ignored, so the
        // write fails with an error instead of killing the process).
        let cmd = format!(
            "trap '' XFSZ; ulimit -f 16; exec '{}' run --pipeline '{}' --input '{}' --output '{}' --as-of {next_day}",
            env!("CARGO_BIN_EXE_portrait"),
            s(&nightly()),
            s(&tiny()),
            s(&out)
        );
        let o = std::process::Command::new("sh").args(["-c", &cmd]).output().unwrap();
        crate::util::Outcome {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into(),
            stderr: String::from_utf8_lossy(&o.stderr).into(),
        }
    };
    assert_eq!(o.code, 74, "mounted={mounted}: {}", o.stderr);
    for (f, bytes) in &before {
        assert_eq!(&std::fs::read(f).unwrap(), bytes, "{} unchanged", f.display());
    }
    assert!(!out.join(format!("profiles/dt={next_day}")).exists(), "nothing of the new day visible");
    if mounted {
        std::fs::remove_file(out.join("_filler")).unwrap();
        let o = portrait(&["run", "--pipeline", s(&nightly()), "--input", s(&tiny()), "--output", s(&out), "--as-of", next_day]);
        assert_eq!(o.code, 0, "with room again the day publishes: {}", o.stderr);
        let _ = std::process::Command::new("umount").arg(s(&out)).status();
    }
}

#[test]
fn invalid_gate_model_identity_and_privacy_settings_are_listed_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_with(
        dir.path(),
        "[[gates]]\ncheck = \"row_count\"\ntable = \"orders\"\n[[gates]]\ncheck = \"null_share\"\ntable = \"orders\"\nmax = 0.1\n\
         [[gates]]\ncheck = \"invalid_share\"\ntable = \"customers\"\ncolumn = \"name\"\nmax = 0.1\n\
         [privacy]\nhash_fields = [\"address\"]\n",
    );
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("k = 0\n", "k = 1\n")
        .replace("match_threshold = 0.95", "match_threshold = 1.5")
        .replace("time_zone = \"UTC\"", "time_zone = \"Mars/Olympus\"")
        .replace("encoding = \"utf-8\"", "encoding = \"ebcdic\"");
    std::fs::write(&config, text).unwrap();
    let o = portrait(&["validate", "--pipeline", s(&config)]);
    assert_eq!(o.code, 78, "{}", o.stderr);
    // The appended gates come after the sample pipeline's own.
    let n = std::fs::read_to_string(nightly()).unwrap().matches("[[gates]]").count();
    assert!(o.stderr.contains("cleaning checks no `name` in customers; it checks: phone, email, id_number, gender"), "{}", o.stderr);
    for key in [
        format!("gates[{n}].check"),
        format!("gates[{}].table", n + 1),
        format!("gates[{}].column", n + 1),
        format!("gates[{}].column", n + 2),
        "privacy.hash_fields[0]".into(),
        "models.clusters.k".into(),
        "identity.match_threshold".into(),
        "pipeline.time_zone".into(),
        "tables.customers.encoding".into(),
    ] {
        assert!(o.stderr.contains(&key), "`{key}` missing from {}", o.stderr);
    }
}

#[test]
fn a_gate_on_every_published_table_validates_and_runs() {
    // profile_changes was once refused because the config kept its own list of outputs.
    let dir = tempfile::tempdir().unwrap();
    let tables = ["profiles", "tags", "identity_map", "segment_summary", "model_eval", "profile_changes", "quarantine"];
    let gates: String = tables
        .iter()
        .map(|t| format!("[[gates]]\ncheck = \"row_count_change\"\ntable = \"{t}\"\nmax = 100.0\nseverity = \"warn\"\n"))
        .collect();
    let config = pipeline_with(dir.path(), &gates);
    let o = portrait(&["validate", "--pipeline", s(&config)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let out = dir.path().join("out");
    run_ok(&config, &tiny(), &out);
    let m = manifest(&out);
    for t in tables {
        let g = m["gates"].as_array().unwrap().iter().find(|g| g["name"] == format!("row_count_change_{t}")).unwrap();
        assert_eq!(g["status"], "pass", "{t}: {g}");
    }
}
