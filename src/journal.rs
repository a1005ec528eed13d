//! The session journal: one JSON line per request that reached the listener, written before
//! the request is answered. It is the source of truth on disk; the store can be rebuilt from
//! it, and resume, export and replay all read it through [`JournalReader`].
//!
//! Body encoding (lossless, and byte-exact so that replay can resend it):
//! - `body`: the body inline as JSON, exactly as received, when it is valid JSON on one line
//!   with no surrounding whitespace;
//! - `body_text`: the exact text otherwise (pretty-printed JSON, form data, anything UTF-8);
//! - `body_base64`: the exact bytes when they are not UTF-8;
//! - `body_bytes` is the number of bytes kept; an over-size body sets `body_truncated` with
//!   how many bytes were read and how many the client declared, so what was cut is explicit.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A callback applied to the store.
    Accepted,
    /// A provider retry of a callback already applied: answered 200, not counted again.
    Duplicate,
    /// Refused with a 4xx.
    Rejected,
}

impl Outcome {
    /// The lowercase name used in the journal and the views.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Rejected => "rejected",
        }
    }
}

/// How an over-size body was cut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    /// Bytes read from the connection before recmon stopped reading.
    pub received_bytes: u64,
    /// The Content-Length the client declared, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_bytes: Option<u64>,
}

/// One line of the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JournalEntry {
    /// 1, 2, ... in the order requests were committed. Continues across `--resume`.
    pub seq: u64,
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    #[serde(with = "rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The peer's socket address.
    pub remote: String,
    /// The HTTP method.
    pub method: String,
    /// The request path with its query.
    pub path: String,
    /// content-type, user-agent, host and the ALI-LIVE-* headers, lowercased names.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// accepted, duplicate or rejected.
    pub outcome: Outcome,
    /// The HTTP status answered.
    pub status: u16,
    /// status, recording or ingest, when the request was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Why it was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Number of body bytes kept in this entry.
    #[serde(default)]
    pub body_bytes: u64,
    /// The body inline, when it is one-line JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Box<RawValue>>,
    /// The exact body text, when it is UTF-8 but not inlinable JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_text: Option<String>,
    /// The exact body bytes, base64, when they are not UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_base64: Option<String>,
    /// Present when the body was larger than `--max-body` and was cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_truncated: Option<Truncation>,
    /// The signature check's result, when `--auth-key` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthCheck>,
}

/// Result of the `ALI-LIVE-SIGNATURE` check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthCheck {
    /// The signature matched (and its timestamp was within `--auth-max-age`).
    Ok,
    /// Missing, malformed, wrong or stale: answered 403, never applied.
    Failed,
}

/// The lossless body fields, chosen from the raw bytes.
pub struct EncodedBody<'a> {
    /// One-line JSON to write inline as `"body":` (see [`write_line`]).
    pub inline: Option<&'a str>,
    /// See [`JournalEntry::body_text`].
    pub body_text: Option<String>,
    /// See [`JournalEntry::body_base64`].
    pub body_base64: Option<String>,
}

/// Deepest JSON nesting kept inline. Readers parse journal lines with serde_json's default
/// recursion limit (128), so a deeper body goes to `body_text` instead, where it is only a
/// string and every reader can load the line.
const MAX_INLINE_DEPTH: usize = 64;

