//! The ApsaraVideo Live OpenAPI client (version 2016-11-01, RPC style, ACS3-HMAC-SHA256):
//! the recording callbacks the provider sent (`DescribeLiveRecordNotifyRecords`), the recording
//! files that exist (`DescribeLiveStreamRecordIndexFiles`) and where callbacks go
//! (`DescribeLiveRecordNotifyConfig`).
//!
//! Requests are sent as the SDK (`alibabacloud_live20161101`, `alibabacloud_tea_openapi`'s
//! `do_request`) sends them: `POST /` with the action's parameters in the query string and no
//! body, signed over `host` and every `x-acs-*` header.
//!
//! Limits respected (each action's constants below say where they come from): page sizes, the
//! longest window per request (a longer one is split), how far back history goes (the window
//! is clipped and [`Fetched::clipped`] says so), the QPS per action (a limiter per action),
//! and throttling answers (`Throttling*`, HTTP 429/503) retried with backoff.

use std::time::Duration as StdDuration;

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use http_body_util::Full;
use hyper::Request;
use serde::Deserialize;

use crate::event::Provider;
use crate::reconcile::error::{ReconcileError, Redactor};
use crate::reconcile::sign::{acs3, EMPTY_SHA256_HEX};
use crate::reconcile::transport::ClassifyWords;
use crate::reconcile::transport::{
    self, lenient_bool, lenient_f64, lenient_i64, text_1k, text_64k, text_8k, Backoff, Endpoint,
    HttpClient, RateLimiter, SendError,
};
use crate::reconcile::window::{self, Plan, Window};
use crate::reconcile::{Fetched, Page, Pager, Paging};

/// The API version.
pub const VERSION: &str = "2016-11-01";
/// The default endpoint.
pub const DEFAULT_ENDPOINT: &str = "https://live.aliyuncs.com";

/// `DescribeLiveRecordNotifyRecords`.
pub const NOTIFY_RECORDS: &str = "DescribeLiveRecordNotifyRecords";
/// Page size used: the maximum, 500 ("Maximum value: 500. Valid values: any integer from 1 to
/// 500": the SDK's `DescribeLiveRecordNotifyRecordsRequest.page_size` comment and the API
/// reference).
pub const NOTIFY_RECORDS_PAGE_SIZE: u32 = 500;
/// The highest PageNumber accepted ("Valid values: 1 to 100000", same sources).
pub const NOTIFY_RECORDS_MAX_PAGE: u32 = 100_000;
/// History: "You can query data within the last 7 days" (the SDK's `start_time` comment, the
/// API reference).
pub const NOTIFY_RECORDS_HISTORY: Duration = Duration::days(7);
/// The longest window per request. Not documented apart from the 7-day history; recmon asks
/// for at most 1 day at a time (conservative: a few more requests, far under the QPS).
pub const NOTIFY_RECORDS_MAX_SPAN: Duration = Duration::days(1);
/// QPS: "up to 100 queries per second (QPS) per user" (the API reference,
/// help.aliyun.com …/api-live-2016-11-01-describeliverecordnotifyrecords); recmon uses half, to
/// leave room for the account's other callers.
pub const NOTIFY_RECORDS_QPS: u32 = 50;

/// `DescribeLiveStreamRecordIndexFiles`.
pub const INDEX_FILES: &str = "DescribeLiveStreamRecordIndexFiles";
/// Page size used: the maximum, 30 ("Valid values: 5 to 30. Default value: 10": the SDK's
/// `DescribeLiveStreamRecordIndexFilesRequest.page_size` comment, the API reference).
pub const INDEX_FILES_PAGE_SIZE: u32 = 30;
/// No highest PageNum is documented; recmon stops at 100,000 pages (3 million files).
pub const INDEX_FILES_MAX_PAGE: u32 = 100_000;
/// "The interval between EndTime and StartTime cannot exceed 4 days" (the SDK's `end_time`
/// comment, the API reference).
pub const INDEX_FILES_MAX_SPAN: Duration = Duration::days(4);
/// "ApsaraVideo Live stores the information about M3U8 index files for six months" (the API
/// reference's usage notes): 180 days.
pub const INDEX_FILES_HISTORY: Duration = Duration::days(180);
/// QPS: "up to 15 times per second per account" (the API reference); recmon uses 10.
pub const INDEX_FILES_QPS: u32 = 10;

