//! The HTTP(S) client parts shared by everything recmon sends out (`recmon attach` following a
//! receiver, the forwarder delivering to a backend): a connector trusting the system's roots
//! plus an optional CA file, and plain words for why a request failed.

use std::sync::Arc;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::util::sanitize;

/// A connector for http and https that trusts the system's roots (for https) plus `ca_cert`.
pub fn connector(
    https: bool,
    ca_cert: Option<&std::path::Path>,
) -> Result<HttpsConnector<HttpConnector>, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(path) = ca_cert {
        let shown = sanitize::terminal(&path.to_string_lossy(), 200).into_owned();
        let pem = std::fs::read(path)
            .map_err(|e| format!("cannot read --ca-cert {shown}: {}", io_words(&e)))?;
        let mut found = 0usize;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|_| {
                format!("--ca-cert {shown} is not a valid PEM file; expected one or more -----BEGIN CERTIFICATE----- blocks")
            })?;
            roots.add(cert).map_err(|_| {
                format!("--ca-cert {shown} holds a certificate that cannot be used as a CA (it does not parse as X.509)")
            })?;
            found += 1;
        }
        if found == 0 {
            return Err(format!(
                "--ca-cert {shown} has no certificate in it; expected a PEM file with -----BEGIN CERTIFICATE----- blocks"
            ));
        }
    }
    if https {
        // Unreadable system certificates are skipped: the ones that load (and --ca-cert) still
        // work, and a receiver none of them trusts gets a clear certificate reason on connect.
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(connector)
}

/// The words for a failed request: the TLS cause when there is one, else the socket cause,
/// else the innermost message. Walks the error's causes by type, never by message text.
/// `peer` names the other side in the words ("the receiver", "the backend").
pub fn describe_error(err: &(dyn std::error::Error + 'static), peer: &str) -> String {
    let mut innermost = err;
    let mut first_io: Option<&std::io::Error> = None;
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return tls_words(tls, peer);
        }
        innermost = e;
        current = e.source();
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            // Prefer an error whose kind says what happened over a wrapper of kind Other.
            if first_io.is_none_or(|f| io_kind_words(f.kind()).is_none()) {
                first_io = Some(io);
            }
            // An io::Error's source() skips the error it wraps (hyper-rustls wraps tokio-rustls'
            // io::Error, which wraps the rustls::Error), so step into it here.
            if let Some(inner) = io.get_ref() {
                current = Some(inner as &(dyn std::error::Error + 'static));
            }
        }
    }
    match first_io {
        Some(io) => io_words(io),
        None => sanitize::terminal(&innermost.to_string(), 200).into_owned(),
    }
}

pub fn io_words(e: &std::io::Error) -> String {
    match io_kind_words(e.kind()) {
        Some(words) => words.to_string(),
        None => sanitize::terminal(&e.to_string(), 200).into_owned(),
    }
}

/// Plain words for the socket and file errors a user can act on.
fn io_kind_words(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind::*;
    Some(match kind {
        ConnectionRefused => "connection refused",
        ConnectionReset => "the connection was reset",
        ConnectionAborted => "the connection was aborted",
        TimedOut => "the connection timed out",
        UnexpectedEof => "the receiver closed the connection mid-stream",
        HostUnreachable => "the host is unreachable",
        NetworkUnreachable => "the network is unreachable",
        NotFound => "no such file",
        PermissionDenied => "permission denied",
        _ => return None,
    })
}

fn tls_words(e: &rustls::Error, peer: &str) -> String {
    use rustls::CertificateError as C;
    let cert = format!("{peer}'s TLS certificate");
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            C::UnknownIssuer => format!(
                "{cert} is not signed by an authority this machine trusts; for a private CA pass --ca-cert FILE"
            ),
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("{cert} is not valid for this host name; use the name the certificate was made for")
            }
            C::Expired | C::ExpiredContext { .. } => format!("{cert} has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("{cert} is not valid yet; check this machine's clock")
            }
            C::Revoked => format!("{cert} has been revoked"),
            C::BadSignature => format!("{cert} has a bad signature"),
            _ => format!("{cert} was refused"),
        },
        rustls::Error::AlertReceived(_) => format!("{peer} refused the TLS handshake"),
        _ => "the TLS handshake failed; is this port serving https?".to_string(),
    }
}
