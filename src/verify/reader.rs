//! The [`RangeSource`] on Apache OpenDAL: one crate for OSS, COS, S3, local files and HTTP.
//!
//! Credentials come from each cloud's standard environment variables only, read once into
//! [`Credentials`] (whose `Debug` says which are set, never what they are):
//! `ALIBABA_CLOUD_ACCESS_KEY_ID` / `_SECRET` / `_SECURITY_TOKEN` for `oss://`,
//! `TENCENTCLOUD_SECRET_ID` / `_SECRET_KEY` / `_SESSION_TOKEN` for `cos://`, `AWS_ACCESS_KEY_ID`
//! / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (and `AWS_REGION`) for `s3://` (an `s3://`
//! endpoint on `aliyuncs.com` or `myqcloud.com` falls back to that cloud's variables). No
//! profile file, no instance metadata. Errors become typed reasons ([`ReadError`]): no text
//! of the store's answer, so no secret, can reach a message.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::time::Duration;

use opendal::{services, ErrorKind, Operator};

use super::location::{Bucket, Store, Target};
use super::media::{RangeSource, ReadError};
use super::verdict::Unchecked;

/// How long one request (a stat or a range read) may take before it is `unchecked: timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One cloud's key pair (and session token).
#[derive(Clone, PartialEq, Eq)]
struct Keys {
    id: String,
    secret: String,
    token: Option<String>,
}

/// The credentials found in the environment, per cloud.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    aliyun: Option<Keys>,
    tencent: Option<Keys>,
    aws: Option<Keys>,
    aws_region: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |k: &Option<Keys>| if k.is_some() { "set" } else { "unset" };
        f.debug_struct("Credentials")
            .field("aliyun", &set(&self.aliyun))
            .field("tencent", &set(&self.tencent))
            .field("aws", &set(&self.aws))
            .finish()
    }
}

impl Credentials {
    /// Reads the standard variables of this process's environment.
    pub fn from_env() -> Credentials {
        Credentials::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads them through `get` (tests pass a map).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Credentials {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        let keys = |id: &str, secret: &str, token: &str| {
            Some(Keys {
                id: get(id)?,
                secret: get(secret)?,
                token: get(token),
            })
        };
        Credentials {
            aliyun: keys(
                "ALIBABA_CLOUD_ACCESS_KEY_ID",
                "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                "ALIBABA_CLOUD_SECURITY_TOKEN",
            ),
            tencent: keys(
                "TENCENTCLOUD_SECRET_ID",
                "TENCENTCLOUD_SECRET_KEY",
                "TENCENTCLOUD_SESSION_TOKEN",
            ),
            aws: keys(
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            ),
            aws_region: get("AWS_REGION").or_else(|| get("AWS_DEFAULT_REGION")),
        }
    }
}

/// A file in a store, opened (its size known): what [`super::media::probe`] reads.
pub struct OpendalSource {
    op: Operator,
    path: String,
    size: u64,
    timeout: Duration,
}

impl fmt::Debug for OpendalSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpendalSource")
            .field("path", &self.path)
            .field("size", &self.size)
            .finish()
    }
}

/// The typed reason for an OpenDAL error (its text is never kept).
pub fn map_error(e: &opendal::Error) -> ReadError {
    match e.kind() {
        ErrorKind::NotFound | ErrorKind::IsADirectory | ErrorKind::NotADirectory => {
            ReadError::Missing
        }
        ErrorKind::PermissionDenied => ReadError::Unchecked(Unchecked::Forbidden),
        ErrorKind::RateLimited => ReadError::Unchecked(Unchecked::RateLimited),
        ErrorKind::ConfigInvalid => ReadError::Unchecked(Unchecked::BadLocation),
        _ if unreachable(e) => ReadError::Unchecked(Unchecked::Unreachable),
        _ => ReadError::Unchecked(Unchecked::StoreError),
    }
}

/// Whether the store could not be reached at all: a connection refused, reset or with no
/// route, or a name that did not resolve, anywhere in the error's causes (the HTTP client
/// wraps the socket's own error).
fn unreachable(e: &opendal::Error) -> bool {
    use std::io::ErrorKind as Io;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if matches!(
                io.kind(),
                Io::ConnectionRefused
                    | Io::ConnectionReset
                    | Io::ConnectionAborted
                    | Io::HostUnreachable
                    | Io::NetworkUnreachable
                    | Io::AddrNotAvailable
            ) {
                return true;
            }
        }
        // A name that did not resolve: the resolver's error carries no io kind of its own.
        if c.to_string().contains("dns error") {
            return true;
        }
        cause = c.source();
    }
    false
}

