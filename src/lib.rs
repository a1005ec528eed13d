//! recmon: receive the recording callbacks of ApsaraVideo Live, nginx-rtmp, SRS and Tencent
//! Cloud, journal every request, and watch the streams live.
//!
//! Data flows one way, and the folders follow it:
//! - [`server`]: the HTTP listener (and the API it serves: `/api/state`, `/api/events`);
//! - [`providers`]: pure classification of one request into a domain [`event`], one module per
//!   provider, and how each sender must be answered;
//! - [`core`]: the sequencer decides and journals each request, applies it to the one
//!   [`core::store`], and publishes it on the ordered [`core::feed`];
//! - [`forward`]: passes each committed callback on to the user's backends (`--forward-to`),
//!   the journal being its outbox;
//! - [`alerting`]: evaluates the alert rules over the store once a second and tells a human;
//! - [`service`]: starts all of the above from a config and hands out subscriber handles;
//! - [`views`]: the terminal UI and the headless printer, subscribers of a service (or of
//!   [`attach`], which follows a remote service's feed);
//! - [`tools`]: export, replay, simulate, load generation: clients of journals and listeners.
//!
//! No module imports from a folder above it in this list's data flow: `core` knows nothing of
//! the server or the views, and `providers` and `event` know nothing of the core.

pub mod alerting;
pub mod attach;
pub mod cli;
pub mod core;
pub mod describe;
pub mod error;
pub mod event;
pub mod forward;
pub mod providers;
pub mod reconcile;
pub mod reconciler;
pub mod server;
pub mod service;
pub mod signals;
pub mod tools;
pub mod util;
pub mod verifier;
pub mod verify;
pub mod views;
