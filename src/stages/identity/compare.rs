//! Field comparators for probabilistic matching. Each returns a level: 0 = agree exactly,
//! higher = weaker agreement, the last level = disagree; `None` when either value is missing
//! (missing values are no evidence either way in Fellegi-Sunter).

use chrono::NaiveDate;
use strsim::{jaro_winkler, osa_distance};

/// A record's fields prepared once for many comparisons.
/// An optional text field: `Box<str>` holds no spare capacity and is 16 bytes to `String`'s 24,
/// which counts at millions of records.
pub type Text = Option<Box<str>>;

#[derive(Clone, Debug, Default)]
pub struct Prepared {
    /// Normalised full name, tokens sorted (so "smith john" = "john smith"), no spaces.
    pub name: Text,
    pub given: Text,
    pub surname: Text,
    pub cjk_name: bool,
    /// A Chinese name in pinyin without tones: surname then given name, and given name then
    /// surname, run together ("wangwei", "weiwang"), for comparing with a name written in
    /// Latin letters; None for other names.
    pub pinyin: Option<[Box<str>; 2]>,
    /// yyyymmdd
    pub birth: Text,
    pub id_number: Text,
    /// An 18-character national id (its check character was verified by clean).
    pub cn_id: bool,
    pub phone: Text,
    pub email: Text,
    /// The address's numbers (house, building), in order, and its letters run together
    /// (spaces and punctuation dropped, so "goodwinstreet" = "goodwin street").
    pub address_numbers: Box<[Box<str>]>,
    pub address_text: Box<str>,
    pub postcode: Text,
    pub province: Text,
    pub city: Text,
    pub gender: Text,
}

pub fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

impl Prepared {
    pub fn has_address(&self) -> bool {
        !self.address_numbers.is_empty() || !self.address_text.is_empty()
    }

    #[allow(clippy::too_many_arguments)] // one argument per compared field
    pub fn new(
        name: Option<&str>,
        birth: Option<NaiveDate>,
        id_number: Option<&str>,
        phone: Option<&str>,
        email: Option<&str>,
        address: Option<&str>,
        postcode: Option<&str>,
        province: Option<&str>,
        city: Option<&str>,
        gender: Option<&str>,
    ) -> Prepared {
        let clean = |s: Option<&str>| s.map(str::trim).filter(|s| !s.is_empty()).map(Box::<str>::from);
        let name = clean(name).map(|n| n.to_lowercase());
        let cjk_name = name.as_deref().is_some_and(|n| n.chars().any(is_cjk));
        // 王偉 (Hong Kong, Taiwan) is 王伟: traditional characters folded to simplified.
        let name = if cjk_name { name.map(|n| zhconv::zhconv(&n, zhconv::Variant::ZhHans)) } else { name };
        let (given, surname, key) = match &name {
            None => (None, None, None),
            Some(n) if cjk_name => {
                // Chinese names: the first character is the surname (two-character surnames
                // are rare enough that the comparators tolerate them).
                let n: String = n.chars().filter(|c| !c.is_whitespace()).collect();
                let surname: String = n.chars().take(1).collect();
                let given: String = n.chars().skip(1).collect();
                (Some(given.into()), Some(surname.into()), Some(n.into()))
            }
            Some(n) => {
                let tokens: Vec<&str> = n.split(|c: char| c.is_whitespace() || c == '.' || c == ',').filter(|t| !t.is_empty()).collect();
                let mut sorted = tokens.clone();
                sorted.sort_unstable();
                (tokens.first().map(|t| (*t).into()), tokens.last().map(|t| (*t).into()), Some(sorted.concat().into()))
            }
        };
        let lower = address.map(str::to_lowercase).unwrap_or_default();
        let address_numbers: Box<[Box<str>]> =
            lower.split(|c: char| !c.is_ascii_digit()).filter(|t| !t.is_empty()).map(Into::into).collect();
        let address_text: Box<str> = lower.chars().filter(|c| c.is_alphabetic()).collect::<String>().into();
        let pinyin = if cjk_name { surname.as_deref().zip(given.as_deref()).and_then(|(s, g)| pinyin_orders(s, g)) } else { None };
        Prepared {
            name: key,
            given,
            surname,
            cjk_name,
            pinyin,
            birth: birth.map(|d| d.format("%Y%m%d").to_string().into()),
            id_number: clean(id_number),
            cn_id: id_number.is_some_and(|s| s.trim().len() == 18),
            phone: clean(phone),
            email: clean(email),
            address_numbers,
            address_text,
            postcode: clean(postcode),
            province: clean(province),
            city: clean(city),
            gender: clean(gender).filter(|g| &**g != "U"),
        }
    }
}

