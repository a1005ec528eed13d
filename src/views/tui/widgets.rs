//! The pieces every panel draws with: panel blocks, tables whose columns fit the width
//! ([`allocate_columns`], [`fitted_table`]), scrollbars. The panels and the screen both use
//! them; they use neither, so the screen → panel → widgets arrows only point down.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Cell, Row, Scrollbar, ScrollbarOrientation, ScrollbarState, Table,
    TableState,
};
use ratatui::Frame;

use super::text::{fit, fit_line, width, Cut};
use super::theme::Theme;

/// Narrowest terminal the panels are drawn in.
pub const MIN_WIDTH: u16 = 60;
/// Lowest terminal the panels are drawn in.
pub const MIN_HEIGHT: u16 = 15;

/// A panel's frame: rounded borders, bright when focused, the title cut with `…` to the
/// panel's `width` (rather than mid-word by the border).
pub(crate) fn panel_block<'a>(title: String, width: u16, focused: bool, t: Theme) -> Block<'a> {
    let title = fit(&title, (width as usize).saturating_sub(2), Cut::End);
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.border(focused))
        .title(Span::styled(title, t.border(focused)))
}

/// Right-aligned cell text.
pub(crate) fn right<'a>(s: impl Into<String>) -> Line<'a> {
    Line::from(s.into()).right_aligned()
}

/// Rows of data a table panel drawn in `area` shows: its height less the borders and the
/// column header.
pub(crate) fn table_rows(area: Rect) -> usize {
    (area.height as usize).saturating_sub(3)
}

/// Draws a panel's table of visible rows: the selection (when it is inside the window) is
/// highlighted, and a scrollbar shows where the window is among `shown` rows.
#[allow(clippy::too_many_arguments)]
pub(crate) fn draw_table<'a>(
    frame: &mut Frame,
    area: Rect,
    table: Table<'a>,
    selected: usize,
    window_start: usize,
    shown: usize,
    height: usize,
    focused: bool,
    t: Theme,
) {
    let selected = selected.checked_sub(window_start);
    let mut state = TableState::default().with_selected(selected.filter(|_| shown > 0));
    frame.render_stateful_widget(
        table.row_highlight_style(t.selected(focused)),
        area,
        &mut state,
    );
    scrollbar(frame, area, shown, height, window_start, t);
}

/// A vertical scrollbar on a panel's right border, when its rows do not fit.
pub(crate) fn scrollbar(
    frame: &mut Frame,
    area: Rect,
    rows: usize,
    height: usize,
    offset: usize,
    t: Theme,
) {
    if rows <= height || height == 0 {
        return;
    }
    // The rows only: below the top border and the column header, above the bottom border.
    let track = Rect {
        y: area.y + 2,
        height: area.height.saturating_sub(3),
        ..area
    };
    border_scrollbar(frame, track, rows, height, offset, "│", t.border(false));
}

/// A scrollbar drawn over the right border of `track` (the border cells beside the rows it
/// scrolls), `rows` in all with `height` of them visible from `offset`.
pub(crate) fn border_scrollbar(
    frame: &mut Frame,
    track: Rect,
    rows: usize,
    height: usize,
    offset: usize,
    track_symbol: &'static str,
    style: ratatui::style::Style,
) {
    let mut state = ScrollbarState::new(rows.saturating_sub(height) + 1)
        .position(offset)
        .viewport_content_length(height);
    frame.render_stateful_widget(
        Scrollbar::new(ScrollbarOrientation::VerticalRight)
            .begin_symbol(None)
            .end_symbol(None)
            .track_symbol(Some(track_symbol))
            .style(style),
        track,
        &mut state,
    );
}

/// Narrowest stream column: room for the tail that tells streams apart
/// (`…/sports/match-cam-1`).
pub(crate) const STREAM_MIN: u16 = 20;

/// The stream column's minimum for these labels: room for `…/` and the longest last
/// segment (the stream name), so that no row loses what tells it apart, within
/// [`STREAM_MIN`]..=[`STREAM_MAX`].
pub(crate) fn stream_min<'a>(labels: impl Iterator<Item = &'a str>) -> u16 {
    labels
        .map(|l| width(l.rsplit('/').next().unwrap_or(l)) + 2)
        .max()
        .unwrap_or(0)
        .clamp(STREAM_MIN as usize, STREAM_MAX as usize) as u16
}

/// Widest stream column in the recordings and request tables: past it the other columns
/// (uri, reason) need the width more than a long name needs its start.
pub(crate) const STREAM_MAX: u16 = 40;

