//! Text inputs in the encodings Chinese business systems write: UTF-8 (checked, so a file in
//! another encoding fails naming the line and byte, not deep inside the CSV reader), GB18030
//! and GBK (Excel's and most ERPs' "ANSI" on a Chinese Windows), UTF-16 (Excel's "Unicode
//! text"), or `auto`. Decoding uses encoding_rs, the WHATWG Encoding Standard's decoders.

use crate::config::{Encoding, TableSource};
use crate::error::{Error, Result};
use encoding_rs::{DecoderResult, GB18030, GBK, UTF_16LE};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes read at a time: decoding and checking never hold a whole file.
const BLOCK: usize = 1 << 22;

/// The folder decoded copies of text inputs are written to, so that they are scanned lazily
/// like any UTF-8 file (decoding into memory held whole files, outside the memory budget).
/// Removed when dropped; a run's lies inside its staging folder, so a killed run's is removed
/// by the next run.
pub struct DecodedCopies {
    dir: PathBuf,
    made: AtomicUsize,
}

impl DecodedCopies {
    pub fn under(dir: PathBuf) -> DecodedCopies {
        DecodedCopies { dir, made: AtomicUsize::new(0) }
    }

    /// For commands without a staging folder: one in the system's temporary folder.
    pub fn temporary() -> DecodedCopies {
        DecodedCopies::under(std::env::temp_dir().join(format!("portrait-decoded-{}", std::process::id())))
    }

    /// A new file for the copy of `path`, keeping its extension (`.tsv` sets the separator).
    fn next(&self, path: &Path) -> Result<PathBuf> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let n = self.made.fetch_add(1, Ordering::Relaxed);
        let ext = path.extension().map(|e| e.to_string_lossy().to_string()).unwrap_or_default();
        Ok(self.dir.join(format!("{n:05}.{ext}")))
    }
}

impl Drop for DecodedCopies {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The UTF-8 file to scan for a text input: the file itself when it is UTF-8, otherwise its
/// decoded copy in `copies`. Invalid bytes are an input error naming the file, the line and
/// the byte offset, with the `encoding` key to set. `skips_utf8_bom`: the reader skips a
/// UTF-8 byte-order mark itself (polars' CSV reader does, its NDJSON reader does not: a file
/// with one is copied without it).
pub fn as_utf8(path: &Path, source: &TableSource, copies: &DecodedCopies, skips_utf8_bom: bool) -> Result<PathBuf> {
    let key = format!("[tables.{}] encoding", source.table.name());
    let cannot = cannot_read(path);
    let mut head = [0u8; 3];
    let head_len = std::fs::File::open(path).and_then(|f| f.take(3).read(&mut head)).map_err(cannot)?;
    // A byte-order mark is unambiguous, whatever was declared.
    let declared = match encoding_rs::Encoding::for_bom(&head[..head_len]) {
        Some((bom, _)) if bom == encoding_rs::UTF_8 && skips_utf8_bom => Encoding::Utf8,
        Some((bom, _)) => return decode_copy(path, bom, bom.name(), copies, &key),
        None => source.encoding,
    };
    let (encoding, name) = match declared {
        Encoding::Utf8 | Encoding::Auto => match first_invalid_utf8(path).map_err(cannot)? {
            None => return Ok(path.to_path_buf()),
            Some(at) if declared == Encoding::Utf8 => return Err(invalid(path, line_of(path, at).map_err(cannot)?, at, "UTF-8", &key)),
            // Valid UTF-8 is almost never valid GB18030 by accident, and the reverse is common.
            Some(_) => (GB18030, "UTF-8 or GB18030"),
        },
        Encoding::Gb18030 => (GB18030, "GB18030"),
        Encoding::Gbk => (GBK, "GBK"),
        Encoding::Utf16 => (UTF_16LE, "UTF-16"),
    };
    decode_copy(path, encoding, name, copies, &key)
}

/// A row of a text file that the reader would misread (a CSV row whose number of fields is not
/// the header's, an NDJSON line that is not a whole object): its row (1 = the first data row,
/// as the reader numbers them) and why it is not used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Malformed {
    pub row: u32,
    pub reason: String,
}

