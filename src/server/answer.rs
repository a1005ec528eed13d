//! Answers: the sequencer's acknowledgement turned into the provider's answer, the backend's
//! answer in `--forward-mode sync`, recmon's own 4xx/5xx, and the `/api/events` stream.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use crate::core::outbox::{DeliveryResult, ForwardMode, ForwardedRequest};
use crate::core::sequencer::Incoming;
use crate::forward::SyncForward;
use crate::server::api::EventStream;
use crate::server::context::Ctx;

/// A response: a whole body, or the `/api/events` stream.
pub(super) type Resp = Response<Either<Full<Bytes>, EventStream>>;

pub(super) fn event_stream_response(ctx: &Ctx, after: u64) -> Resp {
    let body = EventStream::start(
        &ctx.published.feed,
        ctx.published.facts.clone(),
        after,
        ctx.cfg.keep_alive,
    );
    let mut r = Response::new(Either::Right(body));
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    h.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    // Reverse proxies (nginx) buffer responses by default, which would hold entries back.
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    r
}

pub(super) fn json_response(status: u16, body: serde_json::Value) -> Resp {
    text_response(status, body.to_string())
}

/// A JSON answer from already-formatted text.
pub(super) fn text_response(status: u16, body: String) -> Resp {
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// Adds `Allow` to a 405 (RFC 9110 §15.5.6: a 405 must list the methods the target takes).
pub(super) fn allow(resp: &mut Resp, methods: &'static str) {
    resp.headers_mut()
        .insert(hyper::header::ALLOW, HeaderValue::from_static(methods));
}

pub(super) fn error_response(status: u16, error: &str) -> Resp {
    json_response(status, serde_json::json!({ "error": error }))
}

/// `--forward-mode sync`: journal the callback, pass it to the backend, journal the attempt,
/// and answer with the backend's status and body; 504 when it does not answer within
/// `--forward-timeout`, 502 when it cannot be reached, so the provider retries.
///
/// nginx-rtmp and SRS never retry, and take any answer but a success as "refuse or drop the
/// stream" ([`crate::providers::never_refuse`]): for them recmon's own failures never reach
/// the answer. The backend's answer is still theirs when it gives one (a 4xx from the
/// backend's `on_publish` is its decision), but a backend that cannot be reached, does not
/// answer in time or fails (5xx) gets them a success ([`crate::providers::going_on`]); and a
/// journal that cannot be written does not stop the callback from reaching the backend (sent
/// without `X-Recmon-Seq`: it has none).
///
/// The attempt runs in a task of its own, so that it is made and journaled to the end even if
/// the provider hangs up first.
pub(super) async fn answer_sync(
    ctx: &Arc<Ctx>,
    sync: &SyncForward,
    incoming: Incoming,
    fwd: ForwardedRequest,
) -> Resp {
    let provider = incoming.provider;
    let goes_on = crate::providers::never_refuse(provider);
    let going_on = |why: &str| {
        let (status, body) = crate::providers::going_on(why);
        text_response(status, body)
    };
    let ack = match ctx.seq.submit(incoming).await {
        Ok(ack) => Some(ack),
        Err(failed) if goes_on => {
            tracing::warn!("{}; the callback goes to the backend unjournaled", failed.0);
            None
        }
        Err(failed) => {
            return error_response(
                503,
                &format!("{}; the callback was not recorded, retry later", failed.0),
            )
        }
    };
    let (ctx, sync) = (ctx.clone(), sync.clone());
    let attempt = tokio::spawn(async move {
        let seq = ack.as_ref().map_or(0, |a| a.seq);
        let tried = sync.sender.send(&sync.target, &fwd, seq).await;
        let delivered = tried.delivered();
        let result = if delivered {
            DeliveryResult::Delivered
        } else {
            DeliveryResult::Failed
        };
        let journaled = match ack {
            Some(_) => format!("the callback is journaled as seq {seq}"),
            None => "the callback could not be journaled either".to_string(),
        };
        let resp = match &tried.answer {
            Ok(a) if goes_on && a.status.is_server_error() => going_on(&format!(
                "the backend answered {}; {journaled}",
                a.status.as_u16()
            )),
            Ok(a) => {
                let mut r = Response::new(Either::Left(Full::new(a.body.clone())));
                *r.status_mut() = a.status;
                if let Some(ct) = &a.content_type {
                    r.headers_mut().insert(CONTENT_TYPE, ct.clone());
                }
                r
            }
            Err(crate::forward::Failure::Timeout(t)) if goes_on => going_on(&format!(
                "the backend did not answer within {} ms (--forward-timeout); {journaled}",
                t.as_millis()
            )),
            Err(crate::forward::Failure::Timeout(t)) => error_response(
                504,
                &format!(
                    "the backend did not answer within {} ms (--forward-timeout); {journaled}, retry",
                    t.as_millis()
                ),
            ),
            Err(crate::forward::Failure::Connection(e)) if goes_on => {
                going_on(&format!("the backend could not be reached: {e}; {journaled}"))
            }
            Err(crate::forward::Failure::Connection(e)) => error_response(
                502,
                &format!("the backend could not be reached: {e}; {journaled}, retry"),
            ),
        };
        if ack.is_none() {
            return resp;
        }
        let mut d = tried.delivery(seq, &sync.target.name, ForwardMode::Sync, 1, result);
        d.answered = Some(resp.status().as_u16());
        match ctx.seq.record_delivery(d).await {
            Ok(_) => resp,
            // The backend has the callback (and, for nginx-rtmp and SRS, decided): its answer
            // stands.
            Err(_) if goes_on => resp,
            Err(failed) => error_response(
                503,
                &format!(
                    "{}; the backend's answer could not be recorded, retry later",
                    failed.0
                ),
            ),
        }
    });
    match attempt.await {
        Ok(resp) => resp,
        Err(e) if goes_on => going_on(&format!("forwarding failed: {e}")),
        Err(e) => error_response(502, &format!("forwarding failed: {e}")),
    }
}

pub(super) async fn answer(ctx: &Ctx, incoming: Incoming, error_text: Option<String>) -> Resp {
    let provider = incoming.provider;
    // Only a notice changes the answer's shape (the on-demand question); nothing is cloned
    // for the others.
    let notice = match &incoming.verdict {
        Ok(cb @ crate::event::Callback::Notice(_)) => Some(cb.clone()),
        _ => None,
    };
    match ctx.seq.submit(incoming).await {
        Ok(ack) => {
            let (status, body) = crate::providers::answer(
                provider,
                ack.seq,
                ack.outcome,
                ack.status,
                error_text.as_deref(),
                notice.as_ref(),
            );
            text_response(status, body)
        }
        // nginx-rtmp and SRS never retry, and a non-2xx refuses or drops the stream: the
        // callback is lost either way (and the failing journal is on every screen), the
        // broadcast need not be.
        Err(failed) if crate::providers::never_refuse(provider) => {
            let (status, body) =
                crate::providers::going_on(&format!("{}; the callback was not recorded", failed.0));
            text_response(status, body)
        }
        Err(failed) => error_response(
            503,
            &format!("{}; the callback was not recorded, retry later", failed.0),
        ),
    }
}