/// Surnames read otherwise than the character's commonest reading, which is what the pinyin
/// dictionary gives: 曾 is ceng in 曾经 but Zeng as a surname.
const SURNAME_READINGS: &[(&str, &str)] = &[
    ("曾", "zeng"),
    ("单", "shan"),
    ("解", "xie"),
    ("仇", "qiu"),
    ("查", "zha"),
    ("区", "ou"),
    ("朴", "piao"),
    ("盖", "ge"),
    ("乐", "yue"),
    ("缪", "miao"),
    ("覃", "qin"),
    ("翟", "zhai"),
    ("阚", "kan"),
    ("尉", "yu"),
    ("秘", "bi"),
    ("种", "chong"),
    ("员", "yun"),
];

/// The pinyin of a Chinese surname and given name, without tones: [surname + given,
/// given + surname]; None when a character has no reading.
fn pinyin_orders(surname: &str, given: &str) -> Option<[Box<str>; 2]> {
    use pinyin::ToPinyin;
    let read = |s: &str| -> Option<String> { s.to_pinyin().map(|p| p.map(|p| p.plain())).collect::<Option<Vec<_>>>().map(|v| v.concat()) };
    let surname_reading = SURNAME_READINGS.iter().find(|(c, _)| *c == surname).map(|(_, r)| r.to_string());
    let (s, g) = (surname_reading.or_else(|| read(surname))?, read(given)?);
    Some([format!("{s}{g}").into(), format!("{g}{s}").into()])
}

/// A Latin-letter name's tokens run together, in the order written and reversed ("Wang Wei",
/// "WEI WANG", "Wangwei" all give "wangwei" in one of them).
fn latin_orders(p: &Prepared) -> Option<[String; 2]> {
    let (g, s) = (p.given.as_deref()?, p.surname.as_deref()?);
    if g == s {
        return Some([g.to_string(), g.to_string()]);
    }
    Some([format!("{g}{s}"), format!("{s}{g}")])
}

/// A name in Latin letters as a blocking key: the letters of a Chinese name's pinyin or of a
/// Latin name, sorted, so that 王伟, "Wang Wei", "WEI WANG", "Weiwang" and "Wangwei" meet
/// whatever the order of the names and wherever a system put the space.
pub fn romanised(p: &Prepared) -> Option<String> {
    let letters: &str = match (&p.pinyin, &p.name) {
        (Some([surname_first, _]), _) => surname_first,
        (None, Some(name)) if !p.cjk_name => name,
        _ => return None,
    };
    let mut letters: Vec<char> = letters.chars().filter(|c| c.is_alphabetic()).collect();
    letters.sort_unstable();
    Some(letters.into_iter().collect())
}

/// A Chinese name against one in Latin letters: 1 when the Latin one is its pinyin (either
/// order, with or without the space; many characters share a reading, so not 0), 2 when
/// close to it (Jaro-Winkler >= 0.94: a typo in the romanisation), else 3.
fn across_scripts(cjk: &Prepared, latin: &Prepared) -> Option<u8> {
    let (Some(readings), Some(written)) = (&cjk.pinyin, latin_orders(latin)) else { return Some(3) };
    if readings.iter().any(|r| written.iter().any(|w| **r == **w)) {
        return Some(1);
    }
    let best = readings.iter().flat_map(|r| written.iter().map(move |w| jaro_winkler(r, w))).fold(0.0, f64::max);
    Some(if best >= 0.94 { 2 } else { 3 })
}

