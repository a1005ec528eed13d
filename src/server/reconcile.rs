//! `POST /api/reconcile`: a reconcile run now, in the running receiver.
//!
//! Only with `--reconcile-every` (the receiver's reconcile loop runs it; without it the
//! answer is 409, naming the flag). The body is empty, or `{"from":RFC3339,"to":RFC3339}`
//! for the window (both or neither; default: one `--reconcile-every` tick's window). One run
//! at a time: an ask during a run waits for it, then its own run starts; while one ask is
//! already waiting, another is answered 409. The answer is the run's summary, as journaled
//! (`reconcile_run`): findings by kind (and per domain), how many callbacks were filled in,
//! notes.

use chrono::{DateTime, Utc};
use hyper::body::Incoming as Body;
use hyper::header::CONTENT_LENGTH;
use hyper::Request;
use tokio::sync::oneshot;

use crate::core::reconciled::RunWindow;
use crate::event::Rejection;
use crate::server::answer::{json_response, Resp};
use crate::server::context::Ctx;
use crate::server::intake::read_body;

/// Largest body read (a window is two timestamps).
const BODY_MAX: usize = 4096;

/// The window asked for, if any: `from` and `to`, both or neither.
pub(super) fn window(body: &[u8]) -> Result<Option<RunWindow>, String> {
    if body.trim_ascii().is_empty() {
        return Ok(None);
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Asked {
        from: Option<String>,
        to: Option<String>,
    }
    let asked: Asked = serde_json::from_slice(body).map_err(|e| {
        format!("the body must be empty or {{\"from\":RFC3339,\"to\":RFC3339}}: {e}")
    })?;
    let time = |s: &str, what: &str| {
        DateTime::parse_from_rfc3339(s)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| {
                format!(
                    "{what} {:?}: not an RFC 3339 time ({e}); e.g. 2026-12-04T10:00:00Z",
                    crate::util::sanitize::terminal(s, 64)
                )
            })
    };
    match (asked.from, asked.to) {
        (None, None) => Ok(None),
        (Some(f), Some(t)) => {
            let (from, to) = (time(&f, "from")?, time(&t, "to")?);
            if to <= from {
                return Err("\"to\" must be after \"from\"".into());
            }
            Ok(Some((from, to)))
        }
        _ => Err(
            "give both \"from\" and \"to\", or neither (one --reconcile-every tick's window)"
                .into(),
        ),
    }
}

/// Answers `POST /api/reconcile` (access is already granted); `Err` is a refusal, for the
/// caller to journal and answer with the request's head.
pub(super) async fn post(
    req: Request<Body>,
    ctx: &Ctx,
) -> Result<Resp, (hyper::http::request::Parts, Rejection)> {
    let (parts, body) = req.into_parts();
    let Some(asks) = ctx.cfg.reconcile.clone() else {
        let rej = Rejection::new(
            409,
            "this receiver does not reconcile: start it with --reconcile-every DURATION (and the providers' credentials) to use POST /api/reconcile",
        );
        return Err((parts, rej));
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let (bytes, truncated, read_error) =
        read_body(body, declared, BODY_MAX, ctx.cfg.request_timeout).await;
    if truncated.is_some() || read_error.is_some() {
        let rej = Rejection::new(
            413,
            format!(
                "the body must be at most {BODY_MAX} bytes: {{\"from\":RFC3339,\"to\":RFC3339}}"
            ),
        );
        return Err((parts, rej));
    }
    let window = match window(&bytes) {
        Ok(w) => w,
        Err(e) => {
            return Err((parts, Rejection::new(400, e)));
        }
    };
    let (reply, answer) = oneshot::channel();
    if asks.try_send((window, reply)).is_err() {
        let rej = Rejection::new(
            409,
            "a reconcile run is in progress and another is already waiting for it: try again when that one is answered",
        );
        return Err((parts, rej));
    }
    Ok(match answer.await {
        Ok(Ok(run)) => json_response(
            200,
            serde_json::to_value(&run).unwrap_or(serde_json::Value::Null),
        ),
        Ok(Err(e)) => json_response(
            502,
            serde_json::json!({ "ok": false, "error": crate::util::sanitize::terminal(&e, 500) }),
        ),
        Err(_) => json_response(
            503,
            serde_json::json!({ "ok": false, "error": "recmon is shutting down" }),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_both_times_or_neither() {
        assert_eq!(window(b"").unwrap(), None);
        assert_eq!(window(b" {} ").unwrap(), None);
        let (f, t) = window(br#"{"from":"2026-12-04T10:00:00Z","to":"2026-12-04T12:00:00+01:00"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(f.to_rfc3339(), "2026-12-04T10:00:00+00:00");
        assert_eq!(t.to_rfc3339(), "2026-12-04T11:00:00+00:00");
        assert!(
            window(br#"{"from":"2026-12-04T10:00:00Z","to":"2026-12-04T11:00:00+01:00"}"#)
                .unwrap_err()
                .contains("after")
        );
        assert!(
            window(br#"{"from":"2026-12-04T10:00:00Z","to":"2026-12-04T10:00:00Z"}"#)
                .unwrap_err()
                .contains("after")
        );
        assert!(window(br#"{"from":"2026-12-04T10:00:00Z"}"#)
            .unwrap_err()
            .contains("both"));
        assert!(window(br#"{"from":"yesterday","to":"now"}"#)
            .unwrap_err()
            .contains("RFC 3339"));
        assert!(window(br#"{"since":"x"}"#).is_err());
        assert!(window(b"not json").is_err());
    }
}
