//! The HTTP listener: takes every request, reads its body within limits, classifies it, hands
//! it to the sequencer and answers once it is journaled.
//!
//! Paths: `/healthz` and `/api/...` are recmon's own; every other path takes callbacks,
//! because the user picks the path in their NotifyUrl.
//!
//! By job: [`listener`] accepts connections and sets each up; [`handle`] takes one request;
//! [`routes`] tells recmon's own endpoints from callback paths; [`intake`] reads the headers
//! and the body within limits; [`admission`] decides, without I/O, whose callback it is,
//! whether its signature holds and what it says; [`answer`] turns the sequencer's
//! acknowledgement (or the sync backend's answer) into the HTTP response; [`reconcile`]
//! (`POST /api/reconcile`) asks the receiver's reconcile loop for a run now.

mod admission;
mod answer;
pub mod api;
mod config;
pub mod conn_guard;
mod context;
mod handle;
mod intake;
mod listener;
pub mod metrics;
mod reconcile;
mod routes;

pub use config::{ServerConfig, DEFAULT_MAX_CONNS_PER_IP, MAX_HEADERS, MAX_HEAD_BYTES};
pub use context::{ListenerCounters, Published};
pub use listener::serve;