/// True when `x` and `y` are at most one edit apart: one character substituted, inserted or
/// deleted, or two neighbours swapped (optimal string alignment distance <= 1), without
/// allocating: the comparators run tens of millions of times a night.
pub fn within_one_edit(x: &str, y: &str) -> bool {
    let (a, b) = (x.as_bytes(), y.as_bytes());
    if !x.is_ascii() || !y.is_ascii() {
        return osa_distance(x, y) <= 1;
    }
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(p, q)| p == q).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let suffix_eq = |sa: &[u8], sb: &[u8]| sa == sb;
    if la == lb {
        // substitution, or a swap of neighbours
        suffix_eq(&a[prefix + 1..], &b[prefix + 1..])
            || (prefix + 1 < la
                && a[prefix] == b[prefix + 1]
                && a[prefix + 1] == b[prefix]
                && suffix_eq(&a[prefix + 2..], &b[prefix + 2..]))
    } else if la > lb {
        suffix_eq(&a[prefix + 1..], &b[prefix..])
    } else {
        suffix_eq(&a[prefix..], &b[prefix + 1..])
    }
}

fn both<'a>(a: &'a Text, b: &'a Text) -> Option<(&'a str, &'a str)> {
    Some((a.as_deref()?, b.as_deref()?))
}

/// Names: 0 equal (tokens in any order); 1 very close (Jaro-Winkler >= 0.94, or the same
/// Chinese characters in another order); 2 close (JW >= 0.85 or, for Chinese names, at least
/// two thirds of the characters shared); 3 different.
pub fn name(a: &Prepared, b: &Prepared) -> Option<u8> {
    let (x, y) = both(&a.name, &b.name)?;
    if x == y {
        return Some(0);
    }
    if a.cjk_name != b.cjk_name {
        return if a.cjk_name { across_scripts(a, b) } else { across_scripts(b, a) };
    }
    if a.cjk_name && b.cjk_name {
        // A character dropped (张秀英, 张英) is a clerk's slip; two names sharing all but one
        // character (张晓伟, 张晓明) are mostly two people, so that is not level 2.
        return Some(if char_dice(x, y) >= 0.999 {
            1
        } else if one_character_dropped(x, y) || one_character_dropped(y, x) {
            2
        } else {
            3
        });
    }
    // Latin names: the better of the whole (sorted) name and given/surname compared pairwise.
    let whole = jaro_winkler(x, y);
    let parts = match (both(&a.given, &b.given), both(&a.surname, &b.surname)) {
        (Some((g1, g2)), Some((s1, s2))) => (jaro_winkler(g1, g2) + jaro_winkler(s1, s2)) / 2.0,
        _ => 0.0,
    };
    let sim = whole.max(parts);
    Some(if sim >= 0.94 {
        1
    } else if sim >= 0.85 {
        2
    } else {
        3
    })
}

/// True when `short` is `long` with one character left out (the first character where they
/// differ), without allocating: it runs for every pair of Chinese names compared.
fn one_character_dropped(long: &str, short: &str) -> bool {
    if long.chars().count() != short.chars().count() + 1 {
        return false;
    }
    let same = long.chars().zip(short.chars()).take_while(|(a, b)| a == b).count();
    long.chars().skip(same + 1).eq(short.chars().skip(same))
}

