//! `portrait sample --deliveries N`: the generated data as a company delivers it, day by day.
//! The history before the last N days comes as one initial load (`dt=<first day - 1>`), then
//! every table gets one `dt=YYYY-MM-DD` folder per day with two deliveries in it (`part-1-*`,
//! `part-2-*`: the second sorts after the first, as a later delivery of the same day does).
//! What real deliveries contain: rows late by one to three days, an order re-sent two days
//! later (often refunded), order lines with their order, customer records delivered when they
//! were registered and again when they were updated (same source and id, later `updated_at`;
//! the first version without the address), and further records of a known person that arrive
//! later and may merge people.
//!
//! When a row is delivered is drawn from a stream of its own: the generated rows are the same
//! with or without deliveries, plus the first versions of records updated since.

use crate::error::{Error, Result};
use crate::io::export::{self, Format};
use chrono::{NaiveDate, NaiveDateTime};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Separates the delivery stream from the main one.
const DELIVERY_STREAM: u64 = 0x6465_6c69_7665_7279;
/// The column the delivery slot travels in until the frames are split.
const SLOT: &str = "_slot";

/// The delivery slot of a row: its day (days since 1970-01-01) twice, plus 1 for the day's
/// second delivery.
pub type Slot = i64;

/// Draws when each row of one chunk of people is delivered.
pub struct Late {
    rng: ChaCha8Rng,
}

impl Late {
    pub fn new(seed: u64, chunk: usize) -> Late {
        Late { rng: ChaCha8Rng::seed_from_u64(seed ^ DELIVERY_STREAM ^ chunk as u64) }
    }

    /// The slot of a row that happened at `t`: that day, or with probability `late` one to
    /// three days later; in either of the day's deliveries.
    pub fn slot(&mut self, t: NaiveDateTime, late: f64) -> Slot {
        let days = if self.rng.gen_bool(late) { self.rng.gen_range(1..=3) } else { 0 };
        self.on_day(t, days)
    }

    /// The slot `days` days after `t`'s day, in either of that day's deliveries.
    pub fn on_day(&mut self, t: NaiveDateTime, days: i64) -> Slot {
        let day = t.date().signed_duration_since(NaiveDate::default()).num_days() + days;
        day * 2 + self.rng.gen_range(0..2)
    }
}

/// The days the deliveries cover: the initial load on `first - 1`, then one folder a day up to
/// `last` (days since 1970-01-01).
#[derive(Clone, Copy)]
pub struct Window {
    pub first: i64,
    pub last: i64,
}

impl Window {
    /// The last `days` days up to `as_of`.
    pub fn last_days(as_of: NaiveDate, days: u32) -> Window {
        let last = as_of.signed_duration_since(NaiveDate::default()).num_days();
        Window { first: last - days as i64 + 1, last }
    }

    /// Where a row of `slot` goes: rows before the window in the initial load's first
    /// delivery, rows after it (late rows of the last days) in the last delivery.
    fn clamp(&self, slot: Slot) -> Slot {
        slot.clamp((self.first - 1) * 2, self.last * 2 + 1)
    }
}

/// Write `df` (its rows delivered in `slots`) as `<dir>/dt=<day>/part-<n>-<chunk>.<ext>`, one
/// file per delivery that has rows.
pub fn write(mut df: DataFrame, slots: Vec<Slot>, window: Window, dir: &Path, chunk: usize, format: Format) -> Result<()> {
    let slots: Vec<Slot> = slots.into_iter().map(|s| window.clamp(s)).collect();
    let internal = |e: PolarsError| Error::internal("splitting the sample into deliveries", e);
    df.with_column(Column::new(SLOT.into(), slots)).map_err(internal)?;
    for part in df.partition_by_stable([SLOT], true).map_err(internal)? {
        let slot = part.column(SLOT).and_then(|c| c.i64().map(|s| s.get(0))).map_err(internal)?.unwrap_or_default();
        let day = NaiveDate::default() + chrono::Duration::days(slot.div_euclid(2));
        let folder = dir.join(format!("dt={day}"));
        std::fs::create_dir_all(&folder).map_err(|e| Error::io(&folder, e))?;
        let mut part = part.drop(SLOT).map_err(internal)?;
        let path = folder.join(format!("part-{}-{chunk:05}.{}", slot.rem_euclid(2) + 1, format.extension()));
        export::write(&mut part, &path, format)?;
    }
    Ok(())
}