/// One pass over a body: its maximum nesting outside strings, and whether it holds a line
/// break anywhere (a journal line must stay one line).
fn scan_json(bytes: &[u8]) -> (usize, bool) {
    let (mut depth, mut max, mut in_str, mut esc, mut newline) =
        (0usize, 0usize, false, false, false);
    for &b in bytes {
        if b == b'\n' || b == b'\r' {
            newline = true;
        }
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    (max, newline)
}

/// Picks the most readable lossless form for a body. `parsed_as_json` says the classifier
/// parsed it as JSON (serde_json's limits: numbers in range, nesting within 128), so a JSON
/// reader will load it too, and it need not be validated again here.
pub fn encode_body(bytes: &[u8], parsed_as_json: bool) -> EncodedBody<'_> {
    let mut out = EncodedBody {
        inline: None,
        body_text: None,
        body_base64: None,
    };
    if bytes.is_empty() {
        return out;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let inlinable = parsed_as_json && text.trim() == text && {
                let (depth, newline) = scan_json(text.as_bytes());
                !newline && depth <= MAX_INLINE_DEPTH
            };
            if inlinable {
                out.inline = Some(text);
            } else {
                out.body_text = Some(text.to_owned());
            }
        }
        Err(_) => {
            out.body_base64 = Some(base64::engine::general_purpose::STANDARD.encode(bytes));
        }
    }
    out
}

/// Appends one journal line (with its newline) to `buf`. An inline body is spliced in as the
/// last field, verbatim: it was validated once by the classifier, so it is not parsed or
/// re-serialized again on the hot path.
pub fn write_line(buf: &mut Vec<u8>, entry: &JournalEntry, inline_body: Option<&str>) {
    serde_json::to_writer(&mut *buf, entry).expect("journal entry serializes");
    if let Some(raw) = inline_body {
        debug_assert!(entry.body.is_none());
        debug_assert_eq!(buf.last(), Some(&b'}'));
        buf.pop();
        buf.extend_from_slice(b",\"body\":");
        buf.extend_from_slice(raw.as_bytes());
        buf.push(b'}');
    }
    buf.push(b'\n');
}

impl JournalEntry {
    /// The body bytes exactly as received (or as much as was kept, see `body_truncated`).
    pub fn body_raw(&self) -> Vec<u8> {
        if let Some(raw) = &self.body {
            raw.get().as_bytes().to_vec()
        } else if let Some(text) = &self.body_text {
            text.as_bytes().to_vec()
        } else if let Some(b64) = &self.body_base64 {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default()
        } else {
            Vec::new()
        }
    }

    /// The query part of `path`, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }
}

mod rfc3339_ms {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}

/// Formats a time the way the journal does (RFC 3339, UTC, milliseconds).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The default journal file name for a session started at `now`.
pub fn default_path(now: DateTime<Utc>) -> PathBuf {
    PathBuf::from(format!("recmon-{}.jsonl", now.format("%Y%m%d-%H%M%S")))
}

/// Whether each batch is fsynced before its responses go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FsyncPolicy {
    /// Rely on the OS page cache: fastest; a power cut may lose the last acknowledged batch.
    Never,
    /// fsync (fdatasync) every batch before acknowledging it.
    Batch,
}

/// The append side of the journal. Used by the one sequencer thread only, so it needs no lock;
/// group commit happens there: one `write` and at most one `fsync` per batch.
pub struct JournalFile {
    file: File,
    path: PathBuf,
    /// Length of the file up to the last batch that was written completely.
    committed_len: u64,
    fsync: FsyncPolicy,
}

impl JournalFile {
    /// Creates (or appends to) the journal at `path`. If the file does not end with a newline
    /// (a crash cut the last line), a newline is written first so new lines start fresh.
    pub fn open(path: &Path, fsync: FsyncPolicy) -> io::Result<Self> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        let mut len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                file.write_all(b"\n")?;
                len += 1;
            }
        }
        Ok(JournalFile {
            file,
            path: path.to_path_buf(),
            committed_len: len,
            fsync,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one batch of complete lines. On error the file is cut back to the end of the
    /// previous batch where possible, so that a half-written batch (whose requests get 503)
    /// never looks acknowledged on resume.
    pub fn append_batch(&mut self, lines: &[u8]) -> io::Result<()> {
        let res = self.file.write_all(lines).and_then(|_| match self.fsync {
            FsyncPolicy::Batch => self.file.sync_data(),
            FsyncPolicy::Never => Ok(()),
        });
        match res {
            Ok(()) => {
                // A file removed (or replaced) under us still accepts writes on Linux, into an
                // inode nobody can read any more; refuse to pretend they were kept.
                if !self.still_at_path() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("journal file {} was removed", self.path.display()),
                    ));
                }
                self.committed_len += lines.len() as u64;
                Ok(())
            }
            Err(e) => {
                let _ = self.file.set_len(self.committed_len);
                Err(e)
            }
        }
    }

    fn still_at_path(&self) -> bool {
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(&self.path), self.file.metadata()) {
                (Ok(p), Ok(f)) => p.ino() == f.ino() && p.dev() == f.dev(),
                _ => false,
            }
        }
        #[cfg(not(unix))]
        {
            self.path.exists()
        }
    }

    /// Flushes and fsyncs, for shutdown.
    pub fn sync(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.file.sync_all()
    }
}

