//! Formatting of times, durations and untrusted text for the panels.

use chrono::{DateTime, Local, Utc};

use crate::sanitize;

pub use crate::human::{hms, hms_ms, thousands};

/// Longest callback field kept in a row, in characters; columns cut further to fit.
pub const FIELD_MAX: usize = 200;

/// Callback text made terminal-safe and cut to `max` characters. The one door through which
/// untrusted text enters the view model.
pub fn clean(s: &str, max: usize) -> String {
    sanitize::terminal(s, max).into_owned()
}

/// Like [`clean`], but a long text keeps its end (`…app/stream`): in a narrow stream column
/// the stream name is what tells rows apart.
pub fn clean_tail(s: &str, max: usize) -> String {
    let safe = sanitize::terminal(s, usize::MAX);
    let n = safe.chars().count();
    if n <= max {
        return safe.into_owned();
    }
    let keep = max.saturating_sub(1);
    let mut out = String::from("…");
    out.extend(safe.chars().skip(n - keep));
    out
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

/// A short age: `5s`, `3m05s`, `2h03m`, `4d02h`.
pub fn ago(secs: i64) -> String {
    let s = secs.max(0);
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{}h{:02}m", s / 3600, (s / 60) % 60)
    } else {
        format!("{}d{:02}h", s / 86_400, (s / 3600) % 24)
    }
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
    fn ages() {
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(185), "3m05s");
        assert_eq!(ago(7380), "2h03m");
        assert_eq!(ago(86_400 * 4 + 7200), "4d02h");
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
    fn tail_cut_keeps_the_end() {
        assert_eq!(clean_tail("domain/app/stream", 11), "…app/stream");
        assert_eq!(clean_tail("short", 11), "short");
        assert_eq!(clean_tail("a\x1bb", 4), "…1bb");
    }

    #[test]
    fn substring_ignores_ascii_case() {
        assert!(contains_ci("liveStream01", "STREAM"));
        assert!(contains_ci("abc", ""));
        assert!(!contains_ci("ab", "abc"));
        assert!(!contains_ci("live", "x"));
    }
}