/// The rows of a UTF-8 CSV file with more or fewer fields than its header: read as the reader
/// pads or cuts them, they would be used with values in the wrong columns or none. When the
/// last is ragged and the file does not end with a newline, an export was likely cut off.
pub fn ragged_rows(path: &Path, separator: u8) -> std::result::Result<Vec<Malformed>, String> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).delimiter(separator).from_path(path).map_err(|e| e.to_string())?;
    let header = reader.byte_headers().map_err(|e| e.to_string())?.len();
    let (mut record, mut row, mut ragged) = (csv::ByteRecord::new(), 0u32, Vec::new());
    while reader.read_byte_record(&mut record).map_err(|e| format!("row {}: {e}", row + 1))? {
        row += 1;
        if record.len() != header {
            ragged.push(Malformed { row, reason: format!("row has {} of {header} fields", record.len()) });
        }
    }
    if let Some(last) = ragged.last_mut().filter(|r| r.row == row) {
        if !ends_with_newline(path).map_err(|e| e.to_string())? {
            last.reason.push_str(", the file's last line, without a newline: possibly cut off");
        }
    }
    Ok(ragged)
}

/// The lines of a UTF-8 NDJSON file that are not one whole JSON object (`{` … `}`; an export
/// cut off mid-line), and the file to read: the file itself when there are none, otherwise a
/// copy in `copies` with each such line as `{}`, which the reader takes as a row of nulls in
/// its place (the rows after it keep their numbers). Whether an object's inside is valid JSON
/// is the reader's to say.
pub fn incomplete_json_lines(path: &Path, copies: &DecodedCopies) -> Result<(PathBuf, Vec<Malformed>)> {
    let cannot = cannot_read(path);
    let whole = |line: &[u8]| {
        let line = line.trim_ascii();
        line.is_empty() || (line.starts_with(b"{") && line.ends_with(b"}"))
    };
    let (mut row, mut found) = (0u32, Vec::new());
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(cannot)?);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line).map_err(cannot)? > 0 {
        if !line.trim_ascii().is_empty() {
            row += 1;
            if !whole(&line) {
                let cut = if line.ends_with(b"\n") { "" } else { ", the file's last line, without a newline: possibly cut off" };
                found.push(Malformed { row, reason: format!("line is not a whole JSON object{cut}") });
            }
        }
        line.clear();
    }
    if found.is_empty() {
        return Ok((path.to_path_buf(), found));
    }
    let copy = copies.next(path)?;
    let mut reader = std::io::BufReader::new(std::fs::File::open(path).map_err(cannot)?);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&copy).map_err(|e| Error::io(&copy, e))?);
    while reader.read_until(b'\n', &mut line).map_err(cannot)? > 0 {
        let kept: &[u8] = if whole(&line) { &line } else { b"{}\n" };
        out.write_all(kept).map_err(|e| Error::io(&copy, e))?;
        line.clear();
    }
    out.flush().map_err(|e| Error::io(&copy, e))?;
    Ok((copy, found))
}

