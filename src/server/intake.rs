//! Reading a request: the headers kept for the journal, and the body within its limits.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::Incoming as Body;
use hyper::header::HeaderMap;

use crate::core::journal::Truncation;
use crate::core::outbox::HOP_BY_HOP;

/// The headers worth keeping in the journal: what identifies the sender and the provider's
/// signature headers; with `all` (forwarding), every header but the hop-by-hop ones, so that
/// the outbox can resend the request from the journal alone (`transfer-encoding` is kept all
/// the same, as always: it says how the body came). Names are lowercase; values that are not
/// UTF-8 are kept lossily.
pub(super) fn kept_headers(headers: &HeaderMap, all: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
    let listed: Vec<String> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .collect();
    for (name, value) in headers {
        let n = name.as_str();
        let keep = (all && !HOP_BY_HOP.contains(&n) && !listed.iter().any(|l| l == n))
            || matches!(
                n,
                "content-type"
                    | "content-length"
                    | "transfer-encoding"
                    | "user-agent"
                    | "host"
                    | "x-forwarded-for"
            )
            || n.starts_with("ali-live-");
        if keep {
            let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
            out.entry(n.to_string())
                .and_modify(|old: &mut String| {
                    old.push_str(", ");
                    old.push_str(&v);
                })
                .or_insert(v);
        }
    }
    out
}

/// Why a body could not be read in full.
pub(super) enum BodyError {
    /// `--request-timeout` passed first.
    TimedOut(Duration),
    /// The client broke the body (bad chunking, early close).
    Io(String),
}

/// Reads at most `max` bytes of body. A declared Content-Length over the limit is refused
/// without reading; a chunked body is read until it passes the limit, then cut.
/// Whatever arrived before `timeout` is kept, so the journal shows how far a slow client got.
pub(super) async fn read_body(
    body: Body,
    declared: Option<u64>,
    max: usize,
    timeout: Duration,
) -> (Bytes, Option<Truncation>, Option<BodyError>) {
    let deadline = tokio::time::Instant::now() + timeout;
    if let Some(d) = declared {
        if d > max as u64 {
            return (
                Bytes::new(),
                Some(Truncation {
                    received_bytes: 0,
                    declared_bytes: Some(d),
                }),
                None,
            );
        }
    }
    let mut body = body;
    let mut buf = BytesMut::new();
    let mut received: u64 = 0;
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => return (buf.freeze(), None, Some(BodyError::TimedOut(timeout))),
        };
        match frame {
            Ok(f) => {
                if let Ok(data) = f.into_data() {
                    received += data.len() as u64;
                    let room = (max + 1).saturating_sub(buf.len());
                    buf.extend_from_slice(&data[..data.len().min(room)]);
                    if received > max as u64 {
                        buf.truncate(max);
                        return (
                            buf.freeze(),
                            Some(Truncation {
                                received_bytes: received,
                                declared_bytes: declared,
                            }),
                            None,
                        );
                    }
                }
            }
            Err(e) => return (buf.freeze(), None, Some(BodyError::Io(e.to_string()))),
        }
    }
    (buf.freeze(), None, None)
}
