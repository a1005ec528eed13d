//! The Tencent Cloud CSS API client (version 2018-08-01, TC3-HMAC-SHA256):
//! `DescribeCallbackRecordsList`, the callbacks Tencent sent for one stream, with the answers
//! it got.
//!
//! Requests are sent as `tencentcloud-sdk-python-live` sends them: `POST /` with a JSON body,
//! `Content-Type: application/json`, signed over `content-type;host`. Errors come back as HTTP
//! 200 with `{"Response": {"Error": {"Code", "Message"}}}`.
//!
//! Limits respected (the constants below say where each comes from): the 1-day window (a
//! longer one is split), the 14-day history (clipped, [`Fetched::clipped`] says so), a page
//! size, a QPS per action, and `RequestLimitExceeded*` retried with backoff.

use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http_body_util::Full;
use hyper::Request;
use serde::Deserialize;

use crate::event::Provider;
use crate::reconcile::error::{ReconcileError, Redactor};
use crate::reconcile::sign::tc3;
use crate::reconcile::transport::{
    self, lenient_i64, text_1k, text_64k, text_8k, Backoff, ClassifyWords, Endpoint, HttpClient,
    RateLimiter, SendError,
};
use crate::reconcile::window;
use crate::reconcile::{Fetched, Page, Pager, Paging};

/// The API version.
pub const VERSION: &str = "2018-08-01";
/// The service name in the credential scope.
pub const SERVICE: &str = "live";
/// The default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://live.tencentcloudapi.com";

/// `DescribeCallbackRecordsList`.
pub const CALLBACK_RECORDS: &str = "DescribeCallbackRecordsList";
/// "The span between StartTime and EndTime cannot exceed 1 day" (查询的起始和结束时间跨度不支持超过1天:
/// the SDK's `DescribeCallbackRecordsListRequest.EndTime` comment, the API reference).
pub const CALLBACK_RECORDS_MAX_SPAN: Duration = Duration::days(1);
/// "Only the last 14 days can be queried" (仅支持查询最近14天的数据, same sources).
pub const CALLBACK_RECORDS_HISTORY: Duration = Duration::days(14);
/// Page size: no range is documented for this action (the SDK says only "每页条数"); 100 is
/// the maximum of its sibling list APIs (`DescribeLiveStreamEventList`), a conservative guess.
pub const CALLBACK_RECORDS_PAGE_SIZE: u32 = 100;
/// No highest PageNum is documented; the sibling APIs accept up to 10,000.
pub const CALLBACK_RECORDS_MAX_PAGE: u32 = 10_000;
/// QPS: not documented for this action; Tencent Cloud's default per-API limit is 20 requests
/// per second; recmon uses 10 (conservative).
pub const CALLBACK_RECORDS_QPS: u32 = 10;

/// The environment variables of the credentials (the provider's CLI and SDK names).
pub const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
/// The secret key's variable.
pub const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
/// The temporary credentials' token variable.
pub const ENV_SESSION_TOKEN: &str = "TENCENTCLOUD_SESSION_TOKEN";

/// A SecretId and SecretKey (and a session token). Its `Debug` shows the id only.
#[derive(Clone)]
pub struct Credentials {
    secret_id: String,
    secret_key: String,
    token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &"***")
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// Credentials from values.
    pub fn new(
        secret_id: impl Into<String>,
        secret_key: impl Into<String>,
        token: Option<String>,
    ) -> Self {
        Credentials {
            secret_id: secret_id.into(),
            secret_key: secret_key.into(),
            token: token.filter(|t| !t.is_empty()),
        }
    }

    /// From `TENCENTCLOUD_SECRET_ID`, `_SECRET_KEY` and `_SESSION_TOKEN`: `Ok(None)` when
    /// neither the id nor the key is set, an error when only one of them is.
    pub fn from_env() -> Result<Option<Credentials>, ReconcileError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get(ENV_SECRET_ID), get(ENV_SECRET_KEY)) {
            (None, None) => Ok(None),
            (Some(id), Some(key)) => Ok(Some(Credentials::new(id, key, get(ENV_SESSION_TOKEN)))),
            (Some(_), None) => Err(ReconcileError::MissingCredentials {
                provider: Provider::Tencent,
                detail: format!("{ENV_SECRET_ID} is set but {ENV_SECRET_KEY} is not"),
            }),
            (None, Some(_)) => Err(ReconcileError::MissingCredentials {
                provider: Provider::Tencent,
                detail: format!("{ENV_SECRET_KEY} is set but {ENV_SECRET_ID} is not"),
            }),
        }
    }

    /// The SecretId (not a secret).
    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    fn redactor(&self) -> Redactor {
        Redactor::new(
            [Some(self.secret_key.clone()), self.token.clone()]
                .into_iter()
                .flatten(),
        )
    }
}