fn ends_with_newline(path: &Path) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(true);
    }
    file.seek(SeekFrom::End(-1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

/// Decode `path` as `encoding` (its byte-order mark removed) into a new copy.
fn decode_copy(path: &Path, encoding: &'static encoding_rs::Encoding, name: &str, copies: &DecodedCopies, key: &str) -> Result<PathBuf> {
    let copy = copies.next(path)?;
    let cannot = cannot_read(path);
    let input = std::fs::File::open(path).map_err(cannot)?;
    let output = std::fs::File::create(&copy).map_err(|e| Error::io(&copy, e))?;
    match decode(input, encoding.new_decoder_with_bom_removal(), output) {
        Ok(()) => Ok(copy),
        Err(Failed::Reading(e)) => Err(cannot(e)),
        // A full disk is the run's I/O error (exit 74), not the input's.
        Err(Failed::Writing(e)) => Err(Error::io(&copy, e)),
        Err(Failed::Malformed { at, written }) => {
            // The copy holds the text before the invalid bytes: its lines are theirs.
            let line = line_of(&copy, written).map_err(cannot)?;
            Err(invalid(path, line, at, name, key))
        }
    }
}

/// An input file that cannot be read: an input error naming it.
fn cannot_read(path: &Path) -> impl Fn(std::io::Error) -> Error + Copy + '_ {
    move |e| Error::input(path.display(), format!("cannot read: {e}"))
}

/// Why decoding stopped.
#[derive(Debug)]
enum Failed {
    Reading(std::io::Error),
    Writing(std::io::Error),
    /// Invalid bytes: their offset in the input and the decoded bytes written before them.
    Malformed {
        at: usize,
        written: usize,
    },
}

/// Decode `input` into UTF-8 `output` without replacement characters, one block at a time.
fn decode(mut input: impl Read, mut decoder: encoding_rs::Decoder, output: impl Write) -> std::result::Result<(), Failed> {
    let mut output = std::io::BufWriter::new(output);
    let mut block = vec![0u8; BLOCK];
    let mut utf8 = vec![0u8; 2 * BLOCK];
    let (mut read_total, mut written_total) = (0usize, 0usize);
    loop {
        let n = input.read(&mut block).map_err(Failed::Reading)?;
        let last = n == 0;
        let mut rest = &block[..n];
        loop {
            let (result, read, written) = decoder.decode_to_utf8_without_replacement(rest, &mut utf8, last);
            output.write_all(&utf8[..written]).map_err(Failed::Writing)?;
            (rest, read_total, written_total) = (&rest[read..], read_total + read, written_total + written);
            match result {
                DecoderResult::InputEmpty => break,
                DecoderResult::OutputFull => continue,
                DecoderResult::Malformed(bad, extra) => {
                    output.flush().map_err(Failed::Writing)?;
                    return Err(Failed::Malformed { at: read_total - bad as usize - extra as usize, written: written_total });
                }
            }
        }
        if last {
            return output.flush().map_err(Failed::Writing);
        }
    }
}

/// The offset of the file's first byte that is not UTF-8, read in blocks without holding the
/// file. Lines are counted only to name the line of an invalid byte (`line_of`): counting them
/// in every block took about half the check's time.
fn first_invalid_utf8(path: &Path) -> std::io::Result<Option<usize>> {
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; BLOCK];
    let (mut carry, mut offset) = (0usize, 0usize);
    loop {
        let n = f.read(&mut buf[carry..])?;
        let end = carry + n;
        match std::str::from_utf8(&buf[..end]) {
            Ok(_) => carry = 0,
            // A character cut by the block's end: keep its bytes for the next block.
            Err(e) if e.error_len().is_none() && n > 0 => carry = end - e.valid_up_to(),
            Err(e) => return Ok(Some(offset + e.valid_up_to())),
        }
        if n == 0 {
            return Ok(None);
        }
        let done = end - carry;
        offset += done;
        buf.copy_within(done..end, 0);
    }
}

/// The line (from 1) of the file's byte `at`, read in blocks.
fn line_of(path: &Path, at: usize) -> std::io::Result<usize> {
    let mut head = std::fs::File::open(path)?.take(at as u64);
    let mut buf = vec![0u8; BLOCK];
    let mut line = 1;
    loop {
        match head.read(&mut buf)? {
            0 => return Ok(line),
            n => line += buf[..n].iter().filter(|b| **b == b'\n').count(),
        }
    }
}

