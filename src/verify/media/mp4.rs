//! MP4 and fragmented MP4: a walk over the top-level box headers (16 bytes each, never the
//! `mdat`), then inside `moov` over the headers down to the few small boxes that matter
//! (`mvhd`, `tkhd`, `mdhd`, `hdlr`, `elst`, `trex`, the last `stco`/`co64` entry), and for
//! fragments the first and last `moof`. The boxes themselves are decoded by `mp4-atom`; the
//! sample tables are never read whole, so a 3-hour recording costs what a 10-second one does.

use mp4_atom::{Decode, Hdlr, Mdhd, Moof, Mvhd, Tkhd, Trex};

use super::{be32, be64, Container, Probe, Problem, RangeSource, Reader, Stop};

/// Top-level boxes walked at most (two per fragment: over an hour of 2-second fragments).
const MAX_TOP_BOXES: usize = 20_000;
/// Boxes visited inside `moov` at most.
const MAX_MOOV_BOXES: usize = 2_000;
/// The largest leaf box (`mvhd`, `hdlr`...) or `moof` decoded.
const MAX_LEAF: u64 = 64 * 1024;
const MAX_MOOF: u64 = 512 * 1024;
/// How many of the last fragments are read to find every track's end.
const LAST_MOOFS: usize = 4;

/// A box header: where the box starts, its header length, its whole size and its type.
#[derive(Debug, Clone, Copy)]
struct BoxHead {
    kind: [u8; 4],
    off: u64,
    header: u64,
    size: u64,
}

impl BoxHead {
    fn end(&self) -> u64 {
        self.off + self.size
    }

    fn body(&self) -> u64 {
        self.off + self.header
    }
}

/// Reads the header of the box at `off`, within `limit`. `Ok(None)`: no room for a header;
/// `Err(true)`: the box runs past `limit`; `Err(false)`: nonsense.
async fn head_at<R: RangeSource>(
    r: &mut Reader<'_, R>,
    off: u64,
    limit: u64,
    ahead: usize,
) -> Result<Result<Option<BoxHead>, bool>, Stop> {
    if off.saturating_add(8) > limit {
        return Ok(Ok(None));
    }
    let b = r.at(off, 16, ahead).await?;
    let (Some(size32), Some(kind)) = (be32(&b, 0), b.get(4..8)) else {
        return Ok(Ok(None));
    };
    let kind: [u8; 4] = kind.try_into().unwrap_or(*b"????");
    let (header, size) = match size32 {
        0 => (8, limit - off),
        1 => match be64(&b, 8) {
            Some(s) => (16, s),
            None => return Ok(Err(true)),
        },
        s => (8, s as u64),
    };
    if size < header {
        return Ok(Err(false));
    }
    if off.checked_add(size).is_none_or(|e| e > limit) {
        return Ok(Err(true));
    }
    Ok(Ok(Some(BoxHead {
        kind,
        off,
        header,
        size,
    })))
}

/// The children of a container box between `start` and `end` (headers only).
async fn children<R: RangeSource>(
    r: &mut Reader<'_, R>,
    start: u64,
    end: u64,
    visited: &mut usize,
) -> Result<Vec<BoxHead>, Stop> {
    let mut out = Vec::new();
    let mut off = start;
    while off < end && *visited < MAX_MOOV_BOXES {
        *visited += 1;
        let ahead = (end - off).min(16 * 1024) as usize;
        match head_at(r, off, end, ahead).await? {
            Ok(Some(h)) => {
                off = h.end();
                out.push(h);
            }
            _ => break,
        }
    }
    Ok(out)
}

/// Decodes a small box whole with `mp4-atom`.
async fn decode<T: Decode, R: RangeSource>(
    r: &mut Reader<'_, R>,
    h: &BoxHead,
) -> Result<Option<T>, Stop> {
    if h.size > MAX_LEAF {
        return Ok(None);
    }
    let bytes = r.at(h.off, h.size as usize, 0).await?;
    if bytes.len() as u64 != h.size {
        return Ok(None);
    }
    Ok(T::decode(&mut &bytes[..]).ok())
}

/// What `moov` says about one track.
#[derive(Debug, Default, Clone)]
struct Track {
    id: u32,
    handler: [u8; 4],
    timescale: u32,
    duration: u64,
    /// The offset of its last chunk (the last `stco`/`co64` entry).
    last_chunk: Option<u64>,
    /// `trex`'s default sample duration, for fragments.
    default_duration: u32,
}

#[derive(Debug, Default)]
struct Movie {
    timescale: u32,
    duration: u64,
    tracks: Vec<Track>,
    fragmented: bool,
}

