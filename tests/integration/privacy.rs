//! Personal information protection (个人信息保护法): erasure requests applied to the run's day
//! and, by `portrait erase`, to every earlier day; key strength; retention.

use crate::util::{copy_dir, manifest_at, nightly, portrait_with_env, s, table_at, tiny, write_at};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// 32 zero bytes in hex: its id is the start of SHA-256(32 zero bytes),
/// 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
const KEY: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const KEY_ID: &str = "66687aadf862bd77";

fn pipeline_with(dir: &Path, extra: &str) -> PathBuf {
    let config = dir.join("pipeline.toml");
    std::fs::write(&config, format!("{}\n{extra}", std::fs::read_to_string(nightly()).unwrap())).unwrap();
    config
}

fn run_day(config: &Path, input: &Path, out: &Path, day: &str) {
    let args = ["run", "--pipeline", s(config), "--input", s(input), "--output", s(out), "--as-of", day];
    let o = portrait_with_env(&args, &[("PORTRAIT_TEST_KEY", KEY)]);
    assert_eq!(o.code, 0, "run {day}:\n{}", o.stderr);
}

/// Every Parquet file of every table of a day, as text cells (to search for ids).
fn cells_of_day(out: &Path, day: &str) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    for entry in std::fs::read_dir(out).unwrap().flatten() {
        let table = entry.file_name().to_string_lossy().to_string();
        if table.starts_with('_') || table == "report" || !entry.path().join(format!("dt={day}")).exists() {
            continue;
        }
        let df = table_at(out, &table, day);
        for c in df.columns() {
            // Lists (tags, sources) hold no ids; every other column is searched as text.
            let Ok(text) = c.cast(&polars::prelude::DataType::String) else { continue };
            for v in text.str().unwrap().iter().flatten() {
                cells.push((format!("{table}.{}", c.name()), v.to_string()));
            }
        }
    }
    cells
}