/// `DescribeLiveRecordNotifyConfig`.
pub const NOTIFY_CONFIG: &str = "DescribeLiveRecordNotifyConfig";
/// QPS: "up to 50 queries per second (QPS) per user" (the API reference); recmon uses 20.
pub const NOTIFY_CONFIG_QPS: u32 = 20;

/// The environment variables of the credentials (the provider's CLI names).
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// The AccessKey secret's variable.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// The STS token's variable.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";

/// An AccessKey pair (and an STS token). Its `Debug` shows the id only.
#[derive(Clone)]
pub struct Credentials {
    access_key_id: String,
    access_key_secret: String,
    security_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("access_key_secret", &"***")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

impl Credentials {
    /// Credentials from values.
    pub fn new(
        access_key_id: impl Into<String>,
        access_key_secret: impl Into<String>,
        security_token: Option<String>,
    ) -> Self {
        Credentials {
            access_key_id: access_key_id.into(),
            access_key_secret: access_key_secret.into(),
            security_token: security_token.filter(|t| !t.is_empty()),
        }
    }

    /// From `ALIBABA_CLOUD_ACCESS_KEY_ID`, `_SECRET` and `_SECURITY_TOKEN`: `Ok(None)` when
    /// neither the id nor the secret is set, an error when only one of them is.
    pub fn from_env() -> Result<Option<Credentials>, ReconcileError> {
        let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        match (get(ENV_ACCESS_KEY_ID), get(ENV_ACCESS_KEY_SECRET)) {
            (None, None) => Ok(None),
            (Some(id), Some(secret)) => {
                Ok(Some(Credentials::new(id, secret, get(ENV_SECURITY_TOKEN))))
            }
            (Some(_), None) => Err(ReconcileError::MissingCredentials {
                provider: Provider::Aliyun,
                detail: format!("{ENV_ACCESS_KEY_ID} is set but {ENV_ACCESS_KEY_SECRET} is not"),
            }),
            (None, Some(_)) => Err(ReconcileError::MissingCredentials {
                provider: Provider::Aliyun,
                detail: format!("{ENV_ACCESS_KEY_SECRET} is set but {ENV_ACCESS_KEY_ID} is not"),
            }),
        }
    }

    /// The AccessKey id (not a secret).
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    fn redactor(&self) -> Redactor {
        Redactor::new(
            [
                Some(self.access_key_secret.clone()),
                self.security_token.clone(),
            ]
            .into_iter()
            .flatten(),
        )
    }
}

/// How the client talks to the API.
#[derive(Clone, Debug)]
pub struct Config {
    /// `https://live.aliyuncs.com` by default; `http://` allowed (tests, private endpoints).
    pub endpoint: String,
    /// Per request: connect, send, read the answer.
    pub timeout: StdDuration,
    /// Retries on throttling and network errors.
    pub backoff: Backoff,
    /// The clock the history limits are measured from; `None`: the system clock.
    pub now: Option<DateTime<Utc>>,
    /// At most this many records per call; beyond it [`Fetched::truncated`] is set.
    pub max_records: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            endpoint: DEFAULT_ENDPOINT.to_string(),
            timeout: StdDuration::from_secs(20),
            backoff: Backoff::default(),
            now: None,
            max_records: 500_000,
        }
    }
}

