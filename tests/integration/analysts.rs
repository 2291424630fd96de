//! What analysts read: report.html checked in a real browser, the data dictionary against
//! every published column, `portrait inspect` on the hand-made fixture.

use crate::util::*;
use std::path::{Path, PathBuf};

const CHARTS: [&str; 6] = ["segments", "rfm", "funnel", "migration", "clv", "alive"];

/// Headless Chromium (`.ci/run` installs Debian's package); `PORTRAIT_CHROMIUM` overrides.
fn chromium() -> PathBuf {
    let path = std::env::var("PORTRAIT_CHROMIUM").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("/usr/bin/chromium"));
    assert!(path.exists(), "{} not found: the report test needs Chromium (`apt-get install chromium`, as .ci/run does)", path.display());
    path
}

fn headless(args: &[&str], profile: &Path) -> std::process::Output {
    std::process::Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--hide-scrollbars", "--window-size=1366,768"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("start chromium")
}

/// Measures the laid-out page from inside the browser and writes the findings into the DOM.
const CHECK_SCRIPT: &str = r#"<script>
addEventListener("load", () => {
  const out = { charts: {}, overflow: [], outside: [], page_width: document.documentElement.scrollWidth, window_width: innerWidth };
  for (const id of CHARTS) {
    const fig = document.getElementById(id), svg = fig && fig.querySelector("svg");
    const r = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
    out.charts[id] = { svg: !!svg, width: r.width, height: r.height,
      shapes: svg ? svg.querySelectorAll("rect, path, polyline, line, circle").length : 0,
      texts: svg ? [...svg.querySelectorAll("text")].map(t => t.textContent.trim()).filter(t => t) : [],
      caption: fig && fig.querySelector("figcaption") ? fig.querySelector("figcaption").textContent.trim() : "" };
  }
  // Text wider than its box (block boxes only: inline boxes have no width of their own).
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg") || el.clientWidth === 0 || el.id === "check") continue;
    if (el.scrollWidth > el.clientWidth + 1) out.overflow.push(el.tagName + " " + el.textContent.trim().slice(0, 60));
  }
  // Chart text outside its chart.
  for (const svg of document.querySelectorAll("svg")) {
    const box = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll("text")) {
      const b = t.getBoundingClientRect();
      if (t.textContent.trim() && (b.left < box.left - 1 || b.right > box.right + 1 || b.top < box.top - 1 || b.bottom > box.bottom + 1))
        out.outside.push(t.textContent.trim());
    }
  }
  const pre = document.createElement("pre");
  pre.id = "check";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"#;

