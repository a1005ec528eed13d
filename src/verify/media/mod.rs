//! What a recording file is, measured from its own bytes: pure (no I/O, no clock).
//!
//! [`probe`] reads a file through a [`RangeSource`] (byte ranges of a file of known size),
//! recognises the container from its first bytes and measures it, reading only what it
//! needs: the header and the tail of an FLV, the box headers and the `moov` (and the first
//! and last `moof`) of an MP4, the first and last packets of an MPEG-TS, the playlist of HLS.
//! At most [`MAX_READ`] bytes are read from any file, whatever its size.
//!
//! File contents are untrusted: every length and offset is checked, nothing panics, and a
//! file that does not add up is reported as a [`Problem`], not an error.

mod flv;
mod hls;
mod mp4;
mod ts;

use std::future::Future;

use serde::{Deserialize, Serialize};

/// The most bytes [`probe`] reads from one file (1 MiB): past it the probe stops with
/// [`Problem::ReadBudget`].
pub const MAX_READ: u64 = 1 << 20;

/// Why recmon could not check a file: a fault of recmon's access, never of the recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unchecked {
    /// The store refused recmon (HTTP 403, a bad signature or key).
    #[serde(rename = "403")]
    Forbidden,
    /// The store did not answer in time.
    #[serde(rename = "timeout")]
    Timeout,
    /// No credentials for this store in the environment.
    #[serde(rename = "no_credentials")]
    NoCredentials,
    /// No `--verify` rule covers this recording, or its rule cannot name this file.
    #[serde(rename = "no_rule")]
    NoRule,
    /// The store could not be reached (connection refused, name not resolved).
    #[serde(rename = "unreachable")]
    Unreachable,
    /// The store asked recmon to slow down.
    #[serde(rename = "rate_limited")]
    RateLimited,
    /// The store failed (a 5xx, an answer recmon could not read).
    #[serde(rename = "store_error")]
    StoreError,
    /// The rule's location is not usable (bad endpoint, bucket, path).
    #[serde(rename = "bad_location")]
    BadLocation,
    /// Measuring it would have read more than [`super::media::MAX_READ`] bytes.
    #[serde(rename = "too_costly")]
    TooCostly,
    /// The file is readable but its duration cannot be measured by recmon (an HLS master
    /// playlist, say).
    #[serde(rename = "unmeasurable")]
    Unmeasurable,
}

impl Unchecked {
    /// The reason code, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Unchecked::Forbidden => "403",
            Unchecked::Timeout => "timeout",
            Unchecked::NoCredentials => "no_credentials",
            Unchecked::NoRule => "no_rule",
            Unchecked::Unreachable => "unreachable",
            Unchecked::RateLimited => "rate_limited",
            Unchecked::StoreError => "store_error",
            Unchecked::BadLocation => "bad_location",
            Unchecked::TooCostly => "too_costly",
            Unchecked::Unmeasurable => "unmeasurable",
        }
    }
}

/// Why a range could not be read: the file is not there, or recmon could not look (its own
/// access fault, never the recording's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadError {
    /// The file (object) does not exist.
    Missing,
    /// recmon could not read it: no credentials, refused, timed out...
    Unchecked(Unchecked),
}

/// Byte ranges of one file of known size: what [`probe`] reads through. The OpenDAL reader
/// ([`super::reader::OpendalSource`]) and [`MemorySource`] implement it.
pub trait RangeSource: Send {
    /// The file's size in bytes.
    fn size(&self) -> u64;

    /// Up to `len` bytes from `offset`; fewer only at the end of the file. `probe` never asks
    /// past [`RangeSource::size`].
    fn read(
        &mut self,
        offset: u64,
        len: usize,
    ) -> impl Future<Output = Result<Vec<u8>, ReadError>> + Send;
}

/// A file held in memory: for tests and for bytes the caller already has.
#[derive(Debug, Clone, Default)]
pub struct MemorySource {
    /// The file's bytes.
    pub data: Vec<u8>,
}