pub(super) async fn probe<R: RangeSource>(
    r: &mut Reader<'_, R>,
    p: &mut Probe,
) -> Result<(), Stop> {
    let size = r.size();
    let mut moov = None;
    let mut first_moof = None;
    let mut last_moofs: Vec<BoxHead> = Vec::new();
    let mut off = 0;
    let mut n = 0;
    while off < size {
        n += 1;
        if n > MAX_TOP_BOXES {
            return Err(Stop::Budget);
        }
        match head_at(r, off, size, 16).await? {
            Ok(Some(h)) => {
                match &h.kind {
                    b"moov" => moov = moov.or(Some(h)),
                    b"moof" => {
                        first_moof = first_moof.or(Some(h));
                        if last_moofs.len() == LAST_MOOFS {
                            last_moofs.remove(0);
                        }
                        last_moofs.push(h);
                    }
                    _ => {}
                }
                off = h.end();
            }
            Ok(None) => {
                // A few stray bytes at the end.
                p.problem(Problem::PartialTail);
                break;
            }
            Err(true) => {
                p.problem(Problem::Truncated);
                break;
            }
            Err(false) => {
                p.problem(Problem::BadHeader);
                break;
            }
        }
    }
    if first_moof.is_some() {
        p.container = Some(Container::FragmentedMp4);
    }
    let Some(moov) = moov else {
        p.problem(Problem::NoMoov);
        return Ok(());
    };
    let movie = read_moov(r, &moov).await?;
    let Some(movie) = movie else {
        p.problem(Problem::BadHeader);
        return Ok(());
    };
    if movie.fragmented && first_moof.is_none() && movie.duration == 0 {
        // An init segment alone (or a recorder that wrote nothing after it).
        p.container = Some(Container::FragmentedMp4);
    }

    if let Some(first) = first_moof {
        fragments(r, p, &movie, first, &last_moofs).await?;
    } else {
        let with_samples = |kind: &[u8; 4]| {
            movie
                .tracks
                .iter()
                .any(|t| &t.handler == kind && t.duration > 0)
        };
        p.has_audio = Some(with_samples(b"soun"));
        p.has_video = Some(with_samples(b"vide"));
        let duration = if movie.duration > 0 && movie.timescale > 0 {
            Some(movie.duration as f64 / movie.timescale as f64)
        } else {
            movie
                .tracks
                .iter()
                .filter(|t| t.timescale > 0)
                .map(|t| t.duration as f64 / t.timescale as f64)
                .reduce(f64::max)
        };
        if movie
            .tracks
            .iter()
            .any(|t| t.last_chunk.is_some_and(|c| c >= size))
        {
            p.problem(Problem::Truncated);
        }
        match duration {
            Some(d) if d > 0.0 => p.span(0.0, d),
            _ => p.problem(Problem::NoMedia),
        }
    }
    Ok(())
}

/// The movie header and the tracks, from the headers inside `moov`.
async fn read_moov<R: RangeSource>(
    r: &mut Reader<'_, R>,
    moov: &BoxHead,
) -> Result<Option<Movie>, Stop> {
    let mut visited = 0;
    let mut movie = Movie::default();
    let mut have_mvhd = false;
    let mut trex: Vec<Trex> = Vec::new();
    for child in children(r, moov.body(), moov.end(), &mut visited).await? {
        match &child.kind {
            b"mvhd" => {
                if let Some(m) = decode::<Mvhd, R>(r, &child).await? {
                    movie.timescale = m.timescale;
                    movie.duration = m.duration;
                    have_mvhd = true;
                }
            }
            b"mvex" => {
                movie.fragmented = true;
                for c in children(r, child.body(), child.end(), &mut visited).await? {
                    if &c.kind == b"trex" {
                        if let Some(t) = decode::<Trex, R>(r, &c).await? {
                            trex.push(t);
                        }
                    }
                }
            }
            b"trak" => {
                if let Some(t) = read_trak(r, &child, &mut visited).await? {
                    movie.tracks.push(t);
                }
            }
            _ => {}
        }
    }
    for t in &mut movie.tracks {
        if let Some(x) = trex.iter().find(|x| x.track_id == t.id) {
            t.default_duration = x.default_sample_duration;
        }
    }
    Ok(have_mvhd.then_some(movie))
}