async fn timed<T>(
    timeout: Duration,
    f: impl IntoFuture<Output = opendal::Result<T>>,
) -> Result<T, ReadError> {
    match tokio::time::timeout(timeout, f.into_future()).await {
        Err(_) => Err(ReadError::Unchecked(Unchecked::Timeout)),
        Ok(Err(e)) => Err(map_error(&e)),
        Ok(Ok(v)) => Ok(v),
    }
}

/// The operator for a store, or why there is none.
pub fn operator(store: &Store, creds: &Credentials) -> Result<Operator, ReadError> {
    // OpenDAL's HTTP client speaks TLS through rustls; recmon uses the ring provider, and
    // installs OpenDAL's default transport itself (both first-installed-wins, so calling
    // this again is harmless).
    let _ = rustls::crypto::ring::default_provider().install_default();
    opendal_http_transport_reqwest::install_default();
    let no_creds = ReadError::Unchecked(Unchecked::NoCredentials);
    let bad = ReadError::Unchecked(Unchecked::BadLocation);
    let built = match store {
        Store::Oss(b) => {
            let keys = creds.aliyun.as_ref().ok_or(no_creds)?;
            let endpoint = b
                .endpoint
                .clone()
                .or_else(|| {
                    b.region.as_ref().map(|r| {
                        format!("https://oss-{}.aliyuncs.com", r.trim_start_matches("oss-"))
                    })
                })
                .ok_or(bad)?;
            let mut s = services::Oss::default()
                .bucket(&b.bucket)
                .endpoint(&endpoint)
                .access_key_id(&keys.id)
                .access_key_secret(&keys.secret);
            if let Some(t) = &keys.token {
                s = s.security_token(t);
            }
            Operator::new(s)
        }
        Store::Cos(b) => {
            let keys = creds.tencent.as_ref().ok_or(no_creds)?;
            let endpoint = b
                .endpoint
                .clone()
                .or_else(|| {
                    b.region
                        .as_ref()
                        .map(|r| format!("https://cos.{r}.myqcloud.com"))
                })
                .ok_or(bad)?;
            let mut s = services::Cos::default()
                .bucket(&b.bucket)
                .endpoint(&endpoint)
                .secret_id(&keys.id)
                .secret_key(&keys.secret)
                .disable_config_load();
            if let Some(t) = &keys.token {
                s = s.security_token(t);
            }
            Operator::new(s)
        }
        Store::S3(b) => Operator::new(s3(b, creds)?),
        Store::Fs(root) => {
            let root = root.to_str().ok_or(bad)?;
            Operator::new(services::Fs::default().root(root))
        }
        Store::Http(base) => Operator::new(services::Http::default().endpoint(base)),
    };
    built.map_err(|e| map_error(&e))
}

fn s3(b: &Bucket, creds: &Credentials) -> Result<services::S3, ReadError> {
    let endpoint = b
        .endpoint
        .as_deref()
        .ok_or(ReadError::Unchecked(Unchecked::BadLocation))?;
    let host = endpoint.split("://").nth(1).unwrap_or("");
    let host = host.split(['/', ':']).next().unwrap_or("");
    let keys = creds
        .aws
        .as_ref()
        .or_else(|| {
            if host.ends_with("aliyuncs.com") {
                creds.aliyun.as_ref()
            } else if host.ends_with("myqcloud.com") {
                creds.tencent.as_ref()
            } else {
                None
            }
        })
        .ok_or(ReadError::Unchecked(Unchecked::NoCredentials))?;
    let region = b
        .region
        .clone()
        .or_else(|| creds.aws_region.clone())
        .unwrap_or_else(|| "us-east-1".to_string());
    let mut s = services::S3::default()
        .bucket(&b.bucket)
        .endpoint(endpoint)
        .region(&region)
        .access_key_id(&keys.id)
        .secret_access_key(&keys.secret)
        .disable_config_load()
        .disable_ec2_metadata();
    if let Some(t) = &keys.token {
        s = s.session_token(t);
    }
    if host.ends_with("aliyuncs.com") || host.ends_with("myqcloud.com") {
        // OSS and COS answer the S3 protocol on virtual-hosted names only.
        s = s.enable_virtual_host_style();
    }
    Ok(s)
}

