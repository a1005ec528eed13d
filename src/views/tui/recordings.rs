//! The recordings table: one row per recording file, with its size when the provider reports
//! one, and `~` before a duration recmon derived from arrival times. Only the visible rows are
//! built, so a million recordings cost the same per frame as ten.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::Frame;

use super::source::Source;
use super::state::{Panel, ViewState};
use super::text::{clean, clock, hms_ms, thousands, unix_date_time, unix_stop_time, FIELD_MAX};
use super::theme::Theme;
use super::widgets::{
    draw_table, fitted_table, panel_block, right, stream_min, table_rows, Column, STREAM_MAX,
};
use crate::core::checks::FileVerdict;
use crate::core::store::Recording;
use crate::util::human::bytes;
use crate::verify::verdict::Verdict;

/// Draws the recordings table.
pub fn render(frame: &mut Frame, area: Rect, src: &Source, view: &ViewState) {
    let t = view.theme;
    let focused = view.focus == Panel::Recordings;
    let total = src.recordings.len();
    let shown = view.recording_rows(src);
    let mut title = if view.filter.is_empty() {
        format!(" Recordings {} ", thousands(total as u64))
    } else {
        format!(
            " Recordings {} of {} ",
            thousands(shown as u64),
            thousands(total as u64)
        )
    };
    title.push_str(if view.follow {
        "· following "
    } else {
        "· follow off (f) "
    });
    title.push_str("· ≠ duration disagrees with stop − start · ⚠ impossible duration ");
    let height = table_rows(area);
    let window = view.recordings.visible(shown, height);
    let visible: Vec<&Recording> = window
        .clone()
        .filter_map(|row| view.recording_at(row))
        .filter_map(|i| src.recordings.get(i))
        .collect();
    if visible.iter().any(|r| r.derived) {
        title.push_str("· ~ estimated ");
    }
    if visible.iter().any(|r| src.reconciled.contains(r.seq)) {
        title.push_str("· ⟲ reconciled (missed, filled in from the provider's records) ");
    }
    let block = panel_block(title, area.width, focused, t);
    // A size column while a row shown has a size (Tencent reports them, the others do not).
    let sizes = visible.iter().any(|r| r.file_size().is_some());
    // A file column with --verify, or while a row shown has a verdict (a journal that has them).
    let files = src.checks.on() || visible.iter().any(|r| src.checks.of(r.seq).is_some());
    let name_min = stream_min(visible.iter().map(|r| view.stream_label(r.stream as usize)));
    let rows: Vec<Vec<Line<'static>>> = visible
        .iter()
        .map(|r| {
            let mut row = recording_row(r, src.checks.of(r.seq), view);
            if src.reconciled.contains(r.seq) {
                // Filled in from the provider's records: never received here.
                row[0] = Line::from(vec![
                    Span::styled("⟲", t.warn()),
                    Span::raw(row[0].to_string()),
                ]);
            }
            if files {
                row.insert(5, file_cell(src.checks.of(r.seq), t));
            }
            if sizes {
                row.insert(5, right(r.file_size().map_or("-".into(), bytes)));
            }
            row
        })
        .collect();
    // Times are shown in the zone `t` picks; the provider writes its own local time (UTC+8
    // in the samples) into uris, so the header says which one these are.
    let zone = if view.utc { "UTC" } else { "local" };
    let mut columns = vec![
        Column::new(Line::from("received"), 4, 8, 9).whole(),
        Column::new(Line::from(format!("start ({zone})")), 1, 19, 19).whole(),
        Column::new(Line::from("stop"), 3, 8, 14).whole(),
        Column::new(Line::from("stream"), 0, name_min, STREAM_MAX).tail(),
        Column::new(Line::from("duration").right_aligned(), 0, 8, 30).whole(),
        Column::new(Line::from("uri"), 2, 20, 80).tail(),
        Column::new(Line::from("push_args"), 5, 12, 60),
    ];
    if files {
        // What the file itself says: as needed as the duration it vouches for.
        columns.insert(5, Column::new(Line::from("file"), 0, 1, 30).whole());
    }
    if sizes {
        // Less needed than the stop time: on a narrow terminal it goes first.
        columns.insert(5, Column::new(right("size"), 3, 4, 9).whole());
    }
    let inner = area.width.saturating_sub(2);
    let table = fitted_table(&columns, rows, inner, t.header()).block(block);
    draw_table(
        frame,
        area,
        table,
        view.recordings.selected,
        window.start,
        shown,
        height,
        focused,
        t,
    );
}