/// Dice coefficient of two strings' character multisets.
pub fn char_dice(x: &str, y: &str) -> f64 {
    let mut yc: Vec<char> = y.chars().collect();
    let (nx, ny) = (x.chars().count(), yc.len());
    let mut shared = 0;
    for c in x.chars() {
        if let Some(p) = yc.iter().position(|d| *d == c) {
            yc.swap_remove(p);
            shared += 1;
        }
    }
    2.0 * shared as f64 / (nx + ny).max(1) as f64
}

/// Birth dates (yyyymmdd): 0 equal; 1 day and month swapped, or one digit wrong, or two
/// neighbouring digits swapped (the usual keying errors); 2 same year; 3 different.
pub fn birth(a: &Prepared, b: &Prepared) -> Option<u8> {
    let (x, y) = both(&a.birth, &b.birth)?;
    if x == y {
        return Some(0);
    }
    let swapped = x.len() == 8 && y.len() == 8 && x[..4] == y[..4] && x[4..6] == y[6..8] && x[6..8] == y[4..6];
    Some(if swapped || within_one_edit(x, y) {
        1
    } else if x[..4.min(x.len())] == y[..4.min(y.len())] {
        2
    } else {
        3
    })
}

/// Identifiers (national id, phone, postcode): 0 equal, 1 one edit apart (a typo), 2 different.
pub fn identifier(x: &Text, y: &Text) -> Option<u8> {
    let (x, y) = both(x, y)?;
    Some(if x == y {
        0
    } else if within_one_edit(x, y) {
        1
    } else {
        2
    })
}

/// Emails: 0 equal, 1 same local part or one edit apart, 2 different.
pub fn email(a: &Prepared, b: &Prepared) -> Option<u8> {
    let (x, y) = both(&a.email, &b.email)?;
    let local = |e: &'_ str| e.split('@').next().unwrap_or("").to_string();
    Some(if x == y {
        0
    } else if local(x) == local(y) || within_one_edit(x, y) {
        1
    } else {
        2
    })
}

/// Addresses: house numbers must agree for a strong level; the rest is compared as one
/// string without spaces or punctuation (so "goodwinstreet" = "goodwin street") by
/// Jaro-Winkler. 0: same numbers, text >= 0.95; 1: same numbers, text >= 0.85;
/// 2: text >= 0.85 with other numbers (the same street); 3: different.
pub fn address(a: &Prepared, b: &Prepared) -> Option<u8> {
    if !a.has_address() || !b.has_address() {
        return None;
    }
    let text = if a.address_text == b.address_text { 1.0 } else { jaro_winkler(&a.address_text, &b.address_text) };
    Some(match (a.address_numbers == b.address_numbers, text) {
        (true, t) if t >= 0.95 => 0,
        (true, t) if t >= 0.85 => 1,
        (_, t) if t >= 0.85 => 2,
        _ => 3,
    })
}

/// Places (city, suburb): 0 equal, 1 Jaro-Winkler >= 0.9 (a typo), 2 different.
pub fn place(x: &Text, y: &Text) -> Option<u8> {
    let (x, y) = both(x, y)?;
    Some(if x == y {
        0
    } else if jaro_winkler(x, y) >= 0.9 {
        1
    } else {
        2
    })
}

/// Place: city and province compared together (city implies province, so comparing both
/// separately would count one agreement twice). 0 same city, 1 city one typo apart
/// (Jaro-Winkler >= 0.9) in no other province, 2 same province but not the same city (or a
/// city missing), 3 different.
pub fn place_of(a: &Prepared, b: &Prepared) -> Option<u8> {
    let province = exact(&a.province, &b.province);
    match place(&a.city, &b.city) {
        Some(0) if province != Some(1) => Some(0),
        Some(1) if province != Some(1) => Some(1),
        _ if province == Some(0) => Some(2),
        Some(_) => Some(3),
        None => province.map(|p| if p == 0 { 2 } else { 3 }),
    }
}

/// Categories (gender, province): 0 equal, 1 different.
pub fn exact(x: &Text, y: &Text) -> Option<u8> {
    let (x, y) = both(x, y)?;
    Some(u8::from(x != y))
}