/// Two nights of the sample data (the second has migrations to show) in a locale.
fn two_nights(locale: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pipeline = dir.path().join("nightly.toml");
    let text = std::fs::read_to_string(nightly()).unwrap().replace("locale = \"zh\"", &format!("locale = \"{locale}\""));
    std::fs::write(&pipeline, text.replace("input = \"../sample_data\"", &format!("input = \"{}\"", repo().join("sample_data").display())))
        .unwrap();
    for day in ["2026-11-21", AS_OF] {
        let o = portrait(&["run", "--pipeline", s(&pipeline), "--output", s(&out), "--as-of", day]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    (dir, out)
}

#[test]
fn the_report_shows_every_chart_in_a_browser_without_overflowing_text() {
    check_in_browser("zh");
    check_in_browser("en");
}

fn check_in_browser(locale: &str) {
    let (dir, out) = two_nights(locale);
    let folder = out.join(format!("report/dt={AS_OF}"));
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    // Self-contained: nothing is fetched and nothing needs a script.
    for fetch in ["<script", "src=\"http", "href=\"http", "@import", "url("] {
        assert!(!html.contains(fetch), "report.html contains {fetch}");
    }
    assert!(folder.join("data_dictionary.md").exists(), "the report links to the dictionary next to it");
    assert!(html.contains("href=\"data_dictionary.md\""));
    // The manifest lists both files with their digests.
    let m = manifest(&out);
    let docs: Vec<&str> = m["documents"].as_array().unwrap().iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(docs, [format!("report/dt={AS_OF}/report.html"), format!("report/dt={AS_OF}/data_dictionary.md")]);

    let page = dir.path().join("checked.html");
    let script = CHECK_SCRIPT.replace("CHARTS", &format!("{CHARTS:?}"));
    std::fs::write(&page, html.replace("</body>", &format!("{script}</body>"))).unwrap();
    let url = format!("file://{}", page.display());
    let o = headless(&["--dump-dom", &url], &dir.path().join("chromium"));
    let dom = String::from_utf8_lossy(&o.stdout);
    let json = dom
        .split("<pre id=\"check\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("the check did not run in the browser:\n{}", String::from_utf8_lossy(&o.stderr)));
    let found: serde_json::Value =
        serde_json::from_str(&json.replace("&quot;", "\"").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")).unwrap();
    for id in CHARTS {
        let c = &found["charts"][id];
        assert_eq!(c["svg"], true, "chart {id} missing: {c}");
        assert!(c["width"].as_f64().unwrap() > 300.0 && c["height"].as_f64().unwrap() > 100.0, "chart {id} is too small: {c}");
        assert!(c["shapes"].as_u64().unwrap() >= 6 && c["texts"].as_array().unwrap().len() >= 3, "chart {id} is empty: {c}");
        assert!(!c["caption"].as_str().unwrap().is_empty(), "chart {id} has no explanation");
    }
    assert_eq!(found["overflow"], serde_json::json!([]), "text wider than its box");
    assert_eq!(found["outside"], serde_json::json!([]), "chart text outside its chart");
    assert!(found["page_width"].as_f64() <= found["window_width"].as_f64(), "the page scrolls sideways: {found}");

    // The figures shown are the published ones: customers, and every segment by its label.
    let profiles = table(&out, "profiles");
    let customers = profiles.height();
    assert!(html.contains(&format!("<b>{},{:03}</b>", customers / 1000, customers % 1000)), "customer count");
    let shown = &found["charts"]["segments"]["texts"];
    for label in profiles.column("segment_label").unwrap().str().unwrap().iter().flatten() {
        assert!(shown.as_array().unwrap().iter().any(|t| t == label), "segment {label} not in the chart: {shown}");
    }

    // The screenshot artifact, for a person to look at.
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("report-screenshot-{locale}.png"));
    let _ = std::fs::remove_file(&shot);
    let o = headless(&[&format!("--screenshot={}", shot.display()), &url], &dir.path().join("chromium"));
    assert!(shot.exists(), "no screenshot: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn every_published_column_is_in_the_data_dictionary_with_its_type() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&nightly(), &tiny(), &out);
    let docs = dir.path().join("docs");
    let o = portrait(&["docs", "--pipeline", s(&nightly()), "--out", s(&docs)]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = std::fs::read_to_string(docs.join("data_dictionary.md")).unwrap();
    // Each table's section: its rows `| `column` | type | meaning | unit | values |`.
    let section = |table: &str| -> Vec<Vec<String>> {
        let start = text.find(&format!("## `{table}`")).unwrap_or_else(|| panic!("no section for {table}"));
        let rest = &text[start + 4..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        rest[..end]
            .lines()
            .filter(|l| l.starts_with("| `"))
            .map(|l| l.trim_matches('|').split(" | ").map(|c| c.trim().trim_matches('`').to_string()).collect())
            .collect()
    };
    for t in ["profiles", "tags", "identity_map", "segment_summary", "model_eval", "profile_changes", "quarantine"] {
        let published = table(&out, t);
        let rows = section(t);
        let documented: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        let columns: Vec<&str> = published.get_column_names().into_iter().map(|c| c.as_str()).filter(|c| *c != "dt").collect();
        assert_eq!(documented, columns, "{t}: the dictionary and the published columns differ");
        for (row, column) in rows.iter().zip(published.columns().iter().filter(|c| c.name() != "dt")) {
            assert!(!row[2].is_empty(), "{t}.{} has no description", row[0]);
            assert_eq!(row[1], format!("{:?}", column.dtype()), "{t}.{} type", row[0]);
            // Hive and StarRocks have no unsigned 64-bit type; Spark reads one as decimal(20,0).
            assert!(!column.dtype().is_unsigned_integer(), "{t}.{} is published as {}", row[0], column.dtype());
        }
    }
    // Configured names: a config feature's description, the rules' names with their labels.
    assert!(text.contains("| `power_spend_share_12m` | Float64 | Share of all-time spend made in the last 12 months (0..1). |"));
    assert!(text.contains("champions (Champions / 冠军客户)"));
    assert!(text.contains("| `behavior_login_90d` | Int32 | `login` events in the last 90 days. |"));
}

/// Every value of every published table is one its documentation accepts (dbt's
/// `accepted_values` and range tests): the shipped sample data over two days, so that every
/// one of the 11 tables has rows (`model_eval` in the past-dated first day, `profile_changes`
/// and `campaign_eval` in the second).
#[test]
fn every_published_value_is_one_the_dictionary_accepts() {
    use portrait::config::{Closed, OutputTable};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for day in ["2026-11-15", AS_OF] {
        let o = portrait(&["run", "--pipeline", s(&nightly()), "--output", s(&out), "--as-of", day]);
        assert_eq!(o.code, 0, "{}", o.stderr);
    }
    let plan = portrait::config::load(&nightly(), &Default::default()).unwrap().0;
    let mut rows: std::collections::BTreeMap<&str, usize> = Default::default();
    for &t in OutputTable::ALL {
        for day in ["2026-11-15", AS_OF] {
            let published = table_at(&out, t.name(), day);
            *rows.entry(t.name()).or_default() += published.height();
            let outside = portrait::outputs::values_outside(&plan, t, &published.drop("dt").unwrap_or(published.clone())).unwrap();
            assert!(outside.is_empty(), "{day}: {outside:#?}");
        }
    }
    assert_eq!(rows.len(), 11);
    assert!(rows.values().all(|n| *n > 0), "a table without rows checks nothing: {rows:?}");
}

#[test]
fn the_committed_data_dictionary_is_the_generated_one() {
    let dir = tempfile::tempdir().unwrap();
    let o = portrait(&["docs", "--pipeline", s(&nightly()), "--out", s(dir.path())]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let generated = std::fs::read_to_string(dir.path().join("data_dictionary.md")).unwrap();
    let committed = std::fs::read_to_string(repo().join("docs/data_dictionary.md")).unwrap();
    assert!(generated == committed, "docs/data_dictionary.md is stale: run `portrait docs --pipeline pipelines/nightly.toml --out docs`");
}

#[test]
fn inspect_prints_tables_and_one_customer_with_why_each_rule_fired() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&nightly(), &tiny(), &out);
    let k = keys(&out);

    let o = portrait(&["inspect", s(&out), "--table", "tags"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let tags = table(&out, "tags");
    assert!(o.stdout.contains(&format!("tags: {} rows, 3 columns", tags.height())), "{}", o.stdout);
    assert!(o.stdout.contains("label"), "{}", o.stdout);

    // P2 (crm:C2 + shop:S2): loyal, active, high_value and opinion_leader (fixture test);
    // influence ln(51) + 2*6 = 15.9318.
    let o = portrait(&["inspect", s(&out), "--dt", AS_OF, "--customer", &k["shop:S2"]]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let text = o.stdout;
    for expected in [
        "source records (3)",
        "crm:C2  phone",
        "shop:S2  phone",
        "wechat:W2  email",
        "segment loyal (Loyal): first rule that holds: rfm_r >= 3 AND rfm_fm >= 3",
        "tag opinion_leader (Opinion leader): social_influence_score >= 15  [social_influence_score = 15.9318]",
        "tag high_value (High value)",
        "segment_label                    忠诚客户",
    ] {
        assert!(text.contains(expected), "`{expected}` missing from:\n{text}");
    }
    assert!(!text.contains("tag churn_risk"), "{text}");

    assert_eq!(portrait(&["inspect", s(&out), "--customer", "ck_nobody"]).code, 66);
    assert_eq!(portrait(&["inspect", s(&out), "--dt", "2020-01-01"]).code, 66);
    assert_eq!(portrait(&["inspect", s(&out), "--table", "nope"]).code, 2);
}
