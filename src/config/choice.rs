//! Closed sets of config values. Each enum lists its allowed values once (`closed!`), so the
//! check in `config::load` and the `match` in a stage cannot drift apart. A value outside the
//! set deserialises as `Choice::Unknown` and is reported with its key next to every other
//! problem of the config, instead of stopping at the first one as a plain serde enum would.

use crate::error::ConfigIssue;
use serde::{Deserialize, Deserializer};

/// An enum whose values are written as text in the config.
pub trait Closed: Sized + Copy + 'static {
    const ALL: &'static [Self];
    /// The value as written in the config and the manifest.
    fn name(self) -> &'static str;
    /// Other spellings accepted for a value (none by default).
    fn aliases(self) -> &'static [&'static str] {
        &[]
    }
    fn parse(text: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == text || v.aliases().contains(&text))
    }
    /// `a, b, c`: the allowed values, for error messages.
    fn names() -> String {
        Self::ALL.iter().map(|v| v.name()).collect::<Vec<_>>().join(", ")
    }
}

/// A config value of a closed set as written: known, or text to report.
#[derive(Clone, Debug, PartialEq)]
pub enum Choice<T> {
    Known(T),
    Unknown(String),
}

impl<'de, T: Closed> Deserialize<'de> for Choice<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Ok(T::parse(&text).map_or(Choice::Unknown(text), Choice::Known))
    }
}

impl<T: Closed> Choice<T> {
    /// The value, or None with an issue at `key` naming the allowed values.
    pub fn resolve(&self, key: &str, issues: &mut Vec<ConfigIssue>) -> Option<T> {
        match self {
            Choice::Known(v) => Some(*v),
            Choice::Unknown(text) => {
                issues.push(ConfigIssue { key: key.to_string(), message: format!("`{text}` is not one of {}", T::names()) });
                None
            }
        }
    }
}

impl<T: Closed> From<T> for Choice<T> {
    fn from(v: T) -> Self {
        Choice::Known(v)
    }
}

/// Declares a closed set: `closed!(Name { Variant = "text" | "alias", ... })`.
macro_rules! closed {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal $(| $alias:literal)*),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $crate::config::choice::Closed for $name {
            const ALL: &'static [Self] = &[$($name::$variant),+];
            fn name(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            fn aliases(self) -> &'static [&'static str] {
                match self { $($name::$variant => &[$($alias),*]),+ }
            }
        }

        impl $name {
            /// The value as written in the config and the manifest.
            pub fn name(self) -> &'static str {
                $crate::config::choice::Closed::name(self)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($crate::config::choice::Closed::name(*self))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str($crate::config::choice::Closed::name(*self))
            }
        }
    };
}

closed!(
    /// How an input table's files are read (`[tables.<t>] format`); `auto` goes by extension.
    Format {
        Auto = "auto",
        Parquet = "parquet",
        Csv = "csv",
        Ndjson = "ndjson" | "jsonl",
        /// An Excel workbook (`.xlsx`, `.xls`): one sheet, its first row the header.
        Xlsx = "xlsx" | "xls",
    }
);

closed!(
    /// The character encoding of a text input (`[tables.<t>] encoding`). `auto`: a byte-order
    /// mark, else UTF-8 when the file is valid UTF-8, else GB18030 when it decodes cleanly.
    Encoding {
        Utf8 = "utf-8" | "utf8",
        Gb18030 = "gb18030",
        /// GBK is a subset of GB18030, decoded as such (the WHATWG Encoding Standard's rule).
        Gbk = "gbk" | "cp936",
        /// UTF-16 with a byte-order mark (little-endian without one).
        Utf16 = "utf-16" | "utf16",
        Auto = "auto",
    }
);

closed!(
    /// The unit of epoch numbers in a timestamp column (`[tables.<t>.epoch_units]`); `auto`
    /// decides per value by magnitude.
    EpochUnit {
        Auto = "auto",
        Seconds = "s",
        Millis = "ms",
        Micros = "us",
        Nanos = "ns",
    }
);

closed!(
    /// The language of the label columns and the report (`pipeline.locale`).
    Locale { En = "en", Zh = "zh" }
);

