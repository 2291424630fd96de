//! The pipeline config as written in `pipelines/*.toml`. Each field's doc comment is its user
//! documentation; defaults live next to the field. Unknown keys are collected by `load`.

use super::choice::{Choice, Encoding, EpochUnit, Format, GateCheck, LinkRule, Locale, PiiField, Severity, Survivorship};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct PipelineSpec {
    #[serde(default)]
    pub pipeline: PipelineSection,
    /// Per canonical table (`customers`, `orders`, ...): where its files are and how columns map.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    #[serde(default)]
    pub identity: IdentitySpec,
    #[serde(default)]
    pub behavior: BehaviorSpec,
    #[serde(default)]
    pub rfm: RfmSpec,
    #[serde(default)]
    pub models: ModelsSpec,
    #[serde(default)]
    pub output: OutputSpec,
    /// Extra profile columns defined by a SQL expression over earlier profile columns.
    #[serde(default)]
    pub features: Vec<FeatureSpec>,
    /// RFM segments, first matching rule wins.
    #[serde(default)]
    pub segments: Vec<RuleSpec>,
    /// Lifecycle stages, first matching rule wins.
    #[serde(default)]
    pub lifecycle: Vec<RuleSpec>,
    /// Tags: every matching rule adds its tag.
    #[serde(default)]
    pub tags: Vec<RuleSpec>,
    #[serde(default)]
    pub recommend: RecommendSpec,
    /// Campaigns: who to contact with what, with a control group (`stages::campaign`).
    #[serde(default)]
    pub campaigns: Vec<CampaignSpec>,
    #[serde(default)]
    pub privacy: PrivacySpec,
    #[serde(default)]
    pub report: ReportSpec,
    /// Data-quality gates checked before anything is published.
    #[serde(default)]
    pub gates: Vec<GateSpec>,
    #[serde(default)]
    pub run: RunSpec,
}

/// How a run uses the machine (docs/design.md, "The steps of a run").
#[derive(Debug, Clone, Deserialize, Default)]
pub struct RunSpec {
    /// Peak memory the run stays under, e.g. `8GB` or `512MiB` (KB, MB, GB, TB are powers of
    /// 1000; KiB, MiB, GiB, TiB of 1024); `--memory-limit` overrides it. Default: half of the
    /// machine's memory.
    pub memory_limit: Option<String>,
    /// How many buckets of people the fact tables are split into; default: as many as the
    /// memory limit needs for the size of the input files.
    pub buckets: Option<u32>,
    /// `incremental` (default): read only the files delivered since the state a run left
    /// (docs/design.md, "Incremental runs"), when it is usable; `full`: read every file.
    pub mode: Option<String>,
}

/// `report.html`, written with every published day.
#[derive(Debug, Clone, Deserialize, Default)]
pub struct ReportSpec {
    /// Lifecycle stages in the order the funnel chart shows them (default: the order of the
    /// `[[lifecycle]]` rules, which is their precedence, not a customer's path).
    #[serde(default)]
    pub funnel: Vec<String>,
}

/// Personal data: outputs never carry it in clear. Fields listed here are added to the
/// profile as `basic_<field>_hmac`, the hex HMAC-SHA-256 of the golden value under a key read
/// from the environment variable `key_env` (joinable with a partner's list hashed with the
/// same key; not reversible by hashing guesses without it).
#[derive(Debug, Clone, Deserialize)]
pub struct PrivacySpec {
    /// Any of `name`, `phone`, `email`, `id_number`.
    #[serde(default)]
    pub hash_fields: Vec<Choice<PiiField>>,
    #[serde(default = "default_key_env")]
    pub key_env: String,
    /// Keep published days for this many days before as-of; older ones are removed by the run
    /// that publishes a new day (default: kept for ever).
    #[serde(default)]
    pub retention_days: Option<u32>,
}

impl Default for PrivacySpec {
    fn default() -> Self {
        PrivacySpec { hash_fields: Vec::new(), key_env: default_key_env(), retention_days: None }
    }
}

fn default_key_env() -> String {
    "PORTRAIT_HASH_KEY".into()
}

