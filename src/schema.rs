//! The canonical input tables of docs/inputs.md: names, types and which columns are required.
//! Ingest maps every source onto these; later stages rely on nothing else.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    Customers,
    Orders,
    OrderItems,
    Events,
    SocialInteractions,
    Feedback,
    /// Optional: requests to erase a person's data (PIPL art. 47, GDPR art. 17).
    Erasures,
    /// Optional: people who asked not to be contacted by campaigns.
    Suppressions,
}

/// The logical type a canonical column is parsed into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Str,
    Date,
    Datetime,
    F64,
    I64,
    I32,
    Bool,
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// Required columns are keys and timestamps: a file without one is an input error, a row
    /// whose value is missing or unparseable goes to quarantine.
    pub required: bool,
}

const fn c(name: &'static str, kind: Kind, required: bool) -> Column {
    Column { name, kind, required }
}

use Kind::*;

const CUSTOMERS: &[Column] = &[
    c("source", Str, true),
    c("source_customer_id", Str, true),
    c("name", Str, false),
    c("gender", Str, false),
    c("birth_date", Date, false),
    c("phone", Str, false),
    c("email", Str, false),
    c("id_number", Str, false),
    c("address", Str, false),
    c("postcode", Str, false),
    c("province", Str, false),
    c("city", Str, false),
    c("occupation", Str, false),
    c("education", Str, false),
    c("annual_income", F64, false),
    c("registered_at", Datetime, false),
    c("updated_at", Datetime, false),
    c("marketing_opt_in", Bool, false),
];

const ORDERS: &[Column] = &[
    c("source", Str, true),
    c("order_id", Str, true),
    c("source_customer_id", Str, true),
    c("order_ts", Datetime, true),
    c("channel", Str, false),
    c("status", Str, true),
    c("gross_amount", F64, false),
    c("discount_amount", F64, false),
    c("net_amount", F64, true),
    c("coupon_code", Str, false),
    c("payment_method", Str, false),
];

const ORDER_ITEMS: &[Column] = &[
    c("source", Str, true),
    c("order_id", Str, true),
    c("sku", Str, false),
    c("category", Str, true),
    c("quantity", I32, true),
    c("unit_price", F64, true),
];

const EVENTS: &[Column] = &[
    c("source", Str, true),
    c("source_customer_id", Str, true),
    c("event_ts", Datetime, true),
    c("event_type", Str, true),
    c("channel", Str, false),
    c("page_category", Str, false),
];

const SOCIAL: &[Column] = &[
    c("source", Str, true),
    c("source_customer_id", Str, true),
    c("ts", Datetime, true),
    c("platform", Str, false),
    c("action", Str, true),
    c("followers", I64, false),
];

const FEEDBACK: &[Column] = &[
    c("source", Str, true),
    c("source_customer_id", Str, true),
    c("ts", Datetime, true),
    c("kind", Str, true),
    c("rating", I32, false),
    c("nps", I32, false),
    c("text", Str, false),
    c("topic", Str, false),
];

/// A request names a record by its source id, or a phone or email by its HMAC under the
/// privacy key (when the ids are not known); which is checked per row (`stages::erasure`).
const ERASURES: &[Column] = &[
    c("source", Str, false),
    c("source_customer_id", Str, false),
    c("phone_hmac", Str, false),
    c("email_hmac", Str, false),
    c("requested_at", Datetime, true),
];

/// A person who asked not to be contacted, named as in `erasures`; from `requested_at` on,
/// no campaign selects them (`stages::campaign`).
const SUPPRESSIONS: &[Column] = ERASURES;

/// Customer columns that identify a person: never published in clear, not even in
/// quarantine's `raw` (the row's file and number locate it).
pub const PERSONAL_DATA: [&str; 6] = ["name", "phone", "email", "id_number", "address", "birth_date"];

impl Table {
    pub const ALL: [Table; 8] = [
        Table::Customers,
        Table::Orders,
        Table::OrderItems,
        Table::Events,
        Table::SocialInteractions,
        Table::Feedback,
        Table::Erasures,
        Table::Suppressions,
    ];

    /// Tables a run does without when their folder is absent and the config does not name them.
    pub fn optional(self) -> bool {
        matches!(self, Table::Erasures | Table::Suppressions)
    }

    /// Tables a pipeline may declare absent (`[tables.<table>] absent = true`): the profile is
    /// built without them.
    pub fn may_be_absent(self) -> bool {
        matches!(self, Table::Events | Table::SocialInteractions | Table::Feedback | Table::Erasures | Table::Suppressions)
    }

    /// The columns whose values cleaning checks and may reject (counted as `invalid`).
    pub fn validated_columns(self) -> &'static [&'static str] {
        match self {
            Table::Customers => &["phone", "email", "id_number", "gender"],
            _ => &[],
        }
    }

    /// The folder name under the input root and the key in `[tables.*]`.
    pub fn name(self) -> &'static str {
        match self {
            Table::Customers => "customers",
            Table::Orders => "orders",
            Table::OrderItems => "order_items",
            Table::Events => "events",
            Table::SocialInteractions => "social_interactions",
            Table::Feedback => "feedback",
            Table::Erasures => "erasures",
            Table::Suppressions => "suppressions",
        }
    }

    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::Customers => CUSTOMERS,
            Table::Orders => ORDERS,
            Table::OrderItems => ORDER_ITEMS,
            Table::Events => EVENTS,
            Table::SocialInteractions => SOCIAL,
            Table::Feedback => FEEDBACK,
            Table::Erasures => ERASURES,
            Table::Suppressions => SUPPRESSIONS,
        }
    }

    pub fn column(self, name: &str) -> Option<&'static Column> {
        self.columns().iter().find(|c| c.name == name)
    }

    /// The timestamp that decides whether a row is after `--as-of`.
    pub fn time_column(self) -> Option<&'static str> {
        match self {
            Table::Orders => Some("order_ts"),
            Table::Events => Some("event_ts"),
            Table::SocialInteractions | Table::Feedback => Some("ts"),
            Table::Erasures | Table::Suppressions => Some("requested_at"),
            Table::Customers | Table::OrderItems => None,
        }
    }
}