impl RangeSource for MemorySource {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }

    fn read(
        &mut self,
        offset: u64,
        len: usize,
    ) -> impl Future<Output = Result<Vec<u8>, ReadError>> + Send {
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.data.len());
        let end = start.saturating_add(len).min(self.data.len());
        let out = self.data[start..end].to_vec();
        std::future::ready(Ok(out))
    }
}

/// A container recmon recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Container {
    /// Flash Video (nginx-rtmp's and ApsaraVideo's default).
    Flv,
    /// ISO BMFF with its samples described in `moov`.
    Mp4,
    /// ISO BMFF in fragments (`moof` + `mdat`).
    FragmentedMp4,
    /// MPEG transport stream.
    MpegTs,
    /// An HLS playlist (m3u8).
    Hls,
}

impl Container {
    /// The name as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Container::Flv => "flv",
            Container::Mp4 => "mp4",
            Container::FragmentedMp4 => "fragmented_mp4",
            Container::MpegTs => "mpeg_ts",
            Container::Hls => "hls",
        }
    }
}

/// Something wrong (or worth saying) about a file's bytes. Codes, not sentences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// The first bytes match no container recmon knows.
    UnknownContainer,
    /// The container's header is cut or inconsistent.
    BadHeader,
    /// An MP4 without a `moov` box (the recorder stopped before writing it).
    NoMoov,
    /// The file ends inside a box, a tag or a packet: it was cut.
    Truncated,
    /// The container is there but holds no audio or video at all.
    NoMedia,
    /// Timestamps could not be read where they should be.
    NoTimestamps,
    /// Reading it would have taken more than [`MAX_READ`] bytes.
    ReadBudget,
    /// An HLS master playlist: its variants are listed instead of segments.
    MasterPlaylist,
    /// An HLS media playlist without `#EXT-X-ENDLIST` (still live, or never finished).
    NoEndList,
    /// An HLS playlist that does not parse.
    BadPlaylist,
    /// The file ends inside its last tag or packet (a recorder stopped mid-write); what
    /// precedes it is readable, and measured.
    PartialTail,
}

impl Problem {
    /// True when the file cannot be what it claims to be: its verdict is `broken`.
    pub fn is_broken(self) -> bool {
        matches!(
            self,
            Problem::UnknownContainer
                | Problem::BadHeader
                | Problem::NoMoov
                | Problem::Truncated
                | Problem::BadPlaylist
        )
    }
}

/// One segment (or, in a master playlist, one variant) an HLS playlist names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HlsEntry {
    /// The URI as written in the playlist (relative to the playlist, or absolute).
    pub uri: String,
    /// Its `#EXTINF` duration (0 for a variant).
    pub duration_s: f64,
}

/// What [`probe`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// The container, or `None` for a 0-byte file or bytes that match none.
    pub container: Option<Container>,
    /// The file's size in bytes.
    pub size: u64,
    /// The measured duration in seconds, when it could be measured.
    pub duration_s: Option<f64>,
    /// The first media timestamp, seconds on the file's own clock.
    pub first_ts_s: Option<f64>,
    /// The last media timestamp (end of the last frame where known), seconds.
    pub last_ts_s: Option<f64>,
    /// Whether there is an audio track; `None` when not known (an HLS playlist's tracks are
    /// in its segments: probe one of them).
    pub has_audio: Option<bool>,
    /// Whether there is a video track; `None` when not known.
    pub has_video: Option<bool>,
    /// How many bytes were read to measure it.
    pub bytes_read: u64,
    /// What is wrong with it, if anything.
    pub problems: Vec<Problem>,
    /// HLS only: the segments (or the variants of a master playlist), for the caller to
    /// check they exist.
    pub segments: Vec<HlsEntry>,
}

impl Probe {
    fn new(size: u64) -> Probe {
        Probe {
            container: None,
            size,
            duration_s: None,
            first_ts_s: None,
            last_ts_s: None,
            has_audio: None,
            has_video: None,
            bytes_read: 0,
            problems: Vec::new(),
            segments: Vec::new(),
        }
    }

