//! Names long-tailed like real ones. A few surnames cover much of China (王, 李 and 张 about 7 %
//! each, the commonest hundred about 85 %); given names are one or two characters drawn from a
//! pool where a few characters are common and most are rare; Latin names likewise. The share of
//! pairs of different people sharing a full name is then of a real population's order, which is
//! what identity resolution's term-frequency adjustment and its precision depend on. The tail
//! here is shorter than China's (155 surnames: 王 is 8.2 % of the generated people, the
//! commonest hundred 96 %), so names collide somewhat more often than in life.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Surname, its pinyin (the surname reading: 曾 is zeng), weight in units of 0.1 per mille of
/// China's population: approximate shares of the commonest hundred after the Ministry of Public
/// Security's 2007 survey, then a tail of rarer ones, compound surnames (欧阳) rarest.
pub(crate) const SURNAMES: &[(&str, &str, u32)] = &[
    ("王", "wang", 720),
    ("李", "li", 720),
    ("张", "zhang", 680),
    ("刘", "liu", 540),
    ("陈", "chen", 450),
    ("杨", "yang", 310),
    ("赵", "zhao", 230),
    ("黄", "huang", 220),
    ("吴", "wu", 210),
    ("周", "zhou", 210),
    ("徐", "xu", 170),
    ("孙", "sun", 150),
    ("马", "ma", 150),
    ("朱", "zhu", 130),
    ("胡", "hu", 130),
    ("何", "he", 120),
    ("郭", "guo", 110),
    ("林", "lin", 110),
    ("高", "gao", 100),
    ("罗", "luo", 90),
    ("郑", "zheng", 90),
    ("梁", "liang", 90),
    ("谢", "xie", 80),
    ("宋", "song", 80),
    ("唐", "tang", 70),
    ("许", "xu", 70),
    ("韩", "han", 60),
    ("冯", "feng", 60),
    ("邓", "deng", 60),
    ("曹", "cao", 60),
    ("彭", "peng", 60),
    ("曾", "zeng", 60),
    ("肖", "xiao", 60),
    ("田", "tian", 50),
    ("董", "dong", 50),
    ("袁", "yuan", 50),
    ("潘", "pan", 50),
    ("于", "yu", 50),
    ("蒋", "jiang", 50),
    ("蔡", "cai", 50),
    ("余", "yu", 50),
    ("杜", "du", 40),
    ("叶", "ye", 40),
    ("程", "cheng", 40),
    ("苏", "su", 40),
    ("魏", "wei", 40),
    ("丁", "ding", 40),
    ("任", "ren", 40),
    ("沈", "shen", 40),
    ("姚", "yao", 40),
    ("卢", "lu", 40),
    ("姜", "jiang", 40),
    ("崔", "cui", 30),
    ("钟", "zhong", 30),
    ("谭", "tan", 30),
    ("陆", "lu", 30),
    ("汪", "wang", 30),
    ("范", "fan", 30),
    ("金", "jin", 30),
    ("石", "shi", 30),
    ("廖", "liao", 30),
    ("贾", "jia", 30),
    ("夏", "xia", 30),
    ("韦", "wei", 30),
    ("付", "fu", 30),
    ("方", "fang", 30),
    ("白", "bai", 30),
    ("邹", "zou", 30),
    ("孟", "meng", 30),
    ("熊", "xiong", 20),
    ("秦", "qin", 20),
    ("邱", "qiu", 20),
    ("江", "jiang", 20),
    ("尹", "yin", 20),
    ("薛", "xue", 20),
    ("闫", "yan", 20),
    ("段", "duan", 20),
    ("雷", "lei", 20),
    ("侯", "hou", 20),
    ("龙", "long", 20),
    ("史", "shi", 20),
    ("陶", "tao", 20),
    ("黎", "li", 20),
    ("贺", "he", 20),
    ("顾", "gu", 20),
    ("毛", "mao", 20),
    ("郝", "hao", 20),
    ("龚", "gong", 20),
    ("邵", "shao", 20),
    ("万", "wan", 20),
    ("钱", "qian", 20),
    ("严", "yan", 20),
    ("覃", "qin", 20),
    ("武", "wu", 20),
    ("戴", "dai", 20),
    ("莫", "mo", 20),
    ("孔", "kong", 20),
    ("向", "xiang", 15),
    ("汤", "tang", 15),
    ("常", "chang", 12),
    ("温", "wen", 12),
    ("康", "kang", 12),
    ("施", "shi", 12),
    ("文", "wen", 12),
    ("牛", "niu", 10),
    ("樊", "fan", 10),
    ("葛", "ge", 10),
    ("邢", "xing", 10),
    ("安", "an", 10),
    ("齐", "qi", 10),
    ("易", "yi", 10),
    ("乔", "qiao", 10),
    ("伍", "wu", 10),
    ("庞", "pang", 10),
    ("颜", "yan", 8),
    ("倪", "ni", 8),
    ("庄", "zhuang", 8),
    ("聂", "nie", 8),
    ("章", "zhang", 8),
    ("鲁", "lu", 8),
    ("岳", "yue", 8),
    ("翟", "zhai", 8),
    ("殷", "yin", 8),
    ("詹", "zhan", 8),
    ("申", "shen", 6),
    ("耿", "geng", 6),
    ("关", "guan", 6),
    ("兰", "lan", 6),
    ("焦", "jiao", 6),
    ("俞", "yu", 6),
    ("左", "zuo", 6),
    ("柳", "liu", 6),
    ("甘", "gan", 6),
    ("祝", "zhu", 6),
    ("包", "bao", 6),
    ("宁", "ning", 5),
    ("尚", "shang", 5),
    ("符", "fu", 5),
    ("舒", "shu", 5),
    ("阮", "ruan", 5),
    ("柯", "ke", 5),
    ("纪", "ji", 5),
    ("梅", "mei", 5),
    ("童", "tong", 5),
    ("凌", "ling", 5),
    ("毕", "bi", 5),
    ("单", "shan", 4),
    ("解", "xie", 3),
    ("查", "zha", 3),
    ("仇", "qiu", 2),
    ("欧阳", "ouyang", 2),
    ("司马", "sima", 1),
    ("诸葛", "zhuge", 1),
    ("上官", "shangguan", 1),
    ("慕容", "murong", 1),
];