/// Space between two table columns.
pub(crate) const COLUMN_SPACING: u16 = 1;

/// What the column layout needs to know about one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ColumnNeed {
    /// 0 is kept longest; higher numbers are dropped first when the table is narrow.
    pub priority: u8,
    /// Narrowest useful width; below it the column is dropped instead.
    pub min: u16,
    /// The width its header and its visible values need (never less than `min`).
    pub preferred: u16,
}

/// Widths for a table's columns in `width` cells, `spacing` between columns; 0 means the
/// column is not shown.
///
/// Every column gets at least its `min`, and the least important columns (highest priority
/// number, the rightmost among equals) are dropped until that fits. The width left over
/// goes to the columns still below their `preferred` width, most important first (columns
/// of equal priority share it evenly); a column never gets more than it prefers, so width
/// does not sit blank in a column while another is cut.
pub fn allocate_columns(needs: &[ColumnNeed], width: u16, spacing: u16) -> Vec<u16> {
    let mut shown: Vec<bool> = vec![true; needs.len()];
    let required = |shown: &[bool]| -> u32 {
        let n = shown.iter().filter(|&&s| s).count() as u32;
        let mins: u32 = needs
            .iter()
            .zip(shown)
            .filter(|(_, &s)| s)
            .map(|(c, _)| c.min as u32)
            .sum();
        mins + spacing as u32 * n.saturating_sub(1)
    };
    while required(&shown) > width as u32 && shown.iter().filter(|&&s| s).count() > 1 {
        let victim = (0..needs.len())
            .filter(|&i| shown[i])
            .max_by_key(|&i| (needs[i].priority, i))
            .expect("at least two columns are shown");
        shown[victim] = false;
    }
    let mut widths: Vec<u16> = needs
        .iter()
        .zip(&shown)
        .map(|(c, &s)| if s { c.min.min(width) } else { 0 })
        .collect();
    let mut free = (width as u32).saturating_sub(required(&shown));
    let mut levels: Vec<u8> = (0..needs.len())
        .filter(|&i| shown[i])
        .map(|i| needs[i].priority)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    for level in levels {
        // Columns of one priority share the width a cell at a time, so that two cut
        // columns (a name and a reason) both grow rather than the left one taking it all.
        loop {
            let hungry: Vec<usize> = (0..needs.len())
                .filter(|&i| shown[i] && needs[i].priority == level)
                .filter(|&i| widths[i] < needs[i].preferred)
                .collect();
            if hungry.is_empty() || free == 0 {
                break;
            }
            for i in hungry {
                if free == 0 {
                    break;
                }
                widths[i] += 1;
                free -= 1;
            }
        }
    }
    widths
}

/// A table column: its header, importance, width limits and which end of a value goes
/// when the value is too wide.
pub(crate) struct Column {
    /// The column header.
    pub header: Line<'static>,
    /// See [`ColumnNeed::priority`].
    pub priority: u8,
    /// Narrowest useful width.
    pub min: u16,
    /// Widest it gets even when its values are wider (they are cut).
    pub max: u16,
    /// Which end of a too-wide value is cut.
    pub cut: Cut,
    /// Never cut: the column shows its values whole or not at all (states, durations).
    pub whole: bool,
}

impl Column {
    /// A column cut at the end, `min` to `max` wide.
    pub fn new(header: Line<'static>, priority: u8, min: u16, max: u16) -> Column {
        Column {
            header,
            priority,
            min,
            max,
            cut: Cut::End,
            whole: false,
        }
    }

    /// Cut at the start (names and paths keep their tail).
    pub fn tail(mut self) -> Column {
        self.cut = Cut::Start;
        self
    }

    /// Shown whole or not at all.
    pub fn whole(mut self) -> Column {
        self.whole = true;
        self
    }
}

/// Lays out a table in `width` cells: widths from [`allocate_columns`], dropped columns
/// left out, and every value cut to its column with `…`.
/// Width still blank after every column got what it prefers goes to the columns cut at their
/// cap (a long stream name, a long uri), most important first: a wide terminal shows them
/// whole rather than leave the right side empty.
fn give_spare_width_past_the_caps(
    widths: &mut [u16],
    widest: &[u16],
    columns: &[Column],
    width: u16,
) {
    let shown = widths.iter().filter(|&&w| w > 0).count() as u16;
    let used: u16 = widths
        .iter()
        .sum::<u16>()
        .saturating_add(COLUMN_SPACING * shown.saturating_sub(1));
    let mut spare = width.saturating_sub(used);
    let mut order: Vec<usize> = (0..columns.len()).filter(|&i| widths[i] > 0).collect();
    order.sort_by_key(|&i| columns[i].priority);
    for i in order {
        if spare == 0 {
            break;
        }
        let more = widest[i].saturating_sub(widths[i]).min(spare);
        widths[i] += more;
        spare -= more;
    }
}

