//! `recmon simulate --chaos`: every alert rule's condition, in ApsaraVideo Live's format, over
//! about ten seconds, then silence.

use bytes::Bytes;

use super::model::{post, SimKind, SimRequest};
use crate::event::IngestAction;
use crate::providers::aliyun::wire::{escaped_time, IngestQuery, RecordingBody, StatusBody};
use crate::providers::Provider;

/// The receiver flags that make every chaos condition an alert within about a minute (the
/// defaults wait minutes to hours).
pub const CHAOS_RECEIVER_FLAGS: &str =
    "--alert-paused 5s --alert-not-recording 5s --alert-not-recorded 5s --alert-file-overdue 5s --alert-silence 30s";

/// `recmon simulate --chaos`: every alert rule's condition, on a stream of its own, over about
/// ten seconds of wall-clock time starting at `now_ms` (Unix milliseconds): a broadcast that
/// ends with no file, a stream left paused, one live but never recording (on a domain that
/// sends status callbacks), one whose
/// next file never comes, a 3-second file, a 30-second hole between two files, a duration that
/// disagrees with its times, a status for a stream never started, a file that overlaps the one
/// before it, duplicated callbacks; and then silence while the streams are still live.
pub fn chaos(now_ms: i64) -> Vec<SimRequest> {
    let domain = "chaos.example.com";
    let app = "chaos";
    let t0 = now_ms / 1000 - 600;
    let mut out = Vec::new();
    let status = |at: i64, stream: &str, kind: SimKind| {
        let body = StatusBody {
            domain,
            app,
            stream,
            event: kind.as_str(),
        }
        .to_bytes();
        post(now_ms + at, 0, kind, body)
    };
    let file = |at: i64, stream: &str, n: u32, start: i64, stop: i64, duration: f64| {
        let uri = format!(
            "{app}/{stream}/{n}_{}_{}.flv",
            escaped_time(start),
            escaped_time(stop)
        );
        let body = RecordingBody {
            domain,
            app,
            stream,
            uri: &uri,
            duration,
            start_time: start,
            stop_time: stop,
            push_args: None,
        }
        .to_bytes();
        post(now_ms + at, 0, SimKind::Recording, body)
    };
    let ingest_action = |at: i64, stream: &str, kind: SimKind| SimRequest {
        at_ms: now_ms + at,
        stream: 0,
        kind,
        method: "GET",
        query: Some(
            IngestQuery {
                action: if kind == SimKind::Publish {
                    IngestAction::Publish
                } else {
                    IngestAction::PublishDone
                },
                domain,
                app,
                stream,
                ip: "203.0.113.99",
                node: "chaos",
                time: (now_ms + at) / 1000,
                usrargs: None,
            }
            .to_query(),
        ),
        body: Bytes::new(),
        resend: 0,
        provider: Provider::Aliyun,
    };
    let ingest = |at: i64, stream: &str| ingest_action(at, stream, SimKind::Publish);
    let live = [
        "paused-too-long",
        "live-not-recording",
        "file-overdue",
        "short-file",
        "gap",
        "duration-mismatch",
        "recording-error",
    ];
    for (i, s) in live.iter().enumerate() {
        out.push(ingest(i as i64 * 50, s));
    }
    for (i, s) in live
        .iter()
        .filter(|s| **s != "live-not-recording")
        .enumerate()
    {
        out.push(status(500 + i as i64 * 50, s, SimKind::RecordStarted));
    }
    // Left paused; and the provider's retry of it.
    out.push(status(1000, "paused-too-long", SimKind::RecordPaused));
    out.push(status(1100, "paused-too-long", SimKind::RecordPaused));
    // A 10 s cycle learned from two files, then no third.
    out.push(file(2000, "file-overdue", 0, t0, t0 + 10, 10.0));
    out.push(file(3000, "file-overdue", 1, t0 + 10, t0 + 20, 10.0));
    // A normal file, then one of 3 s.
    out.push(file(4000, "short-file", 0, t0, t0 + 60, 60.0));
    out.push(file(5000, "short-file", 1, t0 + 60, t0 + 63, 3.0));
    // 30 s missing between two files.
    out.push(file(6000, "gap", 0, t0, t0 + 60, 60.0));
    out.push(file(7000, "gap", 1, t0 + 90, t0 + 150, 60.0));
    // 99 s claimed for a 60 s span; then the same file again (a retry).
    out.push(file(8000, "duration-mismatch", 0, t0, t0 + 60, 99.0));
    out.push(file(8100, "duration-mismatch", 0, t0, t0 + 60, 99.0));
    // The recording fails (ApsaraVideo's record_error).
    out.push(status(8500, "recording-error", SimKind::RecordError));
    // A broadcast that ends with no file at all.
    out.push(ingest(8700, "not-recorded"));
    out.push(ingest_action(8800, "not-recorded", SimKind::PublishDone));
    // Out of order: resumed without a start; a file overlapping the previous one.
    out.push(status(9000, "orphan", SimKind::RecordResumed));
    out.push(file(9500, "orphan", 0, t0 + 100, t0 + 160, 60.0));
    out.push(file(9600, "orphan", 1, t0 + 130, t0 + 190, 60.0));
    out
}