/// Given-name characters by how often parents choose them, commonest first.
pub(crate) const MALE: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("勇", "yong"),
    ("杰", "jie"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("刚", "gang"),
    ("平", "ping"),
    ("辉", "hui"),
    ("鹏", "peng"),
    ("飞", "fei"),
    ("鑫", "xin"),
    ("波", "bo"),
    ("斌", "bin"),
    ("宇", "yu"),
    ("浩", "hao"),
    ("凯", "kai"),
    ("健", "jian"),
    ("俊", "jun"),
    ("帆", "fan"),
    ("帅", "shuai"),
    ("旭", "xu"),
    ("宁", "ning"),
    ("龙", "long"),
    ("林", "lin"),
    ("阳", "yang"),
    ("东", "dong"),
    ("建", "jian"),
    ("国", "guo"),
    ("志", "zhi"),
    ("文", "wen"),
    ("峰", "feng"),
    ("亮", "liang"),
    ("成", "cheng"),
    ("海", "hai"),
    ("永", "yong"),
    ("德", "de"),
    ("新", "xin"),
    ("光", "guang"),
    ("兵", "bing"),
    ("华", "hua"),
    ("晨", "chen"),
    ("博", "bo"),
    ("毅", "yi"),
    ("振", "zhen"),
    ("坤", "kun"),
    ("锋", "feng"),
    ("泽", "ze"),
    ("昊", "hao"),
    ("天", "tian"),
    ("嘉", "jia"),
    ("睿", "rui"),
    ("子", "zi"),
    ("轩", "xuan"),
    ("豪", "hao"),
    ("彬", "bin"),
    ("哲", "zhe"),
];
pub(crate) const FEMALE: &[(&str, &str)] = &[
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("艳", "yan"),
    ("娟", "juan"),
    ("霞", "xia"),
    ("秀", "xiu"),
    ("英", "ying"),
    ("玲", "ling"),
    ("桂", "gui"),
    ("燕", "yan"),
    ("萍", "ping"),
    ("红", "hong"),
    ("梅", "mei"),
    ("琳", "lin"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("慧", "hui"),
    ("颖", "ying"),
    ("倩", "qian"),
    ("洁", "jie"),
    ("琴", "qin"),
    ("云", "yun"),
    ("莉", "li"),
    ("兰", "lan"),
    ("凤", "feng"),
    ("晶", "jing"),
    ("欣", "xin"),
    ("怡", "yi"),
    ("佳", "jia"),
    ("悦", "yue"),
    ("璐", "lu"),
    ("瑶", "yao"),
    ("晓", "xiao"),
    ("雨", "yu"),
    ("薇", "wei"),
    ("蕾", "lei"),
    ("月", "yue"),
    ("春", "chun"),
    ("玉", "yu"),
    ("珍", "zhen"),
    ("秋", "qiu"),
    ("琪", "qi"),
    ("丹", "dan"),
    ("婉", "wan"),
    ("诗", "shi"),
    ("梦", "meng"),
    ("萱", "xuan"),
    ("思", "si"),
    ("彤", "tong"),
    ("妍", "yan"),
    ("美", "mei"),
    ("菲", "fei"),
    ("芸", "yun"),
    ("清", "qing"),
    ("爽", "shuang"),
    ("蓉", "rong"),
    ("宁", "ning"),
];
const LATIN_FIRST: &[&str] = &[
    "James", "Mary", "John", "Linda", "David", "Susan", "Michael", "Emma", "Daniel", "Sophia", "Kevin", "Grace", "Lucas", "Chloe", "Ryan",
    "Olivia", "William", "Emily", "Thomas", "Anna", "Robert", "Laura", "Peter", "Sarah", "Mark", "Helen", "Paul", "Julia", "Andrew",
    "Alice", "Simon", "Rachel", "Eric", "Natalie", "Jason", "Vivian", "Tony", "Irene", "Alan", "Fiona", "Henry", "Joyce", "Vincent",
    "Cindy", "Leo", "Amy", "Oscar", "Wendy", "Felix", "Tina",
];
const LATIN_LAST: &[&str] = &[
    "Smith",
    "Brown",
    "Taylor",
    "Wilson",
    "Lee",
    "Walker",
    "Young",
    "King",
    "Wright",
    "Green",
    "Baker",
    "Hill",
    "Johnson",
    "Williams",
    "Jones",
    "Miller",
    "Davis",
    "Garcia",
    "Martin",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Robinson",
    "Hall",
    "Allen",
    "Scott",
    "Adams",
    "Nelson",
    "Carter",
    "Mitchell",
    "Roberts",
    "Turner",
    "Phillips",
    "Campbell",
    "Parker",
    "Evans",
    "Edwards",
    "Collins",
    "Stewart",
    "Morris",
    "Murphy",
    "Cook",
    "Rogers",
    "Morgan",
    "Cooper",
    "Peterson",
    "Reed",
    "Bailey",
    "Bell",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
    "Hughes",
    "Price",
    "Sanders",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Müller",
    "Schmidt",
    "Tanaka",
    "Suzuki",
    "Kim",
    "Park",
    "Nguyen",
    "Tran",
    "Singh",
    "Kumar",
    "Rossi",
    "Dubois",
];

/// Index into a list ranked by commonness: weight 1 / (rank + `flat`), a Zipf law flattened at
/// the top (a larger `flat` makes the commonest less dominant).
fn zipf(rng: &mut ChaCha8Rng, n: usize, flat: f64) -> usize {
    let total: f64 = (0..n).map(|r| 1.0 / (r as f64 + flat)).sum();
    let mut u = rng.gen::<f64>() * total;
    for r in 0..n {
        u -= 1.0 / (r as f64 + flat);
        if u <= 0.0 {
            return r;
        }
    }
    n - 1
}

/// A Chinese name: (surname, its pinyin, given name, its pinyin run together).
pub(super) fn chinese(rng: &mut ChaCha8Rng, gender: char) -> (&'static str, &'static str, String, String) {
    let total: u32 = SURNAMES.iter().map(|s| s.2).sum();
    let mut u = rng.gen_range(0..total);
    let &(surname, surname_pinyin, _) = SURNAMES
        .iter()
        .find(|s| {
            let hit = u < s.2;
            u = u.saturating_sub(s.2);
            hit
        })
        .expect("u < total");
    let pool = if gender == 'F' { FEMALE } else { MALE };
    // A third of given names are one character (commoner among older people, not modelled).
    let length = if rng.gen_bool(0.3) { 1 } else { 2 };
    let (mut given, mut given_pinyin) = (String::new(), String::new());
    for _ in 0..length {
        let (c, p) = pool[zipf(rng, pool.len(), 6.0)];
        given.push_str(c);
        given_pinyin.push_str(p);
    }
    (surname, surname_pinyin, given, given_pinyin)
}

/// A Latin name: (first, last).
pub(super) fn latin(rng: &mut ChaCha8Rng) -> (&'static str, &'static str) {
    (LATIN_FIRST[zipf(rng, LATIN_FIRST.len(), 4.0)], LATIN_LAST[zipf(rng, LATIN_LAST.len(), 4.0)])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn names_are_long_tailed() {
        // Share of pairs of Chinese-named people sharing the whole name: the uniform list of 500
        // names this replaced gave 1/500 = 0.002; a real population is far below.
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = std::collections::HashMap::new();
        let n: u64 = 200_000;
        for i in 0..n {
            let (s, _, g, _) = chinese(&mut rng, if i % 2 == 0 { 'F' } else { 'M' });
            *counts.entry(format!("{s}{g}")).or_insert(0u64) += 1;
        }
        let same: u64 = counts.values().map(|c| c * (c - 1) / 2).sum();
        let share = same as f64 / (n * (n - 1) / 2) as f64;
        assert!(share < 2e-4, "{share}");
        // 王's weight is 720 of the table's total: its share within 4 standard deviations.
        let expected = 720.0 / SURNAMES.iter().map(|s| s.2).sum::<u32>() as f64;
        let wang = counts.iter().filter(|(k, _)| k.starts_with('王')).map(|(_, c)| *c).sum::<u64>() as f64 / n as f64;
        assert!((wang - expected).abs() < 4.0 * (expected * (1.0 - expected) / n as f64).sqrt(), "{wang} vs {expected}");
    }
}
