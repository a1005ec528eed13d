//! Formatting of times, durations and untrusted text for the panels.

use chrono::{DateTime, Local, Utc};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

use unicode_segmentation::UnicodeSegmentation;

use crate::util::sanitize;

pub use crate::util::human::{hms, hms_ms, thousands};

/// Longest callback field kept in a row, in characters; columns cut further to fit.
pub const FIELD_MAX: usize = 200;

/// Callback text made terminal-safe and cut to `max` characters. The one door through which
/// untrusted text enters the view model.
pub fn clean(s: &str, max: usize) -> String {
    sanitize::terminal(s, max).into_owned()
}

/// `HH:MM:SS` in local time or UTC.
pub fn clock(t: DateTime<Utc>, utc: bool) -> String {
    if utc {
        t.format("%H:%M:%S").to_string()
    } else {
        t.with_timezone(&Local).format("%H:%M:%S").to_string()
    }
}

/// `HH:MM:SS.mmm` in local time or UTC.
pub fn clock_ms(t: DateTime<Utc>, utc: bool) -> String {
    if utc {
        t.format("%H:%M:%S%.3f").to_string()
    } else {
        t.with_timezone(&Local).format("%H:%M:%S%.3f").to_string()
    }
}

/// `YYYY-MM-DD HH:MM:SS` in local time or UTC.
pub fn date_time(t: DateTime<Utc>, utc: bool) -> String {
    if utc {
        t.format("%Y-%m-%d %H:%M:%S").to_string()
    } else {
        t.with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

/// A provider Unix time as `YYYY-MM-DD HH:MM:SS`, or `-` when absent or out of range.
pub fn unix_date_time(secs: Option<i64>, utc: bool) -> String {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|t| date_time(t, utc))
        .unwrap_or_else(|| "-".into())
}

/// The stop time, short: `HH:MM:SS` on the start's day, `+Nd HH:MM:SS` on a later day, the
/// full date when there is no start to compare with.
pub fn unix_stop_time(start: Option<i64>, stop: Option<i64>, utc: bool) -> String {
    let to_date = |s: Option<i64>| s.and_then(|s| DateTime::from_timestamp(s, 0));
    let (Some(a), Some(z)) = (to_date(start), to_date(stop)) else {
        return unix_date_time(stop, utc);
    };
    let (days, time) = if utc {
        (
            (z.date_naive() - a.date_naive()).num_days(),
            z.format("%H:%M:%S").to_string(),
        )
    } else {
        let (a, z) = (a.with_timezone(&Local), z.with_timezone(&Local));
        (
            (z.date_naive() - a.date_naive()).num_days(),
            z.format("%H:%M:%S").to_string(),
        )
    };
    if days == 0 {
        time
    } else {
        format!("{days:+}d {time}")
    }
}

/// Which end of a text goes when it is too wide for its place. Either way the cut is shown
/// by `…`, so a cut text never passes for a whole one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Keep the start (`record_started  dur…`): free text reads from the left.
    End,
    /// Keep the end, starting at a `/` when the kept part has one (`…/sports/match-cam-1`):
    /// in names and paths the tail is what tells rows apart.
    Start,
}

/// Longest partial path segment dropped so that a start-cut text begins at a `/`.
const SNAP_MAX: usize = 16;

/// Display width of a text in terminal cells.
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// A text cut to at most `max` terminal cells, the cut marked with `…`.
pub fn fit(s: &str, max: usize, cut: Cut) -> String {
    if width(s) <= max {
        return s.to_owned();
    }
    if max == 0 {
        return String::new();
    }
    let room = max - 1;
    match cut {
        // By grapheme, measured as the terminal draws it: `❤️` (a heart and a variation
        // selector) is one 2-cell symbol, though its characters add up to 1.
        Cut::End => {
            let mut out = String::new();
            let mut used = 0;
            for g in s.graphemes(true) {
                let w = width(g);
                if used + w > room {
                    break;
                }
                used += w;
                out.push_str(g);
            }
            out.push('…');
            out
        }
        Cut::Start => {
            let mut kept: Vec<&str> = Vec::new();
            let mut used = 0;
            for g in s.graphemes(true).rev() {
                let w = width(g);
                if used + w > room {
                    break;
                }
                used += w;
                kept.push(g);
            }
            kept.reverse();
            let mut tail: String = kept.concat();
            // A partial path segment (`…ample.com/sports`) is noise; start at its `/`, unless
            // that would throw away more than a short fragment.
            if let Some(slash) = tail.find('/') {
                if slash > 0 && width(&tail[..slash]) <= SNAP_MAX {
                    tail.drain(..slash);
                }
            }
            format!("…{tail}")
        }
    }
}

