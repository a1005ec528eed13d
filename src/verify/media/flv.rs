//! FLV: the header, the first tags (first timestamps, which streams start), then a walk back
//! from the end along the `PreviousTagSize` fields (last timestamps). A hand-written reader:
//! an FLV tag header is 11 bytes (type, data size 24, timestamp 24 + extension 8, stream 24),
//! and each tag is followed by its size + 11 as a 32-bit field.

use super::{be24, be32, Probe, Problem, RangeSource, Reader, Stop};

const AUDIO: u8 = 8;
const VIDEO: u8 = 9;
const SCRIPT: u8 = 18;
/// How many tags are read forward from the start, and back from the end, at most.
const MAX_TAGS: usize = 400;
const WINDOW: usize = 32 * 1024;

/// A tag header, parsed.
#[derive(Debug, Clone, Copy)]
struct Tag {
    kind: u8,
    data_size: u32,
    ts_ms: i64,
}

fn tag_at(b: &[u8]) -> Option<Tag> {
    let kind = *b.first()? & 0x1f;
    if !matches!(kind, AUDIO | VIDEO | SCRIPT) {
        return None;
    }
    let data_size = be24(b, 1)?;
    let ts = be24(b, 4)? | (*b.get(7)? as u32) << 24;
    // The stream id is always 0.
    if be24(b, 8)? != 0 {
        return None;
    }
    Some(Tag {
        kind,
        data_size,
        ts_ms: ts as i32 as i64,
    })
}

/// Per stream kind: the first timestamp, and the last two distinct ones seen from the end.
#[derive(Default)]
struct Track {
    first: Option<i64>,
    last: Option<i64>,
    before_last: Option<i64>,
}

impl Track {
    fn seen(&self) -> bool {
        self.first.is_some() || self.last.is_some()
    }

    fn note_back(&mut self, ts: i64) {
        match self.last {
            None => self.last = Some(ts),
            Some(l) if self.before_last.is_none() && ts != l => self.before_last = Some(ts),
            _ => {}
        }
    }

    fn done_back(&self) -> bool {
        self.before_last.is_some()
    }

    /// The end of the last frame: its timestamp plus the gap before it (one frame).
    fn end(&self) -> Option<i64> {
        let last = self.last?;
        let frame = match self.before_last {
            Some(b) if last > b && last - b < 1000 => last - b,
            _ => 0,
        };
        Some(last + frame)
    }
}

pub(super) async fn probe<R: RangeSource>(
    r: &mut Reader<'_, R>,
    p: &mut Probe,
) -> Result<(), Stop> {
    let size = r.size();
    let head = r.at(0, 13, WINDOW).await?;
    if head.len() < 9 {
        p.problem(Problem::BadHeader);
        return Ok(());
    }
    let data_offset = be32(&head, 5).unwrap_or(0) as u64;
    if data_offset < 9 || data_offset > size {
        p.problem(Problem::BadHeader);
        return Ok(());
    }
    let mut audio = Track::default();
    let mut video = Track::default();

    // Forward from the first tag (after PreviousTagSize0).
    let first_tag = data_offset + 4;
    let mut pos = first_tag;
    let mut tags = 0;
    while pos < size && tags < MAX_TAGS && !(audio.first.is_some() && video.first.is_some()) {
        let h = r.at(pos, 11, WINDOW).await?;
        if h.len() < 11 {
            p.problem(Problem::PartialTail);
            break;
        }
        let Some(tag) = tag_at(&h) else {
            p.problem(Problem::BadHeader);
            break;
        };
        match tag.kind {
            AUDIO => audio.first = audio.first.or(Some(tag.ts_ms)),
            VIDEO => video.first = video.first.or(Some(tag.ts_ms)),
            _ => {}
        }
        pos += 11 + tag.data_size as u64 + 4;
        tags += 1;
    }

    // Back from the end.
    let mut end = size;
    let mut tags = 0;
    let mut resynced = false;
    while end >= first_tag + 15 && tags < MAX_TAGS {
        let prev = r.back(end - 4, 4, WINDOW).await?;
        let prev = be32(&prev, 0).unwrap_or(0) as u64;
        let tag = if prev >= 11 && prev + 4 <= end - first_tag {
            let start = end - 4 - prev;
            let h = r.back(start, 11, WINDOW).await?;
            tag_at(&h)
                .filter(|t| t.data_size as u64 + 11 == prev)
                .map(|t| (start, t))
        } else {
            None
        };
        let (start, tag) = match tag {
            Some(t) => t,
            None if tags == 0 && !resynced => {
                // The file does not end on a whole tag: find the last whole one in the tail.
                resynced = true;
                match last_whole_tag(r, first_tag, end).await? {
                    Some(e) => {
                        p.problem(Problem::PartialTail);
                        end = e;
                        continue;
                    }
                    None => break,
                }
            }
            None => break,
        };
        match tag.kind {
            AUDIO => audio.note_back(tag.ts_ms),
            VIDEO => video.note_back(tag.ts_ms),
            _ => {}
        }
        tags += 1;
        end = start;
        let want_audio = audio.seen() || tags < 32;
        let want_video = video.seen() || tags < 32;
        if (!want_audio || audio.done_back()) && (!want_video || video.done_back()) {
            break;
        }
    }

    p.has_audio = Some(audio.seen());
    p.has_video = Some(video.seen());
    if !audio.seen() && !video.seen() {
        p.problem(Problem::NoMedia);
        return Ok(());
    }
    let first = [audio.first, video.first].into_iter().flatten().min();
    let last = [audio.end(), video.end()].into_iter().flatten().max();
    match (first, last) {
        (Some(f), Some(l)) => p.span(f as f64 / 1000.0, l as f64 / 1000.0),
        _ => p.problem(Problem::NoTimestamps),
    }
    Ok(())
}

/// The end (after its PreviousTagSize) of the last whole tag in the window before `end`,
/// found by trying every position: a tag header whose size field is repeated after it.
async fn last_whole_tag<R: RangeSource>(
    r: &mut Reader<'_, R>,
    first_tag: u64,
    end: u64,
) -> Result<Option<u64>, Stop> {
    let start = end.saturating_sub(WINDOW as u64).max(first_tag);
    let buf = r.back(start, (end - start) as usize, WINDOW).await?;
    let mut best = None;
    for i in 0..buf.len() {
        let Some(tag) = tag_at(&buf[i..]) else {
            continue;
        };
        let after = i + 11 + tag.data_size as usize;
        if be32(&buf, after) == Some(tag.data_size + 11) {
            best = Some(start + after as u64 + 4);
        }
    }
    Ok(best)
}
