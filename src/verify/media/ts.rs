//! MPEG-TS: the PAT and PMT (which streams are audio and video) and the first PTS of each
//! from the head of the file, the last PTS of each from its tail. A hand-written reader:
//! 188-byte packets, a PES header's 33-bit PTS.

use super::{be16, Probe, Problem, RangeSource, Reader, Stop};

const PACKET: usize = 188;
/// Bytes read from the head and from the tail.
const HEAD: usize = 256 * 1024;
const TAIL: usize = 256 * 1024;
const WRAP: i64 = 1 << 33;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Audio,
    Video,
    Other,
}

fn kind_of(stream_type: u8) -> Kind {
    match stream_type {
        0x01 | 0x02 | 0x10 | 0x1b | 0x20 | 0x24 | 0x42 | 0xd1 | 0xea => Kind::Video,
        0x03 | 0x04 | 0x0f | 0x11 | 0x1c | 0x81 | 0x82 | 0x83 | 0x84 | 0x87 => Kind::Audio,
        _ => Kind::Other,
    }
}

#[derive(Debug, Clone)]
struct Stream {
    pid: u16,
    kind: Kind,
    first: Option<i64>,
    /// Every PTS seen in the tail.
    tail: Vec<i64>,
    /// One audio frame, in 90 kHz ticks, when its header says.
    frame: Option<i64>,
}

/// One packet: its PID, whether a unit starts in it, and its payload.
fn packet(b: &[u8]) -> Option<(u16, bool, &[u8])> {
    if b.len() < PACKET || b[0] != 0x47 {
        return None;
    }
    let pid = be16(b, 1)? & 0x1fff;
    let start = b[1] & 0x40 != 0;
    let afc = (b[3] >> 4) & 0x3;
    let mut at = 4;
    if afc & 0x2 != 0 {
        at += 1 + *b.get(4)? as usize;
    }
    if afc & 0x1 == 0 || at > PACKET {
        return Some((pid, start, &[]));
    }
    Some((pid, start, &b[at..PACKET]))
}

/// The PTS at the start of a PES packet, if it has one.
fn pes_pts(payload: &[u8]) -> Option<i64> {
    if payload.get(0..3)? != [0, 0, 1] {
        return None;
    }
    let flags = *payload.get(7)?;
    if flags & 0x80 == 0 {
        return None;
    }
    let p = payload.get(9..14)?;
    let pts = ((p[0] as i64 >> 1) & 0x07) << 30
        | (p[1] as i64) << 22
        | ((p[2] as i64) >> 1) << 15
        | (p[3] as i64) << 7
        | (p[4] as i64) >> 1;
    Some(pts)
}

/// The PES payload after its header.
fn pes_data(payload: &[u8]) -> Option<&[u8]> {
    let header_len = *payload.get(8)? as usize;
    payload.get(9 + header_len..)
}

/// One audio frame's duration in 90 kHz ticks, from the frame header an audio PES starts
/// with: ADTS (AAC, 1024 samples) or MPEG audio (MP2/MP3).
fn audio_frame_ticks(data: &[u8]) -> Option<i64> {
    let b = data.get(0..4)?;
    if b[0] != 0xff || b[1] & 0xe0 != 0xe0 {
        return None;
    }
    let layer = (b[1] >> 1) & 0x3;
    let (samples, rate) = if layer == 0 {
        // ADTS.
        const RATES: [u32; 13] = [
            96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350,
        ];
        (1024, *RATES.get(((b[2] >> 2) & 0xf) as usize)?)
    } else {
        // MPEG audio: version 1, 2 or 2.5; layer I, II or III.
        let version = (b[1] >> 3) & 0x3;
        let base: u32 = match (b[2] >> 2) & 0x3 {
            0 => 44100,
            1 => 48000,
            2 => 32000,
            _ => return None,
        };
        let rate = match version {
            3 => base,
            2 => base / 2,
            0 => base / 4,
            _ => return None,
        };
        let samples = match (layer, version) {
            (3, _) => 384,
            (2, _) => 1152,
            (1, 3) => 1152,
            (1, _) => 576,
            _ => return None,
        };
        (samples, rate)
    };
    Some(samples as i64 * 90_000 / rate as i64)
}

/// A PSI section's body (after the pointer field), from table id on.
fn section(payload: &[u8]) -> Option<&[u8]> {
    let pointer = *payload.first()? as usize;
    let s = payload.get(1 + pointer..)?;
    let len = (be16(s, 1)? & 0x0fff) as usize;
    s.get(..(3 + len).min(s.len()))
}

/// The PMT PIDs a PAT names.
fn pat(payload: &[u8]) -> Vec<u16> {
    let Some(s) = section(payload) else {
        return Vec::new();
    };
    // table id 0; entries from byte 8 to the CRC.
    let end = s.len().saturating_sub(4);
    let mut out = Vec::new();
    let mut i = 8;
    while i + 4 <= end {
        let program = be16(s, i).unwrap_or(0);
        let pid = be16(s, i + 2).unwrap_or(0) & 0x1fff;
        if program != 0 {
            out.push(pid);
        }
        i += 4;
    }
    out
}