/// Every file of the output root (relative path -> bytes), `_staging`, `_trash` and the lock aside.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn erased_people_leave_the_run_and_every_earlier_day() {
    let dir = tempfile::tempdir().unwrap();
    let (input, out) = (dir.path().join("in"), dir.path().join("out"));
    copy_dir(&tiny(), &input);
    let config = pipeline_with(dir.path(), "[privacy]\nhash_fields = [\"phone\"]\nkey_env = \"PORTRAIT_TEST_KEY\"\n");
    // Two days published before anyone asked.
    for day in ["2026-11-21", "2026-11-22"] {
        run_day(&config, &input, &out, day);
    }
    let before = crate::util::keys_at(&out, "2026-11-22");
    let (lina, wang) = (before["shop:S5"].clone(), before["wechat:W2"].clone());
    assert_eq!(before["shop:S2"], wang, "P2's three records are one person");
    // P2 asks by one record id (its wechat account); P5 by phone, hashed under the key.
    let phone = portrait::stages::privacy::hmac_hex(&[0u8; 32], "+8613700000005");
    write_at(
        &input,
        "erasures/requests.csv",
        &format!(
            "source,source_customer_id,phone_hmac,email_hmac,requested_at\n\
             WeChat,W2,,,2026-11-20 09:00:00\n\
             ,,{},,2026-11-21 10:00:00\n\
             ,,,,2026-11-21 11:00:00\n\
             store,T7,,,2026-11-30 00:00:00\n",
            phone.to_uppercase()
        ),
    );
    run_day(&config, &input, &out, "2026-11-23");
    let ids = ["C2", "S2", "W2", "S5"];
    let holds = |day: &str| {
        cells_of_day(&out, day)
            .into_iter()
            .filter(|(_, v)| *v == lina || *v == wang || ids.iter().any(|id| v == id || v.contains(&format!("source_customer_id={id};"))))
            .collect::<Vec<_>>()
    };
    assert_eq!(holds("2026-11-23"), vec![], "the run's own day holds an erased person");
    // T7 asked for a later day: still there.
    assert!(crate::util::keys_at(&out, "2026-11-23").contains_key("store:T7"));
    // Row accounting, by hand from tests/data/tiny: P2 = crm C2 + shop S2 + wechat W2, P5 =
    // shop S5. Orders O4..O7 (P2), O11..O15 (P5); their lines: O4; events: none; social: W2 7;
    // feedback: S5.
    let m = manifest_at(&out, "2026-11-23");
    let erased = |t: &str| m["accounting"][t]["erased"].as_u64().unwrap();
    let expected = [("customers", 4), ("orders", 9), ("order_items", 1), ("events", 0), ("social_interactions", 7), ("feedback", 1)];
    for (t, n) in expected {
        assert_eq!(erased(t), n, "{t}: {}", m["accounting"][t]);
    }
    for (t, a) in m["accounting"].as_object().unwrap() {
        let n = |k: &str| a[k].as_u64().unwrap();
        assert_eq!(n("read"), n("used") + n("duplicate") + n("quarantined") + n("after_as_of") + n("erased"), "{t}: {a}");
    }
    // Four requests: two in force, one names nothing (quarantined), one waits for its day.
    let requests = &m["accounting"]["erasures"];
    assert_eq!((requests["read"].as_u64(), requests["used"].as_u64()), (Some(4), Some(2)), "{requests}");
    assert_eq!((requests["quarantined"].as_u64(), requests["after_as_of"].as_u64()), (Some(1), Some(1)), "{requests}");
    assert_eq!(m["privacy"]["erasure"]["persons"], 2);
    assert_eq!(m["privacy"]["erasure"]["records"], 4);
    assert_eq!(m["privacy"]["key_id"], KEY_ID);
    // The earlier days hold them until `portrait erase` rewrites those days.
    assert!(!holds("2026-11-21").is_empty());
    let erase = ["erase", "--output", s(&out), "--pipeline", s(&config), "--input", s(&input)];
    let o = portrait_with_env(&erase, &[("PORTRAIT_TEST_KEY", KEY)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    for day in ["2026-11-21", "2026-11-22", "2026-11-23"] {
        assert_eq!(holds(day), vec![], "{day} still holds an erased person");
        // What is on disk equals the rewritten manifest.
        let m = manifest_at(&out, day);
        for e in m["outputs"].as_array().unwrap() {
            let bytes = std::fs::read(out.join(e["path"].as_str().unwrap())).unwrap();
            assert_eq!(bytes.len() as u64, e["bytes"].as_u64().unwrap(), "{day}: {}", e["path"]);
        }
    }
    let m = manifest_at(&out, "2026-11-21");
    assert_eq!(m["erasures"][0]["persons"], 2, "{}", m["erasures"]);
    assert!(manifest_at(&out, "2026-11-23").get("erasures").is_none(), "the run's day needed no rewrite");
    // Everyone else is as they were.
    let others = |day: &str| table_at(&out, "profiles", day).height();
    assert_eq!(others("2026-11-21"), others("2026-11-23"));
    // A second erase changes nothing.
    let snapshot = files(&out);
    let o = portrait_with_env(&erase, &[("PORTRAIT_TEST_KEY", KEY)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(files(&out), snapshot, "a second erase changed a file");
}

#[test]
fn a_weak_key_is_refused_and_the_key_id_is_published() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_with(dir.path(), "[privacy]\nhash_fields = [\"phone\"]\nkey_env = \"PORTRAIT_TEST_KEY\"\n");
    let out = dir.path().join("out");
    let input = tiny();
    let run = |key: &str| {
        let args = ["run", "--pipeline", s(&config), "--input", s(&input), "--output", s(&out), "--as-of", crate::util::AS_OF];
        portrait_with_env(&args, &[("PORTRAIT_TEST_KEY", key)])
    };
    for weak in ["x".to_string(), "k".repeat(31), "ab".repeat(31)] {
        let o = run(&weak);
        assert_eq!(o.code, 78, "a {}-character key: {}", weak.len(), o.stderr);
        assert!(o.stderr.contains("PORTRAIT_TEST_KEY") && o.stderr.contains("at least 32"), "{}", o.stderr);
        assert!(!out.join("_manifest").exists(), "nothing published with a weak key");
    }
    let o = run(KEY);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(manifest_at(&out, crate::util::AS_OF)["privacy"]["key_id"], KEY_ID);
    let p = table_at(&out, "profiles", crate::util::AS_OF);
    let keys = crate::util::keys(&out);
    let row = crate::util::Row::of(&p, &keys["crm:C1"]);
    assert_eq!(row.s("basic_phone_hmac"), Some(portrait::stages::privacy::hmac_hex(&[0u8; 32], "+8613800000001")));
}

#[test]
fn retention_removes_exactly_the_days_older_than_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let config = pipeline_with(dir.path(), "[privacy]\nretention_days = 2\n");
    let (input, out) = (tiny(), dir.path().join("out"));
    let args = ["run", "--pipeline", s(&config), "--input", s(&input), "--output", s(&out), "--from", "2026-11-17", "--to", "2026-11-22"];
    let o = portrait_with_env(&args, &[]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    // 2026-11-22 keeps the days at most 2 days before it: 20, 21, 22.
    let days = portrait::store::Store::new(&out).published_days().iter().map(|d| d.to_string()).collect::<Vec<_>>();
    assert_eq!(days, ["2026-11-20", "2026-11-21", "2026-11-22"]);
    for entry in std::fs::read_dir(&out).unwrap().flatten() {
        for day in ["17", "18", "19"] {
            assert!(!entry.path().join(format!("dt=2026-11-{day}")).exists(), "{} keeps 2026-11-{day}", entry.path().display());
        }
    }
    // Each run lists what it removed: the 20th removed the 17th, the 22nd the 19th.
    let removed = |day: &str| manifest_at(&out, day)["privacy"]["removed_days"].clone();
    assert_eq!(removed("2026-11-20"), serde_json::json!(["2026-11-17"]));
    assert_eq!(removed("2026-11-22"), serde_json::json!(["2026-11-19"]));
}