async fn read_trak<R: RangeSource>(
    r: &mut Reader<'_, R>,
    trak: &BoxHead,
    visited: &mut usize,
) -> Result<Option<Track>, Stop> {
    let mut t = Track::default();
    let mut have_mdhd = false;
    for c in children(r, trak.body(), trak.end(), visited).await? {
        match &c.kind {
            b"tkhd" => {
                if let Some(h) = decode::<Tkhd, R>(r, &c).await? {
                    t.id = h.track_id;
                }
            }
            b"mdia" => {
                for m in children(r, c.body(), c.end(), visited).await? {
                    match &m.kind {
                        b"mdhd" => {
                            if let Some(h) = decode::<Mdhd, R>(r, &m).await? {
                                t.timescale = h.timescale;
                                t.duration = h.duration;
                                have_mdhd = true;
                            }
                        }
                        b"hdlr" => {
                            if let Some(h) = decode::<Hdlr, R>(r, &m).await? {
                                t.handler = h.handler.into();
                            }
                        }
                        b"minf" => {
                            for s in children(r, m.body(), m.end(), visited).await? {
                                if &s.kind == b"stbl" {
                                    t.last_chunk = last_chunk(r, &s, visited).await?;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    Ok(have_mdhd.then_some(t))
}

/// The last entry of the chunk offset table, read alone (the table may be megabytes).
async fn last_chunk<R: RangeSource>(
    r: &mut Reader<'_, R>,
    stbl: &BoxHead,
    visited: &mut usize,
) -> Result<Option<u64>, Stop> {
    for c in children(r, stbl.body(), stbl.end(), visited).await? {
        let width = match &c.kind {
            b"stco" => 4,
            b"co64" => 8,
            _ => continue,
        };
        let b = r.at(c.body(), 8, 0).await?;
        let Some(count) = be32(&b, 4) else {
            return Ok(None);
        };
        if count == 0 {
            return Ok(None);
        }
        let at = c.body() + 8 + (count as u64 - 1) * width;
        if at + width > c.end() {
            return Ok(None);
        }
        let e = r.at(at, width as usize, 0).await?;
        return Ok(if width == 4 {
            be32(&e, 0).map(u64::from)
        } else {
            be64(&e, 0)
        });
    }
    Ok(None)
}

async fn read_moof<R: RangeSource>(
    r: &mut Reader<'_, R>,
    h: &BoxHead,
) -> Result<Option<Moof>, Stop> {
    if h.size > MAX_MOOF {
        return Ok(None);
    }
    let bytes = r.at(h.off, h.size as usize, 0).await?;
    Ok(Moof::decode(&mut &bytes[..]).ok())
}

/// Per track of a fragment: its start (tfdt) and end (tfdt + the runs' durations), in the
/// track's timescale.
fn spans(moof: &Moof, movie: &Movie) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for traf in &moof.traf {
        let id = traf.tfhd.track_id;
        let default = traf.tfhd.default_sample_duration.unwrap_or_else(|| {
            movie
                .tracks
                .iter()
                .find(|t| t.id == id)
                .map_or(0, |t| t.default_duration)
        });
        let Some(tfdt) = &traf.tfdt else {
            continue;
        };
        let start = tfdt.base_media_decode_time;
        let mut sum: u64 = 0;
        for run in &traf.trun {
            for s in run.samples.iter() {
                sum = sum.saturating_add(s.duration.unwrap_or(default) as u64);
            }
        }
        out.push((id, start, start.saturating_add(sum)));
    }
    out
}

async fn fragments<R: RangeSource>(
    r: &mut Reader<'_, R>,
    p: &mut Probe,
    movie: &Movie,
    first: BoxHead,
    last: &[BoxHead],
) -> Result<(), Stop> {
    let scale = |id: u32| {
        movie
            .tracks
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.timescale)
            .filter(|s| *s > 0)
    };
    let mut start: Option<f64> = None;
    let mut seen: Vec<u32> = Vec::new();
    if let Some(moof) = read_moof(r, &first).await? {
        for (id, s, _) in spans(&moof, movie) {
            if let Some(ts) = scale(id) {
                let s = s as f64 / ts as f64;
                start = Some(start.map_or(s, |x: f64| x.min(s)));
            }
        }
    }
    let mut end: Option<f64> = None;
    for h in last.iter().rev() {
        let Some(moof) = read_moof(r, h).await? else {
            continue;
        };
        for (id, _, e) in spans(&moof, movie) {
            if seen.contains(&id) {
                continue;
            }
            seen.push(id);
            if let Some(ts) = scale(id) {
                let e = e as f64 / ts as f64;
                end = Some(end.map_or(e, |x: f64| x.max(e)));
            }
        }
        if movie.tracks.iter().all(|t| seen.contains(&t.id)) {
            break;
        }
    }
    let kinds = |kind: &[u8; 4]| {
        movie
            .tracks
            .iter()
            .any(|t| &t.handler == kind && seen.contains(&t.id))
    };
    p.has_audio = Some(kinds(b"soun"));
    p.has_video = Some(kinds(b"vide"));
    match (start, end) {
        (Some(s), Some(e)) => p.span(s, e),
        _ => p.problem(Problem::NoTimestamps),
    }
    Ok(())
}
