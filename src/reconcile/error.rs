//! What can go wrong asking a provider for its records, typed, in words that never hold a
//! secret: every text that comes from the provider passes [`Redactor::clean`] (the client's
//! own secrets replaced, control characters escaped, the length capped) before it is kept.

use std::fmt;

use crate::event::Provider;
use crate::util::sanitize;

/// Provider text kept in an error, at most (characters).
pub const ERROR_TEXT_MAX: usize = 300;

/// Why a reconcile request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReconcileError {
    /// The credentials are not in the environment (or only half of them are).
    MissingCredentials {
        /// Whose.
        provider: Provider,
        /// What is missing, in words (the variable names).
        detail: String,
    },
    /// The endpoint URL cannot be used.
    BadEndpoint {
        /// Whose.
        provider: Provider,
        /// Why, in words.
        detail: String,
    },
    /// The provider refused the credentials or the signature (HTTP 403, `InvalidAccessKeyId*`,
    /// `SignatureDoesNotMatch`, `AuthFailure*`, ...).
    Auth {
        /// Whose.
        provider: Provider,
        /// The HTTP status.
        status: u16,
        /// The provider's error code.
        code: String,
        /// The provider's message, cleaned.
        message: String,
    },
    /// Still throttled after every retry.
    Throttled {
        /// Whose.
        provider: Provider,
        /// Which action.
        action: &'static str,
        /// Requests sent for this call, the retries included.
        attempts: u32,
        /// The provider's last error code.
        code: String,
    },
    /// Another error answer from the provider (a parameter it refused, a server error).
    Api {
        /// Whose.
        provider: Provider,
        /// Which action.
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The provider's error code.
        code: String,
        /// The provider's message, cleaned.
        message: String,
    },
    /// The answer could not be read: not JSON, not the documented shape, too large.
    BadAnswer {
        /// Whose.
        provider: Provider,
        /// Which action.
        action: &'static str,
        /// What was wrong, in words.
        detail: String,
    },
    /// No answer: the connection failed or the request timed out (after the retries).
    Unreachable {
        /// Whose.
        provider: Provider,
        /// The endpoint asked (scheme, host and port; never a credential).
        endpoint: String,
        /// Why, in words.
        detail: String,
    },
}

fn provider_name(p: Provider) -> &'static str {
    match p {
        Provider::Aliyun => "ApsaraVideo Live OpenAPI",
        Provider::Tencent => "Tencent Cloud CSS API",
        Provider::NginxRtmp => "nginx-rtmp",
        Provider::Srs => "SRS",
    }
}

/// `HTTP 400, Code: message`, leaving out what the provider did not say.
fn answer_words(status: u16, code: &str, message: &str) -> String {
    let mut s = format!("HTTP {status}");
    if !code.is_empty() {
        s.push_str(", ");
        s.push_str(code);
    }
    if !message.is_empty() {
        s.push_str(if code.is_empty() { ", " } else { ": " });
        s.push_str(message);
    }
    s
}

impl fmt::Display for ReconcileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReconcileError::MissingCredentials { provider, detail } => {
                write!(f, "{}: no credentials: {detail}", provider_name(*provider))
            }
            ReconcileError::BadEndpoint { provider, detail } => {
                write!(f, "{}: bad endpoint: {detail}", provider_name(*provider))
            }
            ReconcileError::Auth {
                provider,
                status,
                code,
                message,
            } => write!(
                f,
                "{}: the credentials were refused ({}); check the access key id and secret, and that the key may call this action",
                provider_name(*provider),
                answer_words(*status, code, message)
            ),
            ReconcileError::Throttled {
                provider,
                action,
                attempts,
                code,
            } => write!(
                f,
                "{}: {action} still throttled after {attempts} attempts ({code}); try again later",
                provider_name(*provider)
            ),
            ReconcileError::Api {
                provider,
                action,
                status,
                code,
                message,
            } => write!(
                f,
                "{}: {action} failed ({})",
                provider_name(*provider),
                answer_words(*status, code, message)
            ),
            ReconcileError::BadAnswer {
                provider,
                action,
                detail,
            } => write!(
                f,
                "{}: {action}: unreadable answer: {detail}",
                provider_name(*provider)
            ),
            ReconcileError::Unreachable {
                provider,
                endpoint,
                detail,
            } => write!(
                f,
                "{}: cannot reach {endpoint}: {detail}",
                provider_name(*provider)
            ),
        }
    }
}

impl std::error::Error for ReconcileError {}

impl ReconcileError {
    /// True for [`ReconcileError::Auth`].
    pub fn is_auth(&self) -> bool {
        matches!(self, ReconcileError::Auth { .. })
    }

    /// True for [`ReconcileError::Throttled`].
    pub fn is_throttled(&self) -> bool {
        matches!(self, ReconcileError::Throttled { .. })
    }
}

/// Cleans provider text before it is kept: the client's secrets (and tokens) replaced by
/// `***`, control and bidi characters escaped, the length capped.
#[derive(Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Redactor({} secrets)", self.secrets.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub fn new<I: IntoIterator<Item = String>>(secrets: I) -> Self {
        Redactor {
            secrets: secrets.into_iter().filter(|s| !s.is_empty()).collect(),
        }
    }

    /// `text` with every secret replaced, escaped for a terminal and cut to `max` characters.
    pub fn clean_to(&self, text: &str, max: usize) -> String {
        let mut s = text.to_string();
        for secret in &self.secrets {
            if s.contains(secret.as_str()) {
                s = s.replace(secret.as_str(), "***");
            }
        }
        sanitize::terminal(&s, max).into_owned()
    }

    /// [`Redactor::clean_to`] with [`ERROR_TEXT_MAX`].
    pub fn clean(&self, text: &str) -> String {
        self.clean_to(text, ERROR_TEXT_MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_hides_secrets_and_escapes() {
        let r = Redactor::new(["s3cr3t".to_string(), String::new()]);
        assert_eq!(r.clean("a s3cr3t b\x1b[31m"), "a *** b\\x1b[31m");
        assert!(r.clean(&"x".repeat(1000)).chars().count() <= ERROR_TEXT_MAX + 1);
        assert!(!format!("{r:?}").contains("s3cr3t"));
    }

    #[test]
    fn answer_words_leave_out_what_is_missing() {
        assert_eq!(answer_words(502, "", ""), "HTTP 502");
        assert_eq!(answer_words(400, "X", ""), "HTTP 400, X");
        assert_eq!(answer_words(400, "X", "m"), "HTTP 400, X: m");
        assert_eq!(answer_words(400, "", "m"), "HTTP 400, m");
    }
}