/// The elementary streams a PMT names.
fn pmt(payload: &[u8]) -> Vec<(u16, u8)> {
    let Some(s) = section(payload) else {
        return Vec::new();
    };
    if s.first() != Some(&0x02) {
        return Vec::new();
    }
    let end = s.len().saturating_sub(4);
    let info = (be16(s, 10).unwrap_or(0) & 0x0fff) as usize;
    let mut i = 12 + info;
    let mut out = Vec::new();
    while i + 5 <= end {
        let st = s[i];
        let pid = be16(s, i + 1).unwrap_or(0) & 0x1fff;
        let es_info = (be16(s, i + 3).unwrap_or(0) & 0x0fff) as usize;
        out.push((pid, st));
        i += 5 + es_info;
    }
    out
}

/// Where the first whole packet in `b` starts: a sync byte followed by two more a packet
/// apart (or by the end).
fn align(b: &[u8]) -> Option<usize> {
    (0..PACKET.min(b.len())).find(|&i| {
        b[i] == 0x47 && (1..=2).all(|k| b.get(i + k * PACKET).is_none_or(|&x| x == 0x47))
    })
}

pub(super) async fn probe<R: RangeSource>(
    r: &mut Reader<'_, R>,
    p: &mut Probe,
) -> Result<(), Stop> {
    let size = r.size();
    let head = r.at(0, HEAD, HEAD).await?;
    let mut pmt_pids: Vec<u16> = Vec::new();
    let mut streams: Vec<Stream> = Vec::new();
    for pkt in head.chunks_exact(PACKET) {
        let Some((pid, start, payload)) = packet(pkt) else {
            break;
        };
        if pid == 0 && start && pmt_pids.is_empty() {
            pmt_pids = pat(payload);
        } else if start && pmt_pids.contains(&pid) && streams.is_empty() {
            streams = pmt(payload)
                .into_iter()
                .map(|(pid, st)| Stream {
                    pid,
                    kind: kind_of(st),
                    first: None,
                    tail: Vec::new(),
                    frame: None,
                })
                .collect();
        } else if start {
            if let Some(s) = streams.iter_mut().find(|s| s.pid == pid) {
                if let Some(pts) = pes_pts(payload) {
                    s.first = Some(s.first.map_or(pts, |f| f.min(pts)));
                }
            }
        }
    }
    if streams.is_empty() {
        p.problem(if head.len() >= PACKET && packet(&head).is_some() {
            Problem::NoMedia
        } else {
            Problem::BadHeader
        });
        p.has_audio = Some(false);
        p.has_video = Some(false);
        return Ok(());
    }
    if !size.is_multiple_of(PACKET as u64) {
        p.problem(Problem::PartialTail);
    }

    let tail_start = size.saturating_sub(TAIL as u64);
    let tail = if tail_start == 0 {
        head
    } else {
        r.at(tail_start, TAIL, TAIL).await?
    };
    if let Some(skip) = align(&tail) {
        for pkt in tail[skip..].chunks_exact(PACKET) {
            let Some((pid, true, payload)) = packet(pkt) else {
                continue;
            };
            if let Some(s) = streams.iter_mut().find(|s| s.pid == pid) {
                if let Some(pts) = pes_pts(payload) {
                    s.tail.push(pts);
                    if s.kind == Kind::Audio {
                        s.frame = pes_data(payload).and_then(audio_frame_ticks).or(s.frame);
                    }
                }
            }
        }
    }

    let av = |s: &&Stream| s.kind != Kind::Other && (s.first.is_some() || !s.tail.is_empty());
    p.has_audio = Some(streams.iter().filter(av).any(|s| s.kind == Kind::Audio));
    p.has_video = Some(streams.iter().filter(av).any(|s| s.kind == Kind::Video));
    let Some(first) = streams.iter().filter(av).filter_map(|s| s.first).min() else {
        p.problem(Problem::NoTimestamps);
        return Ok(());
    };
    let mut end: Option<i64> = None;
    for s in streams.iter().filter(av) {
        let mut pts: Vec<i64> = s
            .tail
            .iter()
            .map(|&t| {
                if t < first && first - t > WRAP / 2 {
                    t + WRAP
                } else {
                    t
                }
            })
            .collect();
        pts.sort_unstable();
        pts.dedup();
        let Some(&last) = pts.last() else {
            continue;
        };
        // One frame (as ffprobe counts the end: the last PES's time plus one frame): an
        // audio frame's header says; a video PES is one frame, the smallest gap.
        let gap = pts
            .windows(2)
            .map(|w| w[1] - w[0])
            .filter(|d| *d > 0 && *d < 90_000)
            .min()
            .unwrap_or(0);
        let frame = if s.kind == Kind::Audio {
            s.frame.unwrap_or(0)
        } else {
            gap
        };
        let e = last + frame;
        end = Some(end.map_or(e, |x| x.max(e)));
    }
    match end {
        Some(e) => p.span(first as f64 / 90_000.0, e as f64 / 90_000.0),
        None => p.problem(Problem::NoTimestamps),
    }
    Ok(())
}
