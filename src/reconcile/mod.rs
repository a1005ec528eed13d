//! Reconciling with the providers' own records (`recmon reconcile`): the clients of their
//! record-keeping OpenAPIs. Below the core: it imports `util`, `event` and `error` only.
//!
//! - [`sign`]: ACS3-HMAC-SHA256 and TC3-HMAC-SHA256, pure, byte for byte the SDKs' signatures.
//! - [`window`]: pure planning: a window clipped to the provider's history and split into the
//!   spans an action allows (pieces share their boundaries; a record on one counts once), paging;
//! - [`transport`]: the HTTP(S) client (a timeout per request, the answer's size capped), the
//!   per-action rate limiter, the retry backoff, capped untrusted text for the answers' structs;
//! - [`error`]: [`ReconcileError`], typed, in words that never hold a secret;
//! - [`aliyun`]: ApsaraVideo Live (2016-11-01): notify records, index files, notify config;
//! - [`tencent`]: Tencent Cloud CSS (2018-08-01): callback records.

pub mod aliyun;
pub mod error;
pub mod sign;
pub mod tencent;
pub mod transport;
pub mod window;

pub use error::ReconcileError;
use window::{Clipped, Plan};

/// What a listing call returns: the records, and how they were obtained.
#[derive(Clone, Debug)]
pub struct Fetched<T> {
    /// The records, oldest window piece first, in the provider's order within each.
    pub items: Vec<T>,
    /// The window asked for and the pieces queried.
    pub plan: Plan,
    /// Set when the window reached further back than the provider keeps history: nothing
    /// before `kept_start` could be asked for.
    pub clipped: Option<Clipped>,
    /// Requests sent, retries included.
    pub requests: u32,
    /// Retries after throttling or network errors.
    pub retries: u32,
    /// True when the client's `max_records` setting stopped the listing early.
    pub truncated: bool,
}

impl<T> Fetched<T> {
    pub(crate) fn new(plan: Plan) -> Self {
        Fetched {
            items: Vec::new(),
            clipped: plan.clipped,
            plan,
            requests: 0,
            retries: 0,
            truncated: false,
        }
    }
}
