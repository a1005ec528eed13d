//! What the state keeps for a person to read, as typed values, and the one place they are put
//! into words.
//!
//! The store ([`crate::core::store`]) keeps these values (numbers, names, the provider's and
//! the backend's own text), never sentences; the views and the tools render them here. This
//! module imports only [`crate::util`], so every layer may import it, the core included (it
//! holds the values): see "Who imports whom" in `docs/architecture.md`.

use std::fmt::Write;

use crate::util::human;

/// A request's key fields, shown after its summary in the request log: a recording's duration
/// and times, an ingest's or a viewer's client address, a segment's duration.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum RequestDetail {
    /// Nothing to add (a rejection, a status event with no detail).
    #[default]
    None,
    /// A status event whose name recmon does not know: the stream's state is left as it was.
    UnknownEvent,
    /// What the provider said (a status event's detail, a notice's fields): untrusted text.
    Said(Box<str>),
    /// A recording file with the duration and times its provider reported.
    Recording {
        /// Reported duration, seconds.
        duration: Option<f64>,
        /// Start and stop, Unix seconds, when both were reported.
        times: Option<(i64, i64)>,
        /// Size in bytes, where the provider reports it.
        size: Option<u64>,
        /// The duration differs from stop − start by more than 1 s.
        mismatch: bool,
    },
    /// A recording file whose provider reported no duration or times: recmon derived them from
    /// arrival times.
    Derived {
        /// The derived duration, seconds; `None` when no publish or earlier file came before
        /// it to start from.
        duration: Option<f64>,
    },
    /// An ingest or play callback's client (untrusted text).
    Client {
        /// The client's address.
        ip: Option<Box<str>>,
        /// The provider's node that took it (ingest).
        node: Option<Box<str>>,
    },
    /// An HLS segment.
    Segment {
        /// Its duration, seconds.
        duration: Option<f64>,
    },
}

impl RequestDetail {
    /// Whether it renders as nothing.
    pub fn is_empty(&self) -> bool {
        match self {
            RequestDetail::None => true,
            RequestDetail::Said(s) => s.is_empty(),
            RequestDetail::Client { ip, node } => ip.is_none() && node.is_none(),
            _ => false,
        }
    }
}

/// The words for a request's key fields (empty for [`RequestDetail::None`]). Holds untrusted
/// text: sanitize before showing.
pub fn request_detail(d: &RequestDetail) -> String {
    let mut out = String::new();
    write_request_detail(&mut out, d);
    out
}

/// [`request_detail`], appended to `out`.
pub fn write_request_detail(out: &mut String, d: &RequestDetail) {
    match d {
        RequestDetail::None => {}
        RequestDetail::UnknownEvent => out.push_str("unknown event, state unchanged"),
        RequestDetail::Said(s) => out.push_str(s),
        RequestDetail::Recording {
            duration,
            times,
            size,
            mismatch,
        } => {
            match duration {
                Some(x) => {
                    let _ = write!(out, "duration={}", human::seconds(*x));
                }
                None => out.push_str("duration=-"),
            }
            if let Some((a, b)) = times {
                // The provider's times are untrusted: `i64::MAX − i64::MIN` would overflow.
                let span = b.checked_sub(*a).map_or("?".into(), |s| s.to_string());
                let _ = write!(out, " start={a} stop={b} span={span}s");
            }
            if let Some(size) = size {
                let _ = write!(out, " size={}", human::bytes(*size));
            }
            if *mismatch {
                out.push_str(" MISMATCH");
            }
        }
        RequestDetail::Derived { duration } => match duration {
            Some(d) => {
                let _ = write!(
                    out,
                    "duration~{} (derived from arrival times)",
                    human::seconds(*d)
                );
            }
            None => out.push_str("duration=- (no publish or earlier file to start from)"),
        },
        RequestDetail::Client { ip, node } => {
            if let Some(ip) = ip {
                let _ = write!(out, "ip={ip}");
            }
            if let Some(n) = node {
                let _ = write!(out, " node={n}");
            }
        }
        RequestDetail::Segment { duration } => match duration {
            Some(x) => {
                let _ = write!(out, "hls segment duration={}", human::seconds(*x));
            }
            None => out.push_str("hls segment duration=-"),
        },
    }
}

/// A forwarding event worth a line of its own: a target starts failing, recovers, or a
/// request is given up on. `of` is the seq of the request delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardEvent {
    /// A failing target delivered again.
    Recovered {
        /// The request delivered.
        of: u64,
        /// The backend's status (0 when unknown).
        status: u16,
        /// The attempt that delivered it.
        attempt: u32,
        /// Requests still owed to the target.
        pending: usize,
    },
    /// A target that delivered started failing; the request is retried.
    Failing {
        /// The request.
        of: u64,
        /// The attempt that failed.
        attempt: u32,
        /// Why (untrusted text).
        error: String,
        /// When the next attempt is due, seconds from now.
        retry_in_s: Option<u64>,
    },
    /// An asynchronous delivery given up on after its attempts.
    GaveUp {
        /// The request.
        of: u64,
        /// Attempts made.
        attempts: u32,
        /// The last failure (untrusted text).
        error: String,
    },
    /// A synchronous delivery's one attempt failed, and the provider was answered without it.
    SyncFailed {
        /// The request.
        of: u64,
        /// Why (untrusted text).
        error: String,
        /// The status the provider was answered: 2xx for nginx-rtmp and SRS (which never
        /// retry), so that the stream goes on; else an error so the provider retries.
        answered: u16,
    },
}

