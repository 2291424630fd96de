//! `portrait sample`: a deterministic generator of realistic, messy input in the layout of
//! docs/inputs.md, plus its ground truth. The same person appears several times across and within
//! sources, with other formats and typos; orders are re-sent, refunded and cancelled; purchase
//! frequency is skewed. People have lasting tastes: about half of their order lines are one of
//! their few favourite skus (bought again), a fifth are what is in season (a set of skus that
//! changes every 60 days), the rest anything. Output: customers (CSV), orders, order_items,
//! events (Parquet), social_interactions (NDJSON), feedback (CSV), truth/customers_truth.csv.

use crate::error::{Error, Result};
use crate::io::export::{self, Format};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

mod deliveries;
pub(crate) mod names;

use deliveries::{Late, Slot, Window};

pub struct Options {
    pub scale: f64,
    pub seed: u64,
    /// Last day of history.
    pub as_of: NaiveDate,
    /// Share of a Chinese-named person's further records written in another script: in
    /// traditional characters at a store (Hong Kong, Taiwan), in pinyin elsewhere.
    pub name_variants: f64,
    /// Deliver the last this many days day by day (`deliveries`); 0: one file per table and
    /// chunk of people.
    pub deliveries: u32,
}

/// Separates the name variants' random stream from the main one, so that switching them on or
/// off changes no other generated value.
const VARIANT_STREAM: u64 = 0x6e61_6d65_7661_7273;
/// Names and name typos have their own streams too: a name's length decided how many draws a
/// typo took from the main stream, so that every generated value changed with the names.
const NAME_STREAM: u64 = 0x6e61_6d65_0000_0001;
const TYPO_STREAM: u64 = 0x7479_706f_0000_0002;

/// People per output file: bounds memory at large scale factors.
const CHUNK: usize = 50_000;

const STREETS: &[&str] = &["中山", "人民", "解放", "建设", "和平"];
const CITIES: &[(&str, &str, &str)] = &[
    ("北京", "北京", "110101"),
    ("上海", "上海", "310101"),
    ("广东", "广州", "440103"),
    ("广东", "深圳", "440303"),
    ("浙江", "杭州", "330102"),
    ("四川", "成都", "510104"),
    ("湖北", "武汉", "420102"),
    ("江苏", "南京", "320102"),
    ("江苏", "苏州", "320505"),
    ("陕西", "西安", "610102"),
    ("湖南", "长沙", "430102"),
    ("山东", "青岛", "370202"),
    ("河南", "郑州", "410102"),
    ("福建", "厦门", "350203"),
    ("云南", "昆明", "530102"),
    ("广西", "南宁", "450102"),
    ("河北", "石家庄", "130102"),
    ("黑龙江", "哈尔滨", "230102"),
    ("江西", "南昌", "360102"),
    ("山西", "太原", "140105"),
];
const OCCUPATIONS: &[&str] =
    &["engineer", "teacher", "doctor", "student", "sales", "civil servant", "freelancer", "manager", "worker", "retired"];
const EDUCATION: &[&str] = &["high school", "college", "bachelor", "master", "doctorate"];
const CATEGORIES: &[&str] = &["apparel", "beauty", "electronics", "home", "food", "books", "sports", "baby", "digital", "health"];
const DOMAINS: &[&str] = &["qq.com", "163.com", "gmail.com", "126.com", "outlook.com", "sina.com"];
const POSITIVE_TEXTS: &[&str] = &[
    "质量很好，非常满意",
    "物流很快，推荐",
    "东西不错，喜欢",
    "great quality, love it",
    "fast delivery, would recommend",
    "excellent service, very happy",
];
const NEGATIVE_TEXTS: &[&str] = &[
    "质量差，很失望",
    "物流太慢了",
    "不好用，要退货",
    "poor quality, disappointed",
    "terrible service, slow delivery",
    "item arrived broken",
];
const NEUTRAL_TEXTS: &[&str] = &["还行吧", "一般般", "it is ok", "as described"];
const TOPICS: &[&str] = &["quality", "price", "service", "delivery", "eco", "convenience"];