pub(crate) fn fitted_table(
    columns: &[Column],
    rows: Vec<Vec<Line<'static>>>,
    width: u16,
    header_style: Style,
) -> Table<'static> {
    let widest: Vec<u16> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(Line::width)
                .chain([c.header.width()])
                .max()
                .unwrap_or(0)
                .min(u16::MAX as usize) as u16
        })
        .collect();
    let needs: Vec<ColumnNeed> = columns
        .iter()
        .zip(&widest)
        .map(|(c, &widest)| ColumnNeed {
            priority: c.priority,
            min: if c.whole { widest.max(c.min) } else { c.min },
            preferred: if c.whole {
                widest.max(c.min)
            } else {
                widest.min(c.max).max(c.min)
            },
        })
        .collect();
    let mut widths = allocate_columns(&needs, width, COLUMN_SPACING);
    give_spare_width_past_the_caps(&mut widths, &widest, columns, width);
    let keep: Vec<usize> = (0..columns.len()).filter(|&i| widths[i] > 0).collect();
    let cell = |line: Line<'static>, i: usize| {
        Cell::from(fit_line(line, widths[i] as usize, columns[i].cut))
    };
    let header = Row::new(
        keep.iter()
            .map(|&i| cell(columns[i].header.clone(), i))
            .collect::<Vec<_>>(),
    )
    .style(header_style);
    let rows: Vec<Row<'static>> = rows
        .into_iter()
        .map(|r| {
            let mut r: Vec<Option<Line<'static>>> = r.into_iter().map(Some).collect();
            Row::new(
                keep.iter()
                    .map(|&i| cell(r.get_mut(i).and_then(Option::take).unwrap_or_default(), i))
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let constraints: Vec<Constraint> = keep
        .iter()
        .map(|&i| Constraint::Length(widths[i]))
        .collect();
    Table::new(rows, constraints)
        .header(header)
        .column_spacing(COLUMN_SPACING)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn need(priority: u8, min: u16, preferred: u16) -> ColumnNeed {
        ColumnNeed {
            priority,
            min,
            preferred,
        }
    }

    #[test]
    fn everything_fits_at_its_preferred_width() {
        let cols = [need(0, 5, 20), need(1, 4, 10), need(2, 3, 8)];
        assert_eq!(allocate_columns(&cols, 100, 1), vec![20, 10, 8]);
    }

    #[test]
    fn free_width_goes_to_the_columns_being_cut_most_important_first() {
        // 20 + 10 + 8 + 2 spaces = 40 wanted, 30 there: the mins (5 + 4 + 3 + 2 = 14) and
        // then 16 more, to the stream column first.
        let cols = [need(1, 4, 10), need(0, 5, 20), need(2, 3, 8)];
        assert_eq!(allocate_columns(&cols, 30, 1), vec![5, 20, 3]);
        assert_eq!(allocate_columns(&cols, 36, 1), vec![10, 20, 4]);
    }

    #[test]
    fn columns_of_equal_priority_share_the_free_width() {
        let cols = [need(1, 10, 40), need(0, 5, 5), need(1, 10, 40)];
        assert_eq!(allocate_columns(&cols, 48, 1), vec![21, 5, 20]);
        assert_eq!(allocate_columns(&cols, 100, 1), vec![40, 5, 40]);
    }

    #[test]
    fn lowest_priority_columns_go_first_rightmost_among_equals() {
        let cols = [need(0, 10, 10), need(3, 5, 5), need(1, 8, 8), need(3, 5, 5)];
        assert_eq!(allocate_columns(&cols, 31, 1), vec![10, 5, 8, 5]);
        assert_eq!(allocate_columns(&cols, 30, 1), vec![10, 5, 8, 0]);
        assert_eq!(allocate_columns(&cols, 24, 1), vec![10, 0, 8, 0]);
        assert_eq!(allocate_columns(&cols, 18, 1), vec![10, 0, 0, 0]);
        // The last column standing gets what there is.
        assert_eq!(allocate_columns(&cols, 6, 1), vec![6, 0, 0, 0]);
    }
}
