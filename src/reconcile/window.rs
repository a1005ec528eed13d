//! Pure planning of the queries: a requested time window clipped to how far back the
//! provider keeps history and split into pieces no longer than the action allows, which records
//! on a boundary two pieces share belong to (both providers count a window's ends as inside),
//! and when paging is done. No clock: the caller passes `now`.

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Utc};

/// A time window, both ends inclusive (as both providers treat StartTime and EndTime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// StartTime.
    pub start: DateTime<Utc>,
    /// EndTime.
    pub end: DateTime<Utc>,
}

/// The part of a requested window that the provider no longer keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clipped {
    /// The start that was asked for.
    pub requested_start: DateTime<Utc>,
    /// The start actually queried (the oldest the provider keeps, with a margin).
    pub kept_start: DateTime<Utc>,
    /// How far back the provider keeps history for this action.
    pub history: Duration,
}

/// The queries for one requested window: the pieces in time order, each at most the action's
/// span, contiguous (each piece starts where the one before ended), and what was clipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The window asked for.
    pub requested: Window,
    /// The pieces to query, oldest first; empty when nothing of the window is kept.
    pub pieces: Vec<Window>,
    /// Set when the window reaches further back than the provider's history: the records
    /// before `kept_start` cannot be asked for (the caller must say so).
    pub clipped: Option<Clipped>,
}

/// How much later than `now - history` a clipped window starts: the request must still be
/// inside the provider's history when it arrives (clocks differ, retries take time).
pub const HISTORY_MARGIN: Duration = Duration::minutes(5);