/// A styled line cut to at most `max` cells, the cut marked with `…` in the style of the
/// text it replaces. Alignment is kept.
pub fn fit_line(line: Line<'static>, max: usize, cut: Cut) -> Line<'static> {
    if line.width() <= max {
        return line;
    }
    let alignment = line.alignment;
    let spans = line.spans;
    let mut out: Vec<Span<'static>> = Vec::new();
    match cut {
        Cut::End => {
            let mut left = max;
            for span in spans {
                let w = span.width();
                if w < left {
                    left -= w;
                    out.push(span);
                } else {
                    out.push(Span::styled(fit(&span.content, left, Cut::End), span.style));
                    break;
                }
            }
        }
        Cut::Start => {
            let mut left = max;
            for span in spans.into_iter().rev() {
                let w = span.width();
                if w < left {
                    left -= w;
                    out.push(span);
                } else {
                    out.push(Span::styled(
                        fit(&span.content, left, Cut::Start),
                        span.style,
                    ));
                    break;
                }
            }
            out.reverse();
        }
    }
    let mut l = Line::from(out);
    l.alignment = alignment;
    l
}

/// One thing a one-line bar (header, footer) may show, in forms from longest to shortest.
/// When the bar is too narrow, the least important items (highest `priority` number) first
/// take shorter forms, then go, the rightmost first; an item with `shrink` is cut to the
/// room left (down to 8 cells) before it goes.
#[derive(Debug, Clone)]
pub struct BarItem {
    /// 0 is kept longest.
    pub priority: u8,
    /// The forms, longest first; at least one.
    pub forms: Vec<Vec<Span<'static>>>,
    /// Drawn at the right end of the bar.
    pub right: bool,
    /// Cut (this way) to the room left instead of dropping it.
    pub shrink: Option<Cut>,
}

impl BarItem {
    /// An item with the given forms, on the left.
    pub fn new(priority: u8, forms: Vec<Vec<Span<'static>>>) -> BarItem {
        BarItem {
            priority,
            forms,
            right: false,
            shrink: None,
        }
    }

    /// Drawn at the right end.
    pub fn right(mut self) -> BarItem {
        self.right = true;
        self
    }

    /// Cut to fit rather than dropped.
    pub fn shrink(mut self, cut: Cut) -> BarItem {
        self.shrink = Some(cut);
        self
    }
}

/// Lays out bar items in `max` cells, `gap` cells apart: returns the left and the right
/// group, which together (with a gap between them) fit.
pub fn arrange_bar(items: &[BarItem], max: usize, gap: usize) -> (Line<'static>, Line<'static>) {
    let form_width = |spans: &[Span]| spans.iter().map(Span::width).sum::<usize>();
    // Per item: the chosen form, or None once dropped.
    let mut chosen: Vec<Option<Vec<Span<'static>>>> =
        items.iter().map(|i| i.forms.first().cloned()).collect();
    let mut form_at: Vec<usize> = vec![0; items.len()];
    let total = |chosen: &[Option<Vec<Span<'static>>>]| {
        let widths: Vec<usize> = chosen.iter().flatten().map(|f| form_width(f)).collect();
        widths.iter().sum::<usize>() + gap * widths.len().saturating_sub(1)
    };
    while total(&chosen) > max {
        // The least important level still shown: its items first all take their shortest
        // forms (rightmost first), then go (rightmost first).
        let Some(level) = (0..items.len())
            .filter(|&i| chosen[i].is_some())
            .map(|i| items[i].priority)
            .max()
        else {
            break;
        };
        let at_level: Vec<usize> = (0..items.len())
            .filter(|&i| chosen[i].is_some() && items[i].priority == level)
            .collect();
        if let Some(&i) = at_level
            .iter()
            .rev()
            .find(|&&i| form_at[i] + 1 < items[i].forms.len())
        {
            form_at[i] += 1;
            chosen[i] = Some(items[i].forms[form_at[i]].clone());
            continue;
        }
        let victim = *at_level.last().expect("the level has an item");
        if let Some(cut) = items[victim].shrink {
            let current = form_width(chosen[victim].as_deref().unwrap_or(&[]));
            let over = total(&chosen) - max;
            let room = current.saturating_sub(over);
            if room >= 8 {
                let line = fit_line(Line::from(chosen[victim].take().unwrap()), room, cut);
                chosen[victim] = Some(line.spans);
                break;
            }
        }
        chosen[victim] = None;
    }
    let mut left: Vec<Span<'static>> = Vec::new();
    let mut right: Vec<Span<'static>> = Vec::new();
    for (i, form) in chosen.into_iter().enumerate() {
        let Some(form) = form else { continue };
        let side = if items[i].right {
            &mut right
        } else {
            &mut left
        };
        if !side.is_empty() {
            side.push(Span::raw(" ".repeat(gap)));
        }
        side.extend(form);
    }
    (Line::from(left), Line::from(right))
}

/// ASCII case-insensitive substring test, without allocating: the filter runs it over up to
/// a million recordings.
pub fn contains_ci(hay: &str, needle: &str) -> bool {
    let (h, n) = (hay.as_bytes(), needle.as_bytes());
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_text_ends_in_an_ellipsis_never_a_stray_letter() {
        assert_eq!(fit("record_started", 8, Cut::End), "record_…");
        assert_eq!(fit("record_started", 14, Cut::End), "record_started");
        assert_eq!(fit("abc", 0, Cut::End), "");
        assert_eq!(fit("abc", 1, Cut::End), "…");
        // Wide characters count two cells and are never split.
        assert_eq!(fit("直播直播", 4, Cut::End), "直…");
    }

    #[test]
    fn start_cut_keeps_the_distinctive_tail_from_a_slash() {
        let name = "live.example.com/sports/match-cam-1";
        assert_eq!(fit(name, 21, Cut::Start), "…/sports/match-cam-1");
        assert_eq!(fit(name, 25, Cut::Start), "…/sports/match-cam-1");
        assert_eq!(fit(name, 29, Cut::Start), "…/sports/match-cam-1");
        assert_eq!(fit(name, 35, Cut::Start), name);
        // No slash left in what fits: the end of the last segment.
        assert_eq!(fit(name, 8, Cut::Start), "…h-cam-1");
        // A long partial segment is kept rather than thrown away for a `/`.
        assert_eq!(
            fit("x/abcdefghijklmnopqrstu/end", 24, Cut::Start),
            "…cdefghijklmnopqrstu/end"
        );
    }

    #[test]
    fn styled_lines_are_cut_on_the_right_side() {
        let l = Line::from(vec![Span::raw("0:00:05.500"), Span::raw(" ≠")]).right_aligned();
        let cut = fit_line(l.clone(), 8, Cut::End);
        assert_eq!(cut.to_string(), "0:00:05…");
        assert_eq!(cut.alignment, l.alignment);
        assert_eq!(
            fit_line(l.clone(), 13, Cut::End).to_string(),
            "0:00:05.500 ≠"
        );
        let p = Line::from("record/studio/cam-1/0_1795780800.m3u8");
        assert_eq!(
            fit_line(p, 20, Cut::Start).to_string(),
            "…/0_1795780800.m3u8"
        );
    }

    #[test]
    fn bar_items_shorten_then_go_by_priority() {
        let item = |p: u8, forms: &[&str]| {
            BarItem::new(
                p,
                forms
                    .iter()
                    .map(|f| vec![Span::raw(f.to_string())])
                    .collect(),
            )
        };
        let items = vec![
            item(0, &["counts 1 2 3", "1 2 3"]),
            item(2, &["sparkline.........."]),
            item(1, &["last callback 0:00:05 ago", "last 0:00:05"]),
            item(0, &["? help"]).right(),
        ];
        let show = |w: usize| {
            let (l, r) = arrange_bar(&items, w, 2);
            (l.to_string(), r.to_string())
        };
        assert_eq!(
            show(200).0,
            "counts 1 2 3  sparkline..........  last callback 0:00:05 ago"
        );
        // The sparkline (priority 2) goes before anything else shortens.
        assert_eq!(show(50).0, "counts 1 2 3  last callback 0:00:05 ago");
        assert_eq!(show(34).0, "counts 1 2 3  last 0:00:05");
        // A less important item goes before a more important one shortens.
        assert_eq!(show(30), ("counts 1 2 3".to_string(), "? help".to_string()));
        assert_eq!(show(14), ("1 2 3".to_string(), "? help".to_string()));
        let shrinking = vec![
            item(0, &["recmon"]),
            item(1, &["/var/log/recmon/journal.jsonl"]).shrink(Cut::Start),
        ];
        assert_eq!(
            arrange_bar(&shrinking, 24, 1).0.to_string(),
            "recmon …/journal.jsonl"
        );
    }

    #[test]
    fn times_utc() {
        assert_eq!(
            unix_date_time(Some(1488985786), true),
            "2017-03-08 15:09:46"
        );
        assert_eq!(
            unix_stop_time(Some(1488985786), Some(1488985840), true),
            "15:10:40"
        );
        assert_eq!(
            unix_stop_time(Some(1488985786), Some(1489085840), true),
            "+1d 18:57:20"
        );
        assert_eq!(
            unix_stop_time(None, Some(1488985840), true),
            "2017-03-08 15:10:40"
        );
        assert_eq!(unix_date_time(None, true), "-");
        assert_eq!(unix_date_time(Some(i64::MAX), true), "-");
    }

    #[test]
    fn cuts_count_cells_the_way_the_terminal_draws_them() {
        let hearts = "❤\u{fe0f}".repeat(12);
        let name = format!("a/{hearts}x");
        for cut in [Cut::Start, Cut::End] {
            let got = fit(&name, 10, cut);
            assert!(
                width(&got) <= 10,
                "{cut:?}: {got:?} is {} cells",
                width(&got)
            );
            assert!(
                !got.contains("…\u{fe0f}"),
                "{cut:?}: a lone selector: {got:?}"
            );
        }
        assert!(fit(&name, 10, Cut::Start).ends_with('x'));
    }

    #[test]
    fn substring_ignores_ascii_case() {
        assert!(contains_ci("liveStream01", "STREAM"));
        assert!(contains_ci("abc", ""));
        assert!(!contains_ci("ab", "abc"));
        assert!(!contains_ci("live", "x"));
    }
}
