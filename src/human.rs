//! How numbers read to a person, the same in every view and summary: counts with thousands
//! separators and the right plural, durations as `h:mm:ss` with uncapped hours.

/// Whole seconds as `h:mm:ss` (hours are not capped: `123:04:05`).
pub fn hms(secs: i64) -> String {
    let s = secs.max(0);
    format!("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Fractional seconds as `h:mm:ss.mmm`.
pub fn hms_ms(secs: f64) -> String {
    if !secs.is_finite() {
        return "-".into();
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

/// `1234567` as `1,234,567`: counters stay readable when they grow.
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn counts_take_the_right_number() {
        assert_eq!(count(0, "recording", "recordings"), "0 recordings");
        assert_eq!(count(1, "recording", "recordings"), "1 recording");
        assert_eq!(count(12345, "request", "requests"), "12,345 requests");
    }
}