/// Opens the file a target names: its size, or `missing`, or why recmon could not look.
pub async fn open(
    target: &Target,
    creds: &Credentials,
    timeout: Duration,
) -> Result<OpendalSource, ReadError> {
    let op = operator(&target.store, creds)?;
    open_with(op, &target.path, timeout).await
}

/// Opens `path` through an operator the caller built.
pub async fn open_with(
    op: Operator,
    path: &str,
    timeout: Duration,
) -> Result<OpendalSource, ReadError> {
    let meta = timed(timeout, op.stat(path)).await?;
    if meta.is_dir() {
        return Err(ReadError::Missing);
    }
    Ok(OpendalSource {
        size: meta.content_length(),
        path: path.to_string(),
        op,
        timeout,
    })
}

impl OpendalSource {
    /// The path in its store.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The operator, to look at other files of the same store (an HLS playlist's segments).
    pub fn operator(&self) -> &Operator {
        &self.op
    }
}

impl RangeSource for OpendalSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn read(
        &mut self,
        offset: u64,
        len: usize,
    ) -> impl Future<Output = Result<Vec<u8>, ReadError>> + Send {
        let end = offset.saturating_add(len as u64).min(self.size);
        let op = self.op.clone();
        let path = self.path.clone();
        let timeout = self.timeout;
        async move {
            if offset >= end {
                return Ok(Vec::new());
            }
            let buf = timed(timeout, op.read_with(&path).range(offset..end)).await?;
            Ok(buf.to_vec())
        }
    }
}

/// For an HLS playlist read at `playlist` in a store: which of its segments are missing
/// (relative URIs are resolved against the playlist's directory; absolute URLs are skipped,
/// as they are in another store). Up to `limit` segments are checked with a stat each.
pub async fn missing_segments(
    op: &Operator,
    playlist: &str,
    uris: &[String],
    limit: usize,
    timeout: Duration,
) -> Result<Vec<String>, ReadError> {
    let dir = playlist.rsplit_once('/').map_or("", |(d, _)| d);
    let mut missing = Vec::new();
    for uri in uris.iter().take(limit) {
        if uri.contains("://") || uri.contains("..") {
            continue;
        }
        let uri = uri.split(['?', '#']).next().unwrap_or(uri);
        let path = if uri.starts_with('/') || dir.is_empty() {
            uri.trim_start_matches('/').to_string()
        } else {
            format!("{dir}/{uri}")
        };
        match timed(timeout, op.stat(&path)).await {
            Ok(_) => {}
            Err(ReadError::Missing) => missing.push(uri.to_string()),
            Err(e) => return Err(e),
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_nobody_listens_at_is_unreachable_not_a_store_error() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let target = Target {
            store: Store::Http(format!("http://127.0.0.1:{port}")),
            path: "live/a.flv".into(),
        };
        let got = open(&target, &Credentials::default(), DEFAULT_TIMEOUT).await;
        assert!(
            matches!(got, Err(ReadError::Unchecked(Unchecked::Unreachable))),
            "{:?}",
            got.err()
        );
    }

    #[test]
    fn credentials_debug_never_shows_a_secret() {
        let c = Credentials::from_lookup(|k| match k {
            "AWS_ACCESS_KEY_ID" => Some("AKIDEXAMPLE".into()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3cr3t-value".into()),
            _ => None,
        });
        let d = format!("{c:?}");
        assert!(!d.contains("s3cr3t") && !d.contains("AKIDEXAMPLE"), "{d}");
        assert!(d.contains("aws: \"set\""), "{d}");
    }

    #[test]
    fn no_credentials_is_unchecked() {
        let b = Bucket {
            bucket: "b".into(),
            prefix: String::new(),
            endpoint: Some("http://127.0.0.1:1".into()),
            region: None,
        };
        let none = Credentials::default();
        for store in [Store::S3(b.clone()), Store::Oss(b.clone()), Store::Cos(b)] {
            assert_eq!(
                operator(&store, &none).err(),
                Some(ReadError::Unchecked(Unchecked::NoCredentials))
            );
        }
    }
}