    fn problem(&mut self, p: Problem) {
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    /// True when a problem makes the file `broken`.
    pub fn is_broken(&self) -> bool {
        self.problems.iter().any(|p| p.is_broken())
    }

    /// Sets first, last and duration from a span in seconds.
    fn span(&mut self, first: f64, last: f64) {
        if first.is_finite() && last.is_finite() && last >= first {
            self.first_ts_s = Some(first);
            self.last_ts_s = Some(last);
            self.duration_s = Some(last - first);
        }
    }
}

/// Why a parser stopped early.
pub(crate) enum Stop {
    Read(ReadError),
    Budget,
}

impl From<ReadError> for Stop {
    fn from(e: ReadError) -> Stop {
        Stop::Read(e)
    }
}

/// The source with a byte count, a budget and one cached window (so that walking small
/// headers close together costs one request).
pub(crate) struct Reader<'a, R: RangeSource> {
    src: &'a mut R,
    size: u64,
    read: u64,
    win_off: u64,
    win: Vec<u8>,
}

impl<'a, R: RangeSource> Reader<'a, R> {
    fn new(src: &'a mut R) -> Self {
        let size = src.size();
        Reader {
            src,
            size,
            read: 0,
            win_off: 0,
            win: Vec::new(),
        }
    }

    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// Up to `len` bytes at `off`; on a miss, fetches the `behind` bytes that end at
    /// `off + len` (for walking a file backwards).
    pub(crate) async fn back(
        &mut self,
        off: u64,
        len: usize,
        behind: usize,
    ) -> Result<Vec<u8>, Stop> {
        let end = off.saturating_add(len as u64).min(self.size);
        let cached = off >= self.win_off && end <= self.win_off + self.win.len() as u64;
        if !cached {
            let start = end.saturating_sub(behind.max(len) as u64);
            self.at(start, (end - start) as usize, 0).await?;
        }
        self.at(off, len, 0).await
    }

    /// Up to `len` bytes at `off` (fewer at the end of the file, none past it); on a miss,
    /// fetches `max(len, ahead)` bytes into the window.
    pub(crate) async fn at(&mut self, off: u64, len: usize, ahead: usize) -> Result<Vec<u8>, Stop> {
        if off >= self.size || len == 0 {
            return Ok(Vec::new());
        }
        let len = len.min((self.size - off).min(usize::MAX as u64) as usize);
        let end = off + len as u64;
        if off >= self.win_off && end <= self.win_off + self.win.len() as u64 {
            let s = (off - self.win_off) as usize;
            return Ok(self.win[s..s + len].to_vec());
        }
        let win_end = self.win_off + self.win.len() as u64;
        if off >= self.win_off && off <= win_end && !self.win.is_empty() {
            // Contiguous with the window: fetch only what follows it (the window never
            // outgrows the budget, which counts every byte fetched).
            let more = (end - win_end).max(ahead as u64).min(self.size - win_end);
            if self.read + more > MAX_READ {
                return Err(Stop::Budget);
            }
            let data = self.src.read(win_end, more as usize).await?;
            self.read += data.len() as u64;
            self.win.extend_from_slice(&data);
            let s = (off - self.win_off) as usize;
            let e = (s + len).min(self.win.len());
            return Ok(self.win[s.min(e)..e].to_vec());
        }
        let want = len
            .max(ahead)
            .min((self.size - off).min(usize::MAX as u64) as usize);
        if self.read + want as u64 > MAX_READ {
            return Err(Stop::Budget);
        }
        let data = self.src.read(off, want).await?;
        self.read += data.len() as u64;
        let got = data.len().min(len);
        let out = data[..got].to_vec();
        self.win_off = off;
        self.win = data;
        Ok(out)
    }
}

/// Measures the file `src` holds. `name` (its key, path or URL) is only a hint: the
/// container is told from the bytes. A read that fails with [`ReadError`] fails the probe;
/// anything wrong with the bytes themselves is in [`Probe::problems`].
pub async fn probe<R: RangeSource>(src: &mut R, name: &str) -> Result<Probe, ReadError> {
    let _ = name;
    let mut r = Reader::new(src);
    let mut p = Probe::new(r.size());
    if p.size == 0 {
        return Ok(p);
    }
    let outcome = probe_inner(&mut r, &mut p).await;
    p.bytes_read = r.read;
    match outcome {
        Ok(()) => Ok(p),
        Err(Stop::Read(e)) => Err(e),
        Err(Stop::Budget) => {
            p.problem(Problem::ReadBudget);
            Ok(p)
        }
    }
}

