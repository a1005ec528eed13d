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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use chrono::{DateTime, Utc};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::core::alerts::line::AlertLine;
use crate::core::checks::VerdictLine;
use crate::core::outbox::DeliveryLine;
use crate::core::reconciled::{ReconcileRunLine, ReconciledLine};
pub use crate::core::time::format_time;
pub(crate) use crate::core::time::rfc3339_ms;
use crate::core::time::BorrowedStr;
use crate::event::{AuthCheck, Outcome, Provider};

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
    /// Whose callback format the request was read as. Lines written before recmon knew more
    /// than one provider have none, and are ApsaraVideo Live's.
    #[serde(default)]
    pub provider: Provider,
    /// status, recording or ingest, when the request was recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The async `--forward-to` targets this callback is owed to (see
    /// [`crate::core::outbox`]); absent when it is owed to none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forward: Vec<String>,
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

/// A journal line parsed in place, for readers that do not keep what they read (resume,
/// export): text fields borrow from the line (they are copied only when the JSON text has
/// escapes), headers are borrowed pairs, and an inline body is a slice of the line. It accepts
/// exactly the lines [`JournalEntry`] accepts; [`EntryRef::to_entry`] gives the owned form.
#[derive(Debug, Deserialize)]
pub struct EntryRef<'a> {
    /// See [`JournalEntry::seq`].
    pub seq: u64,
    /// See [`JournalEntry::received_at`].
    #[serde(deserialize_with = "rfc3339_ms::deserialize")]
    pub received_at: DateTime<Utc>,
    /// See [`JournalEntry::remote`].
    #[serde(borrow)]
    pub remote: Cow<'a, str>,
    /// See [`JournalEntry::method`].
    #[serde(borrow)]
    pub method: Cow<'a, str>,
    /// See [`JournalEntry::path`].
    #[serde(borrow)]
    pub path: Cow<'a, str>,
    /// See [`JournalEntry::headers`]; in line order (a repeated name: the last one counts).
    #[serde(default, borrow)]
    pub headers: Headers<'a>,
    /// See [`JournalEntry::outcome`].
    pub outcome: Outcome,
    /// See [`JournalEntry::status`].
    pub status: u16,
    /// See [`JournalEntry::provider`].
    #[serde(default)]
    pub provider: Provider,
    /// See [`JournalEntry::kind`].
    #[serde(default, borrow)]
    pub kind: Option<Cow<'a, str>>,
    /// See [`JournalEntry::forward`].
    #[serde(default, borrow)]
    pub forward: Vec<Cow<'a, str>>,
    /// See [`JournalEntry::error`].
    #[serde(default, borrow)]
    pub error: Option<Cow<'a, str>>,
    /// See [`JournalEntry::body_bytes`].
    #[serde(default)]
    pub body_bytes: u64,
    /// See [`JournalEntry::body`].
    #[serde(default, borrow)]
    pub body: Option<&'a RawValue>,
    /// See [`JournalEntry::body_text`].
    #[serde(default, borrow)]
    pub body_text: Option<Cow<'a, str>>,
    /// See [`JournalEntry::body_base64`].
    #[serde(default, borrow)]
    pub body_base64: Option<Cow<'a, str>>,
    /// See [`JournalEntry::body_truncated`].
    #[serde(default)]
    pub body_truncated: Option<Truncation>,
    /// See [`JournalEntry::auth`].
    #[serde(default)]
    pub auth: Option<AuthCheck>,
    /// On the decided copy of a callback journaled as `"outcome":"pending"` during a
    /// background rebuild: the seq of that pending line (see [`write_settled_line`]).
    #[serde(default)]
    pub settles: Option<u64>,
    /// The whole line as it is in the file, without its newline.
    #[serde(skip)]
    pub line: &'a str,
}

/// The headers of an [`EntryRef`]: a JSON object of strings, kept as borrowed pairs.
#[derive(Debug, Default)]
pub struct Headers<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'a> Headers<'a> {
    /// The value of a header (the last one if the name is repeated, as a map would keep).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Headers<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Headers<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut m: M) -> Result<Self::Value, M::Error> {
                let mut pairs = Vec::with_capacity(m.size_hint().unwrap_or(6));
                while let Some((k, v)) = m.next_entry::<BorrowedStr<'a>, BorrowedStr<'a>>()? {
                    pairs.push((k.0, v.0));
                }
                Ok(Headers(pairs))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

impl EntryRef<'_> {
    /// The owned entry.
    pub fn to_entry(&self) -> JournalEntry {
        let s = |c: &Cow<str>| c.to_string();
        JournalEntry {
            seq: self.seq,
            received_at: self.received_at,
            remote: s(&self.remote),
            method: s(&self.method),
            path: s(&self.path),
            headers: self.headers.0.iter().map(|(k, v)| (s(k), s(v))).collect(),
            outcome: self.outcome,
            status: self.status,
            provider: self.provider,
            kind: self.kind.as_ref().map(s),
            forward: self.forward.iter().map(s).collect(),
            error: self.error.as_ref().map(s),
            body_bytes: self.body_bytes,
            body: self.body.map(|b| b.to_owned()),
            body_text: self.body_text.as_ref().map(s),
            body_base64: self.body_base64.as_ref().map(s),
            body_truncated: self.body_truncated.clone(),
            auth: self.auth,
        }
    }

