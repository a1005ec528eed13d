//! How numbers read to a person, the same in every view and summary: counts with thousands
//! separators and the right plural, durations as `h:mm:ss` with uncapped hours.

/// Unix seconds as `2026-12-04 14:02:10 UTC`; `None` for a time no date can hold.
pub fn utc_seconds(t: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(t, 0).map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
}

/// Whole seconds as `h:mm:ss` (hours are not capped: `123:04:05`).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Durations this long or longer (about 31.7 years) belong to no recording. They are
/// shown in scientific notation: as `h:mm:ss` they would be a wall of digits, or wrap.
pub const IMPLAUSIBLE_S: f64 = 1e9;

/// Fractional seconds as `h:mm:ss.mmm`, signed; `-` when not finite, and `1.000e300 s` from
/// [`IMPLAUSIBLE_S`] on.
pub fn hms_ms(secs: f64) -> String {
    if !secs.is_finite() {
        return "-".into();
    }
    if secs.abs() >= IMPLAUSIBLE_S {
        return format!("{secs:.3e} s");
    }
    let neg = secs < 0.0;
    let ms = (secs.abs() * 1000.0).round() as u64;
    let s = ms / 1000;
    format!(
        "{}{}:{:02}:{:02}.{:03}",
        if neg { "-" } else { "" },
        s / 3600,
        (s / 60) % 60,
        s % 60,
        ms % 1000
    )
}

/// Fractional seconds rounded to whole ones as `h:mm:ss`, signed (a sum of durations can be
/// negative when a provider sent a negative one); implausible values as in [`hms_ms`].
pub fn hms_signed(secs: f64) -> String {
    if !secs.is_finite() || secs.abs() >= IMPLAUSIBLE_S {
        return hms_ms(secs);
    }
    let whole = secs.round() as i64;
    let sign = if whole < 0 { "-" } else { "" };
    format!("{sign}{}", hms(whole.saturating_abs()))
}

/// Seconds as a plain number with its unit, `4.200s`: three decimals, or scientific notation
/// from [`IMPLAUSIBLE_S`] on (a `1e300` would otherwise print 300 digits).
pub fn seconds(secs: f64) -> String {
    if secs.is_finite() && secs.abs() >= IMPLAUSIBLE_S {
        format!("{secs:.3e}s")
    } else {
        format!("{secs:.3}s")
    }
}

/// `1234567` as `1,234,567`: counters stay readable when they grow.
/// A byte count in the largest unit that keeps it at or over 1, one decimal (`1.3 MB`,
/// `912 B`); decimal units, as file managers show them.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["kB", "MB", "GB", "TB", "PB"];
    if n < 1000 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1000.0;
    let mut u = 0;
    while v >= 999.95 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` with its noun in the right number: `1 recording`, `2,345 recordings`.
pub fn count(n: u64, singular: &str, plural: &str) -> String {
    format!(
        "{} {}",
        thousands(n),
        if n == 1 { singular } else { plural }
    )
}

/// A duration as a flag takes it: `90s`, `5m`, `2h`, `500ms`, `1h 30m` (humantime's forms), or
/// a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let t = s.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    humantime::parse_duration(t).map_err(|_| {
        format!(
            "{s:?} is not a duration; write e.g. 10s, 500ms, 5m, 24h (a bare number is seconds)"
        )
    })
}

/// A duration in the form flags take it: `24h`, `5m`, `10s`, `1m30s`, `500ms`.
pub fn duration_words(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("h", 3_600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(999), "999 B");
        assert_eq!(bytes(1349), "1.3 kB");
        assert_eq!(bytes(999_960), "1.0 MB");
        assert_eq!(bytes(383_631), "383.6 kB");
        assert_eq!(bytes(u64::MAX), "18446.7 PB");
    }

    #[test]
    fn durations() {
        assert_eq!(hms(0), "0:00:00");
        assert_eq!(hms(3723), "1:02:03");
        assert_eq!(hms(-5), "0:00:00");
        assert_eq!(hms(123 * 3600 + 4 * 60 + 5), "123:04:05");
        assert_eq!(hms_ms(69.403), "0:01:09.403");
        assert_eq!(hms_ms(3600.0005), "1:00:00.001");
        assert_eq!(hms_ms(-1.5), "-0:00:01.500");
        assert_eq!(hms_ms(f64::NAN), "-");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn implausible_durations_stay_short_and_signed() {
        assert_eq!(hms_ms(1e300), "1.000e300 s");
        assert_eq!(hms_ms(-2.5e12), "-2.500e12 s");
        assert_eq!(hms_ms(999_999_999.0), "277777:46:39.000");
        assert_eq!(hms_signed(-5.0), "-0:00:05");
        assert_eq!(hms_signed(36000.4), "10:00:00");
        assert_eq!(hms_signed(1e300), "1.000e300 s");
        assert_eq!(hms_signed(f64::NAN), "-");
        assert_eq!(seconds(4.2), "4.200s");
        assert_eq!(seconds(1e300), "1.000e300s");
    }

    #[test]
    fn counts_take_the_right_number() {
        assert_eq!(count(0, "recording", "recordings"), "0 recordings");
        assert_eq!(count(1, "recording", "recordings"), "1 recording");
        assert_eq!(count(12345, "request", "requests"), "12,345 requests");
    }
}
