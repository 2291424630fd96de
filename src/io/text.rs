//! Text inputs in the encodings Chinese business systems write: UTF-8 (checked, so a file in
//! another encoding fails naming the line and byte, not deep inside the CSV reader), GB18030
//! and GBK (Excel's and most ERPs' "ANSI" on a Chinese Windows), UTF-16 (Excel's "Unicode
//! text"), or `auto`. Decoding uses encoding_rs, the WHATWG Encoding Standard's decoders.

use crate::config::{Encoding, TableSource};
use crate::error::{Error, Result};
use encoding_rs::{DecoderResult, GB18030, GBK, UTF_16LE, UTF_8};
use std::io::Read;
use std::path::Path;

/// The file as UTF-8 text when it has to be decoded first; None when it is UTF-8 already (it
/// is then read from disk as it is). Invalid bytes are an input error naming the file, the
/// line and the byte offset, with the `encoding` key to set.
pub fn decoded(path: &Path, source: &TableSource) -> Result<Option<String>> {
    let key = format!("[tables.{}] encoding", source.table.name());
    match source.encoding {
        Encoding::Utf8 => check_utf8(path, &key).map(|()| None),
        encoding => {
            let bytes = std::fs::read(path).map_err(|e| Error::input(path.display(), format!("cannot read: {e}")))?;
            decode_as(&bytes, encoding).map(Some).map_err(|(name, at)| invalid(path, &bytes[..at.min(bytes.len())], at, name, &key))
        }
    }
}

/// Decode `bytes` as `encoding`; on invalid bytes the encoding's name and their offset.
fn decode_as(bytes: &[u8], encoding: Encoding) -> std::result::Result<String, (&'static str, usize)> {
    // A byte-order mark is unambiguous, whatever was declared.
    if let Some((bom, len)) = encoding_rs::Encoding::for_bom(bytes) {
        return strict(&bytes[len..], bom).map_err(|at| (bom.name(), at + len));
    }
    match encoding {
        Encoding::Utf8 => strict(bytes, UTF_8),
        Encoding::Gb18030 => strict(bytes, GB18030),
        Encoding::Gbk => strict(bytes, GBK),
        Encoding::Utf16 => strict(bytes, UTF_16LE),
        // Valid UTF-8 is almost never valid GB18030 by accident, and the reverse is common.
        Encoding::Auto => strict(bytes, UTF_8).or_else(|_| strict(bytes, GB18030)),
    }
    .map_err(|at| (if encoding == Encoding::Auto { "UTF-8 or GB18030" } else { name(encoding) }, at))
}

fn name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Utf8 => "UTF-8",
        Encoding::Gb18030 => "GB18030",
        Encoding::Gbk => "GBK",
        Encoding::Utf16 => "UTF-16",
        Encoding::Auto => "auto",
    }
}

/// Decode without replacement characters: a malformed sequence is an error at its offset.
fn strict(bytes: &[u8], encoding: &'static encoding_rs::Encoding) -> std::result::Result<String, usize> {
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder.max_utf8_buffer_length_without_replacement(bytes.len()).unwrap_or(bytes.len() * 3);
    let mut out = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut out, true);
    match result {
        DecoderResult::InputEmpty => Ok(out),
        DecoderResult::Malformed(bad, extra) => Err(read.saturating_sub(bad as usize + extra as usize)),
        DecoderResult::OutputFull => Err(read),
    }
}