/// A person as the generator knows them (the truth behind the messy records).
struct Person {
    chinese: bool,
    name: String,
    /// A Chinese name's pinyin: surname, given name.
    pinyin: Option<(&'static str, String)>,
    gender: char,
    birth: NaiveDate,
    phone: String,
    email: String,
    id_number: Option<String>,
    city: usize,
    /// Home address (street index, house number) and postcode: most records carry them.
    street: usize,
    house: u32,
    postcode: String,
    occupation: usize,
    education: usize,
    income: f64,
    registered: NaiveDateTime,
}

/// The 18-char resident id with its ISO 7064 MOD 11-2 check character.
pub fn cn_id(region: &str, birth: NaiveDate, seq: u32) -> String {
    let body = format!("{region}{}{seq:03}", birth.format("%Y%m%d"));
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = body.bytes().zip(W).map(|(b, w)| (b - b'0') as u32 * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{body}{check}")
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, xs: &'a [T]) -> &'a T {
    &xs[rng.gen_range(0..xs.len())]
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; rand_distr is not needed for one distribution.
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn fullwidth(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap_or(c) } else { c }).collect()
}

/// The next national-id sequence number per (region, birth date, gender): real ids are unique.
type IdSequences = std::collections::HashMap<(usize, NaiveDate, char), u32>;

fn person(rng: &mut ChaCha8Rng, seed: u64, i: usize, start: NaiveDateTime, days: i64, id_sequences: &mut IdSequences) -> Person {
    let chinese = rng.gen_bool(0.75);
    let gender = if rng.gen_bool(0.52) { 'F' } else { 'M' };
    let mut names = ChaCha8Rng::seed_from_u64(seed ^ NAME_STREAM ^ i as u64);
    // The main stream still takes the two draws of the uniform name lists these replaced; only
    // the typos' draws left it (so the data measured in README is what this generates).
    let (name, name_latin, pinyin) = if chinese {
        let _ = (rng.gen_range(0..20usize), rng.gen_range(0..25usize));
        let (s, sp, g, gp) = names::chinese(&mut names, gender);
        (format!("{s}{g}"), format!("{gp}.{sp}"), Some((sp, gp)))
    } else {
        let _ = (rng.gen_range(0..16usize), rng.gen_range(0..12usize));
        let (f, l) = names::latin(&mut names);
        (format!("{f} {l}"), format!("{}.{}", f.to_lowercase(), l.to_lowercase()), None)
    };
    let age_days = rng.gen_range(18 * 365..70 * 365);
    let birth = (start + Duration::days(days)).date() - Duration::days(age_days);
    let city = rng.gen_range(0..CITIES.len());
    // Distinct people get distinct phones and emails (i times a number coprime to 10^9 is a
    // bijection mod 10^9); shared family numbers are left to the identity benchmarks.
    let phone = format!("1{}{:09}", pick(rng, &['3', '5', '7', '8', '9']), (i as u64 * 387_420_489 + 12_345) % 1_000_000_000);
    let email = format!("{}{}@{}", name_latin, i, pick(rng, DOMAINS));
    // Sequence numbers count up per region, birth date and gender (odd for men), so no two
    // people share an id. (A random draw here once gave 106 shared ids at SF 10; it is still
    // drawn, so that every other generated value stays the same.)
    let _ = rng.gen_range(0..500);
    let next = id_sequences.entry((city, birth, gender)).or_insert(0);
    let seq = (*next % 500) * 2 + if gender == 'M' { 1 } else { 0 };
    *next += 1;
    let id_number = rng.gen_bool(0.6).then(|| cn_id(CITIES[city].2, birth, seq));
    let income = (10.5 + 0.7 * normal(rng)).exp().round();
    let registered = start + Duration::minutes(rng.gen_range(0..days * 24 * 60));
    let street = rng.gen_range(0..STREETS.len());
    let house = rng.gen_range(1..300);
    let postcode = format!("{}{:04}", &CITIES[city].2[..2], rng.gen_range(0..10_000));
    Person {
        chinese,
        name,
        pinyin,
        gender,
        birth,
        phone,
        email,
        id_number,
        city,
        street,
        house,
        postcode,
        occupation: rng.gen_range(0..OCCUPATIONS.len()),
        education: rng.gen_range(0..EDUCATION.len()),
        income,
        registered,
    }
}

/// One source record of a person, in the source's own messy formats.
#[derive(Default)]
struct Customers {
    source: Vec<String>,
    id: Vec<String>,
    name: Vec<Option<String>>,
    gender: Vec<Option<String>>,
    birth: Vec<Option<String>>,
    phone: Vec<Option<String>>,
    email: Vec<Option<String>>,
    id_number: Vec<Option<String>>,
    address: Vec<Option<String>>,
    postcode: Vec<Option<String>>,
    province: Vec<Option<String>>,
    city: Vec<Option<String>>,
    occupation: Vec<Option<String>>,
    education: Vec<Option<String>>,
    income: Vec<Option<String>>,
    registered: Vec<Option<String>>,
    updated: Vec<Option<String>>,
    opt_in: Vec<Option<String>>,
    truth: Vec<u64>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

fn messy_phone(rng: &mut ChaCha8Rng, p: &str) -> String {
    match rng.gen_range(0..6) {
        0 => format!("+86 {}-{}-{}", &p[..3], &p[3..7], &p[7..]),
        1 => format!("0086{p}"),
        2 => format!("{} {} {}", &p[..3], &p[3..7], &p[7..]),
        3 => fullwidth(p),
        _ => p.to_string(),
    }
}

fn messy_date(rng: &mut ChaCha8Rng, d: NaiveDate) -> String {
    match rng.gen_range(0..4) {
        0 => format!("{}/{}/{}", d.year(), d.month(), d.day()),
        1 => d.format("%Y%m%d").to_string(),
        _ => d.format("%Y-%m-%d").to_string(),
    }
}

fn messy_gender(rng: &mut ChaCha8Rng, g: char) -> Option<String> {
    let options: &[&str] = if g == 'M' { &["M", "male", "男", "Male", "m"] } else { &["F", "female", "女", "Female", "f"] };
    if rng.gen_bool(0.1) {
        return if rng.gen_bool(0.5) { None } else { Some("unknown".into()) };
    }
    Some(pick(rng, options).to_string())
}

/// A one-character typo: swap two neighbours or drop one.
fn typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    if chars.len() < 3 {
        return s.to_string();
    }
    let i = rng.gen_range(1..chars.len() - 1);
    if rng.gen_bool(0.5) {
        chars.swap(i, i + 1);
    } else {
        chars.remove(i);
    }
    chars.into_iter().collect()
}

impl Customers {
    /// The last record's name (when it has one) as another system writes a Chinese name: a
    /// store's in traditional characters (王偉), others in pinyin ("Wang Wei", "WEI WANG",
    /// "Wei Wang", "Wangwei").
    fn in_another_script(&mut self, rng: &mut ChaCha8Rng, p: &Person, source: &str) {
        let (Some((s, g)), Some(Some(name))) = (&p.pinyin, self.name.last_mut()) else { return };
        let cap = |t: &str| t[..1].to_uppercase() + &t[1..];
        *name = match (source, rng.gen_range(0..4)) {
            ("store", _) => zhconv::zhconv(&p.name, zhconv::Variant::ZhHant),
            (_, 0) => format!("{} {}", cap(s), cap(g)),
            (_, 1) => format!("{} {}", s.to_uppercase(), g.to_uppercase()),
            (_, 2) => format!("{} {}", cap(g), cap(s)),
            _ => format!("{}{g}", cap(s)),
        };
    }

    #[allow(clippy::too_many_arguments)] // one argument per column of the record
    fn push(
        &mut self,
        rng: &mut ChaCha8Rng,
        typos: &mut ChaCha8Rng,
        p: &Person,
        truth: u64,
        source: &str,
        id: String,
        duplicate: bool,
        end: NaiveDateTime,
    ) -> (NaiveDateTime, NaiveDateTime) {
        let (province, city, _) = CITIES[p.city];
        let keep = |rng: &mut ChaCha8Rng, prob: f64| rng.gen_bool(prob);
        // Duplicates are harder: some lose phone or email, some have a typo in the name.
        let name = if duplicate && rng.gen_bool(0.2) {
            typo(typos, &p.name)
        } else if !p.chinese && rng.gen_bool(0.1) {
            fullwidth(&p.name)
        } else if rng.gen_bool(0.1) {
            format!("  {} ", p.name)
        } else {
            p.name.clone()
        };
        self.source.push(source.to_string());
        self.id.push(id);
        self.name.push(keep(rng, 0.97).then_some(name));
        self.gender.push(messy_gender(rng, p.gender));
        self.birth.push(keep(rng, 0.8).then(|| messy_date(rng, p.birth)));
        let has_phone = if source == "wechat" { keep(rng, 0.4) } else { keep(rng, if duplicate { 0.75 } else { 0.9 }) };
        self.phone.push(has_phone.then(|| messy_phone(rng, &p.phone)));
        let email = match rng.gen_range(0..4) {
            0 => format!(" {} ", p.email.to_uppercase()),
            1 => p.email.replacen(&p.email[..1], &p.email[..1].to_uppercase(), 1),
            _ => p.email.clone(),
        };
        self.email.push(keep(rng, if duplicate { 0.6 } else { 0.8 }).then_some(email));
        self.id_number.push(if source == "crm" || source == "store" { p.id_number.clone() } else { None });
        // Most records carry the home address, written with or without 市; some an old one.
        self.address.push(keep(rng, 0.7).then(|| {
            let (street, house) =
                if rng.gen_bool(0.85) { (p.street, p.house) } else { (rng.gen_range(0..STREETS.len()), rng.gen_range(1..300)) };
            let city = if rng.gen_bool(0.3) { format!("{city}市") } else { city.to_string() };
            format!("{city}{}路{house}号", STREETS[street])
        }));
        self.postcode.push(keep(rng, 0.6).then(|| {
            if rng.gen_bool(0.9) {
                p.postcode.clone()
            } else {
                format!("{}{:04}", &CITIES[p.city].2[..2], rng.gen_range(0..10_000))
            }
        }));
        self.province.push(keep(rng, 0.9).then(|| if rng.gen_bool(0.3) { format!("{province}省") } else { province.to_string() }));
        self.city.push(keep(rng, 0.9).then(|| if rng.gen_bool(0.3) { format!("{city}市") } else { city.to_string() }));
        self.occupation.push(keep(rng, 0.6).then(|| OCCUPATIONS[p.occupation].to_string()));
        self.education.push(keep(rng, 0.5).then(|| EDUCATION[p.education].to_string()));
        self.income.push(keep(rng, 0.4).then(|| format!("{}", p.income)));
        let registered = if duplicate { p.registered + Duration::days(rng.gen_range(0..200)) } else { p.registered };
        let registered = registered.min(end - Duration::hours(1));
        self.registered.push(Some(if rng.gen_bool(0.5) {
            registered.format("%Y-%m-%d %H:%M:%S").to_string()
        } else {
            registered.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }));
        let updated = registered + Duration::minutes(rng.gen_range(0..((end - registered).num_minutes().max(1))));
        self.updated.push(Some(updated.format("%Y-%m-%d %H:%M:%S").to_string()));
        self.opt_in.push(Some(pick(rng, &["true", "false", "1", "0", "yes", "no"]).to_string()));
        self.truth.push(truth);
        (registered, updated)
    }

    /// The last record again as it was when it was registered: no address yet, updated then.
    fn push_earlier_version(&mut self, registered: NaiveDateTime) {
        fn again<T: Clone>(v: &mut Vec<T>) {
            v.push(v.last().expect("a record to copy").clone());
        }
        again(&mut self.source);
        again(&mut self.id);
        for v in [
            &mut self.name,
            &mut self.gender,
            &mut self.birth,
            &mut self.phone,
            &mut self.email,
            &mut self.id_number,
            &mut self.postcode,
            &mut self.province,
            &mut self.city,
            &mut self.occupation,
            &mut self.education,
            &mut self.income,
            &mut self.registered,
            &mut self.opt_in,
        ] {
            again(v);
        }
        self.address.push(None);
        self.updated.push(Some(registered.format("%Y-%m-%d %H:%M:%S").to_string()));
        again(&mut self.truth);
    }

    /// A row that cannot be used: no customer id.
    fn push_garbage(&mut self, rng: &mut ChaCha8Rng) {
        self.source.push("shop".into());
        self.id.push(String::new());
        for v in [
            &mut self.name,
            &mut self.gender,
            &mut self.phone,
            &mut self.email,
            &mut self.id_number,
            &mut self.address,
            &mut self.postcode,
            &mut self.province,
            &mut self.city,
            &mut self.occupation,
            &mut self.education,
            &mut self.opt_in,
        ] {
            v.push(None);
        }
        self.birth.push(Some("not a date".into()));
        self.income.push(Some("n/a".into()));
        self.registered.push(Some(format!("garbage-{}", rng.gen_range(0..1000))));
        self.updated.push(None);
        self.truth.push(u64::MAX);
        // In the initial load.
        self.delivered.push(Slot::MIN / 2);
    }

    fn frame(self) -> PolarsResult<DataFrame> {
        let opt = |n: &str, v: Vec<Option<String>>| Column::new(n.into(), v);
        DataFrame::new_infer_height(vec![
            Column::new("source".into(), self.source),
            Column::new("source_customer_id".into(), self.id),
            opt("name", self.name),
            opt("gender", self.gender),
            opt("birth_date", self.birth),
            opt("phone", self.phone),
            opt("email", self.email),
            opt("id_number", self.id_number),
            opt("address", self.address),
            opt("postcode", self.postcode),
            opt("province", self.province),
            opt("city", self.city),
            opt("occupation", self.occupation),
            opt("education", self.education),
            opt("annual_income", self.income),
            opt("registered_at", self.registered),
            opt("updated_at", self.updated),
            opt("marketing_opt_in", self.opt_in),
        ])
    }
}

#[derive(Default)]
struct Orders {
    source: Vec<String>,
    order_id: Vec<String>,
    customer: Vec<String>,
    ts: Vec<i64>,
    channel: Vec<String>,
    status: Vec<String>,
    gross: Vec<f64>,
    discount: Vec<f64>,
    net: Vec<f64>,
    coupon: Vec<Option<String>>,
    payment: Vec<String>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

#[derive(Default)]
struct Items {
    source: Vec<String>,
    order_id: Vec<String>,
    sku: Vec<String>,
    category: Vec<String>,
    quantity: Vec<i32>,
    unit_price: Vec<f64>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

#[derive(Default)]
struct Events {
    source: Vec<String>,
    customer: Vec<String>,
    ts: Vec<i64>,
    kind: Vec<&'static str>,
    channel: Vec<&'static str>,
    page: Vec<&'static str>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

#[derive(Default)]
struct Social {
    source: Vec<String>,
    customer: Vec<String>,
    ts: Vec<String>,
    platform: Vec<&'static str>,
    action: Vec<&'static str>,
    followers: Vec<Option<i64>>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

#[derive(Default)]
struct Feedback {
    source: Vec<String>,
    customer: Vec<String>,
    ts: Vec<String>,
    kind: Vec<&'static str>,
    rating: Vec<Option<String>>,
    nps: Vec<Option<String>>,
    text: Vec<Option<&'static str>>,
    topic: Vec<Option<&'static str>>,
    /// When each row is delivered (`deliveries`).
    delivered: Vec<Slot>,
}

/// A person's lasting tastes, drawn from their own random stream (the main stream, and with it
/// every other generated value, is the same as without them).
struct Tastes {
    rng: ChaCha8Rng,
    /// Favourite skus with their category: bought again and again.
    favourites: Vec<(String, &'static str)>,
}

/// Skus in season at a time: `season-<n>-<k>`, 30 per season, the season changing every 60 days.
const SEASON_DAYS: i64 = 60;

impl Tastes {
    fn of(seed: u64, person: usize) -> Tastes {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7a57_e500_0000_0000 ^ person as u64);
        let n = rng.gen_range(2..=6);
        // Popular skus are shared: the sku number is skewed towards 0.
        let favourites = (0..n)
            .map(|_| {
                let cat = *pick(&mut rng, CATEGORIES);
                (format!("{cat}-{}", (400.0 * rng.gen::<f64>().powi(3)) as u32), cat)
            })
            .collect();
        Tastes { rng, favourites }
    }

    /// An order line's sku and category, `day` days into the history: a favourite (half the
    /// time), a sku in season (a fifth), else `any` of `category`.
    fn line(&mut self, any: String, category: &'static str, day: i64) -> (String, &'static str) {
        let u: f64 = self.rng.gen();
        if u < 0.5 {
            let (sku, cat) = &self.favourites[self.rng.gen_range(0..self.favourites.len())];
            (sku.clone(), cat)
        } else if u < 0.7 {
            let cat = *pick(&mut self.rng, CATEGORIES);
            (format!("{cat}-season-{}-{}", day / SEASON_DAYS, (30.0 * self.rng.gen::<f64>().powi(2)) as u32), cat)
        } else {
            (any, category)
        }
    }
}

pub(crate) fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

pub(crate) fn ts_column(name: &str, v: Vec<i64>) -> PolarsResult<Column> {
    Column::new(name.into(), v).cast(&DataType::Datetime(TimeUnit::Microseconds, None))
}

/// Generate the data set into `out`; returns a one-line summary.
pub fn generate(opts: &Options, out: &Path) -> Result<String> {
    let people = ((100_000.0 * opts.scale).round() as usize).max(10);
    let end = opts.as_of.succ_opt().expect("date").and_hms_opt(0, 0, 0).expect("midnight");
    let days = 730i64;
    let start = end - Duration::days(days);
    for t in ["customers", "orders", "order_items", "events", "social_interactions", "feedback", "truth"] {
        std::fs::create_dir_all(out.join(t)).map_err(|e| Error::io(out.join(t), e))?;
    }
    let first_delivery = opts.as_of - Duration::days(opts.deliveries as i64 - 1);
    let mut truth = String::from("source,source_customer_id,entity_id\n");
    let mut totals = [0usize; 6];
    let mut order_seq = 0u64;
    let mut id_sequences = IdSequences::new();
    for (chunk, first) in (0..people).step_by(CHUNK).enumerate() {
        let last = (first + CHUNK).min(people);
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed.wrapping_mul(1_000_003).wrapping_add(chunk as u64));
        let mut typos = ChaCha8Rng::seed_from_u64(opts.seed ^ TYPO_STREAM ^ chunk as u64);
        let mut late = Late::new(opts.seed, chunk);
        let (mut c, mut o, mut it, mut ev, mut so, mut fb) =
            (Customers::default(), Orders::default(), Items::default(), Events::default(), Social::default(), Feedback::default());
        for i in first..last {
            let p = person(&mut rng, opts.seed, i, start, days, &mut id_sequences);
            // Records: one in a primary source, ~15% more across or within sources.
            let mut records: Vec<(String, String)> = Vec::new();
            let primary = *pick(&mut rng, &["crm", "shop", "shop", "wechat", "store"]);
            let mut n_records = 1;
            while rng.gen_bool(if n_records == 1 { 0.13 } else { 0.15 }) && n_records < 4 {
                n_records += 1;
            }
            for r in 0..n_records {
                let source = if r == 0 { primary } else { *pick(&mut rng, &["crm", "shop", "wechat", "store"]) };
                let id = match source {
                    "crm" => format!("C{:08}", i * 4 + r),
                    "shop" => format!("S-{}-{}", i, r),
                    "wechat" => format!("wx_{:x}", (i * 4 + r) as u64 * 2_654_435_761 % (1 << 40)),
                    _ => format!("ST{:07}{}", i, r),
                };
                let (registered, updated) = c.push(&mut rng, &mut typos, &p, i as u64, source, id.clone(), r > 0, end);
                if r > 0 {
                    let mut variants = ChaCha8Rng::seed_from_u64(opts.seed ^ VARIANT_STREAM ^ (i * 4 + r) as u64);
                    if variants.gen_bool(opts.name_variants) {
                        c.in_another_script(&mut variants, &p, source);
                    }
                }
                // A record is delivered when it was last updated; one updated in the days
                // delivered one by one was delivered when it was registered too.
                c.delivered.push(late.on_day(updated, 0));
                if opts.deliveries > 0 && updated.date() > registered.date() && updated.date() >= first_delivery {
                    c.push_earlier_version(registered);
                    c.delivered.push(late.on_day(registered, 0));
                }
                truth.push_str(&format!("{source},{id},{i}\n"));
                records.push((source.to_string(), id));
            }
            if rng.gen_bool(0.002) {
                c.push_garbage(&mut rng);
            }

            // Purchases: 12% never buy, 28% buy once, the rest log-normally many times.
            let u: f64 = rng.gen();
            let n_orders = if u < 0.12 {
                0
            } else if u < 0.40 {
                1
            } else {
                ((2.9 + normal(&mut rng)).exp().ceil() as usize).min(400)
            };
            let active_from = p.registered.max(start);
            let span = (end - active_from).num_minutes().max(60);
            let churned = rng.gen_bool(0.3);
            let active_span = if churned { span / rng.gen_range(2..6) } else { span };
            let price_level = (4.5 + 0.6 * normal(&mut rng)).exp();
            let mut tastes = Tastes::of(opts.seed, i);
            for _ in 0..n_orders {
                let (source, cid) = &records[rng.gen_range(0..records.len())];
                let ts = active_from + Duration::minutes(rng.gen_range(0..active_span));
                let ts = ts
                    .date()
                    .and_hms_opt(*pick(&mut rng, &[9, 10, 12, 13, 14, 19, 20, 21, 22, 23]), rng.gen_range(0..60), rng.gen_range(0..60))
                    .expect("time");
                let ts = ts.min(end - Duration::seconds(1));
                order_seq += 1;
                let order_id = format!("O{order_seq:010}");
                let gross = ((price_level * (0.5 + rng.gen::<f64>())) * 100.0).round() / 100.0;
                let discount = if rng.gen_bool(0.4) { (gross * rng.gen_range(0.05..0.3) * 100.0).round() / 100.0 } else { 0.0 };
                let status =
                    *pick(&mut rng, &["paid"; 18].iter().chain(&["refunded", "refunded", "cancelled"]).copied().collect::<Vec<_>>());
                let channel = match source.as_str() {
                    "store" => "offline",
                    "wechat" => "mini_program",
                    _ => *pick(&mut rng, &["online", "mobile", "mobile"]),
                };
                let push = |o: &mut Orders, status: &str, net: f64, slot: Slot| {
                    o.delivered.push(slot);
                    o.source.push(source.clone());
                    o.order_id.push(order_id.clone());
                    o.customer.push(cid.clone());
                    o.ts.push(micros(ts));
                    o.channel.push(channel.to_string());
                    o.status.push(status.to_string());
                    o.gross.push(gross);
                    o.discount.push(discount);
                    o.net.push(net);
                    o.coupon.push((discount > 0.0).then(|| format!("CP{}", (gross as u64) % 50)));
                    o.payment.push(["alipay", "wechat_pay", "card", "cash"][(order_seq % 4) as usize].to_string());
                };
                let net = ((gross - discount) * 100.0).round() / 100.0;
                let placed = late.slot(ts, 0.05);
                push(&mut o, status, net, placed);
                // A few orders are re-sent two days later, some with a changed status.
                if rng.gen_bool(0.02) {
                    push(&mut o, if rng.gen_bool(0.3) { "refunded" } else { status }, net, placed + 4);
                }
                if rng.gen_bool(0.0005) {
                    push(&mut o, "lost in transit", net, placed);
                }
                let n_items = rng.gen_range(1..=4);
                for k in 0..n_items {
                    it.delivered.push(placed);
                    it.source.push(source.clone());
                    it.order_id.push(order_id.clone());
                    let cat = *pick(&mut rng, CATEGORIES);
                    let any = format!("{cat}-{}", rng.gen_range(0..500) + k * 1000);
                    let (sku, cat) = tastes.line(any, cat, (ts - start).num_days());
                    it.sku.push(sku);
                    it.category.push(cat.to_string());
                    let q = rng.gen_range(1..=3);
                    it.quantity.push(q);
                    it.unit_price.push(((gross / n_items as f64 / q as f64) * 100.0).round() / 100.0);
                }
            }

            // Behaviour events: about 50 per person, around their active period.
            let n_events = ((3.5 + 0.8 * normal(&mut rng)).exp() as usize).min(2_000);
            for _ in 0..n_events {
                let (source, cid) = &records[rng.gen_range(0..records.len())];
                ev.source.push(source.clone());
                ev.customer.push(cid.clone());
                let t = active_from + Duration::seconds(rng.gen_range(0..active_span * 60));
                ev.ts.push(micros(t));
                ev.delivered.push(late.slot(t, 0.03));
                let k = rng.gen_range(0..100);
                ev.kind.push(match k {
                    0..=49 => "view",
                    50..=69 => "click",
                    70..=79 => "search",
                    80..=89 => "add_to_cart",
                    90..=97 => "login",
                    98 => "qr_scan",
                    _ => "form_submit",
                });
                ev.channel.push(*pick(&mut rng, &["app", "web", "mini_program"]));
                ev.page.push(*pick(&mut rng, CATEGORIES));
            }

            // Social: 40% of people, a few opinion leaders with many followers.
            if rng.gen_bool(0.4) {
                let n = rng.gen_range(1..=25);
                let followers =
                    if rng.gen_bool(0.05) { (9.0 + 1.5 * normal(&mut rng)).exp() as i64 } else { (4.0 + normal(&mut rng)).exp() as i64 };
                for _ in 0..n {
                    let (source, cid) = &records[rng.gen_range(0..records.len())];
                    so.source.push(source.clone());
                    so.customer.push(cid.clone());
                    let t = active_from + Duration::seconds(rng.gen_range(0..active_span * 60));
                    so.ts.push(t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                    so.delivered.push(late.slot(t, 0.05));
                    so.platform.push(*pick(&mut rng, &["wechat", "weibo", "douyin", "xiaohongshu"]));
                    so.action.push(*pick(&mut rng, &["share", "like", "like", "like", "comment", "follow", "invite"]));
                    so.followers.push(rng.gen_bool(0.5).then_some(followers));
                }
            }

            // Feedback: about one per person, satisfaction drives rating, NPS and text.
            let satisfied = rng.gen_bool(0.7);
            let n_fb = if rng.gen_bool(0.5) { 0 } else { rng.gen_range(1..=3) };
            for _ in 0..n_fb {
                let (source, cid) = &records[rng.gen_range(0..records.len())];
                fb.source.push(source.clone());
                fb.customer.push(cid.clone());
                let t = active_from + Duration::seconds(rng.gen_range(0..active_span * 60));
                fb.ts.push(t.format("%Y/%m/%d %H:%M").to_string());
                fb.delivered.push(late.slot(t, 0.05));
                let kind = *pick(&mut rng, &["review", "review", "complaint", "survey", "nps"]);
                let kind = if kind == "complaint" && satisfied { "review" } else { kind };
                fb.kind.push(kind);
                let rating = if satisfied { rng.gen_range(4..=5) } else { rng.gen_range(1..=3) };
                fb.rating.push((kind == "review" || kind == "survey").then(|| rating.to_string()));
                let nps = if satisfied { rng.gen_range(7..=10) } else { rng.gen_range(0..=7) };
                fb.nps.push((kind == "nps" || kind == "survey").then(|| nps.to_string()));
                let texts = if kind == "complaint" || !satisfied {
                    NEGATIVE_TEXTS
                } else if rng.gen_bool(0.8) {
                    POSITIVE_TEXTS
                } else {
                    NEUTRAL_TEXTS
                };
                fb.text.push((kind != "nps").then(|| *pick(&mut rng, texts)));
                fb.topic.push(rng.gen_bool(0.8).then(|| *pick(&mut rng, TOPICS)));
            }
        }
        // Orphan orders: customers the customer extract does not know.
        if chunk == 0 {
            for k in 0..3 {
                o.source.push("shop".into());
                o.order_id.push(format!("ORPHAN{k}"));
                o.customer.push(format!("S-unknown-{k}"));
                o.ts.push(micros(end - Duration::days(3)));
                o.delivered.push(late.on_day(end - Duration::days(3), 0));
                o.channel.push("online".into());
                o.status.push("paid".into());
                o.gross.push(10.0);
                o.discount.push(0.0);
                o.net.push(10.0);
                o.coupon.push(None);
                o.payment.push("card".into());
            }
        }
        totals[0] += c.truth.len();
        totals[1] += o.order_id.len();
        totals[2] += it.order_id.len();
        totals[3] += ev.ts.len();
        totals[4] += so.ts.len();
        totals[5] += fb.ts.len();
        let window = (opts.deliveries > 0).then(|| Window::last_days(opts.as_of, opts.deliveries));
        write_chunk(out, chunk, window, c, o, it, ev, so, fb)?;
    }
    std::fs::write(out.join("truth/customers_truth.csv"), truth).map_err(|e| Error::io(out.join("truth"), e))?;
    Ok(format!(
        "{people} people: customers {}, orders {}, order_items {}, events {}, social_interactions {}, feedback {}",
        totals[0], totals[1], totals[2], totals[3], totals[4], totals[5]
    ))
}

/// One chunk's tables: one file each, or into their deliveries (`window`).
#[allow(clippy::too_many_arguments)] // one buffer per generated table
fn write_chunk(
    out: &Path,
    chunk: usize,
    window: Option<Window>,
    mut c: Customers,
    mut o: Orders,
    mut it: Items,
    mut ev: Events,
    mut so: Social,
    mut fb: Feedback,
) -> Result<()> {
    let take = std::mem::take::<Vec<Slot>>;
    let slots = [
        take(&mut c.delivered),
        take(&mut o.delivered),
        take(&mut it.delivered),
        take(&mut ev.delivered),
        take(&mut so.delivered),
        take(&mut fb.delivered),
    ];
    let frames = chunk_frames(c, o, it, ev, so, fb).map_err(|e| Error::internal("building sample frames", e))?;
    let tables = ["customers", "orders", "order_items", "events", "social_interactions", "feedback"];
    let formats = [Format::Csv, Format::Parquet, Format::Parquet, Format::Parquet, Format::Ndjson, Format::Csv];
    for (((mut df, slots), table), format) in frames.into_iter().zip(slots).zip(tables).zip(formats) {
        let dir = out.join(table);
        match window {
            Some(window) => deliveries::write(df, slots, window, &dir, chunk, format)?,
            None => export::write(&mut df, &dir.join(format!("part-{chunk:05}.{}", format.extension())), format)?,
        }
    }
    Ok(())
}

/// One chunk's frames: customers, orders, order items, events, social interactions, feedback.
fn chunk_frames(c: Customers, o: Orders, it: Items, ev: Events, so: Social, fb: Feedback) -> PolarsResult<[DataFrame; 6]> {
    let customers = c.frame()?;
    let orders = DataFrame::new_infer_height(vec![
        Column::new("source".into(), o.source),
        Column::new("order_id".into(), o.order_id),
        Column::new("source_customer_id".into(), o.customer),
        ts_column("order_ts", o.ts)?,
        Column::new("channel".into(), o.channel),
        Column::new("status".into(), o.status),
        Column::new("gross_amount".into(), o.gross),
        Column::new("discount_amount".into(), o.discount),
        Column::new("net_amount".into(), o.net),
        Column::new("coupon_code".into(), o.coupon),
        Column::new("payment_method".into(), o.payment),
    ])?;
    let items = DataFrame::new_infer_height(vec![
        Column::new("source".into(), it.source),
        Column::new("order_id".into(), it.order_id),
        Column::new("sku".into(), it.sku),
        Column::new("category".into(), it.category),
        Column::new("quantity".into(), it.quantity),
        Column::new("unit_price".into(), it.unit_price),
    ])?;
    let events = DataFrame::new_infer_height(vec![
        Column::new("source".into(), ev.source),
        Column::new("source_customer_id".into(), ev.customer),
        ts_column("event_ts", ev.ts)?,
        Column::new("event_type".into(), ev.kind),
        Column::new("channel".into(), ev.channel),
        Column::new("page_category".into(), ev.page),
    ])?;
    let social = DataFrame::new_infer_height(vec![
        Column::new("source".into(), so.source),
        Column::new("source_customer_id".into(), so.customer),
        Column::new("ts".into(), so.ts),
        Column::new("platform".into(), so.platform),
        Column::new("action".into(), so.action),
        Column::new("followers".into(), so.followers),
    ])?;
    let feedback = DataFrame::new_infer_height(vec![
        Column::new("source".into(), fb.source),
        Column::new("source_customer_id".into(), fb.customer),
        Column::new("ts".into(), fb.ts),
        Column::new("kind".into(), fb.kind),
        Column::new("rating".into(), fb.rating),
        Column::new("nps".into(), fb.nps),
        Column::new("text".into(), fb.text),
        Column::new("topic".into(), fb.topic),
    ])?;
    Ok([customers, orders, items, events, social, feedback])
}
