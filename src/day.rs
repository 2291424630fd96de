//! The run's logical date (`--as-of`, Airflow's `ds`) in every form the code needs: the
//! literal in a plan, the Hive folder `dt=…`, the text in logs and the manifest, and the
//! windows that end on it. One type, so the forms cannot disagree.

use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use std::fmt;

/// Day 0 of polars' `Date` (days since 1970-01-01).
pub const EPOCH: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// A calendar day: the last day included in every window of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub NaiveDate);

impl Day {
    /// `YYYY-MM-DD`, the only text form a day is written in.
    pub fn parse(text: &str) -> Option<Day> {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().map(Day)
    }

    /// Yesterday in UTC: the default as-of day (never the machine's time zone).
    pub fn yesterday_utc() -> Day {
        Day(chrono::Utc::now().date_naive().pred_opt().expect("a date before today exists"))
    }

    /// The Hive folder of a table's day: `dt=2026-11-22`.
    pub fn folder(self) -> String {
        format!("dt={self}")
    }

    /// The day from a folder name `dt=YYYY-MM-DD`.
    pub fn from_folder(name: &str) -> Option<Day> {
        Day::parse(name.strip_prefix("dt=")?)
    }

    /// Days since 1970-01-01, as polars stores a `Date`.
    pub fn epoch_days(self) -> i32 {
        (self.0 - EPOCH).num_days() as i32
    }

    /// The day of a polars `Date` value.
    pub fn from_epoch_days(days: i32) -> Option<Day> {
        EPOCH.checked_add_signed(chrono::Duration::days(days as i64)).map(Day)
    }

    /// The day as a `Date` literal in a plan.
    pub fn lit(self) -> Expr {
        lit(self.epoch_days()).cast(DataType::Date)
    }

    /// Midnight at the start of the day.
    pub fn start(self) -> NaiveDateTime {
        self.0.and_hms_opt(0, 0, 0).expect("midnight")
    }

    /// Midnight after the day: rows at or after it belong to a later run.
    pub fn end(self) -> NaiveDateTime {
        self.0.succ_opt().expect("date in range").and_hms_opt(0, 0, 0).expect("midnight")
    }

    pub fn end_lit(self) -> Expr {
        datetime_lit(self.end())
    }

    /// True for timestamps in the last `days` days (the day and the days-1 before it).
    pub fn within(self, ts: Expr, days: u32) -> Expr {
        ts.gt_eq(datetime_lit(self.end() - chrono::Duration::days(days as i64)))
    }

    /// Whole days from the timestamp's date to the day (0 = on the day).
    pub fn days_since(self, ts: Expr) -> Expr {
        (self.lit() - ts.dt().date()).dt().total_days(false)
    }

    /// Whole days from `earlier` to this day.
    pub fn days_after(self, earlier: Day) -> i64 {
        (self.0 - earlier.0).num_days()
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

/// How input timestamps are read. Every timestamp inside a run is a local time (no zone) in
/// the business's time zone `zone`; values before `earliest` or after `latest` are implausible.
#[derive(Clone, Debug, PartialEq)]
pub struct Times {
    /// IANA name, `UTC` by default.
    pub zone: String,
    pub earliest: NaiveDateTime,
    pub latest: NaiveDateTime,
}

impl Times {
    /// For files read without a pipeline (`portrait models`, identity-eval): UTC, and any
    /// date from 1900 to 2200.
    pub fn permissive() -> Times {
        let at = |y| NaiveDate::from_ymd_opt(y, 1, 1).expect("a valid date").and_hms_opt(0, 0, 0).expect("midnight");
        Times { zone: "UTC".into(), earliest: at(1900), latest: at(2200) }
    }

    pub fn is_utc(&self) -> bool {
        self.zone == "UTC"
    }
}

/// A timestamp literal (microseconds, no zone: how inputs are parsed).
pub fn datetime_lit(t: NaiveDateTime) -> Expr {
    lit(t.and_utc().timestamp_micros()).cast(DataType::Datetime(TimeUnit::Microseconds, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_one_day() {
        let d = Day::parse("2026-11-22").unwrap();
        assert_eq!(d.to_string(), "2026-11-22");
        assert_eq!(d.folder(), "dt=2026-11-22");
        assert_eq!(Day::from_folder("dt=2026-11-22"), Some(d));
        // 2026-11-22 is day 20,779 after 1970-01-01 (56 years with 14 leap days, + 325 days).
        assert_eq!(d.epoch_days(), 56 * 365 + 14 + 325);
        assert_eq!(Day::from_epoch_days(d.epoch_days()), Some(d));
        assert_eq!(d.end().to_string(), "2026-11-23 00:00:00");
        assert_eq!(Day::parse("2026-11-22x"), None);
    }
}
