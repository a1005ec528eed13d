//! The request handler: recmon's own endpoints, or a callback read, admitted, journaled and
//! answered.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use chrono::Utc;
use hyper::body::Incoming as Body;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, StatusCode};

use crate::core::outbox::ForwardedRequest;
use crate::core::sequencer::Incoming;
use crate::event::{Method, Provider, Rejection};
use crate::providers::AuthKeys;
use crate::server::admission::{admit, Admission, Arrival, Rules};
use crate::server::answer::{
    allow, answer, answer_sync, event_stream_response, json_response, text_response, Resp,
};
use crate::server::config::MAX_HEAD_BYTES;
use crate::server::context::Ctx;
use crate::server::intake::{kept_headers, read_body};
use crate::server::routes::{
    api_allowed, endpoint_refusal, own_endpoint, ApiPath, OwnEndpoint, CALLBACK_METHODS,
    OWN_ENDPOINT_METHODS, RECONCILE_METHODS,
};
use crate::server::{api, metrics, reconcile};

pub(super) async fn handle(
    req: Request<Body>,
    remote: SocketAddr,
    head_bytes: usize,
    ctx: Arc<Ctx>,
) -> Resp {
    let received_at = Utc::now();
    let path = req.uri().path().to_string();

    // Checked before anything else, for every path: the documented limit holds to the byte.
    if head_bytes > MAX_HEAD_BYTES {
        let rej = Rejection::new(
            431,
            format!(
                "request head too large: {} bytes; the request line and headers may take at most {} bytes, so send fewer or shorter headers",
                crate::util::human::thousands(head_bytes as u64),
                crate::util::human::thousands(MAX_HEAD_BYTES as u64)
            ),
        );
        let mut resp = submit_rejected(req, remote, received_at, rej, &ctx).await;
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }

    // recmon's own endpoints. A successful read of them is not journaled (it is not a
    // callback); every refusal is, like any other rejected request.
    if let Some(endpoint) = own_endpoint(&path) {
        let refusal = match endpoint {
            OwnEndpoint::Health => None,
            OwnEndpoint::Api(_) | OwnEndpoint::Metrics => {
                api_allowed(&ctx.cfg, &remote, req.headers()).err()
            }
        };
        let refusal = refusal.or_else(|| endpoint_refusal(endpoint, req.method()));
        return match refusal {
            Some(rej) => {
                let status = rej.status;
                let mut resp = submit_rejected(req, remote, received_at, rej, &ctx).await;
                if status == 405 && resp.status() == StatusCode::METHOD_NOT_ALLOWED {
                    allow(
                        &mut resp,
                        if endpoint == OwnEndpoint::Api(Some(ApiPath::Reconcile)) {
                            RECONCILE_METHODS
                        } else {
                            OWN_ENDPOINT_METHODS
                        },
                    );
                }
                resp
            }
            None => match endpoint {
                OwnEndpoint::Health => json_response(200, serde_json::json!({ "status": "ok" })),
                OwnEndpoint::Metrics => {
                    let (text, content_type) = metrics::render(&ctx.shared.lock(), &ctx.counters);
                    let mut r = text_response(200, text);
                    r.headers_mut()
                        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
                    r
                }
                OwnEndpoint::Api(Some(ApiPath::Events)) => {
                    let start = api::start_position(
                        req.headers()
                            .get("last-event-id")
                            .map(|v| v.to_str().unwrap_or("(not text)")),
                        req.uri().query(),
                    );
                    match start {
                        Ok(after) => event_stream_response(&ctx, after),
                        Err(e) => {
                            submit_rejected(req, remote, received_at, Rejection::new(400, e), &ctx)
                                .await
                        }
                    }
                }
                OwnEndpoint::Api(Some(ApiPath::Reconcile)) => {
                    match reconcile::post(req, &ctx).await {
                        Ok(resp) => resp,
                        Err((parts, rej)) => {
                            reject_parts(&parts, remote, received_at, rej, &ctx).await
                        }
                    }
                }
                OwnEndpoint::Api(Some(ApiPath::Alerts)) => {
                    let doc = api::alerts_document(&ctx.shared.lock());
                    json_response(200, doc)
                }
                OwnEndpoint::Api(_) => {
                    let doc = api::state_document(&ctx.shared.lock());
                    json_response(200, doc)
                }
            },
        };
    }

    let path_q = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or(path);
    let method_name = req.method().as_str().to_string();
    let headers = kept_headers(req.headers(), ctx.cfg.keep_all_headers);
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let query = req.uri().query().map(str::to_string);
    // Content-Length with Transfer-Encoding is a request-smuggling shape: hyper already
    // lets chunked win (RFC 9112 §6.3); recmon also closes the connection after answering,
    // as the RFC asks, so nothing after this request is read from the same stream.
    let smuggling = req.headers().contains_key(CONTENT_LENGTH)
        && req.headers().contains_key(hyper::header::TRANSFER_ENCODING);

    let (body, truncated, read_error) = read_body(
        req.into_body(),
        declared,
        ctx.cfg.max_body,
        ctx.cfg.request_timeout,
    )
    .await;

    let method = Method::from_name(&method_name);
    let body_unread = read_error.is_some();
    let admission = admit(
        &Arrival {
            method,
            path: &path_q,
            query: query.as_deref(),
            headers: &headers,
            body: &body,
            truncated: truncated.as_ref(),
            read_error: read_error.as_ref(),
        },
        &Rules {
            pins: &ctx.cfg.pins,
            keys: AuthKeys {
                aliyun: ctx.cfg.auth.as_ref(),
                tencent: ctx.cfg.tencent_key.as_deref(),
            },
            max_body: ctx.cfg.max_body,
            forwarder_id: (ctx.cfg.forward_sync.is_some() || ctx.cfg.keep_all_headers)
                .then(crate::forward::instance_id),
        },
        received_at.timestamp(),
    );
    let Admission {
        provider,
        verdict,
        body_is_json,
        auth: auth_result,
    } = admission;
    // The rest of a body that was cut, timed out or failed to read is still on the wire (or
    // the stream is broken): nothing after it on this connection can be trusted.
    let close = truncated.is_some() || smuggling || body_unread;

    let incoming = Incoming {
        provider,
        received_at,
        remote: remote.to_string(),
        method: method_name,
        path: path_q,
        headers,
        body,
        truncated,
        verdict,
        body_is_json,
        auth: auth_result.map(|r| r.is_ok()),
    };
    let error_text = incoming.verdict.as_ref().err().map(|r| r.error.clone());
    let mut resp = match &ctx.cfg.forward_sync {
        Some(sync) if incoming.verdict.is_ok() => {
            let fwd = ForwardedRequest {
                method: incoming.method.clone(),
                path: incoming.path.clone(),
                headers: incoming.headers.clone(),
                remote: incoming.remote.clone(),
                body: incoming.body.clone(),
            };
            answer_sync(&ctx, sync, incoming, fwd).await
        }
        _ => answer(&ctx, incoming, error_text).await,
    };
    if resp.status() == StatusCode::METHOD_NOT_ALLOWED {
        allow(&mut resp, CALLBACK_METHODS);
    }
    if close {
        resp.headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}

pub(super) async fn submit_rejected(
    req: Request<Body>,
    remote: SocketAddr,
    received_at: chrono::DateTime<Utc>,
    rej: Rejection,
    ctx: &Ctx,
) -> Resp {
    let (parts, _) = req.into_parts();
    reject_parts(&parts, remote, received_at, rej, ctx).await
}

/// [`submit_rejected`] once the body is taken: journals the refusal and answers it.
pub(super) async fn reject_parts(
    req: &hyper::http::request::Parts,
    remote: SocketAddr,
    received_at: chrono::DateTime<Utc>,
    rej: Rejection,
    ctx: &Ctx,
) -> Resp {
    let incoming = Incoming {
        // Not a provider's request (a broken connection, recmon's own paths): journaled
        // under the default provider, whose readers find no callback in it.
        provider: Provider::Aliyun,
        received_at,
        remote: remote.to_string(),
        method: req.method.as_str().to_string(),
        path: req
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default(),
        headers: kept_headers(&req.headers, ctx.cfg.keep_all_headers),
        body: Bytes::new(),
        truncated: None,
        verdict: Err(rej.clone()),
        body_is_json: false,
        auth: None,
    };
    answer(ctx, incoming, Some(rej.error)).await
}
