//! Personal data in outputs: never in clear. Golden-record fields named in `[privacy]` become
//! `basic_<field>_hmac` columns: hex HMAC-SHA-256 under a key from the environment.

use crate::config::{PiiField, Privacy};
use crate::error::{ConfigIssue, Error, Result};
use hmac::{Hmac, Mac};
use polars::prelude::*;
use sha2::Sha256;

/// Hex HMAC-SHA-256 of `value` under `key`.
pub fn hmac_hex(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The profile column holding the keyed hash of a personal-data field.
pub fn hmac_column(field: PiiField) -> String {
    format!("basic_{}_hmac", field.name())
}

/// Add the hashed columns to the materialised profile (it carries `_pii_<field>`).
pub fn hash_fields(mut profile: DataFrame, spec: &Privacy) -> Result<DataFrame> {
    if spec.hash_fields.is_empty() {
        return Ok(profile);
    }
    let key = std::env::var(&spec.key_env).ok().filter(|k| !k.is_empty()).ok_or_else(|| Error::Config {
        file: "(environment)".into(),
        issues: vec![ConfigIssue { key: "privacy.key_env".into(), message: format!("{} is not set", spec.key_env) }],
    })?;
    for &field in &spec.hash_fields {
        let values = profile.column(&format!("_pii_{field}")).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("privacy", e))?;
        let hashed: Vec<Option<String>> = values.iter().map(|v| v.map(|v| hmac_hex(key.as_bytes(), v))).collect();
        profile.with_column(Column::new(hmac_column(field).into(), hashed)).map_err(|e| Error::internal("privacy", e))?;
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(hmac_hex(b"Jefe", "what do ya want for nothing?"), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