    /// The body bytes exactly as received, borrowed from the line unless it is base64.
    pub fn body_raw(&self) -> Cow<'_, [u8]> {
        body_raw(
            self.body,
            self.body_text.as_deref(),
            self.body_base64.as_deref(),
        )
    }

    /// The query part of `path`, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }
}

fn body_raw<'a>(
    inline: Option<&'a RawValue>,
    text: Option<&'a str>,
    b64: Option<&'a str>,
) -> Cow<'a, [u8]> {
    if let Some(raw) = inline {
        Cow::Borrowed(raw.get().as_bytes())
    } else if let Some(text) = text {
        Cow::Borrowed(text.as_bytes())
    } else if let Some(b64) = b64 {
        Cow::Owned(
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default(),
        )
    } else {
        Cow::Borrowed(&[])
    }
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

/// Appends the decided copy of a callback first journaled as `"outcome":"pending"` (see
/// [`crate::event::Outcome::Pending`]): `entry` is the whole request again, with its own new
/// seq and its outcome decided, and `"settles":PENDING_SEQ` as its last field. Readers that
/// know nothing of pending lines read it as any request (the field is one they ignore); a
/// rebuild reads `settles` to tell a pending line that was decided from one that was not
/// (recmon stopped before its rebuild was done), which it decides then.
pub fn write_settled_line(
    buf: &mut Vec<u8>,
    entry: &JournalEntry,
    inline_body: Option<&str>,
    pending_seq: u64,
) {
    write_line(buf, entry, inline_body);
    debug_assert!(buf.ends_with(b"}\n"));
    buf.truncate(buf.len() - 2);
    buf.extend_from_slice(format!(",\"settles\":{pending_seq}}}\n").as_bytes());
}

/// The seq of the last well-formed line of the first `len` bytes of a journal, read from the
/// end backwards (a line cut off by a crash, or damaged, is passed over): where `--resume`
/// continues seq, found without reading the journal. One sequencer writes a journal, so seq
/// only grows down the file. 0 when no line is well-formed.
pub fn tail_seq(path: &Path, len: u64) -> io::Result<u64> {
    const CHUNK: u64 = 64 * 1024;
    let mut file = File::open(path)?;
    // `region` holds the bytes from `pos` on that are still to look at: the lines after it
    // were looked at and are not journal lines.
    let mut region: Vec<u8> = Vec::new();
    let mut pos = len;
    loop {
        let body = region.strip_suffix(b"\n").unwrap_or(&region);
        match memchr::memrchr(b'\n', body) {
            Some(i) => {
                if let Some(seq) = seq_of(&body[i + 1..]) {
                    return Ok(seq);
                }
                region.truncate(i + 1);
            }
            None if pos == 0 => return Ok(seq_of(body).unwrap_or(0)),
            None => {
                let start = pos.saturating_sub(CHUNK);
                let mut chunk = vec![0u8; (pos - start) as usize];
                file.seek(SeekFrom::Start(start))?;
                file.read_exact(&mut chunk)?;
                chunk.extend_from_slice(&region);
                region = chunk;
                pos = start;
            }
        }
    }
}

/// The seq of a journal line, when it is a well-formed one (request or delivery).
fn seq_of(line: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(line.trim_ascii()).ok()?;
    match parse_line(text).ok()? {
        Line::Request(e) => Some(e.seq),
        Line::Delivery(d) => Some(d.seq),
        Line::Verdict(v) => Some(v.seq),
        Line::Reconciled(r) => Some(r.seq),
        Line::ReconcileRun(r) => Some(r.seq),
        Line::Alert(a) => Some(a.seq),
    }
}

impl JournalEntry {
    /// The body bytes exactly as received (or as much as was kept, see `body_truncated`).
    pub fn body_raw(&self) -> Vec<u8> {
        body_raw(
            self.body.as_deref(),
            self.body_text.as_deref(),
            self.body_base64.as_deref(),
        )
        .into_owned()
    }

    /// The query part of `path`, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }
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

/// A journal file opened for appending and locked against every other writer: an exclusive
/// advisory lock (`flock`) on the file, held as long as the file stays open, i.e. for the life
/// of the [`JournalFile`] made from it (the whole session). Regular files only: a device
/// given as the journal is shared by every process and is written unlocked. Nothing has been written to the
/// file yet, so a caller can still look at what it holds and refuse it untouched.
///
/// Readers (export, replay, resume's rebuild) never take the lock: they read complete lines
/// and can run beside a writer.
#[derive(Debug)]
pub struct LockedJournal {
    file: File,
    path: PathBuf,
}

/// Why a journal could not be opened for writing.
#[derive(Debug)]
pub enum OpenError {
    /// Another process holds the journal's lock: it is writing this journal now.
    Locked {
        /// The process holding the lock, when the system says (Linux: `/proc/locks`).
        pid: Option<u32>,
    },
    /// Opening or locking failed for another reason (no such file, permissions...).
    Io(io::Error),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Locked { pid: Some(pid) } => {
                write!(f, "another recmon (pid {pid}) is writing this journal")
            }
            OpenError::Locked { pid: None } => {
                f.write_str("another process holds this journal's write lock")
            }
            OpenError::Io(e) => e.fmt(f),
        }
    }
}

