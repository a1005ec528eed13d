//! HLS: the playlist, parsed by `m3u8-rs`; the duration is the sum of `#EXTINF`, and the
//! segments are returned for the caller to check (and probe) them.

use m3u8_rs::Playlist;

use super::{HlsEntry, Probe, Problem, RangeSource, Reader, Stop, MAX_READ};

pub(super) async fn probe<R: RangeSource>(
    r: &mut Reader<'_, R>,
    p: &mut Probe,
) -> Result<(), Stop> {
    let size = r.size();
    if size > MAX_READ / 2 {
        return Err(Stop::Budget);
    }
    let text = r.at(0, size as usize, 0).await?;
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&text);
    match m3u8_rs::parse_playlist_res(text) {
        Ok(Playlist::MediaPlaylist(pl)) => {
            let mut total = 0.0f64;
            for s in &pl.segments {
                let d = s.duration as f64;
                let d = if d.is_finite() && d > 0.0 { d } else { 0.0 };
                total += d;
                p.segments.push(HlsEntry {
                    uri: s.uri.clone(),
                    duration_s: d,
                });
            }
            if !pl.end_list {
                p.problem(Problem::NoEndList);
            }
            if pl.segments.is_empty() {
                p.problem(Problem::NoMedia);
                p.has_audio = Some(false);
                p.has_video = Some(false);
            } else {
                p.span(0.0, total);
            }
        }
        Ok(Playlist::MasterPlaylist(pl)) => {
            p.problem(Problem::MasterPlaylist);
            p.segments = pl
                .variants
                .iter()
                .map(|v| HlsEntry {
                    uri: v.uri.clone(),
                    duration_s: 0.0,
                })
                .collect();
        }
        Err(_) => p.problem(Problem::BadPlaylist),
    }
    Ok(())
}