/// Read the file in blocks and check it is UTF-8, without holding it. Lines are counted only
/// to name the line of an invalid byte: counting them in every block took about half the
/// check's time (this loop over SF 10's 1.0 GB of text files: 1.2-1.4 s, without 0.5-0.8 s).
fn check_utf8(path: &Path, key: &str) -> Result<()> {
    let cannot = |e: std::io::Error| Error::input(path.display(), format!("cannot read: {e}"));
    let mut f = std::fs::File::open(path).map_err(cannot)?;
    let mut buf = vec![0u8; 1 << 22];
    let (mut carry, mut offset) = (0usize, 0usize);
    loop {
        let n = f.read(&mut buf[carry..]).map_err(cannot)?;
        let end = carry + n;
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) if n == 0 => return Ok(()),
            Ok(_) => carry = 0,
            // A character cut by the block's end: keep its bytes for the next block.
            Err(e) if e.error_len().is_none() && n > 0 => carry = end - e.valid_up_to(),
            Err(e) => {
                let at = offset + e.valid_up_to();
                return Err(invalid_at(path, line_of(path, at).map_err(cannot)?, at, "UTF-8", key));
            }
        }
        let done = end - carry;
        offset += done;
        buf.copy_within(done..end, 0);
        if n == 0 {
            return Ok(());
        }
    }
}

/// The line (from 1) of the file's byte `at`, read in blocks.
fn line_of(path: &Path, at: usize) -> std::io::Result<usize> {
    let mut head = std::fs::File::open(path)?.take(at as u64);
    let mut buf = vec![0u8; 1 << 22];
    let mut line = 1;
    loop {
        match head.read(&mut buf)? {
            0 => return Ok(line),
            n => line += newlines(&buf[..n]),
        }
    }
}

fn newlines(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| **b == b'\n').count()
}

fn invalid(path: &Path, before: &[u8], at: usize, encoding: &str, key: &str) -> Error {
    invalid_at(path, newlines(before) + 1, at, encoding, key)
}

fn invalid_at(path: &Path, line: usize, at: usize, encoding: &str, key: &str) -> Error {
    Error::input(
        path.display(),
        format!(
            "not valid {encoding} text at line {line} (byte offset {at}); if the file was written in another encoding, \
             set {key} = \"gb18030\" (Excel and most Chinese ERPs), \"utf-16\" or \"auto\""
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gb18030_gbk_utf16_and_auto() {
        // 王伟 in GB18030 and GBK: 王 = CD F5, 伟 = CE B0 (Python: "王伟".encode("gb18030")).
        let gbk = b"name\n\xcd\xf5\xce\xb0\n";
        assert_eq!(decode_as(gbk, Encoding::Gb18030).unwrap(), "name\n王伟\n");
        assert_eq!(decode_as(gbk, Encoding::Gbk).unwrap(), "name\n王伟\n");
        assert_eq!(decode_as(gbk, Encoding::Auto).unwrap(), "name\n王伟\n");
        assert_eq!(decode_as("name\n王伟\n".as_bytes(), Encoding::Auto).unwrap(), "name\n王伟\n");
        // UTF-16LE with its byte-order mark: "a\n".
        assert_eq!(decode_as(b"\xff\xfea\x00\n\x00", Encoding::Utf16).unwrap(), "a\n");
        // A lone lead byte at the end of line 2 is not GB18030.
        let (_, at) = decode_as(b"name\n\xcd", Encoding::Gb18030).unwrap_err();
        assert_eq!(at, 5);
    }

    #[test]
    fn an_invalid_byte_after_the_first_block_is_named_by_its_line_and_offset() {
        // 王 (3 bytes) cut by the first 4 MiB block's end is valid; 0xFF on line 3 is not.
        let block = 1usize << 22;
        let mut bytes = vec![b'a'; block - 1];
        bytes.extend_from_slice("王\nb\nc".as_bytes());
        let bad = bytes.len();
        bytes.extend_from_slice(b"\xff\n");
        let dir = std::env::temp_dir().join(format!("portrait-utf8-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (good, broken) = (dir.join("good.csv"), dir.join("broken.csv"));
        std::fs::write(&good, &bytes[..bad]).unwrap();
        std::fs::write(&broken, &bytes).unwrap();
        assert!(check_utf8(&good, "key").is_ok());
        let message = check_utf8(&broken, "key").unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        // Lines: a..王, b, c\xff: the byte at offset block - 1 + 3 + 1 + 2 + 1 = block + 6.
        assert_eq!(bad, block + 6);
        assert!(message.contains(&format!("not valid UTF-8 text at line 3 (byte offset {bad})")), "{message}");
    }
}