/// One recording callback the provider sent (`CallbackList[]`). Untrusted text: capped,
/// never logged; show it through `util::sanitize`.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NotifyRecord {
    /// The callback's kind: `file_created`, `record_started`, `record_paused`, ….
    #[serde(rename = "NotifyType", deserialize_with = "text_1k")]
    pub notify_type: String,
    /// When it was sent, `yyyy-MM-ddTHH:mm:ssZ` (UTC), as the provider wrote it.
    #[serde(rename = "NotifyTime", deserialize_with = "text_1k")]
    pub notify_time: String,
    /// Where it was sent.
    #[serde(rename = "NotifyUrl", deserialize_with = "text_8k")]
    pub notify_url: String,
    /// The body sent (at most 64 KiB kept).
    #[serde(rename = "NotifyContent", deserialize_with = "text_64k")]
    pub notify_content: String,
    /// The headers sent (at most 8 KiB kept).
    #[serde(rename = "NotifyHeader", deserialize_with = "text_8k")]
    pub notify_header: String,
    /// The answer it got (at most 64 KiB kept).
    #[serde(rename = "NotifyResponse", deserialize_with = "text_64k")]
    pub notify_response: String,
    /// `success` or `failed`.
    #[serde(rename = "NotifyResult", deserialize_with = "text_1k")]
    pub notify_result: String,
    /// `success`, or the error.
    #[serde(rename = "Description", deserialize_with = "text_8k")]
    pub description: String,
    /// The domain, as the API returns it.
    #[serde(rename = "DomainName", deserialize_with = "text_1k")]
    pub domain_name: String,
    /// The app.
    #[serde(rename = "AppName", deserialize_with = "text_1k")]
    pub app_name: String,
    /// The stream.
    #[serde(rename = "StreamName", deserialize_with = "text_1k")]
    pub stream_name: String,
    /// `oss`, `vod`.
    #[serde(rename = "StorageType", deserialize_with = "text_1k")]
    pub storage_type: String,
}

impl NotifyRecord {
    /// `notify_time` read, when it is a time.
    pub fn at(&self) -> Option<DateTime<Utc>> {
        window::parse_time(&self.notify_time, 0)
    }

    /// True when the provider saw the callback answered successfully.
    pub fn succeeded(&self) -> bool {
        self.notify_result.eq_ignore_ascii_case("success")
    }
}

/// One recording index file (`RecordIndexInfoList.RecordIndexInfo[]`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct IndexFile {
    /// The index file's id.
    #[serde(rename = "RecordId", deserialize_with = "text_1k")]
    pub record_id: String,
    /// Its URL.
    #[serde(rename = "RecordUrl", deserialize_with = "text_8k")]
    pub record_url: String,
    /// The OSS bucket.
    #[serde(rename = "OssBucket", deserialize_with = "text_1k")]
    pub oss_bucket: String,
    /// The OSS endpoint.
    #[serde(rename = "OssEndpoint", deserialize_with = "text_1k")]
    pub oss_endpoint: String,
    /// The object key (what a generation callback names as its `uri`).
    #[serde(rename = "OssObject", deserialize_with = "text_8k")]
    pub oss_object: String,
    /// Start, `yyyy-MM-ddTHH:mm:ssZ`.
    #[serde(rename = "StartTime", deserialize_with = "text_1k")]
    pub start_time: String,
    /// End.
    #[serde(rename = "EndTime", deserialize_with = "text_1k")]
    pub end_time: String,
    /// Seconds.
    #[serde(rename = "Duration", deserialize_with = "lenient_f64")]
    pub duration: Option<f64>,
    /// Pixels.
    #[serde(rename = "Width", deserialize_with = "lenient_i64")]
    pub width: Option<i64>,
    /// Pixels.
    #[serde(rename = "Height", deserialize_with = "lenient_i64")]
    pub height: Option<i64>,
    /// `m3u8`, ….
    #[serde(rename = "Format", deserialize_with = "text_1k")]
    pub format: String,
    /// When the index was created.
    #[serde(rename = "CreateTime", deserialize_with = "text_1k")]
    pub create_time: String,
    /// The domain.
    #[serde(rename = "DomainName", deserialize_with = "text_1k")]
    pub domain_name: String,
    /// The app.
    #[serde(rename = "AppName", deserialize_with = "text_1k")]
    pub app_name: String,
    /// The stream.
    #[serde(rename = "StreamName", deserialize_with = "text_1k")]
    pub stream_name: String,
}

