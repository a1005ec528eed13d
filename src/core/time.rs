//! Times as the journal writes them (RFC 3339, UTC, milliseconds) and reads them back: a leaf
//! that every journal line's type (requests, deliveries, verdicts, alerts, ...) uses, so that
//! none of them depends on the journal reader that depends on them.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// A string that borrows from the input when it has no escapes.
pub(crate) struct BorrowedStr<'a>(pub(crate) Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for BorrowedStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_string(V).map(BorrowedStr)
    }
}

pub mod rfc3339_ms {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let s = super::BorrowedStr::deserialize(d)?.0;
        if let Some(t) = parse_journal_time(&s) {
            return Ok(t);
        }
        DateTime::parse_from_rfc3339(&s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    /// The journal's own form, `YYYY-MM-DDTHH:MM:SS.mmmZ`, without chrono's general parser.
    /// `None` for anything else (other forms, leap seconds, out-of-range fields), which then
    /// goes through chrono, so exactly the same texts are accepted.
    pub fn parse_journal_time(s: &str) -> Option<DateTime<Utc>> {
        let b = s.as_bytes();
        if b.len() != 24
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |n, &c| {
                c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
            })
        };
        let year = num(0..4)?;
        if year < 1000 {
            return None;
        }
        let sec = num(17..19)?;
        if sec > 59 {
            return None;
        }
        chrono::NaiveDate::from_ymd_opt(year as i32, num(5..7)?, num(8..10)?)?
            .and_hms_milli_opt(num(11..13)?, num(14..16)?, sec, num(20..23)?)
            .map(|t| t.and_utc())
    }
}

/// Formats a time the way the journal does (RFC 3339, UTC, milliseconds).
pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