/// How the client talks to the API.
#[derive(Clone, Debug)]
pub struct Config {
    /// `https://live.tencentcloudapi.com` by default; `http://` allowed.
    pub endpoint: String,
    /// `X-TC-Region`, when set (CSS does not need one).
    pub region: Option<String>,
    /// Per request: connect, send, read the answer.
    pub timeout: StdDuration,
    /// Retries on throttling and network errors.
    pub backoff: Backoff,
    /// The clock the 14-day history is measured from; `None`: the system clock.
    pub now: Option<DateTime<Utc>>,
    /// At most this many records per call; beyond it [`Fetched::truncated`] is set.
    pub max_records: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            region: None,
            timeout: StdDuration::from_secs(20),
            backoff: Backoff::default(),
            now: None,
            max_records: 500_000,
        }
    }
}

/// One callback Tencent sent (`CallbackEventInfo`). Untrusted text: capped, never logged.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct CallbackRecord {
    /// When it was sent, as Tencent wrote it (`YYYY-MM-DDThh:mm:ssZ`, or
    /// `YYYY-MM-DD hh:mm:ss` Beijing time).
    #[serde(rename = "EventTime", deserialize_with = "text_1k")]
    pub event_time: String,
    /// 0 stream stopped, 1 stream started, 100 recording, 200 snapshot.
    #[serde(rename = "EventType", deserialize_with = "lenient_i64")]
    pub event_type: Option<i64>,
    /// The body sent (at most 64 KiB kept).
    #[serde(rename = "Request", deserialize_with = "text_64k")]
    pub request: String,
    /// The answer it got (at most 64 KiB kept).
    #[serde(rename = "Response", deserialize_with = "text_64k")]
    pub response: String,
    /// When the answer came.
    #[serde(rename = "ResponseTime", deserialize_with = "text_1k")]
    pub response_time: String,
    /// 0: success; anything else failed.
    #[serde(rename = "ResultCode", deserialize_with = "lenient_i64")]
    pub result_code: Option<i64>,
    /// The stream.
    #[serde(rename = "StreamId", deserialize_with = "text_1k")]
    pub stream_id: String,
}

impl CallbackRecord {
    /// `event_time` read (either documented form).
    pub fn at(&self) -> Option<DateTime<Utc>> {
        window::parse_time(&self.event_time, 8)
    }

    /// True when Tencent saw the callback answered successfully.
    pub fn succeeded(&self) -> bool {
        self.result_code == Some(0)
    }
}