fn invalid(path: &Path, line: usize, at: usize, encoding: &str, key: &str) -> Error {
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
    use crate::schema::Table;

    /// `bytes` written to a file and read as `encoding`: the UTF-8 text scanned, or the error.
    fn read_as(bytes: &[u8], encoding: Encoding) -> std::result::Result<String, String> {
        read_by(bytes, encoding, false)
    }

    /// `read_as` for a reader that does (`skips_utf8_bom`) or does not skip a UTF-8 byte-order mark.
    fn read_by(bytes: &[u8], encoding: Encoding, skips_utf8_bom: bool) -> std::result::Result<String, String> {
        let dir = std::env::temp_dir().join(format!("portrait-text-{}-{:?}-{}", std::process::id(), encoding, bytes.len()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.csv");
        std::fs::write(&path, bytes).unwrap();
        let source = TableSource { encoding, ..TableSource::canonical(Table::Customers, path.clone()) };
        let copies = DecodedCopies::under(dir.join("copies"));
        let text = as_utf8(&path, &source, &copies, skips_utf8_bom).map(|p| std::fs::read_to_string(p).unwrap()).map_err(|e| e.to_string());
        drop(copies);
        std::fs::remove_dir_all(&dir).unwrap();
        text
    }

    #[test]
    fn gb18030_gbk_utf16_and_auto() {
        // 王伟 in GB18030 and GBK: 王 = CD F5, 伟 = CE B0 (Python: "王伟".encode("gb18030")).
        let gbk = b"name\n\xcd\xf5\xce\xb0\n";
        assert_eq!(read_as(gbk, Encoding::Gb18030).unwrap(), "name\n王伟\n");
        assert_eq!(read_as(gbk, Encoding::Gbk).unwrap(), "name\n王伟\n");
        assert_eq!(read_as(gbk, Encoding::Auto).unwrap(), "name\n王伟\n");
        assert_eq!(read_as("name\n王伟\n".as_bytes(), Encoding::Auto).unwrap(), "name\n王伟\n");
        // UTF-16LE with its byte-order mark, declared or not: "a\n".
        assert_eq!(read_as(b"\xff\xfea\x00\n\x00", Encoding::Utf16).unwrap(), "a\n");
        assert_eq!(read_as(b"\xff\xfea\x00\n\x00", Encoding::Utf8).unwrap(), "a\n");
        // A UTF-8 byte-order mark: kept for a reader that skips it (the file itself is read),
        // taken out for one that does not.
        assert_eq!(read_by(b"\xef\xbb\xbfa\n", Encoding::Utf8, true).unwrap(), "\u{feff}a\n");
        assert_eq!(read_by(b"\xef\xbb\xbfa\n", Encoding::Utf8, false).unwrap(), "a\n");
        assert_eq!(read_by(b"\xef\xbb\xbfa\n", Encoding::Auto, false).unwrap(), "a\n");
        // A lone lead byte at the end of line 2 is not GB18030.
        let message = read_as(b"name\n\xcd", Encoding::Gb18030).unwrap_err();
        assert!(message.contains("not valid GB18030 text at line 2 (byte offset 5)"), "{message}");
    }

    /// A file of `block - 1` bytes of `a`, then `cut` (a character the block's end cuts), then
    /// lines `b` and `c` and an invalid byte: its offset.
    fn across_a_block(cut: &[u8], invalid: u8) -> (Vec<u8>, usize) {
        let mut bytes = vec![b'a'; BLOCK - 1];
        bytes.extend_from_slice(cut);
        bytes.extend_from_slice(b"\nb\nc");
        let at = bytes.len();
        bytes.extend_from_slice(&[invalid, b'\n']);
        (bytes, at)
    }

    #[test]
    fn an_invalid_byte_after_the_first_block_is_named_by_its_line_and_offset() {
        // 王 cut by the first block's end is valid; 0xFF on line 3 is not. Offsets by hand:
        // UTF-8 王 is 3 bytes, so 0xFF is at block - 1 + 3 + 4 = block + 6; GB18030's is 2.
        let (utf8, at) = across_a_block("王".as_bytes(), 0xff);
        assert_eq!(at, BLOCK + 6);
        assert_eq!(read_as(&utf8[..at], Encoding::Utf8).unwrap().len(), at);
        let message = read_as(&utf8, Encoding::Utf8).unwrap_err();
        assert!(message.contains(&format!("not valid UTF-8 text at line 3 (byte offset {at})")), "{message}");

        let (gb, at) = across_a_block(b"\xcd\xf5", 0xff);
        assert_eq!(at, BLOCK + 5);
        assert!(read_as(&gb[..at], Encoding::Gb18030).unwrap().ends_with("a王\nb\nc"));
        let message = read_as(&gb, Encoding::Gb18030).unwrap_err();
        assert!(message.contains(&format!("not valid GB18030 text at line 3 (byte offset {at})")), "{message}");
    }
}