closed!(
    /// Deterministic identity rules (`identity.link_on`): records sharing the value are one person.
    LinkRule {
        IdNumber = "id_number",
        Phone = "phone",
        Email = "email",
        SourceId = "source_id",
    }
);

closed!(
    /// How a golden-record field picks its value among a person's records.
    Survivorship {
        /// The newest non-null value by `updated_at` (ties: source priority).
        Newest = "newest",
        /// The most frequent non-null value (ties: the smallest).
        MostFrequent = "most_frequent",
        /// The most trusted source's value (ties: newest).
        SourcePriority = "source_priority",
    }
);

closed!(
    /// Fields of the golden record, chosen by survivorship; the names are customers' columns.
    GoldenField {
        Name = "name",
        Gender = "gender",
        BirthDate = "birth_date",
        Phone = "phone",
        Email = "email",
        IdNumber = "id_number",
        Address = "address",
        Postcode = "postcode",
        Province = "province",
        City = "city",
        Occupation = "occupation",
        Education = "education",
        AnnualIncome = "annual_income",
        MarketingOptIn = "marketing_opt_in",
    }
);

closed!(
    /// Personal-data fields that may be published as keyed hashes (`privacy.hash_fields`).
    PiiField { Name = "name", Phone = "phone", Email = "email", IdNumber = "id_number" }
);

closed!(
    /// What a data-quality gate measures.
    GateCheck {
        /// Relative change of rows against the previous published day (input or output table).
        RowCountChange = "row_count_change",
        /// Share of nulls in an output column.
        NullShare = "null_share",
        /// Re-sent rows / rows read of an input table.
        DuplicateShare = "duplicate_share",
        /// Quarantined rows / rows read of an input table.
        QuarantineShare = "quarantine_share",
        /// Values of an input table's column read but not usable (unparseable, or rejected by
        /// cleaning) / rows used.
        InvalidShare = "invalid_share",
        /// Days from an input table's newest timestamp to as-of.
        Freshness = "freshness",
        /// Offending rows of an output column that must be unique and non-null.
        UniqueKey = "unique_key",
        /// Values of an output column outside `values`.
        AcceptedValues = "accepted_values",
    }
);

/// Which tables a check can look at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    Inputs,
    Outputs,
    Both,
}

impl GateCheck {
    pub fn checks(self) -> Checks {
        match self {
            GateCheck::DuplicateShare | GateCheck::QuarantineShare | GateCheck::InvalidShare | GateCheck::Freshness => Checks::Inputs,
            GateCheck::NullShare | GateCheck::UniqueKey | GateCheck::AcceptedValues => Checks::Outputs,
            GateCheck::RowCountChange => Checks::Both,
        }
    }

    /// Checks that measure a column.
    pub fn needs_column(self) -> bool {
        self.checks() == Checks::Outputs || self == GateCheck::InvalidShare
    }

    /// Checks that count offending rows (any is too many) rather than compare with `max`.
    pub fn counts_offenders(self) -> bool {
        matches!(self, GateCheck::UniqueKey | GateCheck::AcceptedValues)
    }
}

closed!(
    /// What a failing gate does: `fail` stops the publish (exit 1), `warn` logs and records it.
    Severity { Fail = "fail", Warn = "warn" }
);

closed!(
    /// The tables a run publishes, in publish order (each is a module of `outputs`).
    OutputTable {
        Profiles = "profiles",
        Tags = "tags",
        Recommendations = "recommendations",
        Audiences = "audiences",
        CampaignEval = "campaign_eval",
        IdentityMap = "identity_map",
        IdentityReview = "identity_review",
        SegmentSummary = "segment_summary",
        ModelEval = "model_eval",
        ProfileChanges = "profile_changes",
        Quarantine = "quarantine",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_aliases() {
        assert_eq!(Format::parse("jsonl"), Some(Format::Ndjson));
        assert_eq!(Format::Ndjson.name(), "ndjson");
        assert_eq!(GateCheck::parse("nope"), None);
        assert_eq!(Severity::names(), "fail, warn");
        let mut issues = Vec::new();
        assert_eq!(Choice::<Locale>::Unknown("fr".into()).resolve("pipeline.locale", &mut issues), None);
        assert_eq!(issues[0].to_string(), "pipeline.locale: `fr` is not one of en, zh");
    }
}
