//! `GET /metrics`: the store as Prometheus metrics (text exposition, with the
//! `prometheus-client` crate), under the same access rule as `/api` (loopback, or a Bearer
//! `--api-token`, which Prometheus sends with `authorization: {credentials: ...}`).
//!
//! The metrics are read from the store at each scrape, so they are exactly what the views
//! show. Labels are low-cardinality: outcome, kind, state, rule, target, and for the
//! per-stream gauge the stream's domain, app and name (at most [`STREAMS_EXPORTED`] streams).

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

use crate::core::alerts::Rule;
use crate::core::store::{Ingest, Store};
use crate::event::RecordState;

/// Streams given a `recmon_stream_recording` series (the first seen), to keep a scrape small.
pub const STREAMS_EXPORTED: usize = 1000;

type Labels = Vec<(&'static str, String)>;

/// A label value as the exposition format needs it: `\`, `"` and line feeds escaped
/// (prometheus-client writes values as they are, and a stream name is untrusted: unescaped,
/// a quote in it would end the value and let the rest pose as other labels).
fn label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

fn counter_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Counter> {
    let f = Family::<Labels, Counter>::default();
    registry.register(name, help, f.clone());
    f
}

fn gauge_family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    registry.register(name, help, f.clone());
    f
}

/// The metrics document, and its content type.
pub fn render(
    store: &Store,
    listener: &crate::server::context::ListenerCounters,
) -> (String, &'static str) {
    let mut r = Registry::default();
    let refused = counter_family(
        &mut r,
        "recmon_connections_refused",
        "Connections refused before a request was read, by reason (per_ip: over --max-conns-per-ip; journaled as rejected 429 lines, one a second at most, each saying how many it stands for)",
    );
    refused
        .get_or_create(&vec![("reason", "per_ip".to_string())])
        .inc_by(
            listener
                .refused_per_ip
                .load(std::sync::atomic::Ordering::Relaxed),
        );
    let requests = counter_family(&mut r, "recmon_requests", "Requests by outcome");
    let c = store.counters();
    for (outcome, n) in [
        ("accepted", c.accepted),
        ("duplicate", c.duplicate),
        ("rejected", c.rejected),
    ] {
        requests
            .get_or_create(&vec![("outcome", outcome.to_string())])
            .inc_by(n);
    }
    let callbacks = counter_family(
        &mut r,
        "recmon_callbacks",
        "Callbacks (accepted and duplicate) by kind",
    );
    for (kind, n) in store.callbacks_by_kind() {
        callbacks
            .get_or_create(&vec![("kind", kind.to_string())])
            .inc_by(n);
    }
    let streams = gauge_family(&mut r, "recmon_streams", "Streams by recording state");
    let ingest = gauge_family(&mut r, "recmon_streams_ingest", "Streams by ingest state");
    const STATES: [RecordState; 6] = [
        RecordState::None,
        RecordState::Started,
        RecordState::Paused,
        RecordState::Resumed,
        RecordState::Ended,
        RecordState::Error,
    ];
    let mut by_state = [0i64; STATES.len()];
    let mut by_ingest = [0i64; 3];
    for s in store.streams() {
        if let Some(k) = STATES.iter().position(|st| *st == s.state) {
            by_state[k] += 1;
        }
        by_ingest[match s.ingest {
            Ingest::Unknown => 0,
            Ingest::Live => 1,
            Ingest::Offline => 2,
        }] += 1;
    }
    for (i, state) in STATES.iter().enumerate() {
        streams
            .get_or_create(&vec![("state", state.as_str().to_string())])
            .set(by_state[i]);
    }
    for (i, name) in ["unknown", "live", "offline"].iter().enumerate() {
        ingest
            .get_or_create(&vec![("ingest", name.to_string())])
            .set(by_ingest[i]);
    }
    let providers = gauge_family(
        &mut r,
        "recmon_streams_provider",
        "Streams by the provider whose callbacks name them",
    );
    for (p, n) in store.providers() {
        providers
            .get_or_create(&vec![("provider", p.as_str().to_string())])
            .set(n as i64);
    }
    let viewers = Gauge::<i64>::default();
    viewers.set(store.streams().iter().map(|s| s.viewers as i64).sum());
    r.register(
        "recmon_viewers",
        "Viewers now, over every stream (nginx-rtmp and SRS play callbacks)",
        viewers,
    );
    let recordings = Counter::<u64>::default();
    recordings.inc_by(store.recordings().len() as u64);
    r.register("recmon_recordings", "Recording files accepted", recordings);
    let seconds = Counter::<f64, AtomicU64>::default();
    let recorded: f64 = store
        .streams()
        .iter()
        .map(|s| s.total_duration_s)
        .filter(|d| d.is_finite() && *d > 0.0)
        .sum();
    seconds.inc_by(recorded);
    r.register(
        "recmon_recorded_seconds",
        "Seconds of recording in the accepted files",
        seconds,
    );
    let last = Gauge::<f64, AtomicU64>::default();
    if let Some(t) = store.last_callback_at() {
        last.set(t.timestamp_millis() as f64 / 1000.0);
    }
    r.register(
        "recmon_last_callback_timestamp_seconds",
        "When the newest callback arrived (Unix seconds; 0 before any): alert on time() minus this",
        last,
    );
    let recording = gauge_family(
        &mut r,
        "recmon_stream_recording",
        "1 while a stream records (started or resumed), 0 otherwise",
    );
    for s in store.streams().iter().take(STREAMS_EXPORTED) {
        let on = matches!(s.state, RecordState::Started | RecordState::Resumed);
        recording
            .get_or_create(&vec![
                ("domain", label(&s.id.domain)),
                ("app", label(&s.id.app)),
                ("stream", label(&s.id.stream)),
            ])
            .set(on as i64);
    }
    let firing = gauge_family(&mut r, "recmon_alerts_firing", "Alerts firing, by rule");
    let by_rule = store.alerts().firing_by_rule();
    for rule in Rule::ALL {
        firing
            .get_or_create(&vec![("rule", rule.as_str().to_string())])
            .set(by_rule.get(&rule).copied().unwrap_or(0) as i64);
    }
    // `--verify` (or a journal with verdicts): recordings by verdict.
    let checks = store.checks();
    if checks.on() || !checks.by_verdict().is_empty() {
        let verified = gauge_family(
            &mut r,
            "recmon_recordings_verified",
            "Recordings checked against their files (--verify), by verdict (ok, short, long, empty, broken, missing, no_audio, no_video, unchecked_REASON)",
        );
        for v in [
            "ok", "short", "long", "empty", "broken", "missing", "no_audio", "no_video",
        ] {
            verified
                .get_or_create(&vec![("verdict", v.to_string())])
                .set(checks.by_verdict().get(v).copied().unwrap_or(0) as i64);
        }
        for (v, n) in checks.by_verdict().range("unchecked".to_string()..) {
            if v.starts_with("unchecked_") {
                verified
                    .get_or_create(&vec![("verdict", v.clone())])
                    .set(*n as i64);
            }
        }
        let being = Gauge::<i64>::default();
        let checked: u64 = checks.by_verdict().values().sum();
        being.set(store.recordings().len().saturating_sub(checked as usize) as i64);
        r.register(
            "recmon_recordings_unverified",
            "Recordings with no verdict yet (being checked, or before --verify was on)",
            being,
        );
    }
    // Callbacks filled in from the providers' records (`reconcile`).
    let reconciled = Gauge::<i64>::default();
    reconciled.set(store.reconciled().len() as i64);
    r.register(
        "recmon_reconciled_callbacks",
        "Callbacks the providers' records say were sent and this receiver missed, filled in (recmon reconcile --backfill, --reconcile-every)",
        reconciled,
    );
    // The reconcile runs journaled (`reconcile_run` lines): how many, and the last one's
    // findings by kind (every kind, 0 when it found none of it) and when it ran.
    let runs = Counter::<u64>::default();
    runs.inc_by(store.reconciled().runs());
    r.register(
        "recmon_reconcile_runs",
        "Reconcile runs journaled (--reconcile-every, POST /api/reconcile, recmon reconcile --backfill)",
        runs,
    );
    if let Some(run) = store.reconciled().last_run() {
        let findings = gauge_family(
            &mut r,
            "recmon_reconcile_findings",
            "Findings of the last reconcile run, by kind (missed, failed_answer, other_url, config, file_without_callback, callback_without_file)",
        );
        for kind in crate::core::reconciled::FINDING_KINDS {
            findings
                .get_or_create(&vec![("kind", kind.to_string())])
                .set(run.count(kind).min(i64::MAX as u64) as i64);
        }
        let last = Gauge::<i64>::default();
        last.set(run.at.timestamp());
        r.register(
            "recmon_reconcile_last_run_timestamp_seconds",
            "When the last reconcile run started (Unix seconds)",
            last,
        );
    }
    let journal = Counter::<u64>::default();
    journal.inc_by(store.journal_failures().0);
    r.register(
        "recmon_journal_failures",
        "Journal writes that failed (their requests were answered 503)",
        journal,
    );
    let auth = Counter::<u64>::default();
    auth.inc_by(store.auth_failures());
    r.register(
        "recmon_auth_failures",
        "Requests refused for a missing, wrong or stale signature",
        auth,
    );
    let pending = gauge_family(
        &mut r,
        "recmon_forward_pending",
        "Callbacks owed to a --forward-to target, not delivered yet",
    );
    let failed = counter_family(
        &mut r,
        "recmon_forward_failed",
        "Callbacks given up on, per --forward-to target",
    );
    let delivered = counter_family(
        &mut r,
        "recmon_forward_delivered",
        "Callbacks delivered, per --forward-to target",
    );
    for t in store.forward_targets() {
        let l = vec![("target", label(&t.name))];
        pending.get_or_create(&l).set(t.pending() as i64);
        failed.get_or_create(&l).inc_by(t.failed);
        delivered.get_or_create(&l).inc_by(t.delivered);
    }
    let mut open = String::new();
    encode(&mut open, &r).expect("writing to a String cannot fail");
    (
        classic_text(&open),
        "text/plain; version=0.0.4; charset=utf-8",
    )
}

/// OpenMetrics text (what prometheus-client writes) as the classic Prometheus text format,
/// which every scraper and `promtool check metrics` read: a counter family's `HELP` and
/// `TYPE` name its `_total` samples, and there is no `# EOF`.
fn classic_text(open: &str) -> String {
    let counters: Vec<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len() + 64);
    for line in open.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hostile_stream_name_stays_one_label_value() {
        assert_eq!(label(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(label("x\ny"), r"x\ny");
        let name = "s\",evil=\"1\n";
        let json = serde_json::to_string(name).unwrap();
        let (store, _) = crate::core::store::tests::run(&[(
            0,
            crate::core::store::tests::status(&json[1..json.len() - 1], "record_started"),
        )]);
        let (text, _) = render(&store, &Default::default());
        let line = text
            .lines()
            .find(|l| l.starts_with("recmon_stream_recording{"))
            .unwrap();
        assert_eq!(
            line,
            r#"recmon_stream_recording{domain="d",app="a",stream="s\",evil=\"1\n"} 1"#
        );
    }
}