/// One item read from a journal.
#[derive(Debug)]
pub enum ReadItem {
    /// A complete, well-formed line.
    Entry(Box<JournalEntry>),
    /// A line in the middle that is not a journal entry; skipped.
    Garbled {
        /// 1-based line number.
        line: u64,
        /// Byte offset where the line starts.
        offset: u64,
        /// Why it did not parse.
        error: String,
    },
    /// The last line has no newline and does not parse: a crash cut it off.
    PartialTail {
        /// 1-based line number.
        line: u64,
        /// Byte offset where the partial line starts.
        offset: u64,
        /// How many bytes it has.
        bytes: u64,
    },
}

/// Reads a journal line by line. The one reader for resume, export and replay.
pub struct JournalReader<R> {
    reader: R,
    line_no: u64,
    offset: u64,
    buf: Vec<u8>,
}

impl JournalReader<BufReader<File>> {
    /// Opens a journal file for reading.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Self::new(BufReader::with_capacity(1 << 20, file)))
    }
}

impl<R: BufRead> JournalReader<R> {
    /// Reads from any buffered source.
    pub fn new(reader: R) -> Self {
        JournalReader {
            reader,
            line_no: 0,
            offset: 0,
            buf: Vec::with_capacity(4096),
        }
    }

    /// The text of the line the last item came from, without its newline.
    pub fn last_line(&self) -> &str {
        std::str::from_utf8(self.buf.trim_ascii()).unwrap_or("")
    }

    /// Bytes consumed so far (for progress bars).
    pub fn offset(&self) -> u64 {
        self.offset
    }
}

