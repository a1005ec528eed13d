//! The admission step: from what a callback request is (method, path, headers, body, how its
//! body was read) and the receiver's settings, whose request it is, whether its signature
//! holds, and the verdict (a callback, or why it is refused). Pure: no I/O, no clock (the time
//! comes in as `now`), so that every decision is unit-tested here.

use std::collections::BTreeMap;

use crate::core::journal::Truncation;
use crate::event::{Callback, Method, Provider, Rejection};
use crate::providers::{AuthKeys, AuthOutcome, Pins};
use crate::server::intake::BodyError;

/// What a callback request brought, as read by the listener.
pub(super) struct Arrival<'a> {
    /// The request's method.
    pub method: Method,
    /// The path with its query, as sent.
    pub path: &'a str,
    /// The query, if any.
    pub query: Option<&'a str>,
    /// The headers kept for the journal (lowercase names).
    pub headers: &'a BTreeMap<String, String>,
    /// The body, whole or as far as it was read.
    pub body: &'a [u8],
    /// Set when the body was over `--max-body`.
    pub truncated: Option<&'a Truncation>,
    /// Set when the body could not be read in full.
    pub read_error: Option<&'a BodyError>,
}

/// The settings admission decides with.
pub(super) struct Rules<'a> {
    /// `--provider PATH_PREFIX=NAME`.
    pub pins: &'a Pins,
    /// `--auth-key`, `--tencent-key`.
    pub keys: AuthKeys<'a>,
    /// `--max-body`, for the 413's text.
    pub max_body: usize,
    /// This recmon's instance id when it forwards (a callback carrying it in the forwarding
    /// header has come back to it); `None` when it does not forward.
    pub forwarder_id: Option<&'a str>,
}

/// What admission decided.
#[derive(Debug)]
pub(super) struct Admission {
    /// Whose request it is.
    pub provider: Provider,
    /// The callback, or why the request is refused.
    pub verdict: Result<Callback, Rejection>,
    /// Whether the body was read as JSON.
    pub body_is_json: bool,
    /// The signature check's result.
    pub auth: AuthOutcome,
}