impl IndexFile {
    /// `start_time` read.
    pub fn start(&self) -> Option<DateTime<Utc>> {
        window::parse_time(&self.start_time, 0)
    }

    /// `end_time` read.
    pub fn end(&self) -> Option<DateTime<Utc>> {
        window::parse_time(&self.end_time, 0)
    }
}

/// A domain's recording callback configuration (`LiveRecordNotifyConfig`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(default)]
pub struct NotifyConfig {
    /// The domain.
    #[serde(rename = "DomainName", deserialize_with = "text_1k")]
    pub domain_name: String,
    /// Where recording callbacks go.
    #[serde(rename = "NotifyUrl", deserialize_with = "text_8k")]
    pub notify_url: String,
    /// The on-demand recording callback.
    #[serde(rename = "OnDemandUrl", deserialize_with = "text_8k")]
    pub on_demand_url: String,
    /// Whether status callbacks are sent.
    #[serde(rename = "NeedStatusNotify", deserialize_with = "lenient_bool")]
    pub need_status_notify: Option<bool>,
    /// `yes` when callbacks are signed.
    #[serde(rename = "NotifyReqAuth", deserialize_with = "text_1k")]
    pub notify_req_auth: String,
    /// Whether an auth key is set. The key itself is a secret and is not kept.
    #[serde(rename = "NotifyAuthKey", deserialize_with = "key_is_set")]
    pub notify_auth_key_set: bool,
}

fn key_is_set<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(!text_1k(d)?.trim().is_empty())
}

/// `DescribeLiveRecordNotifyRecords`' filters and window.
#[derive(Clone, Debug)]
pub struct NotifyRecordsQuery {
    /// The streaming domain (required).
    pub domain: String,
    /// Only this app.
    pub app: Option<String>,
    /// Only this stream.
    pub stream: Option<String>,
    /// Only `success` or `failed` callbacks.
    pub status: Option<String>,
    /// From (inclusive).
    pub start: DateTime<Utc>,
    /// To (inclusive).
    pub end: DateTime<Utc>,
}

/// `DescribeLiveStreamRecordIndexFiles`' stream and window.
#[derive(Clone, Debug)]
pub struct IndexFilesQuery {
    /// The streaming domain.
    pub domain: String,
    /// The app.
    pub app: String,
    /// The stream.
    pub stream: String,
    /// From (inclusive).
    pub start: DateTime<Utc>,
    /// To (inclusive).
    pub end: DateTime<Utc>,
}

