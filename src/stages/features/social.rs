//! 社交特征 social activity: shares, likes, comments, invites (referrals), follows, platforms,
//! followers and an influence score for finding opinion leaders (意见领袖).

use crate::expr::count_if;
use crate::expr::KEY;
use polars::prelude::*;

/// Influence = ln(1 + followers) + 2·invites + shares + 0.5·comments + 0.1·likes: reach counts
/// logarithmically, bringing people in counts most, passive likes least.
pub fn influence(followers: Expr, invites: Expr, shares: Expr, comments: Expr, likes: Expr) -> Expr {
    let f = followers.fill_null(lit(0)).cast(DataType::Float64);
    ((f + lit(1.0)).log(lit(std::f64::consts::E))
        + lit(2.0) * invites.cast(DataType::Float64)
        + shares.cast(DataType::Float64)
        + lit(0.5) * comments.cast(DataType::Float64)
        + lit(0.1) * likes.cast(DataType::Float64))
    .round(4, RoundMode::HalfToEven)
}

pub fn features(social: LazyFrame) -> LazyFrame {
    let is = |a: &str| col("action").eq(lit(a.to_string()));
    social
        .sort_by_exprs([col(KEY), col("ts")], SortMultipleOptions::default())
        .group_by([col(KEY)])
        .agg([
            count_if(is("share")).alias("social_shares"),
            count_if(is("like")).alias("social_likes"),
            count_if(is("comment")).alias("social_comments"),
            count_if(is("invite")).alias("social_invites"),
            count_if(is("follow")).alias("social_follows"),
            col("platform").drop_nulls().n_unique().cast(DataType::UInt32).alias("social_platforms"),
            // The latest snapshot of follower count.
            col("followers").drop_nulls().last().alias("social_followers"),
        ])
        .with_column(
            influence(col("social_followers"), col("social_invites"), col("social_shares"), col("social_comments"), col("social_likes"))
                .alias("social_influence_score"),
        )
        .select(
            [col(KEY)]
                .into_iter()
                .chain(COUNTS.iter().map(|c| col(*c).cast(DataType::UInt32)))
                .chain([col("social_followers").cast(DataType::Int64), col("social_influence_score").cast(DataType::Float64)])
                .collect::<Vec<_>>(),
        )
}

/// Columns that are 0 (not null) for people with no social activity.
pub const COUNTS: &[&str] = &["social_shares", "social_likes", "social_comments", "social_invites", "social_follows", "social_platforms"];

/// Every column drawn from social interactions: null for everyone when the table is absent.
pub const COLUMNS: &[&str] = &[
    "social_shares",
    "social_likes",
    "social_comments",
    "social_invites",
    "social_follows",
    "social_platforms",
    "social_followers",
    "social_influence_score",
];