/// One data-quality gate (Soda / dbt test style).
#[derive(Debug, Clone, Deserialize)]
pub struct GateSpec {
    /// Shown in the manifest and the log; default `<check>_<table>[_<column>]`.
    pub name: Option<String>,
    /// `row_count_change` (relative change against the previous published day, input or output
    /// table), `null_share` (output column), `duplicate_share` (input table: re-sent rows /
    /// read), `freshness` (days from the input table's newest timestamp to as-of),
    /// `unique_key` (output column unique and non-null), `accepted_values` (output column).
    pub check: Choice<GateCheck>,
    pub table: String,
    pub column: Option<String>,
    /// Largest acceptable value of what the check measures.
    pub max: Option<f64>,
    /// For `accepted_values`.
    #[serde(default)]
    pub values: Vec<String>,
    /// Shares (`duplicate_share`, `quarantine_share`) are judged only when the table has at
    /// least this many rows read: on a handful of rows one bad row is no evidence.
    #[serde(default)]
    pub min_rows: u64,
    /// `fail` (nothing is published, exit 1) or `warn` (logged, recorded, published).
    #[serde(default = "default_severity")]
    pub severity: Choice<Severity>,
}

fn default_severity() -> Choice<Severity> {
    Severity::Fail.into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct PipelineSection {
    #[serde(default = "default_name")]
    pub name: String,
    /// Input root (one folder per table); relative paths are relative to the config file.
    pub input: Option<String>,
    /// Output root; relative paths are relative to the config file.
    pub output: Option<String>,
    /// Logical date of the run (YYYY-MM-DD) when `--as-of` is not given; else yesterday in UTC.
    pub as_of: Option<String>,
    /// Language of the label columns and the report: `en` or `zh`.
    #[serde(default = "default_locale")]
    pub locale: Choice<Locale>,
    /// The business's time zone (IANA name, e.g. `Asia/Shanghai`): timestamps without a zone
    /// are local times in it, zoned ones are converted to it, and the as-of day, windows,
    /// hours and weekdays are counted in it.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Timestamps before this day (YYYY-MM-DD) are implausible: a required one quarantines its
    /// row, an optional one reads as null (counted under `unparseable`).
    #[serde(default = "default_earliest")]
    pub earliest: String,
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_earliest() -> String {
    "2000-01-01".into()
}

impl Default for PipelineSection {
    fn default() -> Self {
        PipelineSection {
            name: default_name(),
            input: None,
            output: None,
            as_of: None,
            locale: default_locale(),
            time_zone: default_time_zone(),
            earliest: default_earliest(),
        }
    }
}

fn default_locale() -> Choice<Locale> {
    Locale::En.into()
}

fn default_name() -> String {
    "nightly".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct TableSpec {
    /// File, folder or glob relative to the input root; default: the folder named after the table.
    pub path: Option<String>,
    /// `auto` (by extension), `parquet`, `csv`, `ndjson` or `xlsx`.
    #[serde(default = "default_format")]
    pub format: Choice<Format>,
    /// Text files' encoding: `utf-8` (default), `gb18030`, `gbk`, `utf-16` or `auto`.
    #[serde(default = "default_encoding")]
    pub encoding: Choice<Encoding>,
    /// Excel: the sheet to read (default: the first).
    pub sheet: Option<String>,
    /// Timestamp columns holding epoch numbers: `column = "s" | "ms" | "us" | "ns"` (default
    /// `auto`: by magnitude).
    #[serde(default)]
    pub epoch_units: BTreeMap<String, Choice<EpochUnit>>,
    /// Canonical column name = column name in the source files.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Optional canonical columns that this pipeline treats as required.
    #[serde(default)]
    pub required: Vec<String>,
    /// The company has no such system (events, social interactions, feedback): no files are
    /// read, the features drawn from the table are null and the gates on it are skipped.
    #[serde(default)]
    pub absent: bool,
}

impl Default for TableSpec {
    fn default() -> Self {
        TableSpec {
            path: None,
            format: default_format(),
            encoding: default_encoding(),
            sheet: None,
            epoch_units: BTreeMap::new(),
            columns: BTreeMap::new(),
            required: Vec::new(),
            absent: false,
        }
    }
}

fn default_format() -> Choice<Format> {
    Format::Auto.into()
}

fn default_encoding() -> Choice<Encoding> {
    Encoding::Utf8.into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct IdentitySpec {
    /// Sources in order of trust: on equally new values the earlier source wins.
    #[serde(default = "default_source_priority")]
    pub source_priority: Vec<String>,
    /// Deterministic link rules in order of precedence: `id_number`, `phone`, `email`, `source_id`.
    #[serde(default = "default_link_on")]
    pub link_on: Vec<Choice<LinkRule>>,
    /// Probabilistic (Fellegi-Sunter) matching after the deterministic rules.
    #[serde(default = "default_true")]
    pub fuzzy: bool,
    /// Link a candidate pair when its match probability is at least this.
    #[serde(default = "default_match_threshold")]
    pub match_threshold: f64,
    /// Term-frequency adjustment: agreeing on a common name, postcode or city counts less than
    /// agreeing on a rare one. Off by default: on FEBRL and the generated data it cost recall
    /// and gained no precision (README "Identity resolution").
    #[serde(default)]
    pub term_frequencies: bool,
    /// Pairs from this match probability up to the threshold (the grey zone), and links a guard
    /// refused, are published in `identity_review` for a data steward to decide.
    #[serde(default = "default_review_from")]
    pub review_from: f64,
    /// Blocks with more records than this are skipped (logged): too common to be evidence.
    #[serde(default = "default_max_block")]
    pub max_block_size: usize,
    /// No link may make a cluster larger than this (guards against chains).
    #[serde(default = "default_max_cluster")]
    pub max_cluster_size: usize,
    /// CSV of manual decisions, relative to the config file: `action,source,source_customer_id,
    /// other_source,other_source_customer_id` with action `link` or `split`.
    pub overrides: Option<String>,
    /// Golden-record rule per field: `newest` (default), `most_frequent` or `source_priority`.
    #[serde(default)]
    pub survivorship: BTreeMap<String, Choice<Survivorship>>,
}

impl Default for IdentitySpec {
    fn default() -> Self {
        IdentitySpec {
            source_priority: default_source_priority(),
            link_on: default_link_on(),
            fuzzy: true,
            match_threshold: default_match_threshold(),
            term_frequencies: false,
            review_from: default_review_from(),
            max_block_size: default_max_block(),
            max_cluster_size: default_max_cluster(),
            overrides: None,
            survivorship: BTreeMap::new(),
        }
    }
}

fn default_true() -> bool {
    true
}

fn default_match_threshold() -> f64 {
    0.95
}

fn default_review_from() -> f64 {
    0.5
}

fn default_max_block() -> usize {
    500
}

fn default_max_cluster() -> usize {
    30
}

fn default_source_priority() -> Vec<String> {
    ["crm", "store", "shop", "wechat"].map(String::from).to_vec()
}

fn default_link_on() -> Vec<Choice<LinkRule>> {
    [LinkRule::IdNumber, LinkRule::Phone, LinkRule::Email, LinkRule::SourceId].map(Choice::from).to_vec()
}

#[derive(Debug, Clone, Deserialize)]
pub struct BehaviorSpec {
    /// Event types counted per window as `behavior_<type>_<n>d`.
    #[serde(default = "default_event_types")]
    pub event_types: Vec<String>,
    /// Window lengths in days, ending at `--as-of`.
    #[serde(default = "default_windows")]
    pub windows_days: Vec<u32>,
}

impl Default for BehaviorSpec {
    fn default() -> Self {
        BehaviorSpec { event_types: default_event_types(), windows_days: default_windows() }
    }
}

fn default_event_types() -> Vec<String> {
    ["view", "click", "search", "add_to_cart", "login"].map(String::from).to_vec()
}

fn default_windows() -> Vec<u32> {
    vec![7, 30, 90]
}

/// One `[[campaigns]]` entry, as written.
#[derive(Debug, Clone, Deserialize)]
pub struct CampaignSpec {
    pub name: String,
    pub label: Option<String>,
    pub label_zh: Option<String>,
    #[serde(default)]
    pub description: String,
    /// SQL condition over profile columns (and `tag_<name>` for every tag).
    pub audience: String,
    /// What is done to the treatment group (free code, e.g. `win_back_coupon`).
    pub action: String,
    /// How they are contacted (`sms`, `wechat`, `email`, `app_push`, ...).
    pub channel: String,
    /// Share of the audience left out as the control group.
    #[serde(default = "default_control_share")]
    pub control_share: f64,
    /// A paid order within this many days after the campaign day counts as a response.
    #[serde(default = "default_response_days")]
    pub response_days: u32,
    /// A customer who entered the campaign (either group) fewer than this many days ago is not
    /// entered again; default: `response_days` (so one person's responses fall in one window).
    pub cooldown_days: Option<u32>,
    /// Campaigns are filled in ascending priority (ties: config order).
    #[serde(default)]
    pub priority: i32,
    /// Whether a customer in this campaign may be in no other campaign of the day.
    #[serde(default = "default_true")]
    pub exclusive: bool,
    /// The customer's top N recommended skus go with each audience row (0: none).
    #[serde(default)]
    pub recommendations: usize,
}

fn default_control_share() -> f64 {
    0.1
}

fn default_response_days() -> u32 {
    14
}

/// `[recommend]`: the nightly `recommendations` table (the method: `stages::recommend`).
#[derive(Debug, Clone, Deserialize)]
pub struct RecommendSpec {
    /// Skus recommended per customer with a purchase history.
    #[serde(default = "default_top_n")]
    pub top_n: usize,
}

impl Default for RecommendSpec {
    fn default() -> Self {
        RecommendSpec { top_n: default_top_n() }
    }
}

fn default_top_n() -> usize {
    10
}

#[derive(Debug, Clone, Deserialize)]
pub struct RfmSpec {
    /// Frequency and monetary count paid orders in the last `window_days` days.
    #[serde(default = "default_rfm_window")]
    pub window_days: u32,
    /// Number of quantile bins (scores 1..bins).
    #[serde(default = "default_bins")]
    pub bins: u32,
}

impl Default for RfmSpec {
    fn default() -> Self {
        RfmSpec { window_days: default_rfm_window(), bins: default_bins() }
    }
}

fn default_rfm_window() -> u32 {
    365
}

fn default_bins() -> u32 {
    5
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelsSpec {
    /// Days per time unit of the BG/NBD and Gamma-Gamma fits (7 = weeks, as in the paper).
    #[serde(default = "default_unit_days")]
    pub unit_days: u32,
    /// `pred_purchases_<N>d`: expected purchases in the next N days.
    #[serde(default = "default_horizon")]
    pub horizon_days: u32,
    /// `clv_<H>d`: discounted expected spend over the next H days.
    #[serde(default = "default_clv_horizon")]
    pub clv_horizon_days: u32,
    /// Annual discount rate of the CLV (0.10 = 10 %), applied per 30-day step.
    #[serde(default = "default_discount")]
    pub annual_discount_rate: f64,
    /// L2 penalty on the BG/NBD parameters; 0 is plain maximum likelihood.
    #[serde(default)]
    pub penalizer: f64,
    /// With fewer buyers than this the models are not fitted and pred_* / clv_* are null.
    #[serde(default = "default_min_customers")]
    pub min_customers: usize,
    #[serde(default)]
    pub clusters: ClustersSpec,
}

impl Default for ModelsSpec {
    fn default() -> Self {
        ModelsSpec {
            unit_days: default_unit_days(),
            horizon_days: default_horizon(),
            clv_horizon_days: default_clv_horizon(),
            annual_discount_rate: default_discount(),
            penalizer: 0.0,
            min_customers: default_min_customers(),
            clusters: ClustersSpec::default(),
        }
    }
}

fn default_unit_days() -> u32 {
    7
}

fn default_horizon() -> u32 {
    90
}

fn default_clv_horizon() -> u32 {
    365
}

fn default_discount() -> f64 {
    0.10
}

fn default_min_customers() -> usize {
    20
}

#[derive(Debug, Clone, Deserialize)]
pub struct ClustersSpec {
    /// Profile columns the personas are found on (standardised; nulls take the column mean).
    #[serde(default = "default_cluster_features")]
    pub features: Vec<ClusterFeature>,
    /// Number of clusters; 0 = choose by the best silhouette over k_min..=k_max.
    #[serde(default)]
    pub k: usize,
    #[serde(default = "default_k_min")]
    pub k_min: usize,
    #[serde(default = "default_k_max")]
    pub k_max: usize,
    /// k-means++ restarts; the lowest within-cluster sum of squares wins.
    #[serde(default = "default_restarts")]
    pub restarts: usize,
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Restarts and the silhouette run on an evenly spread sample of this many customers;
    /// the final centres are refined on everyone.
    #[serde(default = "default_sample")]
    pub sample_size: usize,
}

impl Default for ClustersSpec {
    fn default() -> Self {
        ClustersSpec {
            features: default_cluster_features(),
            k: 0,
            k_min: default_k_min(),
            k_max: default_k_max(),
            restarts: default_restarts(),
            seed: default_seed(),
            sample_size: default_sample(),
        }
    }
}

/// One clustering feature and the words that describe a cluster far above or below average.
#[derive(Debug, Clone, Deserialize)]
pub struct ClusterFeature {
    pub column: String,
    /// Cluster on ln(1 + value): for skewed amounts and counts.
    #[serde(default)]
    pub log: bool,
    pub high: Option<String>,
    pub high_zh: Option<String>,
    pub low: Option<String>,
    pub low_zh: Option<String>,
}

fn default_cluster_features() -> Vec<ClusterFeature> {
    let f = |column: &str, log: bool, high: &str, high_zh: &str, low: &str, low_zh: &str| ClusterFeature {
        column: column.into(),
        log,
        high: Some(high.into()),
        high_zh: Some(high_zh.into()),
        low: Some(low.into()),
        low_zh: Some(low_zh.into()),
    };
    vec![
        f("basic_age", false, "older", "年龄偏大", "young", "年轻"),
        f("power_total_spend", true, "big spenders", "高消费", "low spend", "低消费"),
        f("behavior_frequency_365d", true, "high frequency", "高频购买", "rarely buys", "低频购买"),
        f("behavior_active_days_90d", true, "highly engaged", "高活跃", "inactive", "不活跃"),
        f("psych_price_sensitivity", false, "price-sensitive", "价格敏感", "not price-driven", "不看重价格"),
        f("social_influence_score", true, "socially influential", "社交影响力强", "socially quiet", "社交不活跃"),
    ]
}

fn default_k_min() -> usize {
    3
}

fn default_k_max() -> usize {
    8
}

fn default_restarts() -> usize {
    5
}

fn default_seed() -> u64 {
    42
}

fn default_sample() -> usize {
    2000
}

#[derive(Debug, Clone, Deserialize)]
pub struct OutputSpec {
    /// Rows per Parquet row group.
    #[serde(default = "default_row_group")]
    pub row_group_size: usize,
    /// zstd level 1..22.
    #[serde(default = "default_zstd")]
    pub zstd_level: i32,
}

impl Default for OutputSpec {
    fn default() -> Self {
        OutputSpec { row_group_size: default_row_group(), zstd_level: default_zstd() }
    }
}

fn default_row_group() -> usize {
    128 * 1024
}

fn default_zstd() -> i32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
pub struct FeatureSpec {
    /// Output column name; must not clash with an existing column.
    pub name: String,
    /// SQL expression over profile columns defined before it, e.g. `power_total_spend / 12`.
    pub expr: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RuleSpec {
    /// Segment, stage or tag name.
    pub name: String,
    /// SQL boolean expression over profile columns, e.g. `rfm_r >= 4 AND rfm_fm >= 4`.
    pub when: String,
    #[serde(default)]
    pub description: String,
    /// English display name (default: the name in words, `churn_risk` -> `Churn risk`).
    pub label: Option<String>,
    /// Chinese display name (default: the English label).
    pub label_zh: Option<String>,
}