impl<R: BufRead> Iterator for JournalReader<R> {
    type Item = io::Result<ReadItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n as u64,
                Err(e) => return Some(Err(e)),
            };
            let start = self.offset;
            self.offset += n;
            self.line_no += 1;
            let complete = self.buf.last() == Some(&b'\n');
            let text = self.buf.trim_ascii();
            if text.is_empty() {
                continue;
            }
            return Some(Ok(match serde_json::from_slice::<JournalEntry>(text) {
                Ok(e) => ReadItem::Entry(Box::new(e)),
                Err(_) if !complete => ReadItem::PartialTail {
                    line: self.line_no,
                    offset: start,
                    bytes: n,
                },
                Err(e) => ReadItem::Garbled {
                    line: self.line_no,
                    offset: start,
                    error: e.to_string(),
                },
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry as a reader sees it after the sequencer wrote it.
    fn entry(seq: u64, body: &[u8]) -> JournalEntry {
        let parsed = serde_json::from_slice::<serde_json::Value>(body).is_ok();
        let enc = encode_body(body, parsed);
        let mut e = bare_entry(seq, body.len());
        e.body_text = enc.body_text.clone();
        e.body_base64 = enc.body_base64.clone();
        let mut line = Vec::new();
        write_line(&mut line, &e, enc.inline);
        serde_json::from_slice(&line).unwrap()
    }

    fn bare_entry(seq: u64, body_len: usize) -> JournalEntry {
        JournalEntry {
            seq,
            received_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.678Z")
                .unwrap()
                .with_timezone(&Utc),
            remote: "127.0.0.1:1".into(),
            method: "POST".into(),
            path: "/cb?x=1".into(),
            headers: BTreeMap::new(),
            outcome: Outcome::Accepted,
            status: 200,
            kind: Some("status".into()),
            error: None,
            body_bytes: body_len as u64,
            body: None,
            body_text: None,
            body_base64: None,
            body_truncated: None,
            auth: None,
        }
    }

    #[test]
    fn bodies_round_trip_byte_for_byte() {
        for body in [
            &b"{\"a\":1, \"b\" : [1.50,2]}"[..],
            b"{\n  \"pretty\": true\n}",
            b" {\"lead\":1}",
            b"not json at all",
            b"\xff\xfe\x00binary",
            b"",
            b"{\"x\":\"\\u001b[31m\"}",
        ] {
            let e = entry(1, body);
            let line = serde_json::to_string(&e).unwrap();
            assert!(!line.contains('\n'));
            let back: JournalEntry = serde_json::from_str(&line).unwrap();
            assert_eq!(back.body_raw(), body, "{line}");
        }
    }

    #[test]
    fn deep_json_is_kept_as_text_so_readers_can_load_the_line() {
        let deep = "[".repeat(1000) + &"]".repeat(1000);
        let e = entry(1, deep.as_bytes());
        assert!(e.body.is_none());
        assert!(e.body_text.is_some());
        let line = serde_json::to_string(&e).unwrap();
        let back: JournalEntry = serde_json::from_str(&line).unwrap();
        assert_eq!(back.body_raw(), deep.as_bytes());
        assert_eq!(scan_json(br#"{"a":"[[[[","b":[{}]}"#), (3, false));
        assert_eq!(scan_json(br#""\"[""#), (0, false));
        assert_eq!(scan_json(b"{\"a\":\n1}"), (1, true));
    }

    #[test]
    fn one_line_json_is_inline() {
        let e = entry(1, br#"{"domain":"d"}"#);
        let line = serde_json::to_string(&e).unwrap();
        assert!(line.contains(r#""body":{"domain":"d"}"#), "{line}");
        assert!(line.contains(r#""received_at":"2026-01-02T03:04:05.678Z""#));
    }

    #[test]
    fn reader_reports_garbled_middle_and_partial_tail() {
        let mut data = Vec::new();
        for seq in 1..=2 {
            data.extend(serde_json::to_vec(&entry(seq, b"{}")).unwrap());
            data.push(b'\n');
        }
        let garbled_at = data.len() as u64;
        data.extend(b"{garbage\n");
        data.extend(serde_json::to_vec(&entry(3, b"{}")).unwrap());
        data.push(b'\n');
        let tail_at = data.len() as u64;
        let full = serde_json::to_vec(&entry(4, b"{}")).unwrap();
        data.extend(&full[..full.len() / 2]);

        let items: Vec<ReadItem> = JournalReader::new(&data[..]).map(|r| r.unwrap()).collect();
        assert_eq!(items.len(), 5);
        let seqs: Vec<u64> = items
            .iter()
            .filter_map(|i| match i {
                ReadItem::Entry(e) => Some(e.seq),
                _ => None,
            })
            .collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        assert!(
            matches!(items[2], ReadItem::Garbled { line: 3, offset, .. } if offset == garbled_at)
        );
        assert!(
            matches!(items[4], ReadItem::PartialTail { line: 5, offset, .. } if offset == tail_at)
        );
    }

    #[test]
    fn open_after_crash_starts_a_fresh_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, b"{\"seq\":1,\"partial").unwrap();
        let mut j = JournalFile::open(&path, FsyncPolicy::Never).unwrap();
        let mut line = serde_json::to_vec(&entry(2, b"{}")).unwrap();
        line.push(b'\n');
        j.append_batch(&line).unwrap();
        let items: Vec<ReadItem> = JournalReader::open(&path)
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert!(matches!(items[0], ReadItem::Garbled { line: 1, .. }));
        assert!(matches!(&items[1], ReadItem::Entry(e) if e.seq == 2));
    }
}
