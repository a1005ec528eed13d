//! What an attached view knows about each receiver it follows: connected or reconnecting (since
//! when, and why), the last entry received, and how far behind the receiver it still is. The
//! attach loop is the only writer; the terminal UI's header reads it at render time and the
//! headless printer prints each [`SourceChange`] on stderr.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

/// The statuses of every source, in the order the URLs were given. Shared between the attach
/// loop (writer) and the views (readers, at render time).
pub type SourceStatuses = Arc<Mutex<Vec<SourceStatus>>>;

/// The connection state of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Started, no answer yet.
    Connecting {
        /// When the first attempt started.
        since: DateTime<Utc>,
    },
    /// The receiver answered and its feed is open.
    Connected {
        /// When this connection got its hello.
        since: DateTime<Utc>,
    },
    /// The connection ended or could not be made; the client tries again by itself.
    Reconnecting {
        /// When the source stopped being connected (kept across failed attempts).
        since: DateTime<Utc>,
        /// Why the last attempt ended, in plain words (already without control characters).
        reason: String,
    },
}

/// One source as the header shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceStatus {
    /// The receiver's base URL as given on the command line.
    pub url: String,
    /// A short name for the request rows and the header when there are several sources
    /// (`A`, `B`, ...); empty with one source.
    pub label: String,
    /// Connected, connecting or reconnecting.
    pub link: Link,
    /// The seq of the last entry received from this source (0: none yet).
    pub last_seq: u64,
    /// The receiver's newest seq when the current connection opened (its hello's `last_seq`):
    /// until the source has reached it, the view is catching up.
    pub catch_up_to: u64,
    /// Entries received from this source in this session.
    pub received: u64,
    /// The receiver's listen address, from its hello.
    pub listen: Option<String>,
    /// Whether the receiver checks signatures, from its hello.
    pub signature_checking: Option<bool>,
}

impl SourceStatus {
    /// A source that has not connected yet.
    pub fn new(url: String, label: String, now: DateTime<Utc>) -> Self {
        SourceStatus {
            url,
            label,
            link: Link::Connecting { since: now },
            last_seq: 0,
            catch_up_to: 0,
            received: 0,
            listen: None,
            signature_checking: None,
        }
    }

    /// How many entries the receiver had committed, when this connection opened, that have
    /// not arrived yet: non-zero while catching up.
    pub fn lag(&self) -> u64 {
        self.catch_up_to.saturating_sub(self.last_seq)
    }
}

/// The label of the `i`th source when there are `n`: `A`, `B`, ... `Z`, `AA`, ...; empty when
/// there is only one (nothing to tell apart).
pub fn label(i: usize, n: usize) -> String {
    if n <= 1 {
        return String::new();
    }
    let mut out = Vec::new();
    let mut k = i + 1;
    while k > 0 {
        k -= 1;
        out.push(b'A' + (k % 26) as u8);
        k /= 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ASCII letters")
}

/// A change of a source's connection state, for the headless printer's stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceChange {
    /// Which source (index into the statuses).
    pub source: usize,
    /// Its status after the change.
    pub status: SourceStatus,
    /// Set when the change is a line the source sent that is not a journal entry: what was
    /// skipped and why.
    pub skipped: Option<String>,
}

impl SourceChange {
    /// One line for a person: which receiver, and what happened to it.
    pub fn describe(&self) -> String {
        let s = &self.status;
        let who = crate::util::sanitize::terminal(&s.url, 300);
        let name = if s.label.is_empty() {
            who.into_owned()
        } else {
            format!("{} ({who})", s.label)
        };
        if let Some(skipped) = &self.skipped {
            return format!("{name}: {}", crate::util::sanitize::terminal(skipped, 400));
        }
        match &s.link {
            Link::Connecting { .. } => format!("{name}: connecting"),
            Link::Connected { .. } => {
                let lag = s.lag();
                if lag > 0 {
                    format!(
                        "{name}: connected; catching up on {} after #{}",
                        crate::util::human::count(lag, "entry", "entries"),
                        s.last_seq
                    )
                } else {
                    format!("{name}: connected; live after #{}", s.last_seq)
                }
            }
            Link::Reconnecting { reason, .. } => format!(
                "{name}: disconnected ({}); reconnecting by itself, resuming after #{}",
                crate::util::sanitize::terminal(reason, 300),
                s.last_seq
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_letters_only_when_there_are_several() {
        assert_eq!(label(0, 1), "");
        assert_eq!(label(0, 2), "A");
        assert_eq!(label(1, 2), "B");
        assert_eq!(label(25, 30), "Z");
        assert_eq!(label(26, 30), "AA");
    }
}
