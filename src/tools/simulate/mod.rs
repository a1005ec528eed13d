//! `recmon simulate`: realistic broadcasts against any receiver, and the `--demo` driver.
//!
//! Two halves, kept apart so that repeatability can be tested:
//! - [`Generator`] is a pure, deterministic function of [`SimParams`] (seed included): an
//!   iterator of [`SimRequest`]s on a simulated clock. No I/O, no wall clock.
//! - [`run`] paces and sends them with [`crate::tools::client`], and reports the answers.
//!
//! The model, per stream (see `docs/providers.md`, "ApsaraVideo Live callback format"): the
//! stream goes live, recording starts; recording is split into files every `cycle_s`
//! (CycleDuration); pauses come at random; a pause longer than `delay_s` (DelayTime) closes
//! the current file, a shorter one leaves it open, so that file's reported duration is shorter
//! than its span (the provider's duration/span mismatch appears naturally); durations also
//! carry jitter, sometimes over a second. A broadcast ends with its last file and the stream
//! going offline. About one callback in ten is re-sent 1 to 5 times, a second apart, as the
//! provider's retries are.
//!
//! Each provider ([`SimParams::provider`]) tells that story in its own wire format
//! (see `docs/providers.md`):
//! - ApsaraVideo Live (`aliyun`): ingest `publish` / `publish_done` GETs, JSON status
//!   (`record_started`, `record_paused`, `record_resumed`) and recording callbacks; retries.
//! - nginx-rtmp: form POSTs shaped like the captured ones: `connect`, `publish`,
//!   `update_publish` every `update_s`, a viewer or two (`connect`, `play`, `update_play`,
//!   `done`, `play_done`, `disconnect`), `record_done` with `path=/var/rec/NAME-UNIXTIME.flv`
//!   per file, then `publish_done`, `done`, `record_done` (the last file), `disconnect`.
//!   No pauses (nginx-rtmp has no such callback), no retries (nginx-rtmp never retries).
//! - SRS: JSON `http_hooks`: `on_connect`, `on_publish`, `on_hls` per ~10 s segment, `on_dvr`
//!   per file (under `cwd`), a viewer or two (`on_connect`, `on_play`, `on_stop`,
//!   `on_close`), then `on_unpublish`, `on_dvr` (the last file), `on_close`. No pauses, no
//!   retries (SRS makes one attempt).
//! - Tencent Cloud: JSON events: `1` push, `332` recording status (`record_start_succeeded`,
//!   `record_paused`, `record_resumed`, `record_ended`), `100` per file (`video_url`,
//!   `duration`, `start_time`, `end_time`, `file_size`, `file_format`), `0` push cut; retries.
//!   `t` and `sign` are added when sent ([`tencent_stamp`]): they depend on the wall clock.

//!
//! One file per job:
//! - `model.rs`: what is simulated, what a simulated callback is, and the [`Generator`]'s
//!   streams and schedule;
//! - `calls.rs`: what each provider sends at each step, written by that provider's `wire`
//!   module beside its parser ([`crate::providers::aliyun::wire`],
//!   [`crate::providers::nginx_rtmp::wire`], [`crate::providers::srs::wire`],
//!   [`crate::providers::tencent::wire`]), which round-trip tests hold to the parser;
//! - `senders.rs`: HTTP sending, pacing and tallies;
//! - `chaos.rs`: `--chaos`'s alert conditions;
//! - `demo.rs`: `--demo`'s mix and driver;
//! - `run.rs`: the command.

mod calls;
mod chaos;
mod demo;
mod model;
mod run;
mod senders;

pub use chaos::{chaos, CHAOS_RECEIVER_FLAGS};
pub use demo::{demo_description, demo_requests, run_demo, Merged, DEMO_MIX};
pub use model::{
    provider_title, retries, Generator, SimKind, SimParams, SimRequest, DEFAULT_EPOCH,
};
pub use run::run;
pub use senders::{run_requests, Pacing, Senders, SentSummary};

pub use crate::providers::srs::wire::USER_AGENT as SRS_USER_AGENT;
pub use crate::providers::tencent::wire::{
    stamp as tencent_stamp, SIGN_VALIDITY_S as TENCENT_SIGN_VALIDITY_S,
};