/// The ApsaraVideo Live OpenAPI client.
#[derive(Debug)]
pub struct Client {
    credentials: Credentials,
    redactor: Redactor,
    endpoint: Endpoint,
    http: HttpClient,
    limiter: RateLimiter,
    config: Config,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "Code", alias = "code", default, deserialize_with = "text_1k")]
    code: String,
    #[serde(
        rename = "Message",
        alias = "message",
        default,
        deserialize_with = "text_8k"
    )]
    message: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NotifyRecordsBody {
    #[serde(rename = "CallbackList")]
    callback_list: Option<Vec<NotifyRecord>>,
    #[serde(rename = "TotalNum", deserialize_with = "lenient_i64")]
    total_num: Option<i64>,
    #[serde(rename = "TotalPage", deserialize_with = "lenient_i64")]
    total_page: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IndexFilesBody {
    #[serde(rename = "RecordIndexInfoList")]
    list: Option<IndexInfoList>,
    #[serde(rename = "TotalNum", deserialize_with = "lenient_i64")]
    total_num: Option<i64>,
    #[serde(rename = "TotalPage", deserialize_with = "lenient_i64")]
    total_page: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IndexInfoList {
    #[serde(rename = "RecordIndexInfo")]
    items: Vec<IndexFile>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NotifyConfigBody {
    #[serde(rename = "LiveRecordNotifyConfig")]
    config: Option<NotifyConfig>,
}

fn is_throttling(status: u16, code: &str) -> bool {
    status == 429 || status == 503 || code.starts_with("Throttling") || code == "ServiceUnavailable"
}

fn is_auth(status: u16, code: &str) -> bool {
    status == 401
        || status == 403
        || code.starts_with("InvalidAccessKeyId")
        || code == "SignatureDoesNotMatch"
        || code == "IncompleteSignature"
        || code.starts_with("InvalidSecurityToken")
        || code == "Forbidden.RAM"
        || code.starts_with("Forbidden")
        || code == "NoPermission"
}

impl Client {
    /// A client with these credentials and settings (no request is sent yet).
    pub fn new(credentials: Credentials, config: Config) -> Result<Client, ReconcileError> {
        let endpoint = Endpoint::parse(Provider::Aliyun, &config.endpoint)?;
        let http = HttpClient::new(Provider::Aliyun, &endpoint, config.timeout)?;
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

    fn now(&self) -> DateTime<Utc> {
        self.config.now.unwrap_or_else(Utc::now)
    }

    /// Every recording callback the provider sent for `q` (all pages of every window piece).
    pub async fn notify_records(
        &self,
        q: &NotifyRecordsQuery,
    ) -> Result<Fetched<NotifyRecord>, ReconcileError> {
        let plan = window::plan(
            q.start,
            q.end,
            self.now(),
            NOTIFY_RECORDS_MAX_SPAN,
            NOTIFY_RECORDS_HISTORY,
        );
        let mut out = Fetched::new(plan);
        let paging = Paging {
            page_size: NOTIFY_RECORDS_PAGE_SIZE,
            max_page: NOTIFY_RECORDS_MAX_PAGE,
            max_records: self.config.max_records,
        };
        let mut pager = Pager::new(&out.plan, paging);
        while let Some((piece, page)) = pager.next() {
            let mut params = vec![
                ("DomainName", q.domain.clone()),
                ("StartTime", window::format_time(piece.start)),
                ("EndTime", window::format_time(piece.end)),
                ("PageNumber", page.to_string()),
                ("PageSize", NOTIFY_RECORDS_PAGE_SIZE.to_string()),
            ];
            push_opt(&mut params, "AppName", &q.app);
            push_opt(&mut params, "StreamName", &q.stream);
            push_opt(&mut params, "Status", &q.status);
            let body: NotifyRecordsBody = self
                .call(NOTIFY_RECORDS, NOTIFY_RECORDS_QPS, &params, &mut out)
                .await?;
            let got = Page {
                items: body.callback_list.unwrap_or_default(),
                total_num: body.total_num,
                total_page: body.total_page,
            };
            pager.take(&mut out, got, NotifyRecord::at);
        }
        Ok(out)
    }

    /// Every recording index file of one stream in `q`'s window.
    pub async fn index_files(
        &self,
        q: &IndexFilesQuery,
    ) -> Result<Fetched<IndexFile>, ReconcileError> {
        let plan = window::plan(
            q.start,
            q.end,
            self.now(),
            INDEX_FILES_MAX_SPAN,
            INDEX_FILES_HISTORY,
        );
        let mut out = Fetched::new(plan);
        let paging = Paging {
            page_size: INDEX_FILES_PAGE_SIZE,
            max_page: INDEX_FILES_MAX_PAGE,
            max_records: self.config.max_records,
        };
        let mut pager = Pager::new(&out.plan, paging);
        while let Some((piece, page)) = pager.next() {
            let params = vec![
                ("DomainName", q.domain.clone()),
                ("AppName", q.app.clone()),
                ("StreamName", q.stream.clone()),
                ("StartTime", window::format_time(piece.start)),
                ("EndTime", window::format_time(piece.end)),
                ("PageNum", page.to_string()),
                ("PageSize", INDEX_FILES_PAGE_SIZE.to_string()),
                ("Order", "asc".to_string()),
            ];
            let body: IndexFilesBody = self
                .call(INDEX_FILES, INDEX_FILES_QPS, &params, &mut out)
                .await?;
            let got = Page {
                items: body.list.map(|l| l.items).unwrap_or_default(),
                total_num: body.total_num,
                total_page: body.total_page,
            };
            pager.take(&mut out, got, IndexFile::start);
        }
        Ok(out)
    }

    /// The domain's recording callback configuration; `None` when it has none.
    pub async fn notify_config(
        &self,
        domain: &str,
    ) -> Result<Option<NotifyConfig>, ReconcileError> {
        let params = vec![("DomainName", domain.to_string())];
        let mut stats = Fetched::<()>::new(Plan {
            requested: Window {
                start: DateTime::UNIX_EPOCH,
                end: DateTime::UNIX_EPOCH,
            },
            pieces: Vec::new(),
            clipped: None,
        });
        let body: NotifyConfigBody = self
            .call(NOTIFY_CONFIG, NOTIFY_CONFIG_QPS, &params, &mut stats)
            .await?;
        Ok(body.config)
    }

    /// One action, signed, rate-limited, retried on throttling and network errors, its
    /// answer read into `T`.
    async fn call<T: serde::de::DeserializeOwned, U>(
        &self,
        action: &'static str,
        qps: u32,
        params: &[(&str, String)],
        stats: &mut Fetched<U>,
    ) -> Result<T, ReconcileError> {
        let query: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let backoff = self.config.backoff;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            self.limiter.acquire(action, qps).await;
            stats.requests += 1;
            let req = self.request(action, &query)?;
            let (retry_hint, failure) = match self.http.send(req).await {
                Ok(answer) => {
                    let status = answer.status.as_u16();
                    if answer.status.is_success() {
                        return serde_json::from_slice::<T>(&answer.body).map_err(|e| {
                            ReconcileError::BadAnswer {
                                provider: Provider::Aliyun,
                                action,
                                detail: format!("not the documented JSON ({})", e.classify_words()),
                            }
                        });
                    }
                    let err: ErrorBody =
                        serde_json::from_slice(&answer.body).unwrap_or(ErrorBody {
                            code: String::new(),
                            message: String::new(),
                        });
                    let code = self.redactor.clean(&err.code);
                    let message = self.redactor.clean(&err.message);
                    if is_throttling(status, &err.code) {
                        let hint = answer
                            .headers
                            .get("x-acs-retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.trim().parse::<u64>().ok())
                            .filter(|&ms| ms > 0)
                            // The SDK reads x-acs-retry-after as milliseconds.
                            .map(StdDuration::from_millis);
                        let code = if code.is_empty() {
                            format!("HTTP {status}")
                        } else {
                            code
                        };
                        (
                            hint,
                            ReconcileError::Throttled {
                                provider: Provider::Aliyun,
                                action,
                                attempts: attempt,
                                code,
                            },
                        )
                    } else if is_auth(status, &err.code) {
                        return Err(ReconcileError::Auth {
                            provider: Provider::Aliyun,
                            status,
                            code,
                            message,
                        });
                    } else {
                        return Err(ReconcileError::Api {
                            provider: Provider::Aliyun,
                            action,
                            status,
                            code,
                            message,
                        });
                    }
                }
                Err(SendError::Body(detail)) => {
                    return Err(ReconcileError::BadAnswer {
                        provider: Provider::Aliyun,
                        action,
                        detail,
                    })
                }
                Err(SendError::Network(detail)) => (
                    None,
                    ReconcileError::Unreachable {
                        provider: Provider::Aliyun,
                        endpoint: self.endpoint.base(),
                        detail: self.redactor.clean(&detail),
                    },
                ),
            };
            if attempt >= backoff.max_attempts {
                return Err(failure);
            }
            stats.retries += 1;
            let delay = match retry_hint {
                Some(h) => backoff.delay(attempt, Some(h)),
                None => transport::jitter(backoff.delay(attempt, None)),
            };
            tokio::time::sleep(delay).await;
        }
    }

    /// The signed request for one action (a fresh date and nonce each time).
    fn request(
        &self,
        action: &'static str,
        query: &[(String, String)],
    ) -> Result<Request<Full<Bytes>>, ReconcileError> {
        let date = acs3::date(Utc::now().timestamp());
        let nonce = transport::nonce();
        let headers = acs3::headers(&acs3::HeaderValues {
            host: &self.endpoint.host,
            action,
            version: VERSION,
            date: &date,
            nonce: &nonce,
            content_sha256: EMPTY_SHA256_HEX,
            access_key_id: &self.credentials.access_key_id,
            security_token: self.credentials.security_token.as_deref(),
        });
        let signed = acs3::sign(
            &acs3::Request {
                method: "POST",
                path: "/",
                query,
                headers: &headers,
                payload_sha256_hex: EMPTY_SHA256_HEX,
            },
            &self.credentials.access_key_id,
            &self.credentials.access_key_secret,
        );
        let uri = format!("{}/?{}", self.endpoint.base(), acs3::wire_query(query));
        let mut builder = Request::builder().method("POST").uri(uri);
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder
            .header("authorization", signed.authorization)
            .header("accept", "application/json")
            .header("user-agent", concat!("recmon/", env!("CARGO_PKG_VERSION")))
            .body(Full::new(Bytes::new()))
            .map_err(|_| ReconcileError::BadEndpoint {
                provider: Provider::Aliyun,
                detail: "a request header could not be built (a credential or parameter holds a character HTTP does not allow)".to_string(),
            })
    }
}

fn push_opt(params: &mut Vec<(&'static str, String)>, name: &'static str, v: &Option<String>) {
    if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
        params.push((name, v.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let c = Credentials::new("AKID", "SECRET-XYZ", Some("TOKEN-XYZ".to_string()));
        let d = format!("{c:?}");
        assert!(d.contains("AKID"));
        assert!(!d.contains("SECRET-XYZ"));
        assert!(!d.contains("TOKEN-XYZ"));
    }

    #[test]
    fn records_are_read_leniently_and_capped() {
        let big = "x".repeat(100_000);
        let json = serde_json::json!({
            "CallbackList": [{
                "NotifyType": "file_created", "NotifyTime": "2026-01-10T10:00:00Z",
                "NotifyUrl": "http://r/cb", "NotifyContent": big, "NotifyResult": "success",
                "DomainName": "example.com", "Unknown": 1
            }, {"NotifyResult": null}],
            "TotalNum": "2", "TotalPage": 1, "PageNum": 1, "PageSize": 500
        });
        let body: NotifyRecordsBody = serde_json::from_value(json).unwrap();
        let list = body.callback_list.unwrap();
        assert_eq!(list[0].notify_content.len(), 64 * 1024);
        assert!(list[0].succeeded());
        assert_eq!(list[0].at(), window::parse_time("2026-01-10T10:00:00Z", 0));
        assert_eq!(list[1].notify_result, "");
        assert_eq!(body.total_num, Some(2));
    }

    #[test]
    fn the_config_keeps_no_auth_key() {
        let json = serde_json::json!({"LiveRecordNotifyConfig": {
            "DomainName": "example.com", "NotifyUrl": "http://r/cb", "NeedStatusNotify": "true",
            "NotifyReqAuth": "yes", "NotifyAuthKey": "very-secret-key"
        }});
        let body: NotifyConfigBody = serde_json::from_value(json).unwrap();
        let c = body.config.unwrap();
        assert!(c.notify_auth_key_set);
        assert_eq!(c.need_status_notify, Some(true));
        assert!(!format!("{c:?}").contains("very-secret-key"));
    }

    #[test]
    fn error_kinds() {
        assert!(is_throttling(400, "Throttling.User"));
        assert!(is_throttling(503, ""));
        assert!(is_throttling(429, "X"));
        assert!(!is_throttling(400, "InvalidParameter"));
        assert!(is_auth(404, "InvalidAccessKeyId.NotFound"));
        assert!(is_auth(400, "SignatureDoesNotMatch"));
        assert!(is_auth(403, "Whatever"));
        assert!(!is_auth(400, "InvalidStartTime.ValueNotSupported"));
    }
}