/// Decides a callback request: its provider, its signature, its verdict. `now` is Unix seconds.
pub(super) fn admit(req: &Arrival<'_>, rules: &Rules<'_>, now: i64) -> Admission {
    let (method, headers, body) = (req.method, req.headers, req.body);
    // Whose request it is: pinned by path, else told by its shape. With --auth-key, the
    // providers that sign nothing are read only on the paths pinned to them: elsewhere a
    // request of their shape is ApsaraVideo's, and needs its signature, so that nobody can
    // get past the key by sending another provider's shape.
    let provider = rules.pins.for_path(req.path).unwrap_or_else(|| {
        let p = crate::providers::detect(
            method,
            req.query,
            headers.get("content-type").map(String::as_str),
            headers.get("user-agent").map(String::as_str),
            body,
        );
        match p {
            Provider::NginxRtmp | Provider::Srs if rules.keys.aliyun.is_some() => Provider::Aliyun,
            p => p,
        }
    });
    // Checked first: a forged request is refused whatever it contains, and never reaches
    // the classifier or the store. Each provider checks its own signature
    // (`providers::verify`).
    let auth_result = crate::providers::verify(provider, &rules.keys, headers, body, now);
    let mut body_is_json = false;
    // A callback this recmon forwarded itself has come back (a --forward-to that points at
    // this listener, directly or through a proxy): answering it as a callback would forward
    // it again, for ever.
    let looped = rules.forwarder_id.is_some_and(|me| {
        headers
            .get(crate::forward::target::VIA_HEADER)
            .is_some_and(|v| v.split(',').any(|id| id.trim() == me))
    });
    let verdict = if looped {
        Err(Rejection::new(
            508,
            "forwarding loop: this callback was forwarded by this recmon itself; a --forward-to points back at this listener",
        ))
    } else if let Some(Err(why)) = &auth_result {
        Err(Rejection::new(
            403,
            format!("signature check failed: {why}"),
        ))
    } else if let Some(t) = req.truncated {
        Err(Rejection::new(
            413,
            format!(
                "body too large: {} bytes, over the --max-body limit of {} bytes",
                t.declared_bytes.unwrap_or(t.received_bytes),
                rules.max_body
            ),
        ))
    } else if let Some(e) = req.read_error {
        Err(match e {
            BodyError::TimedOut(t) => Rejection::new(
                408,
                format!(
                    "the body did not arrive within --request-timeout ({}s)",
                    t.as_secs()
                ),
            ),
            BodyError::Io(e) => Rejection::new(400, format!("could not read the body: {e}")),
        })
    } else {
        let (verdict, json) = crate::providers::classify(provider, method, req.query, body);
        body_is_json = json;
        verdict
    };
    Admission {
        provider,
        verdict,
        body_is_json,
        auth: auth_result,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::aliyun::auth::{signature, AuthConfig};
    use std::time::Duration;

    const NOW: i64 = 1_700_000_000;

    fn headers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn arrival<'a>(
        path: &'a str,
        headers: &'a BTreeMap<String, String>,
        body: &'a [u8],
    ) -> Arrival<'a> {
        Arrival {
            method: Method::Post,
            path,
            query: None,
            headers,
            body,
            truncated: None,
            read_error: None,
        }
    }

    fn rules(pins: &Pins) -> Rules<'_> {
        Rules {
            pins,
            keys: AuthKeys::default(),
            max_body: 64,
            forwarder_id: None,
        }
    }

    const NGINX: &[u8] = b"call=publish&app=live&name=cam1&addr=127.0.0.1";

    #[test]
    fn the_shape_tells_the_provider_and_a_pin_overrides_it() {
        let pins = Pins::parse(&["/srs=srs".to_string()]).unwrap();
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let a = admit(&arrival("/cb", &h, NGINX), &rules(&pins), NOW);
        assert_eq!(a.provider, Provider::NginxRtmp);
        assert_eq!(a.auth, None);
        let a = admit(&arrival("/srs/cb", &h, NGINX), &rules(&pins), NOW);
        assert_eq!(a.provider, Provider::Srs);
    }

    #[test]
    fn with_an_auth_key_an_unsigned_shape_is_read_as_apsaravideo_and_checked() {
        let pins = Pins::default();
        let auth = AuthConfig::new("secret".into(), None, 300);
        let mut r = rules(&pins);
        r.keys.aliyun = Some(&auth);
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let a = admit(&arrival("/cb", &h, NGINX), &r, NOW);
        assert_eq!(a.provider, Provider::Aliyun);
        assert!(matches!(a.auth, Some(Err(_))));
        assert_eq!(a.verdict.unwrap_err().status, 403);
    }

    #[test]
    fn an_apsaravideo_signature_is_checked_against_now() {
        let pins = Pins::default();
        let auth = AuthConfig::new("secret".into(), None, 300);
        let mut r = rules(&pins);
        r.keys.aliyun = Some(&auth);
        let ts = NOW.to_string();
        let sig = signature("example.com", NOW, "secret");
        let h = headers(&[
            ("host", "example.com"),
            ("ali-live-timestamp", &ts),
            ("ali-live-signature", &sig),
        ]);
        let a = admit(&arrival("/cb", &h, b"{}"), &r, NOW);
        assert_eq!(a.auth, Some(Ok(())));
        // The same request far later: the timestamp is too old.
        let a = admit(&arrival("/cb", &h, b"{}"), &r, NOW + 3600);
        assert!(matches!(a.auth, Some(Err(_))));
        assert_eq!(a.verdict.unwrap_err().status, 403);
    }

    #[test]
    fn a_tencent_sign_is_checked_with_the_tencent_key() {
        let pins = Pins::default();
        let mut r = rules(&pins);
        r.keys.tencent = Some("k");
        let t = NOW + 60;
        let body = format!(
            r#"{{"event_type":1,"stream_id":"s","t":{t},"sign":"{}"}}"#,
            crate::providers::tencent::sign("k", t)
        );
        let h = headers(&[]);
        let a = admit(&arrival("/cb", &h, body.as_bytes()), &r, NOW);
        assert_eq!(a.provider, Provider::Tencent);
        assert_eq!(a.auth, Some(Ok(())));
        let a = admit(&arrival("/cb", &h, body.as_bytes()), &r, t + 1);
        assert!(matches!(a.auth, Some(Err(_))));
        assert_eq!(a.verdict.unwrap_err().status, 403);
    }

    #[test]
    fn a_callback_that_came_back_is_a_loop() {
        let pins = Pins::default();
        let mut r = rules(&pins);
        let h = headers(&[(crate::forward::target::VIA_HEADER, "aaaa, me")]);
        let a = admit(&arrival("/cb", &h, b"{}"), &r, NOW);
        assert_ne!(a.verdict.as_ref().err().map(|e| e.status), Some(508));
        r.forwarder_id = Some("me");
        let a = admit(&arrival("/cb", &h, b"{}"), &r, NOW);
        assert_eq!(a.verdict.unwrap_err().status, 508);
    }

    #[test]
    fn a_body_cut_or_unread_is_refused_before_it_is_classified() {
        let pins = Pins::default();
        let h = headers(&[]);
        let cut = Truncation {
            received_bytes: 100,
            declared_bytes: Some(100),
        };
        let mut req = arrival("/cb", &h, b"{}");
        req.truncated = Some(&cut);
        let a = admit(&req, &rules(&pins), NOW);
        let rej = a.verdict.unwrap_err();
        assert_eq!(rej.status, 413);
        assert!(rej.error.contains("limit of 64 bytes"), "{}", rej.error);

        let late = BodyError::TimedOut(Duration::from_secs(7));
        let mut req = arrival("/cb", &h, b"{}");
        req.read_error = Some(&late);
        let rej = admit(&req, &rules(&pins), NOW).verdict.unwrap_err();
        assert_eq!(rej.status, 408);
        assert!(rej.error.contains("(7s)"), "{}", rej.error);

        let broken = BodyError::Io("early close".into());
        req.read_error = Some(&broken);
        assert_eq!(
            admit(&req, &rules(&pins), NOW).verdict.unwrap_err().status,
            400
        );
    }
}
