//! Personal data in outputs: never in clear. Golden-record fields named in `[privacy]` become
//! `basic_<field>_hmac` columns: hex HMAC-SHA-256 under a key from the environment, which
//! must carry at least 32 bytes (a shorter key lets anyone who holds the outputs recover
//! phone numbers by hashing every possible one).

use crate::config::{PiiField, Privacy};
use crate::error::{ConfigIssue, Error, Result};
use base64::Engine;
use hmac::{Hmac, Mac};
use polars::prelude::*;
use sha2::{Digest, Sha256};

/// The shortest key accepted: 256 bits, the size of HMAC-SHA-256's own output.
pub const MIN_KEY_BYTES: usize = 32;

/// The privacy key: its bytes and its id (what the manifest names it by).
pub struct Key {
    bytes: Vec<u8>,
    /// The first 8 bytes of the key's SHA-256, in hex: tells which key made a column without
    /// revealing it.
    pub id: String,
}

/// Shows the id only: a key must never reach a log.
impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({})", self.id)
    }
}

impl Key {
    /// The key `text` stands for: hex (an even number of hex digits) and padded base64 are
    /// decoded, anything else is taken as raw bytes. Refused below `MIN_KEY_BYTES`.
    pub fn parse(text: &str) -> std::result::Result<Key, String> {
        let text = text.trim();
        let hex_digits = !text.is_empty() && text.len().is_multiple_of(2) && text.bytes().all(|b| b.is_ascii_hexdigit());
        let (bytes, form) = if hex_digits {
            (hex::decode(text).map_err(|e| e.to_string())?, "hex")
        } else if let Some(bytes) = base64_bytes(text) {
            (bytes, "base64")
        } else {
            (text.as_bytes().to_vec(), "raw")
        };
        if bytes.len() < MIN_KEY_BYTES {
            return Err(format!(
                "the key carries {} bytes ({form}); at least {MIN_KEY_BYTES} are needed (for example `openssl rand -hex 32`)",
                bytes.len()
            ));
        }
        let id = hex::encode(&Sha256::digest(&bytes)[..8]);
        Ok(Key { bytes, id })
    }

    /// Hex HMAC-SHA-256 of `value` under this key.
    pub fn hmac_hex(&self, value: &str) -> String {
        hmac_hex(&self.bytes, value)
    }
}

/// Padded standard or URL-safe base64 (what `openssl rand -base64` and most vaults print).
fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    if !text.len().is_multiple_of(4) {
        return None;
    }
    STANDARD.decode(text).or_else(|_| URL_SAFE.decode(text)).ok()
}

/// The key named by `[privacy] key_env`, read from the environment: a missing or weak key is
/// a config error (exit 78) naming the variable.
pub fn key(spec: &Privacy) -> Result<Key> {
    let refuse = |message: String| Error::Config {
        file: "(environment)".into(),
        issues: vec![ConfigIssue { key: "privacy.key_env".into(), message }],
    };
    let text = std::env::var(&spec.key_env).ok().filter(|k| !k.trim().is_empty());
    let text = text.ok_or_else(|| refuse(format!("{} is not set", spec.key_env)))?;
    Key::parse(&text).map_err(|why| refuse(format!("{}: {why}", spec.key_env)))
}

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

/// Add the hashed columns to the materialised profile (it carries `_pii_<field>`); `key` is
/// given whenever `spec` names fields.
pub fn hash_fields(mut profile: DataFrame, spec: &Privacy, key: Option<&Key>) -> Result<DataFrame> {
    if spec.hash_fields.is_empty() {
        return Ok(profile);
    }
    let key = key.ok_or_else(|| Error::Internal("personal data to hash without a key".into()))?;
    for &field in &spec.hash_fields {
        let values = profile.column(&format!("_pii_{field}")).and_then(|c| c.str().cloned()).map_err(|e| Error::internal("privacy", e))?;
        let hashed: Vec<Option<String>> = values.iter().map(|v| v.map(|v| key.hmac_hex(v))).collect();
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

    #[test]
    fn keys_are_decoded_then_measured() {
        // 64 hex digits: 32 bytes, accepted; 62: 31 bytes, refused.
        let hex64 = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        assert_eq!(Key::parse(hex64).unwrap().bytes.len(), 32);
        assert!(Key::parse(&hex64[..62]).unwrap_err().contains("31 bytes (hex)"));
        // `openssl rand -base64 32` prints 44 characters for 32 bytes.
        let b64 = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
        assert_eq!(Key::parse(b64).unwrap().bytes, hex::decode(hex64).unwrap());
        // Raw: a pass phrase counts its bytes; one byte and 31 are refused.
        assert!(Key::parse("x").unwrap_err().contains("1 bytes (raw)"));
        assert!(Key::parse(&"k".repeat(31)).is_err());
        assert_eq!(Key::parse("correct horse battery staple, 2026").unwrap().bytes.len(), 34);
    }

    #[test]
    fn the_key_id_is_the_start_of_its_sha256() {
        // SHA-256 of 32 zero bytes is 66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925.
        let key = Key::parse(&"00".repeat(32)).unwrap();
        assert_eq!(key.id, "66687aadf862bd77");
    }
}