/// `DescribeCallbackRecordsList`'s stream, filters and window.
#[derive(Clone, Debug)]
pub struct CallbackRecordsQuery {
    /// The stream (exact match; required by the API).
    pub stream: String,
    /// Only this event type (0, 1, 100, 200).
    pub event_type: Option<i64>,
    /// Only this result (0 success).
    pub result_code: Option<i64>,
    /// From (inclusive).
    pub start: DateTime<Utc>,
    /// To (inclusive).
    pub end: DateTime<Utc>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Envelope {
    #[serde(rename = "Response")]
    response: Option<ResponseBody>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseBody {
    #[serde(rename = "Error")]
    error: Option<ApiError>,
    #[serde(rename = "DataInfoList")]
    data_info_list: Option<Vec<CallbackRecord>>,
    #[serde(rename = "TotalNum", deserialize_with = "lenient_i64")]
    total_num: Option<i64>,
    #[serde(rename = "TotalPage", deserialize_with = "lenient_i64")]
    total_page: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ApiError {
    #[serde(rename = "Code", deserialize_with = "text_1k")]
    code: String,
    #[serde(rename = "Message", deserialize_with = "text_8k")]
    message: String,
}

fn is_throttling(status: u16, code: &str) -> bool {
    status == 429 || status == 503 || code.starts_with("RequestLimitExceeded")
}

fn is_auth(status: u16, code: &str) -> bool {
    status == 401
        || status == 403
        || code.starts_with("AuthFailure")
        || code == "UnauthorizedOperation"
}

/// The Tencent Cloud CSS client.
#[derive(Debug)]
pub struct Client {
    credentials: Credentials,
    redactor: Redactor,
    endpoint: Endpoint,
    http: HttpClient,
    limiter: RateLimiter,
    config: Config,
}

impl Client {
    /// A client with these credentials and settings (no request is sent yet).
    pub fn new(credentials: Credentials, config: Config) -> Result<Client, ReconcileError> {
        let endpoint = Endpoint::parse(Provider::Tencent, &config.endpoint)?;
        let http = HttpClient::new(Provider::Tencent, &endpoint, config.timeout)?;
        Ok(Client {
            redactor: credentials.redactor(),
            credentials,
            endpoint,
            http,
            limiter: RateLimiter::default(),
            config,
        })
    }

    /// The endpoint asked, `scheme://host`.
    pub fn endpoint(&self) -> String {
        self.endpoint.base()
    }

    /// Every callback Tencent sent for `q`'s stream in its window (every page of every piece).
    pub async fn callback_records(
        &self,
        q: &CallbackRecordsQuery,
    ) -> Result<Fetched<CallbackRecord>, ReconcileError> {
        let now = self.config.now.unwrap_or_else(Utc::now);
        let plan = window::plan(
            q.start,
            q.end,
            now,
            CALLBACK_RECORDS_MAX_SPAN,
            CALLBACK_RECORDS_HISTORY,
        );
        let mut out = Fetched::new(plan);
        let paging = Paging {
            page_size: CALLBACK_RECORDS_PAGE_SIZE,
            max_page: CALLBACK_RECORDS_MAX_PAGE,
            max_records: self.config.max_records,
        };
        let mut pager = Pager::new(&out.plan, paging);
        while let Some((piece, page)) = pager.next() {
            let mut params = serde_json::Map::new();
            params.insert("StartTime".into(), window::format_time(piece.start).into());
            params.insert("EndTime".into(), window::format_time(piece.end).into());
            params.insert("StreamName".into(), q.stream.clone().into());
            params.insert("PageNum".into(), page.into());
            params.insert("PageSize".into(), CALLBACK_RECORDS_PAGE_SIZE.into());
            if let Some(t) = q.event_type {
                params.insert("EventType".into(), t.into());
            }
            if let Some(c) = q.result_code {
                params.insert("ResultCode".into(), c.into());
            }
            let payload = serde_json::Value::Object(params).to_string();
            let body = self
                .call(CALLBACK_RECORDS, CALLBACK_RECORDS_QPS, payload, &mut out)
                .await?;
            let got = Page {
                items: body.data_info_list.unwrap_or_default(),
                total_num: body.total_num,
                total_page: body.total_page,
            };
            pager.take(&mut out, got, CallbackRecord::at);
        }
        Ok(out)
    }

    async fn call<U>(
        &self,
        action: &'static str,
        qps: u32,
        payload: String,
        stats: &mut Fetched<U>,
    ) -> Result<ResponseBody, ReconcileError> {
        let backoff = self.config.backoff;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.limiter.acquire(action, qps).await;
            stats.requests += 1;
            let req = self.request(action, &payload)?;
            let failure = match self.http.send(req).await {
                Ok(answer) => {
                    let status = answer.status.as_u16();
                    let parsed: Result<Envelope, _> = serde_json::from_slice(&answer.body);
                    let body = match parsed {
                        Ok(Envelope {
                            response: Some(body),
                        }) => Some(body),
                        _ => None,
                    };
                    let error = body.as_ref().and_then(|b| b.error.as_ref());
                    let (code, message) = match error {
                        Some(e) => (e.code.clone(), e.message.clone()),
                        None => (String::new(), String::new()),
                    };
                    if answer.status.is_success() && error.is_none() {
                        return match body {
                            Some(b) => Ok(b),
                            None => Err(ReconcileError::BadAnswer {
                                provider: Provider::Tencent,
                                action,
                                detail: match serde_json::from_slice::<Envelope>(&answer.body) {
                                    Err(e) => {
                                        format!("not the documented JSON ({})", e.classify_words())
                                    }
                                    Ok(_) => "no Response object".to_string(),
                                },
                            }),
                        };
                    }
                    if is_throttling(status, &code) {
                        ReconcileError::Throttled {
                            provider: Provider::Tencent,
                            action,
                            attempts: attempt,
                            code: if code.is_empty() {
                                format!("HTTP {status}")
                            } else {
                                self.redactor.clean(&code)
                            },
                        }
                    } else if is_auth(status, &code) {
                        return Err(ReconcileError::Auth {
                            provider: Provider::Tencent,
                            status,
                            code: self.redactor.clean(&code),
                            message: self.redactor.clean(&message),
                        });
                    } else {
                        return Err(ReconcileError::Api {
                            provider: Provider::Tencent,
                            action,
                            status,
                            code: self.redactor.clean(&code),
                            message: self.redactor.clean(&message),
                        });
                    }
                }
                Err(SendError::Body(detail)) => {
                    return Err(ReconcileError::BadAnswer {
                        provider: Provider::Tencent,
                        action,
                        detail,
                    })
                }
                Err(SendError::Network(detail)) => ReconcileError::Unreachable {
                    provider: Provider::Tencent,
                    endpoint: self.endpoint.base(),
                    detail: self.redactor.clean(&detail),
                },
            };
            if attempt >= backoff.max_attempts {
                return Err(failure);
            }
            stats.retries += 1;
            tokio::time::sleep(transport::jitter(backoff.delay(attempt, None))).await;
        }
    }

    fn request(
        &self,
        action: &'static str,
        payload: &str,
    ) -> Result<Request<Full<Bytes>>, ReconcileError> {
        let timestamp = Utc::now().timestamp();
        let signed = tc3::sign(
            &tc3::Request {
                host: &self.endpoint.host,
                content_type: tc3::JSON_CONTENT_TYPE,
                payload: payload.as_bytes(),
                timestamp,
                service: SERVICE,
            },
            &self.credentials.secret_id,
            &self.credentials.secret_key,
        );
        let mut builder = Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint.base()))
            .header("host", self.endpoint.host.as_str())
            .header("content-type", tc3::JSON_CONTENT_TYPE)
            .header("authorization", signed.authorization)
            .header("user-agent", concat!("recmon/", env!("CARGO_PKG_VERSION")));
        for (k, v) in tc3::headers(
            action,
            VERSION,
            timestamp,
            self.config.region.as_deref(),
            self.credentials.token.as_deref(),
        ) {
            builder = builder.header(k, v);
        }
        builder
            .body(Full::new(Bytes::from(payload.to_string())))
            .map_err(|_| ReconcileError::BadEndpoint {
                provider: Provider::Tencent,
                detail: "a request header could not be built (a credential or the region holds a character HTTP does not allow)".to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let c = Credentials::new("SID", "KEY-XYZ", Some("TOK-XYZ".to_string()));
        let d = format!("{c:?}");
        assert!(d.contains("SID") && !d.contains("KEY-XYZ") && !d.contains("TOK-XYZ"));
    }

    #[test]
    fn answers_and_errors_are_read() {
        let ok = serde_json::json!({"Response": {"DataInfoList": [{
            "EventTime": "2026-01-10 18:00:00", "EventType": 100, "Request": "{}",
            "Response": "ok", "ResponseTime": "2026-01-10 18:00:01", "ResultCode": 0,
            "StreamId": "s1"}], "TotalNum": 1, "TotalPage": 1, "RequestId": "r"}});
        let e: Envelope = serde_json::from_value(ok).unwrap();
        let list = e.response.unwrap().data_info_list.unwrap();
        assert!(list[0].succeeded());
        assert_eq!(list[0].at(), window::parse_time("2026-01-10T10:00:00Z", 0));
        let err = serde_json::json!({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure",
            "Message": "m"}, "RequestId": "r"}});
        let e: Envelope = serde_json::from_value(err).unwrap();
        let code = e.response.unwrap().error.unwrap().code;
        assert!(is_auth(200, &code));
        assert!(is_throttling(200, "RequestLimitExceeded.UinLimitExceeded"));
    }
}