/// A recording's duration as it will be read: `h:mm:ss.mmm` with uncapped hours; a negative
/// or non-finite value shown as what it is and flagged `⚠`, a value that disagrees with
/// stop − start flagged `≠`, one recmon derived from arrival times (the provider sent none)
/// led by `~`. Right-aligned, the marker in a column of its own.
pub fn duration_cell(
    duration: Option<f64>,
    mismatch: bool,
    derived: bool,
    t: Theme,
) -> Line<'static> {
    let (text, impossible) = match duration {
        None => ("-".to_string(), false),
        Some(d) if d.is_nan() => ("NaN".to_string(), true),
        Some(d) if d.is_infinite() => (if d > 0.0 { "+inf" } else { "-inf" }.to_string(), true),
        Some(d) => (
            hms_ms(d),
            d < 0.0 || d.abs() >= crate::util::human::IMPLAUSIBLE_S,
        ),
    };
    let text = if derived && duration.is_some() {
        format!("~{text}")
    } else {
        text
    };
    if impossible {
        Line::from(vec![
            Span::styled(text, t.warn()),
            Span::styled(" ⚠", t.warn()),
        ])
    } else if mismatch {
        Line::from(vec![Span::raw(text), Span::styled(" ≠", t.warn())])
    } else {
        Line::from(format!("{text}  "))
    }
    .right_aligned()
}

/// What the file itself says (`--verify`): `✓` ok; `✗ short 0:21:04 of 3:00:00` (measured of
/// claimed), `✗ missing`, `✗ broken`, `✗ no-audio`…; `? unchecked: 403` (recmon could not
/// look: not the recording's fault); `… checking` while no verdict is in.
pub fn file_cell(check: Option<&FileVerdict>, t: Theme) -> Line<'static> {
    let Some(v) = check else {
        return Line::from(Span::styled("… checking", t.dim()));
    };
    let hms = |s: Option<f64>| {
        s.map_or_else(
            || "-".to_string(),
            |s| crate::util::human::hms(s.round() as i64),
        )
    };
    match v.verdict {
        Verdict::Ok => Line::from("✓"),
        Verdict::Unchecked(_) => Line::from(Span::styled(format!("? {}", v.verdict), t.dim())),
        Verdict::Short | Verdict::Long => Line::from(Span::styled(
            format!(
                "✗ {} {} of {}",
                v.verdict,
                hms(v.measured_s),
                hms(v.claimed_s)
            ),
            t.alarm(),
        )),
        other => Line::from(Span::styled(format!("✗ {other}"), t.alarm())),
    }
}

fn recording_row(
    r: &Recording,
    check: Option<&FileVerdict>,
    view: &ViewState,
) -> Vec<Line<'static>> {
    let t = view.theme;
    let utc = view.utc;
    let push_args = r
        .push_args
        .iter()
        .map(|(k, v)| format!("{}={}", clean(k, 60), clean(v, 120)))
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        Line::from(clock(r.received_at, utc)),
        Line::from(unix_date_time(r.start_time, utc)),
        Line::from(unix_stop_time(r.start_time, r.stop_time, utc)),
        Line::from(view.stream_label(r.stream as usize).to_owned()),
        // A duration measured from the file replaces one recmon derived from arrival times.
        match check.and_then(|c| c.measured_s).filter(|_| r.derived) {
            Some(measured) => duration_cell(Some(measured), false, false, t),
            None => duration_cell(r.duration, r.mismatch, r.derived, t),
        },
        Line::from(clean(&r.uri, FIELD_MAX)),
        Line::from(clean(&push_args, FIELD_MAX)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(d: f64) -> String {
        duration_cell(Some(d), false, false, Theme { color: false }).to_string()
    }

    #[test]
    fn durations_keep_every_digit_and_flag_impossible_values() {
        assert_eq!(shown(4.2), "0:00:04.200  ");
        assert_eq!(shown(3599.9), "0:59:59.900  ");
        assert_eq!(shown(36000.5), "10:00:00.500  ");
        assert_eq!(shown(90061.2), "25:01:01.200  ");
        assert_eq!(shown(-5.5), "-0:00:05.500 ⚠");
        assert_eq!(shown(f64::NAN), "NaN ⚠");
        assert_eq!(shown(f64::NEG_INFINITY), "-inf ⚠");
        // Finite, so accepted, but no recording's: short, and flagged.
        assert_eq!(shown(1e300), "1.000e300 s ⚠");
        let mismatch = duration_cell(Some(60.0), true, false, Theme { color: false });
        assert_eq!(mismatch.to_string(), "0:01:00.000 ≠");
        let derived = duration_cell(Some(600.25), false, true, Theme { color: false });
        assert_eq!(derived.to_string(), "~0:10:00.250  ");
        let unknown = duration_cell(None, false, true, Theme { color: false });
        assert_eq!(unknown.to_string(), "-  ");
    }
}