impl From<OpenError> for io::Error {
    fn from(e: OpenError) -> Self {
        match e {
            OpenError::Io(e) => e,
            locked => io::Error::new(io::ErrorKind::WouldBlock, locked.to_string()),
        }
    }
}

impl LockedJournal {
    /// Opens `path` for appending (creating it if `create`) and takes its exclusive lock
    /// without waiting. Two writers on one journal would both continue the same `seq` and
    /// mix their lines, so a second one is refused here with the first one's pid.
    pub fn open(path: &Path, create: bool) -> Result<Self, OpenError> {
        let file = OpenOptions::new()
            .create(create)
            .read(true)
            .append(true)
            .open(path)
            .map_err(OpenError::Io)?;
        // Only a regular file can be mixed up by two writers. A device (`/dev/null`, or
        // `/dev/full` in tests) is shared by the whole system and is not locked.
        if !file.metadata().map_err(OpenError::Io)?.is_file() {
            return Ok(LockedJournal {
                file,
                path: path.to_path_buf(),
            });
        }
        match file.try_lock() {
            Ok(()) => Ok(LockedJournal {
                file,
                path: path.to_path_buf(),
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(OpenError::Locked {
                pid: lock_holder(&file),
            }),
            Err(std::fs::TryLockError::Error(e)) => Err(OpenError::Io(e)),
        }
    }

    /// The journal's identity (see [`JournalId`]), read from the file: what `--resume`
    /// continues.
    pub fn id(&self) -> Option<JournalId> {
        JournalId::of(&self.file)
    }

    /// Gives the file a new identity (see [`JournalId`]): what a new journal gets, even in a
    /// file that held another journal before (emptied in place).
    pub fn start_id(&self) -> Option<JournalId> {
        JournalId::start(&self.file)
    }

    /// The file's length now.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Which journal a file holds, so that a new journal at the same path is told from the one
/// that was there before (the feed's `hello` says it, and `recmon attach` never mixes two).
///
/// Kept in the file's metadata, never in its lines: every reader (resume, export, report,
/// replay, the feed, scripts with `jq`) reads a journal as one entry per line, and a journal
/// written before ids existed reads exactly as before.
///
/// - A new journal gets a random id in the extended attribute `user.recmon.journal_id`
///   (`j-` and 16 hex digits), written when it is opened, before any entry. `--resume` reads
///   it back, so a journal keeps its id across restarts and renames, and a file emptied in
///   place and started again with `--journal` is a new journal.
/// - Where there is no such attribute (a journal from an older recmon, a copy made without
///   its attributes, a file system without user attributes) the id is the file's own
///   identity: its device, inode and creation time (`f-` and 16 hex digits of their MD5). A
///   file deleted and created again is a new one even when it gets the same inode number.
/// - `None` for a device (`/dev/null`), or when the system tells neither.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JournalId(pub String);

impl fmt::Display for JournalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The extended attribute that holds a journal's random id.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const ID_ATTRIBUTE: &str = "user.recmon.journal_id";

impl JournalId {
    /// The identity of the journal in `file` (see [`JournalId`]).
    pub fn of(file: &File) -> Option<JournalId> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        read_attribute(file)
            .filter(|v| Self::well_formed(v))
            .map(JournalId)
            .or_else(|| Self::of_file(&meta))
    }

    /// Gives the journal in `file` a new random id, kept in its attribute; where attributes
    /// cannot be written, the file's own identity.
    pub fn start(file: &File) -> Option<JournalId> {
        let meta = file.metadata().ok()?;
        if !meta.is_file() {
            return None;
        }
        let id = format!("j-{:016x}", rand::random::<u64>());
        if write_attribute(file, &id) {
            return Some(JournalId(id));
        }
        // An attribute from an earlier journal in this file is not this journal's.
        remove_attribute(file);
        Self::of_file(&meta)
    }

    fn well_formed(v: &str) -> bool {
        v.len() == 18 && v.starts_with("j-") && v[2..].bytes().all(|b| b.is_ascii_hexdigit())
    }

    /// The id made of the file's device, inode and creation time.
    fn of_file(meta: &std::fs::Metadata) -> Option<JournalId> {
        #[cfg(unix)]
        {
            use md5::{Digest, Md5};
            use std::os::unix::fs::MetadataExt;
            let born = meta.created().ok()?;
            let born = born.duration_since(std::time::UNIX_EPOCH).ok()?;
            let text = format!(
                "{}:{}:{}.{:09}",
                meta.dev(),
                meta.ino(),
                born.as_secs(),
                born.subsec_nanos()
            );
            let digest = Md5::digest(text.as_bytes());
            let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
            Some(JournalId(format!("f-{hex}")))
        }
        #[cfg(not(unix))]
        {
            let _ = meta;
            None
        }
    }
}

#[cfg(target_os = "linux")]
fn read_attribute(file: &File) -> Option<String> {
    use std::os::fd::AsRawFd;
    let name = std::ffi::CString::new(ID_ATTRIBUTE).expect("no NUL in the name");
    let mut buf = [0u8; 64];
    // SAFETY: the fd is open for the call, the name is NUL-terminated, the buffer is as long
    // as said.
    let n = unsafe {
        libc::fgetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    let n = usize::try_from(n).ok()?;
    std::str::from_utf8(&buf[..n]).ok().map(str::to_string)
}

#[cfg(target_os = "linux")]
fn write_attribute(file: &File, value: &str) -> bool {
    use std::os::fd::AsRawFd;
    let name = std::ffi::CString::new(ID_ATTRIBUTE).expect("no NUL in the name");
    // SAFETY: as in `read_attribute`; the value is `value.len()` bytes long.
    let r = unsafe {
        libc::fsetxattr(
            file.as_raw_fd(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    r == 0
}

#[cfg(target_os = "linux")]
fn remove_attribute(file: &File) {
    use std::os::fd::AsRawFd;
    let name = std::ffi::CString::new(ID_ATTRIBUTE).expect("no NUL in the name");
    // SAFETY: as in `read_attribute`.
    unsafe {
        libc::fremovexattr(file.as_raw_fd(), name.as_ptr());
    }
}

#[cfg(not(target_os = "linux"))]
fn read_attribute(_: &File) -> Option<String> {
    None
}

#[cfg(not(target_os = "linux"))]
fn write_attribute(_: &File, _: &str) -> bool {
    false
}

#[cfg(not(target_os = "linux"))]
fn remove_attribute(_: &File) {}

/// The pid holding a `flock` on `file`, from `/proc/locks` (the kernel's own table, so it is
/// never stale, unlike a pid file left behind by a crash). `None` off Linux or when the
/// table does not say (e.g. the holder is in another pid namespace).
fn lock_holder(file: &File) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = file.metadata().ok()?;
        let want = (
            u64::from(libc::major(meta.dev())),
            u64::from(libc::minor(meta.dev())),
            meta.ino(),
        );
        let table = std::fs::read_to_string("/proc/locks").ok()?;
        holder_in_proc_locks(&table, want)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = file;
        None
    }
}

/// Finds the pid of the granted `FLOCK` on the file `(major, minor, inode)` in the text of
/// `/proc/locks`, whose lines read `1: FLOCK  ADVISORY  WRITE 1234 fe:00:5586960 0 EOF`
/// (device numbers in hex); waiters are marked `->` and skipped.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn holder_in_proc_locks(table: &str, (major, minor, ino): (u64, u64, u64)) -> Option<u32> {
    table.lines().find_map(|line| {
        let mut f = line.split_whitespace().skip(1);
        if f.next()? != "FLOCK" {
            return None;
        }
        let (_advisory, _mode, pid, file) = (f.next()?, f.next()?, f.next()?, f.next()?);
        let mut parts = file.split(':');
        let found = (
            u64::from_str_radix(parts.next()?, 16).ok()?,
            u64::from_str_radix(parts.next()?, 16).ok()?,
            parts.next()?.parse::<u64>().ok()?,
        );
        // A holder in another pid namespace is listed as pid 0: no pid to name.
        (found == (major, minor, ino))
            .then(|| pid.parse().ok().filter(|&p: &u32| p != 0))
            .flatten()
    })
}

impl JournalFile {
    /// Creates (or appends to) the journal at `path`, locked against other writers (see
    /// [`LockedJournal`]); then as [`Self::from_locked`].
    pub fn open(path: &Path, fsync: FsyncPolicy) -> io::Result<Self> {
        Self::from_locked(LockedJournal::open(path, true)?, fsync)
    }

    /// Starts writing a locked journal. If the file does not end with a newline (a crash cut
    /// the last line), a newline is written first so new lines start fresh. The lock is held
    /// until this is dropped.
    pub fn from_locked(locked: LockedJournal, fsync: FsyncPolicy) -> io::Result<Self> {
        let LockedJournal { mut file, path } = locked;
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
            path,
            committed_len: len,
            fsync,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one batch of complete lines and, with `--fsync batch`, fsyncs it. On error the
    /// file is cut back to the end of the previous batch where possible, so that a
    /// half-written batch (whose requests get 503) never looks acknowledged on resume.
    pub fn append_batch(&mut self, lines: &[u8]) -> io::Result<()> {
        self.write_batch(lines)?;
        match self.fsync {
            FsyncPolicy::Batch => self.file.sync_data(),
            FsyncPolicy::Never => Ok(()),
        }
    }

    /// The fsync policy this journal was opened with.
    pub fn fsync_policy(&self) -> FsyncPolicy {
        self.fsync
    }

    /// A second handle on the same open file, for a thread that fsyncs while this one keeps
    /// writing (group commit: one fsync covers every batch written before it started).
    pub fn sync_handle(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// Appends one batch of complete lines without fsyncing them (see [`Self::append_batch`]
    /// for what happens on error).
    pub fn write_batch(&mut self, lines: &[u8]) -> io::Result<()> {
        let res = self.file.write_all(lines);
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

/// What a journal line looks like, for messages about lines that are not one.
pub const LINE_SHAPE: &str = r#"one JSON object per line, e.g. {"seq":1,"received_at":"2026-11-27T17:54:13.847Z","remote":"203.0.113.7:56376","method":"POST","path":"/recmon","outcome":"accepted","status":200,...}"#;

/// Why a line is not a journal entry, in words a person reads: serde_json's message without
/// the names of recmon's Rust types (`expected struct EntryRef`) and without its `line 1`
/// (a journal line is parsed alone, so only the column says anything).
pub fn describe_line_error(e: &serde_json::Error, line: &[u8]) -> String {
    use serde_json::error::Category;
    let full = e.to_string();
    // serde_json ends every message with " at line L column C".
    let msg = full
        .rfind(" at line ")
        .map_or(full.as_str(), |i| &full[..i]);
    // The line as a whole is the wrong kind of JSON value (serde names the struct it wanted).
    let whole_line_wrong = (msg.contains("expected struct EntryRef")
        || msg.contains("expected struct JournalEntry"))
    .then(|| match msg.strip_prefix("invalid type: ") {
        Some(rest) => rest.split(", expected").next().unwrap_or(rest),
        // "invalid length N, expected struct EntryRef with 16 elements": an array.
        None => "array",
    })
    // serde reads a struct from an array too, field by field: whatever it then says about
    // an array's items, the line is an array.
    .or_else(|| line.trim_ascii_start().starts_with(b"[").then_some("array"));
    let text = match (e.classify(), whole_line_wrong) {
        (Category::Syntax | Category::Eof, _) => {
            format!("not JSON ({msg} at column {})", e.column())
        }
        (Category::Data, Some(got)) => {
            // serde's names for JSON's kinds of value.
            let got = got
                .replacen("sequence", "array", 1)
                .replacen("map", "object", 1);
            format!("a JSON {got}, where a journal entry is a JSON object")
        }
        (Category::Data, None) => format!("{} (at column {})", name_types(msg), e.column()),
        (Category::Io, _) => name_types(msg),
    };
    // serde quotes parts of the line (an unknown variant as is): make them terminal-safe.
    crate::util::sanitize::terminal(&text, 400).into_owned()
}

/// Replaces `struct Name` in a serde message with what the struct is in a journal line.
fn name_types(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find("struct ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "struct ".len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        out.push_str(match &after[..end] {
            "Truncation" => r#"an object like {"received_bytes":N}"#,
            "EntryRef" | "JournalEntry" => "a journal entry (a JSON object)",
            _ => "a JSON object",
        });
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One journal line, parsed: a request, or a delivery attempt's result.
#[derive(Debug)]
// Not boxed: a request per line is the common case, and the point is not to allocate for it.
#[allow(clippy::large_enum_variant)]
pub enum Line<'a> {
    /// A request, parsed in place (its `line` is set).
    Request(EntryRef<'a>),
    /// A delivery attempt.
    Delivery(DeliveryLine),
    /// A recording file's verdict (see [`crate::core::checks`]).
    Verdict(VerdictLine),
    /// A callback filled in from the provider's records (see [`crate::core::reconciled`]).
    Reconciled(ReconciledLine),
    /// A reconcile run's summary (see [`crate::core::reconciled`]).
    ReconcileRun(ReconcileRunLine),
    /// An alert's transition or a page's outcome (see [`crate::core::alerts::line`]).
    Alert(AlertLine),
}

/// Parses one journal line (without its newline). A request line is tried first (nearly every
/// line is one); a line that is not one but holds a `"delivery":{` object is read as a
/// delivery line. The error is the request parse's, so that messages about lines that are
/// neither stay the ones a journal has always had.
pub fn parse_line(line: &str) -> Result<Line<'_>, serde_json::Error> {
    match serde_json::from_str::<EntryRef>(line) {
        Ok(mut e) => {
            e.line = line;
            Ok(Line::Request(e))
        }
        Err(e) => {
            if memchr::memmem::find(line.as_bytes(), b"\"delivery\":{").is_some() {
                if let Ok(d) = serde_json::from_str::<DeliveryLine>(line) {
                    return Ok(Line::Delivery(d));
                }
            }
            if memchr::memmem::find(line.as_bytes(), b"\"verdict\":{").is_some() {
                if let Ok(v) = serde_json::from_str::<VerdictLine>(line) {
                    return Ok(Line::Verdict(v));
                }
            }
            if memchr::memmem::find(line.as_bytes(), b"\"reconciled\":{").is_some() {
                if let Ok(r) = serde_json::from_str::<ReconciledLine>(line) {
                    return Ok(Line::Reconciled(r));
                }
            }
            if memchr::memmem::find(line.as_bytes(), b"\"reconcile_run\":{").is_some() {
                if let Ok(r) = serde_json::from_str::<ReconcileRunLine>(line) {
                    return Ok(Line::ReconcileRun(r));
                }
            }
            if memchr::memmem::find(line.as_bytes(), b"\"alert").is_some() {
                if let Ok(a) = serde_json::from_str::<AlertLine>(line) {
                    return Ok(Line::Alert(a));
                }
            }
            Err(e)
        }
    }
}

/// One item read from a journal.
#[derive(Debug)]
pub enum ReadItem {
    /// A complete, well-formed line.
    Entry(Box<JournalEntry>),
    /// A delivery attempt's result (see [`crate::core::outbox`]).
    Delivery(Box<DeliveryLine>),
    /// A recording file's verdict (see [`crate::core::checks`]).
    Verdict(Box<VerdictLine>),
    /// A callback filled in from the provider's records.
    Reconciled(Box<ReconciledLine>),
    /// A reconcile run's summary.
    ReconcileRun(Box<ReconcileRunLine>),
    /// An alert's transition or a page's outcome.
    Alert(Box<AlertLine>),
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

impl JournalReader<BufReader<io::Take<File>>> {
    /// Opens the first `len` bytes of a journal file for reading: what it held when
    /// `--resume` started, while this receiver appends after them.
    pub fn open_prefix(path: &Path, len: u64) -> io::Result<Self> {
        let file = File::open(path)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        Ok(Self::new(BufReader::with_capacity(1 << 20, file.take(len))))
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

/// One item read from a journal by [`JournalReader::next_ref`], borrowing the reader's line.
#[derive(Debug)]
// Not boxed: an entry per line is the common case, and the point is not to allocate for it.
#[allow(clippy::large_enum_variant)]
pub enum ItemRef<'a> {
    /// A complete, well-formed line, parsed in place.
    Entry(EntryRef<'a>),
    /// A delivery attempt's line (with [`JournalReader::last_line`] its text).
    Delivery(DeliveryLine),
    /// A recording file's verdict (with [`JournalReader::last_line`] its text).
    Verdict(VerdictLine),
    /// A callback filled in from the provider's records.
    Reconciled(ReconciledLine),
    /// A reconcile run's summary.
    ReconcileRun(ReconcileRunLine),
    /// An alert's transition or a page's outcome.
    Alert(AlertLine),
    /// A line that could not be used: always [`ReadItem::Garbled`] or [`ReadItem::PartialTail`].
    Damaged(ReadItem),
}

impl<R: BufRead> JournalReader<R> {
    /// Reads the next non-empty line and parses it in place (see [`EntryRef`]): what resume,
    /// export and replay use. The [`Iterator`] gives the same items owned.
    pub fn next_ref(&mut self) -> Option<io::Result<ItemRef<'_>>> {
        let (start, n) = loop {
            self.buf.clear();
            let n = match self.reader.read_until(b'\n', &mut self.buf) {
                Ok(0) => return None,
                Ok(n) => n as u64,
                Err(e) => return Some(Err(e)),
            };
            let start = self.offset;
            self.offset += n;
            self.line_no += 1;
            if !self.buf.trim_ascii().is_empty() {
                break (start, n);
            }
        };
        let complete = self.buf.last() == Some(&b'\n');
        let text = self.buf.trim_ascii();
        // Validate UTF-8 once for the whole line, then parse without re-checking each string.
        // A line that is not UTF-8 is parsed as bytes, for the same error (or, if the bad
        // bytes are in a field no reader looks at, the same entry, with an empty `line`).
        let parsed = match std::str::from_utf8(text) {
            Ok(line) => parse_line(line),
            Err(_) => serde_json::from_slice::<EntryRef>(text).map(Line::Request),
        };
        Some(Ok(match parsed {
            Ok(Line::Request(e)) => ItemRef::Entry(e),
            Ok(Line::Delivery(d)) => ItemRef::Delivery(d),
            Ok(Line::Verdict(v)) => ItemRef::Verdict(v),
            Ok(Line::Reconciled(r)) => ItemRef::Reconciled(r),
            Ok(Line::ReconcileRun(r)) => ItemRef::ReconcileRun(r),
            Ok(Line::Alert(a)) => ItemRef::Alert(a),
            Err(_) if !complete => ItemRef::Damaged(ReadItem::PartialTail {
                line: self.line_no,
                offset: start,
                bytes: n,
            }),
            Err(e) => ItemRef::Damaged(ReadItem::Garbled {
                line: self.line_no,
                offset: start,
                error: describe_line_error(&e, text),
            }),
        }))
    }
}

impl<R: BufRead> Iterator for JournalReader<R> {
    type Item = io::Result<ReadItem>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_ref()?.map(|item| match item {
            ItemRef::Entry(e) => ReadItem::Entry(Box::new(e.to_entry())),
            ItemRef::Delivery(d) => ReadItem::Delivery(Box::new(d)),
            ItemRef::Verdict(v) => ReadItem::Verdict(Box::new(v)),
            ItemRef::Reconciled(r) => ReadItem::Reconciled(Box::new(r)),
            ItemRef::ReconcileRun(r) => ReadItem::ReconcileRun(Box::new(r)),
            ItemRef::Alert(a) => ReadItem::Alert(Box::new(a)),
            ItemRef::Damaged(d) => d,
        }))
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
            provider: Default::default(),
            kind: Some("status".into()),
            forward: Vec::new(),
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

    /// The in-place parse accepts exactly the lines the owned one does, and reads the same.
    #[test]
    fn entry_ref_accepts_what_journal_entry_accepts() {
        let good = serde_json::to_string(&entry(7, br#"{"a":"\u00e9\"x"}"#)).unwrap();
        let mut lines: Vec<Vec<u8>> = vec![good.clone().into_bytes()];
        let mut edit = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            lines.push(good.replacen(from, to, 1).into_bytes());
        };
        edit("\"seq\":7,", "");
        edit("\"seq\":7,", "\"seq\":7,\"seq\":8,");
        edit("\"seq\":7,", "\"seq\":-7,");
        edit(
            "\"remote\":\"127.0.0.1:1\"",
            "\"remote\":\"\\u0031\\n\\ud83d\\ude00\"",
        );
        edit("\"remote\":\"127.0.0.1:1\"", "\"remote\":5");
        edit("\"remote\":\"127.0.0.1:1\"", "\"remote\":null");
        edit("\"headers\":{}", "\"headers\":{\"a\":\"1\",\"a\":\"\\t2\"}");
        edit("\"headers\":{}", "\"headers\":{\"a\":1}");
        edit("\"headers\":{}", "\"headers\":null");
        edit("\"headers\":{}", "\"headers\":[]");
        edit("\"headers\":{},", "");
        edit("\"kind\":\"status\"", "\"kind\":null");
        edit("\"kind\":\"status\"", "\"kind\":[\"status\"]");
        edit("\"outcome\":\"accepted\"", "\"outcome\":\"Accepted\"");
        edit("\"status\":200", "\"status\":70000");
        edit("\"status\":200", "\"status\":200,\"extra\":{\"x\":[1e400]}");
        edit("\"body\":{", "\"body\":null,\"b\":{");
        edit("\"body\":{", "\"body\": {");
        for t in [
            "2026-01-02T03:04:05Z",
            "2026-01-02T03:04:05.5Z",
            "2026-01-02t03:04:05.678z",
            "2026-01-02T05:04:05.678+02:00",
            "2016-12-31T23:59:60.500Z",
            "2026-02-30T03:04:05.678Z",
            "2026-01-02T24:04:05.678Z",
            "2026-01-02T03:04:05.6789Z",
            "0999-01-02T03:04:05.678Z",
            "2026-01-02 03:04:05.678Z",
            "2026-1-02T03:04:05.678ZZ",
            "+2026-01-02T03:04:05.678Z",
        ] {
            edit("2026-01-02T03:04:05.678Z", t);
        }
        lines.push(b"{\"seq\":1,\"x\":\"\xff\"}".to_vec());
        let mut with_bad_utf8 = good.clone().into_bytes();
        with_bad_utf8.pop();
        with_bad_utf8.extend(b",\"extra\":\"\xff\xfe\"}");
        lines.push(with_bad_utf8);
        for line in &lines {
            let owned = serde_json::from_slice::<JournalEntry>(line);
            let mut data = line.clone();
            data.push(b'\n');
            let mut reader = JournalReader::new(&data[..]);
            let text = String::from_utf8_lossy(line);
            match (reader.next_ref().unwrap().unwrap(), owned) {
                (ItemRef::Entry(r), Ok(o)) => {
                    assert_eq!(
                        serde_json::to_string(&r.to_entry()).unwrap(),
                        serde_json::to_string(&o).unwrap(),
                        "{text}"
                    );
                    let expect_line = std::str::from_utf8(line).unwrap_or("");
                    assert_eq!(r.line, expect_line);
                    assert_eq!(&*r.body_raw(), &o.body_raw()[..], "{text}");
                }
                (ItemRef::Damaged(ReadItem::Garbled { error, .. }), Err(e)) => {
                    assert_eq!(error, describe_line_error(&e, line), "{text}");
                }
                (got, want) => panic!("{text}: read {got:?}, owned parse {want:?}"),
            }
        }
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

    #[test]
    fn damaged_line_reasons_name_no_rust_types() {
        let reason = |line: &str| match JournalReader::new(format!("{line}\n").as_bytes())
            .next()
            .unwrap()
            .unwrap()
        {
            ReadItem::Garbled { error, .. } => error,
            other => panic!("{line}: {other:?}"),
        };
        let good = serde_json::to_string(&entry(1, b"{}")).unwrap();
        let cases = [
            ("domain,app,stream", "not JSON"),
            (
                "1,2,3",
                "a JSON integer `1`, where a journal entry is a JSON object",
            ),
            (
                "[1,2]",
                "a JSON array, where a journal entry is a JSON object",
            ),
            (
                "\"text\"",
                "a JSON string \"text\", where a journal entry is a JSON object",
            ),
            ("{\"seq\":1}", "missing field `received_at`"),
            (
                &good.replacen("\"status\":200", "\"status\":200,\"body_truncated\":5", 1),
                r#"expected an object like {"received_bytes":N}"#,
            ),
            (
                &good.replacen("\"accepted\"", "\"Accepted\\u001b[2J\"", 1),
                "unknown variant `Accepted\\x1b[2J`",
            ),
        ];
        for (line, want) in cases {
            let got = reason(line);
            assert!(got.contains(want), "{line}: {got}");
            for leak in ["struct", "EntryRef", "JournalEntry", "Truncation", "line 1"] {
                assert!(!got.contains(leak), "{line}: {got}");
            }
            assert!(!got.contains('\x1b'), "{line}: {got:?}");
        }
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let first = JournalFile::open(&path, FsyncPolicy::Never).unwrap();
        // flock locks belong to an open file, so a second open conflicts even in-process.
        match LockedJournal::open(&path, false) {
            Err(OpenError::Locked { pid }) => {
                #[cfg(target_os = "linux")]
                assert_eq!(pid, Some(std::process::id()));
                let _ = pid;
            }
            other => panic!("{other:?}"),
        }
        // Readers take no lock.
        assert!(JournalReader::open(&path).is_ok());
        drop(first);
        assert!(LockedJournal::open(&path, false).is_ok(), "freed on drop");
    }

    #[test]
    fn proc_locks_lines_are_matched_by_device_and_inode() {
        let table = "1: FLOCK  ADVISORY  WRITE 14694 fe:00:5586960 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 999 fe:00:10019021 0 EOF\n\
                     2: POSIX  ADVISORY  WRITE 77 fe:00:10019021 0 EOF\n\
                     3: FLOCK  ADVISORY  WRITE 4321 fe:00:10019021 0 EOF\n\
                     4: FLOCK  ADVISORY  WRITE 55 103:0a:10019021 0 EOF\n";
        assert_eq!(holder_in_proc_locks(table, (0xfe, 0, 10019021)), Some(4321));
        assert_eq!(
            holder_in_proc_locks(table, (0x103, 0x0a, 10019021)),
            Some(55)
        );
        assert_eq!(holder_in_proc_locks(table, (0xfe, 1, 10019021)), None);
    }

    #[test]
    fn a_journal_keeps_its_id_and_a_new_journal_at_the_same_path_gets_another() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let first = LockedJournal::open(&path, true).unwrap();
        let id = first.start_id().expect("a regular file has an id");
        drop(first);
        // Continued (resume): the same id, also once the file has lines.
        std::fs::write(&path, "{\"seq\":1}\n").unwrap();
        let again = LockedJournal::open(&path, false).unwrap();
        assert_eq!(again.id(), Some(id.clone()));
        // Emptied in place and started again: another journal.
        drop(again);
        std::fs::write(&path, "").unwrap();
        let emptied = LockedJournal::open(&path, false).unwrap();
        let other = emptied.start_id().unwrap();
        assert_ne!(other, id);
        assert_eq!(emptied.id(), Some(other.clone()));
        drop(emptied);
        // Deleted and created again: another journal.
        std::fs::remove_file(&path).unwrap();
        let created = LockedJournal::open(&path, true).unwrap();
        assert!(created.id().is_some_and(|i| i != other && i != id));
        // A device has none.
        let null = LockedJournal::open(Path::new("/dev/null"), false).unwrap();
        assert_eq!(null.id(), None);
        assert_eq!(null.start_id(), None);
    }

    #[test]
    fn a_file_without_an_id_attribute_is_known_by_its_own_identity() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.jsonl");
        std::fs::write(&path, "{\"seq\":1}\n").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let Some(id) = JournalId::of_file(&meta) else {
            // No creation time on this file system: no identity, the path decides.
            return;
        };
        assert!(id.0.starts_with("f-") && id.0.len() == 18, "{id}");
        assert_eq!(
            JournalId::of_file(&std::fs::metadata(&path).unwrap()),
            Some(id.clone())
        );
        let moved = dir.path().join("moved.jsonl");
        std::fs::rename(&path, &moved).unwrap();
        assert_eq!(
            JournalId::of_file(&std::fs::metadata(&moved).unwrap()),
            Some(id.clone())
        );
        std::fs::remove_file(&moved).unwrap();
        std::fs::write(&moved, "{\"seq\":1}\n").unwrap();
        assert_ne!(
            JournalId::of_file(&std::fs::metadata(&moved).unwrap()),
            Some(id)
        );
    }

    /// The seq `--resume` continues from is the last well-formed line's, found from the end
    /// however long the lines (longer than the tail reader's chunk) and whatever damage
    /// follows it (a cut-off line, garbage, blank lines).
    #[test]
    fn tail_seq_is_the_last_well_formed_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        let big = format!(r#"{{"x":"{}"}}"#, "y".repeat(150_000));
        let mut text = Vec::new();
        for seq in 1..=3 {
            let e = entry(seq, if seq == 2 { big.as_bytes() } else { b"{}" });
            write_line(&mut text, &e, None);
        }
        let cases: Vec<(Vec<u8>, u64)> = vec![
            (Vec::new(), 0),
            (b"\n\n".to_vec(), 0),
            (text.clone(), 3),
            ([&text[..], b"{\"seq\":4,\"recei"].concat(), 3),
            ([&text[..], b"garbage\n\n\n"].concat(), 3),
            (text[..text.len() - 1].to_vec(), 3),
            (
                {
                    let mut t = text.clone();
                    let cut = t.len() - 30;
                    t.truncate(cut);
                    t
                },
                2,
            ),
            (
                {
                    let mut t = Vec::new();
                    write_line(&mut t, &entry(7, big.as_bytes()), None);
                    t.extend_from_slice(big.as_bytes());
                    t
                },
                7,
            ),
        ];
        for (i, (bytes, want)) in cases.into_iter().enumerate() {
            std::fs::write(&path, &bytes).unwrap();
            let len = bytes.len() as u64;
            assert_eq!(tail_seq(&path, len).unwrap(), want, "case {i}");
        }
        // Only the first `len` bytes count (what was there when --resume started).
        std::fs::write(&path, &text).unwrap();
        let first = text.iter().position(|b| *b == b'\n').unwrap() as u64 + 1;
        assert_eq!(tail_seq(&path, first).unwrap(), 1);
    }
}
