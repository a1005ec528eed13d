//! recmon: receive ApsaraVideo Live recording callbacks, journal every request, and watch the
//! streams live.
//!
//! Data flows one way:
//! `server` (HTTP) → `callback` (pure classification) → `pipeline` (sequencer: journal append,
//! then store apply) → `store` (the one place state changes) → views (`headless`, the
//! terminal UI, `/api/state`).

pub mod app;
pub mod attach;
pub mod auth;
pub mod callback;
pub mod cli;
pub mod client;
pub mod conn_guard;
pub mod export;
pub mod headless;
pub mod human;
pub mod journal;
pub mod loadgen;
pub mod output;
pub mod pipeline;
pub mod progress;
pub mod replay;
pub mod sanitize;
pub mod server;
pub mod simulate;
pub mod store;
pub mod tui;