impl ForwardEvent {
    /// A failure (true) or a recovery (false).
    pub fn is_failure(&self) -> bool {
        !matches!(self, ForwardEvent::Recovered { .. })
    }
}

/// The words for a forwarding event of the target named `target`. Holds untrusted text:
/// sanitize before showing.
pub fn forward_event(target: &str, e: &ForwardEvent) -> String {
    match e {
        ForwardEvent::Recovered {
            of,
            status,
            attempt,
            pending,
        } => format!(
            "forward to {target} recovered: #{of} delivered ({status}) on attempt {attempt}; {pending} pending"
        ),
        ForwardEvent::Failing {
            of,
            attempt,
            error,
            retry_in_s,
        } => format!(
            "forward to {target} failing: #{of} attempt {attempt}: {error}{}",
            retry_in_s
                .map(|s| format!("; retrying in {s} s"))
                .unwrap_or_default()
        ),
        ForwardEvent::GaveUp {
            of,
            attempts,
            error,
        } => format!(
            "forward to {target} GAVE UP on #{of} after {attempts} attempts: {error}; resend it with recmon replay --seq {of}"
        ),
        ForwardEvent::SyncFailed {
            of,
            error,
            answered,
        } => format!(
            "forward to {target} failed for #{of}: {error}; answered {}",
            match answered {
                a @ 200..=299 => format!("{a} so that the stream goes on"),
                a => format!("{a} so the provider retries"),
            }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_details_read_as_before() {
        let rec = RequestDetail::Recording {
            duration: Some(10.0),
            times: Some((100, 110)),
            size: None,
            mismatch: false,
        };
        assert_eq!(
            request_detail(&rec),
            format!(
                "duration={} start=100 stop=110 span=10s",
                human::seconds(10.0)
            )
        );
        let extreme = RequestDetail::Recording {
            duration: None,
            times: Some((i64::MIN, i64::MAX)),
            size: None,
            mismatch: true,
        };
        assert_eq!(
            request_detail(&extreme),
            format!(
                "duration=- start={} stop={} span=?s MISMATCH",
                i64::MIN,
                i64::MAX
            )
        );
        assert_eq!(
            request_detail(&RequestDetail::UnknownEvent),
            "unknown event, state unchanged"
        );
        assert_eq!(
            request_detail(&RequestDetail::Derived { duration: None }),
            "duration=- (no publish or earlier file to start from)"
        );
        let node_only = RequestDetail::Client {
            ip: None,
            node: Some("n1".into()),
        };
        assert_eq!(request_detail(&node_only), " node=n1");
        assert!(!node_only.is_empty());
        assert!(RequestDetail::Client {
            ip: None,
            node: None
        }
        .is_empty());
        assert_eq!(
            request_detail(&RequestDetail::Segment { duration: None }),
            "hls segment duration=-"
        );
    }

    #[test]
    fn forward_events_read_as_before() {
        let t = "http://b/cb";
        assert_eq!(
            forward_event(
                t,
                &ForwardEvent::Recovered {
                    of: 1,
                    status: 200,
                    attempt: 2,
                    pending: 0
                }
            ),
            "forward to http://b/cb recovered: #1 delivered (200) on attempt 2; 0 pending"
        );
        assert_eq!(
            forward_event(
                t,
                &ForwardEvent::Failing {
                    of: 4,
                    attempt: 1,
                    error: "500".into(),
                    retry_in_s: Some(2)
                }
            ),
            "forward to http://b/cb failing: #4 attempt 1: 500; retrying in 2 s"
        );
        assert_eq!(
            forward_event(
                t,
                &ForwardEvent::GaveUp {
                    of: 4,
                    attempts: 8,
                    error: "timeout".into()
                }
            ),
            "forward to http://b/cb GAVE UP on #4 after 8 attempts: timeout; resend it with recmon replay --seq 4"
        );
        assert_eq!(
            forward_event(
                t,
                &ForwardEvent::SyncFailed {
                    of: 5,
                    error: "refused".into(),
                    answered: 200
                }
            ),
            "forward to http://b/cb failed for #5: refused; answered 200 so that the stream goes on"
        );
        assert_eq!(
            forward_event(
                t,
                &ForwardEvent::SyncFailed {
                    of: 5,
                    error: "refused".into(),
                    answered: 502
                }
            ),
            "forward to http://b/cb failed for #5: refused; answered 502 so the provider retries"
        );
    }
}