/// Plans the queries for `[start, end]`: `end` is clipped to `now` (the future has no
/// records), `start` to `now - history + HISTORY_MARGIN`; what remains is split into pieces of
/// at most `max_span` sharing their boundaries. Times are whole seconds (the providers'
/// format has no fraction; a fraction is dropped).
pub fn plan(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
    max_span: Duration,
    history: Duration,
) -> Plan {
    let start = whole_seconds(start);
    let end = whole_seconds(end);
    let now = whole_seconds(now);
    let requested = Window { start, end };
    let oldest = now - history + HISTORY_MARGIN;
    let mut clipped = None;
    let mut from = start;
    if from < oldest {
        clipped = Some(Clipped {
            requested_start: start,
            kept_start: oldest,
            history,
        });
        from = oldest;
    }
    let to = end.min(now);
    let mut pieces = Vec::new();
    let span = if max_span < Duration::seconds(1) {
        Duration::seconds(1)
    } else {
        max_span
    };
    while from < to {
        let piece_end = (from + span).min(to);
        pieces.push(Window {
            start: from,
            end: piece_end,
        });
        from = piece_end;
    }
    Plan {
        requested,
        pieces,
        clipped,
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

/// True when a record stamped `at`, returned for piece `index` of `pieces`, was already
/// returned for the piece before (it sits on the boundary they share, which both include).
/// Such a record is skipped, and only such a record: two identical callbacks in one second
/// are two callbacks.
pub fn seen_in_previous_piece(pieces: &[Window], index: usize, at: Option<DateTime<Utc>>) -> bool {
    match (index.checked_sub(1).and_then(|i| pieces.get(i)), at) {
        (Some(prev), Some(at)) => pieces
            .get(index)
            .is_some_and(|p| p.start == prev.end && at == p.start),
        _ => false,
    }
}

/// The provider's time format, `yyyy-MM-ddTHH:mm:ssZ` (UTC).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads a provider time: `yyyy-MM-ddTHH:mm:ssZ` (UTC, also with a fraction or an offset, as
/// RFC 3339), or `yyyy-MM-dd HH:mm:ss` in the zone `naive_offset_hours` east of UTC (Tencent
/// documents that form as Beijing time, +8). `None` when it is neither.
pub fn parse_time(s: &str, naive_offset_hours: i32) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    let zone = chrono::FixedOffset::east_opt(naive_offset_hours * 3600)?;
    zone.from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The next page to ask for after `page` (1-based) returned `got` items of at most `size`,
/// given the total the provider reported (`total_items`, `total_pages`, either may be absent),
/// or `None` when done. A short page ends the paging whatever the totals say, and so does an
/// empty one; `max_page` is the highest page number the action accepts.
pub fn next_page(
    page: u32,
    size: u32,
    got: usize,
    total_items: Option<u64>,
    total_pages: Option<u64>,
    max_page: u32,
) -> Option<u32> {
    if got == 0 || got < size as usize || page >= max_page {
        return None;
    }
    if let Some(pages) = total_pages {
        if u64::from(page) >= pages {
            return None;
        }
    }
    if let Some(items) = total_items {
        if u64::from(page) * u64::from(size) >= items {
            return None;
        }
    }
    Some(page + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        parse_time(s, 0).unwrap()
    }

    #[test]
    fn a_short_window_is_one_piece() {
        let p = plan(
            t("2026-01-10T10:00:00Z"),
            t("2026-01-10T11:00:00Z"),
            t("2026-01-10T12:00:00Z"),
            Duration::days(1),
            Duration::days(7),
        );
        assert_eq!(p.pieces.len(), 1);
        assert_eq!(p.pieces[0].start, t("2026-01-10T10:00:00Z"));
        assert_eq!(p.clipped, None);
    }

    #[test]
    fn a_long_window_is_split_into_contiguous_pieces() {
        let p = plan(
            t("2026-01-01T00:00:00Z"),
            t("2026-01-03T12:00:00Z"),
            t("2026-01-05T00:00:00Z"),
            Duration::days(1),
            Duration::days(14),
        );
        assert_eq!(p.pieces.len(), 3);
        assert_eq!(p.pieces[0].end, t("2026-01-02T00:00:00Z"));
        assert_eq!(p.pieces[1].start, t("2026-01-02T00:00:00Z"));
        assert_eq!(p.pieces[2].end, t("2026-01-03T12:00:00Z"));
        for w in &p.pieces {
            assert!(w.end - w.start <= Duration::days(1));
        }
    }

    #[test]
    fn history_clips_the_start_and_says_so() {
        let now = t("2026-01-10T12:00:00Z");
        let p = plan(
            t("2025-12-01T00:00:00Z"),
            t("2026-01-10T00:00:00Z"),
            now,
            Duration::days(7),
            Duration::days(7),
        );
        let c = p.clipped.unwrap();
        assert_eq!(c.kept_start, now - Duration::days(7) + HISTORY_MARGIN);
        assert_eq!(p.pieces[0].start, c.kept_start);
        assert_eq!(p.pieces.len(), 1);
        // Entirely outside: nothing to ask, still clipped.
        let p = plan(
            t("2025-11-01T00:00:00Z"),
            t("2025-11-02T00:00:00Z"),
            now,
            Duration::days(7),
            Duration::days(7),
        );
        assert!(p.pieces.is_empty());
        assert!(p.clipped.is_some());
    }

    #[test]
    fn the_future_is_not_asked_for() {
        let now = t("2026-01-10T12:00:00Z");
        let p = plan(
            t("2026-01-10T11:00:00Z"),
            t("2026-01-11T00:00:00Z"),
            now,
            Duration::days(1),
            Duration::days(7),
        );
        assert_eq!(p.pieces[0].end, now);
        let empty = plan(now, now, now, Duration::days(1), Duration::days(7));
        assert!(empty.pieces.is_empty());
    }

    #[test]
    fn a_boundary_record_counts_once() {
        let pieces = plan(
            t("2026-01-01T00:00:00Z"),
            t("2026-01-03T00:00:00Z"),
            t("2026-01-05T00:00:00Z"),
            Duration::days(1),
            Duration::days(14),
        )
        .pieces;
        let boundary = Some(t("2026-01-02T00:00:00Z"));
        assert!(!seen_in_previous_piece(&pieces, 0, boundary));
        assert!(seen_in_previous_piece(&pieces, 1, boundary));
        assert!(!seen_in_previous_piece(
            &pieces,
            1,
            Some(t("2026-01-02T00:00:01Z"))
        ));
        assert!(!seen_in_previous_piece(&pieces, 1, None));
    }

    #[test]
    fn times_parse_in_both_documented_forms() {
        assert_eq!(
            parse_time("2026-01-10 18:00:00", 8),
            Some(t("2026-01-10T10:00:00Z"))
        );
        assert_eq!(
            format_time(t("2026-01-10T10:00:00Z")),
            "2026-01-10T10:00:00Z"
        );
        assert_eq!(parse_time("yesterday", 8), None);
    }

    #[test]
    fn paging_stops_on_short_pages_totals_and_the_cap() {
        assert_eq!(next_page(1, 10, 10, Some(25), None, 100), Some(2));
        assert_eq!(next_page(3, 10, 5, Some(25), None, 100), None);
        assert_eq!(next_page(2, 10, 10, Some(20), None, 100), None);
        assert_eq!(next_page(2, 10, 10, None, Some(2), 100), None);
        assert_eq!(next_page(1, 10, 0, None, None, 100), None);
        assert_eq!(next_page(100, 10, 10, None, None, 100), None);
        assert_eq!(next_page(1, 10, 10, None, None, 100), Some(2));
    }
}