/// The fields compared, in the order of a comparison vector, with their number of levels.
pub const FIELDS: [(&str, u8); N_FIELDS] = [
    ("name", 4),
    ("birth_date", 4),
    ("id_number", 3),
    ("phone", 3),
    ("email", 3),
    ("address", 4),
    ("postcode", 3),
    ("place", 4),
    ("gender", 2),
];

pub const N_FIELDS: usize = 9;

/// Missing-value marker in a comparison vector.
pub const MISSING: u8 = u8::MAX;

/// The comparison vector of two records.
pub fn compare(a: &Prepared, b: &Prepared) -> [u8; N_FIELDS] {
    [
        name(a, b),
        birth(a, b),
        identifier(&a.id_number, &b.id_number),
        identifier(&a.phone, &b.phone),
        email(a, b),
        address(a, b),
        identifier(&a.postcode, &b.postcode),
        place_of(a, b),
        exact(&a.gender, &b.gender),
    ]
    .map(|l| l.unwrap_or(MISSING))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str) -> Prepared {
        Prepared::new(Some(name), None, None, None, None, None, None, None, None, None)
    }

    fn born(d: &str) -> Prepared {
        Prepared { birth: Some(d.into()), ..Default::default() }
    }

    #[test]
    fn latin_names() {
        assert_eq!(name(&person("John Smith"), &person("smith john")), Some(0), "token order does not matter");
        assert_eq!(name(&person("beau chandler"), &person("beua chandler")), Some(1), "transposed letters");
        assert_eq!(name(&person("ethan davis"), &person("ethn davic")), Some(2));
        assert_eq!(name(&person("sean matthews"), &person("callum arbuckle")), Some(3));
        assert_eq!(name(&person("x"), &Prepared::default()), None, "missing is no evidence");
    }

    #[test]
    fn chinese_names() {
        assert_eq!(name(&person("张伟"), &person("张伟")), Some(0));
        assert_eq!(name(&person("张秀英"), &person("张英秀")), Some(1), "same characters, neighbours swapped");
        assert_eq!(name(&person("张秀英"), &person("张英")), Some(2), "a character dropped");
        assert_eq!(name(&person("张伟"), &person("李娜")), Some(3));
        assert_eq!(name(&person("张伟"), &person("张芳")), Some(3), "same surname only");
        assert_eq!(name(&person("张晓伟"), &person("张晓明")), Some(3), "all but one character: mostly two people");
        assert_eq!(name(&person("张晓伟"), &person("张伟")), Some(2), "the middle character dropped");
    }

    #[test]
    fn romanised_blocking_key_ignores_order_and_spacing() {
        let key = |n: &str| romanised(&person(n));
        for n in ["王偉", "Wang Wei", "WEI WANG", "Weiwang", "Wangwei", "wang  wei"] {
            assert_eq!(key(n), key("王伟"), "{n}");
        }
        assert_eq!(key("王伟"), Some("aeginww".into()), "the letters of wangwei, sorted");
        assert_ne!(key("王伟"), key("Li Na"));
        assert_eq!(key("曾伟"), key("Zeng Wei"), "surname reading");
    }

    #[test]
    fn generated_names_read_as_the_generator_writes_them() {
        // `portrait sample` writes 曾伟 as "Zeng Wei" elsewhere: the pinyin of every surname
        // and given-name character it uses must be the reading it writes.
        use crate::sample::names::{FEMALE, MALE, SURNAMES};
        let read = |name: &str| person(name).pinyin.map(|[a, _]| a.to_string());
        for (s, p, _) in SURNAMES {
            assert_eq!(read(&format!("{s}伟")), Some(format!("{p}wei")), "{s}");
        }
        for (c, p) in MALE.iter().chain(FEMALE) {
            assert_eq!(read(&format!("王{c}")), Some(format!("wang{p}")), "{c}");
        }
    }

    #[test]
    fn chinese_names_across_scripts() {
        assert_eq!(name(&person("王偉"), &person("王伟")), Some(0), "traditional = simplified");
        for latin in ["Wang Wei", "WEI WANG", "wangwei", "Weiwang", "wang  wei"] {
            assert_eq!(name(&person("王伟"), &person(latin)), Some(1), "{latin}");
            assert_eq!(name(&person(latin), &person("王偉")), Some(1), "{latin}");
        }
        assert_eq!(name(&person("欧阳娜娜"), &person("Nana Ouyang")), Some(1), "two-character surname");
        assert_eq!(name(&person("王伟"), &person("Wang Wie")), Some(2), "a typo in the pinyin");
        assert_eq!(name(&person("王伟"), &person("Li Na")), Some(3));
        assert_eq!(name(&person("王伟"), &person("John Smith")), Some(3));
    }

    #[test]
    fn birth_dates_tolerate_keying_errors() {
        assert_eq!(birth(&born("19800312"), &born("19800312")), Some(0));
        assert_eq!(birth(&born("19800312"), &born("19801203")), Some(1), "day and month swapped");
        assert_eq!(birth(&born("19800312"), &born("19800412")), Some(1), "one digit wrong");
        assert_eq!(birth(&born("19800312"), &born("19803012")), Some(1), "neighbouring digits swapped");
        assert_eq!(birth(&born("19800312"), &born("19801127")), Some(2), "same year");
        assert_eq!(birth(&born("19800312"), &born("19750101")), Some(3));
    }

    #[test]
    fn one_edit_apart() {
        for (x, y, expected) in [
            ("1234567", "1234567", true),
            ("1234567", "1234568", true),
            ("1234567", "1243567", true),
            ("1234567", "123567", true),
            ("123567", "1234567", true),
            ("1234567", "2143567", false),
            ("1234567", "12345", false),
            ("张伟", "伟张", true),
        ] {
            assert_eq!(within_one_edit(x, y), expected, "{x} {y}");
            assert_eq!(within_one_edit(x, y), osa_distance(x, y) <= 1, "agrees with OSA: {x} {y}");
        }
    }

    #[test]
    fn identifiers_phones_emails() {
        let s = |v: &str| Some(Box::<str>::from(v));
        assert_eq!(identifier(&s("+8613800138000"), &s("+8613800138000")), Some(0));
        assert_eq!(identifier(&s("+8613800138000"), &s("+8613800138001")), Some(1));
        assert_eq!(identifier(&s("+8613800138000"), &s("+8613911112222")), Some(2));
        let e = |v: &str| Prepared { email: s(v), ..Default::default() };
        assert_eq!(email(&e("li.na@qq.com"), &e("li.na@163.com")), Some(1), "same local part");
        assert_eq!(email(&e("li.na@qq.com"), &e("wang@qq.com")), Some(2));
    }

    #[test]
    fn addresses_by_house_number_and_text() {
        let a = |v: &str| Prepared::new(None, None, None, None, None, Some(v), None, None, None, None);
        assert_eq!(address(&a("15 goodwin street"), &a("15 goodwinstreet")), Some(0), "words run together");
        assert_eq!(address(&a("14 markham street, balmain cove"), &a("14 markham pstreet, balmaincove")), Some(0));
        assert_eq!(address(&a("16 solly place, wyomink park"), &a("16 solly place")), Some(1), "locality dropped");
        assert_eq!(address(&a("10 fox place, burwood"), &a("12 fox place, burwood")), Some(2), "same street, other house");
        assert_eq!(address(&a("北京中山路12号"), &a("北京中山路12号")), Some(0));
        assert_eq!(address(&a("北京中山路12号"), &a("北京中山路15号")), Some(2));
        assert_eq!(address(&a("北京中山路12号"), &a("上海人民路7号")), Some(3));
    }
}
