//! 心理特征 psychology: satisfaction (ratings), NPS class, complaints, review sentiment in
//! Chinese and English, declared motive (what they write about) and revealed motive and price
//! sensitivity (what their purchases show).

use crate::expr::KEY;
use crate::expr::{count_if, one_of, ratio};
use polars::prelude::*;

/// Negated phrases first: they are replaced by a negative marker before words are counted, so
/// 不好 is not counted as 好.
const NEGATED: &str = r"不好|不满意|不喜欢|不推荐|不值|不新鲜|没用|not good|not happy|not worth|not recommend|don't like|do not like";
const POSITIVE: &str = r"好|满意|喜欢|推荐|不错|赞|棒|值|快|新鲜|good|great|love|excellent|happy|recommend|fast|nice|perfect|worth";
const NEGATIVE: &str =
    r"NEGATED|差|慢|失望|退货|投诉|糟|坏|贵|假|bad|poor|slow|terrible|disappoint|broken|refund|awful|worst|expensive|fake";

/// Lexicon sentiment of one text in [-1, 1]: (positive - negative) / (positive + negative);
/// null when no lexicon word occurs.
pub fn sentiment(text: Expr) -> Expr {
    let t = text.str().to_lowercase().str().replace_all(lit(format!("(?:{NEGATED})")), lit(" NEGATED "), false);
    let pos = t.clone().str().count_matches(lit(format!("(?:{POSITIVE})")), false).cast(DataType::Float64);
    let neg = t.str().count_matches(lit(format!("(?:{NEGATIVE})")), false).cast(DataType::Float64);
    ratio(pos.clone() - neg.clone(), pos + neg)
}

pub fn features(feedback: LazyFrame) -> LazyFrame {
    let motives = ["quality", "price", "convenience", "eco"];
    let topic_is = |m: &str| col("topic").eq(lit(m.to_string()));
    let declared = motives.iter().rev().fold(lit(NULL).cast(DataType::String), |acc, m| {
        // The most mentioned motive; ties go to the earlier one in `motives`.
        let n = col(format!("_m_{m}"));
        let beats_all = motives.iter().filter(|o| *o != m).fold(n.clone().gt(lit(0u32)), |c, o| {
            let other = col(format!("_m_{o}"));
            let earlier = motives.iter().position(|x| x == o) < motives.iter().position(|x| x == m);
            c.and(if earlier { n.clone().gt(other) } else { n.clone().gt_eq(other) })
        });
        when(beats_all).then(lit(m.to_string())).otherwise(acc)
    });
    let mut aggs = vec![
        col("rating").cast(DataType::Float64).mean().alias("psych_rating_mean"),
        col("rating").count().cast(DataType::UInt32).alias("psych_rating_count"),
        col("nps").drop_nulls().last().alias("psych_nps"),
        count_if(col("kind").eq(lit("complaint"))).alias("psych_complaints"),
        // Rounded: a mean of fractions in another row order may differ in the last bit.
        sentiment(col("text")).mean().round(4, RoundMode::HalfToEven).alias("psych_sentiment"),
    ];
    aggs.extend(motives.iter().map(|m| count_if(topic_is(m)).alias(format!("_m_{m}"))));
    feedback
        .sort_by_exprs([col(KEY), col("ts")], SortMultipleOptions::default())
        .group_by([col(KEY)])
        .agg(aggs)
        .with_columns([
            when(col("psych_nps").gt_eq(lit(9)))
                .then(lit("promoter"))
                .when(col("psych_nps").gt_eq(lit(7)))
                .then(lit("passive"))
                .when(col("psych_nps").is_not_null())
                .then(lit("detractor"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("psych_nps_class"),
            declared.alias("psych_motive_declared"),
        ])
        .drop(cols(motives.iter().map(|m| format!("_m_{m}")).collect::<Vec<_>>()))
}

/// The columns drawn from feedback: null for everyone when the table is absent.
pub const FROM_FEEDBACK: &[&str] = &[
    "psych_rating_mean",
    "psych_rating_count",
    "psych_nps",
    "psych_complaints",
    "psych_sentiment",
    "psych_nps_class",
    "psych_motive_declared",
];

/// Count columns: 0, not null, for people without feedback.
pub const COUNTS: &[&str] = &["psych_complaints", "psych_rating_count"];

/// Motives shown by purchases, computed on the joined profile:
/// price sensitivity = mean of min(1, discount share / 0.3) and coupon rate, in [0, 1];
/// revealed motive = `price` when sensitivity >= 0.5, else `quality` for the high price tier,
/// else `convenience` when the favourite channel is mobile or mini_program.
pub fn derived(profile: LazyFrame) -> LazyFrame {
    let discount = (col("power_discount_share") / lit(0.3)).clip_max(lit(1.0));
    profile
        .with_column(((discount + col("power_coupon_rate")) / lit(2.0)).round(4, RoundMode::HalfToEven).alias("psych_price_sensitivity"))
        .with_column(
            when(col("psych_price_sensitivity").gt_eq(lit(0.5)))
                .then(lit("price"))
                .when(col("power_price_tier").eq(lit("high")))
                .then(lit("quality"))
                .when(one_of(col("behavior_fav_channel"), &["mobile", "mini_program"]))
                .then(lit("convenience"))
                .otherwise(lit(NULL).cast(DataType::String))
                .alias("psych_motive_revealed"),
        )
}