async fn probe_inner<R: RangeSource>(r: &mut Reader<'_, R>, p: &mut Probe) -> Result<(), Stop> {
    let head = r.at(0, 1024, 64 * 1024).await?;
    match sniff(&head) {
        Some(Container::Flv) => {
            p.container = Some(Container::Flv);
            flv::probe(r, p).await
        }
        Some(Container::Mp4) | Some(Container::FragmentedMp4) => {
            p.container = Some(Container::Mp4);
            mp4::probe(r, p).await
        }
        Some(Container::MpegTs) => {
            p.container = Some(Container::MpegTs);
            ts::probe(r, p).await
        }
        Some(Container::Hls) => {
            p.container = Some(Container::Hls);
            hls::probe(r, p).await
        }
        None => {
            p.problem(Problem::UnknownContainer);
            Ok(())
        }
    }
}

/// The container these first bytes open, if any (MP4 and fragmented MP4 are told apart
/// later, from the boxes).
fn sniff(head: &[u8]) -> Option<Container> {
    if head.starts_with(b"FLV") {
        return Some(Container::Flv);
    }
    if head.len() >= 8
        && matches!(
            &head[4..8],
            b"ftyp" | b"styp" | b"moov" | b"moof" | b"mdat" | b"free" | b"skip" | b"wide" | b"sidx"
        )
    {
        return Some(Container::Mp4);
    }
    if head.first() == Some(&0x47) && (head.len() < 189 || head[188] == 0x47) {
        return Some(Container::MpegTs);
    }
    let text = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    let text = text.trim_ascii_start();
    if text.starts_with(b"#EXTM3U") {
        return Some(Container::Hls);
    }
    None
}

pub(crate) fn be16(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

pub(crate) fn be24(b: &[u8], i: usize) -> Option<u32> {
    let s = b.get(i..i + 3)?;
    Some((s[0] as u32) << 16 | (s[1] as u32) << 8 | s[2] as u32)
}

pub(crate) fn be32(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

pub(crate) fn be64(b: &[u8], i: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(i..i + 8)?.try_into().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(data: Vec<u8>) -> Probe {
        let mut src = MemorySource { data };
        futures::executor::block_on(probe(&mut src, "x")).unwrap()
    }

    #[test]
    fn empty_file_has_no_container() {
        let p = run(Vec::new());
        assert_eq!(p.container, None);
        assert_eq!(p.size, 0);
        assert!(p.problems.is_empty());
    }

    #[test]
    fn unknown_bytes_are_unknown() {
        let p = run(b"hello world, not a video".to_vec());
        assert_eq!(p.container, None);
        assert_eq!(p.problems, vec![Problem::UnknownContainer]);
    }

    /// Every parser, fed random bytes behind each container's magic and every truncation of
    /// a small valid-looking file, must return (never panic, never loop).
    #[test]
    fn hostile_bytes_never_panic() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(22);
        let magics: [&[u8]; 7] = [
            b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00",
            b"\x00\x00\x00\x18ftypisom",
            b"\x00\x00\x00\x08moov",
            b"\x00\x00\x00\x10moof",
            b"\x47\x40\x00\x10",
            b"#EXTM3U\n",
            b"",
        ];
        for round in 0..3000 {
            let magic = magics[round % magics.len()];
            let n = rng.random_range(0..4096);
            let mut data = magic.to_vec();
            data.extend((0..n).map(|_| rng.random::<u8>()));
            if round % magics.len() == 4 {
                // A transport stream: sync bytes every 188 bytes, random between.
                for i in (0..data.len()).step_by(188) {
                    data[i] = 0x47;
                }
            }
            let p = run(data);
            assert!(p.bytes_read <= MAX_READ);
        }
    }
}
