//! Alerts: rules that catch a broken recording while the broadcast is on. Each rule is a pure
//! function of the store and a clock ([`evaluate`]); the [`AlertBook`] remembers what is
//! firing, so that each evaluation says what started firing and what resolved. The service
//! evaluates once a second (and `recmon attach` runs the same engine on its own store);
//! `recmon report` replays a journal through it with the journal's `received_at` as the clock.
//!
//! | rule | fires when | severity |
//! |---|---|---|
//! | `paused_too_long` | a stream (not offline) has been paused longer than `--alert-paused` | warning |
//! | `not_recorded` | a broadcast (publish → publish_done) ended and no file came within `--alert-not-recorded` of its end (at most 15 s for nginx-rtmp and SRS, which report the file as the publish ends); resolves when a late file comes or the stream goes live again | critical |
//! | `live_not_recording` | ingest live, no recording status, longer than `--alert-not-recording`, on a domain that sends status callbacks | critical |
//! | `file_overdue` | a recording stream's next file (or a live stream's first, where no status callbacks say it records) is later than its cycle + `--alert-file-overdue` | critical |
//! | `short_file` | the stream's newest file is shorter than `--alert-short-file`, unless the broadcast ended (its last file is its tail) | warning |
//! | `gap` | newest file's start − previous file's stop > `--alert-gap` | warning |
//! | `silence` | no callback for `--alert-silence` while a stream is live or recording | critical |
//! | `bad_signature` | a request failed the signature check in the last 5 minutes | warning |
//! | `journal_failure` | a journal write failed in the last minute | critical |
//! | `forward_failing` | a forwarding target's oldest pending callback is over a minute old | critical |
//! | `duration_mismatch` | the newest file's duration disagrees with stop − start | info |
//! | `recording_error` | the provider reported the stream's recording failed (ApsaraVideo `record_error`, `record_force_transcode_fail`, `transformat_error`; Tencent `record_start_failed`, `record_error`, push errors), until it records again | critical |

pub mod book;
pub mod line;

pub use book::{
    Alert, AlertBook, AlertChange, AlertConfig, AlertEvent, Change, Condition, Rule, Severity,
    RECENT_KEPT,
};
pub use line::{AlertLine, AlertNote, AlertSent};

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::core::store::{Ingest, Recording, Store, Stream};
use crate::event::RecordState;
use crate::util::human::{duration_words, seconds};
use crate::verify::verdict::Verdict;

/// How long `bad_signature` stays firing after the newest bad signature.
pub const BAD_SIGNATURE_HOLD: Duration = Duration::from_secs(300);
/// How long `journal_failure` stays firing after the newest failed write.
pub const JOURNAL_FAILURE_HOLD: Duration = Duration::from_secs(60);
/// The age of a forwarding target's oldest pending callback that makes it `forward_failing`.
pub const FORWARD_PENDING_LIMIT: Duration = Duration::from_secs(60);
/// Files of a stream a learned cycle looks back over.
const CYCLE_FILES: usize = 5;

/// Evaluates every rule over `store` at `now` (see [`evaluate`]) and applies the conditions to
/// the store's alert book: what fired and what resolved. Nothing with alerting off.
pub fn tick(store: &mut Store, now: DateTime<Utc>) -> Vec<AlertEvent> {
    let Some(cfg) = store.alert_config() else {
        return Vec::new();
    };
    let conditions = evaluate(store, cfg, now);
    store.apply_alert_conditions(conditions, now)
}

/// What evaluating every rule over `store` at `now` would change (see [`AlertBook::decide`]),
/// changing nothing: a receiver journals these and applies them from their lines. Nothing
/// with alerting off.
pub fn decide(store: &Store, now: DateTime<Utc>) -> Vec<AlertChange> {
    let Some(cfg) = store.alert_config() else {
        return Vec::new();
    };
    let conditions = evaluate(store, cfg, now);
    store.decide_alerts(conditions, now)
}

/// Files of a stream looked back over for the newest one with a verdict.
const CHECKED_LOOKBACK: usize = 8;

/// The newest of a stream's last few files that has a verdict (`--verify`): its index, the
/// file and the verdict. Files still being checked are passed over.
fn newest_checked<'r>(
    s: &Stream,
    recordings: &'r [Recording],
    checks: &'r crate::core::store::checks::Checks,
) -> Option<(usize, &'r Recording, &'r crate::core::checks::FileVerdict)> {
    let mut at = s.last_recording;
    for _ in 0..CHECKED_LOOKBACK {
        let k = at?;
        let r = recordings.get(k)?;
        if let Some(v) = checks.of(r.seq) {
            return Some((k, r, v));
        }
        at = r.previous_in_stream();
    }
    None
}

/// `domain/app/stream`.
pub fn stream_name(s: &Stream) -> String {
    format!("{}/{}/{}", s.id.domain, s.id.app, s.id.stream)
}

fn since(now: DateTime<Utc>, t: Option<DateTime<Utc>>) -> Option<Duration> {
    (now - t?).to_std().ok()
}

fn over(age: Option<Duration>, limit: Option<Duration>) -> Option<(Duration, Duration)> {
    let (age, limit) = (age?, limit?);
    (age > limit).then_some((age, limit))
}

/// How long after a broadcast ends its last file may still come. nginx-rtmp and SRS close the
/// file when the publish ends and report it at once, so they get at most
/// [`CLOSE_AT_END_GRACE`]; ApsaraVideo holds the file open for `DelayTime` (15 s to 6 h, often
/// 180 s) in case the publisher returns, and Tencent likewise, so theirs is the whole
/// `--alert-not-recorded`.
pub fn not_recorded_grace(
    provider: crate::event::Provider,
    configured: Option<Duration>,
) -> Option<Duration> {
    use crate::event::Provider;
    let grace = configured?;
    Some(match provider {
        Provider::NginxRtmp | Provider::Srs => grace.min(CLOSE_AT_END_GRACE),
        Provider::Aliyun | Provider::Tencent => grace,
    })
}

/// The most nginx-rtmp and SRS get to report a broadcast's last file after it ended.
pub const CLOSE_AT_END_GRACE: Duration = Duration::from_secs(15);

/// The newest file of a stream, and the one before it.
fn newest_two<'a>(
    s: &Stream,
    recordings: &'a [Recording],
) -> (Option<&'a Recording>, Option<&'a Recording>) {
    let newest = s.last_recording.and_then(|i| recordings.get(i));
    let previous = newest
        .and_then(Recording::previous_in_stream)
        .and_then(|i| recordings.get(i));
    (newest, previous)
}

/// A stream's recording cycle: the longest of its newest files (a file cut short by an
/// interruption is shorter than the cycle), once it has two; the configured one before.
pub fn learned_cycle(s: &Stream, recordings: &[Recording], default: Duration) -> Duration {
    let (n, longest) = s
        .recordings_newest_first(recordings)
        .take(CYCLE_FILES)
        .filter_map(|(_, r)| r.effective_duration())
        .filter(|d| d.is_finite() && *d > 0.0 && *d < 1e9)
        .fold((0, 0.0f64), |(n, m), d| (n + 1, m.max(d)));
    if n < 2 {
        return default;
    }
    Duration::from_secs_f64(longest)
}

/// Every condition that holds in `store` at `now` under `cfg`. Pure: the same store, clock and
/// thresholds give the same conditions. A condition whose alert is already firing with the
/// same content (its `version`) comes without a message: nothing is formatted for alerts that
/// keep firing, so a tick over many streams costs little more than reading them.
pub fn evaluate(store: &Store, cfg: &AlertConfig, now: DateTime<Utc>) -> Vec<Condition> {
    let mut out = Vec::new();
    let book = store.alerts();
    let mut emit = |rule: Rule, stream: Option<u32>, version: u64, make: &dyn Fn() -> String| {
        let message = (!book.is_firing(rule, stream, version)).then(make);
        out.push(Condition {
            rule,
            stream,
            version,
            message,
        });
    };
    let recordings = store.recordings();
    let status_domains = store.status_domains();
    let mut anything_on = false;
    for (i, s) in store.streams().iter().enumerate() {
        let i = i as u32;
        let name = || stream_name(s);
        let offline = s.ingest == Ingest::Offline;
        let recording = matches!(s.state, RecordState::Started | RecordState::Resumed);
        anything_on |= s.ingest == Ingest::Live || (recording && !offline);

        if s.state == RecordState::Paused && !offline {
            if let Some((_, limit)) = over(since(now, s.state_since), cfg.paused) {
                emit(Rule::PausedTooLong, Some(i), 0, &|| {
                    format!(
                        "{} has been paused for over {} (since {})",
                        name(),
                        duration_words(limit),
                        s.state_since
                            .map(crate::core::time::format_time)
                            .unwrap_or_default()
                    )
                });
            }
        }
        if s.ingest == Ingest::Live
            && s.state == RecordState::None
            && status_domains.contains(s.id.domain.as_str())
        {
            if let Some((_, limit)) = over(since(now, s.ingest_since), cfg.not_recording) {
                emit(Rule::LiveNotRecording, Some(i), 0, &|| {
                    format!(
                        "{} has been live for over {} without recording (no record_started; live since {})",
                        name(),
                        duration_words(limit),
                        s.ingest_since.map(crate::core::time::format_time).unwrap_or_default()
                    )
                });
            }
        }
        if s.state == RecordState::Error {
            emit(Rule::RecordingError, Some(i), s.errors, &|| {
                format!(
                    "{}: the recording failed: {}",
                    name(),
                    s.last_error.as_ref().map_or("", |(what, _)| what.as_str())
                )
            });
        }
        if offline && s.broadcasts > 0 && s.broadcast_files == 0 {
            if let Some((_, grace)) = over(
                since(now, s.ingest_since),
                not_recorded_grace(s.provider, cfg.not_recorded),
            ) {
                emit(Rule::NotRecorded, Some(i), s.broadcasts, &|| {
                    // The broadcast's own times (the sender's clock where it gives one), as
                    // the report tells them.
                    let when = |t: Option<i64>| {
                        t.and_then(crate::util::human::utc_seconds)
                            .unwrap_or_else(|| "?".into())
                    };
                    format!(
                        "{}: the broadcast {} → {} ended with no recording file (none within {} of its end)",
                        name(),
                        when(s.broadcast_span.0),
                        when(s.broadcast_span.1),
                        duration_words(grace)
                    )
                });
            }
        }
        let (newest, previous) = newest_two(s, recordings);
        let newest_index = s.last_recording.map_or(0, |n| n as u64 + 1);
        // Live with no recording state: a provider (or domain) that sends no status
        // callbacks (nginx-rtmp, SRS, ApsaraVideo without them). Its files are what says it
        // records; on a domain that sends status callbacks, live_not_recording says it.
        let live_without_status = s.ingest == Ingest::Live
            && s.state == RecordState::None
            && !status_domains.contains(s.id.domain.as_str());
        if (recording && !offline) || live_without_status {
            if let Some(slack) = cfg.file_overdue {
                let cycle = learned_cycle(s, recordings, cfg.record_cycle);
                // The next file is due a cycle after the newest one arrived, or after recording
                // (re)started when that is later (a pause stops the clock).
                // A broadcast's publish starts it too: the previous broadcast's files say
                // nothing of this one.
                let from = [
                    newest.map(|r| r.received_at),
                    s.state_since.filter(|_| recording),
                    s.ingest_since.filter(|_| s.ingest == Ingest::Live),
                ]
                .into_iter()
                .flatten()
                .max();
                if let Some(late) = since(now, from).and_then(|age| age.checked_sub(cycle)) {
                    if late > slack {
                        emit(Rule::FileOverdue, Some(i), newest_index, &|| {
                            format!(
                                "{}: no recording file since {} (its cycle is {}, {} of slack)",
                                name(),
                                from.map(crate::core::time::format_time).unwrap_or_default(),
                                duration_words(Duration::from_secs(cycle.as_secs())),
                                duration_words(slack)
                            )
                        });
                    }
                }
            }
        }
        // `--verify`: the newest file of the stream that was checked, and what it came to.
        if let Some((k, r, v)) = newest_checked(s, recordings, store.checks()) {
            let version = k as u64 + 1;
            let verdicts = std::iter::once(v.verdict).chain(v.also.iter().copied());
            for verdict in verdicts {
                let rule = match verdict {
                    Verdict::Missing => Rule::FileMissing,
                    Verdict::Broken | Verdict::Empty => Rule::FileBroken,
                    Verdict::Short => Rule::FileShort,
                    Verdict::NoAudio => Rule::NoAudio,
                    _ => continue,
                };
                emit(rule, Some(i), version, &|| {
                    let claimed = v.claimed_s.map(seconds).unwrap_or_else(|| "-".into());
                    let measured = v.measured_s.map(seconds).unwrap_or_else(|| "-".into());
                    format!(
                        "{}: the newest checked file is {verdict} (claimed {claimed}, measured {measured}): {}",
                        name(),
                        r.uri
                    )
                });
            }
        }
        if let Some(r) = newest {
            // The last file of a broadcast that ended is as long as the broadcast's tail:
            // short by nature, not a fault.
            if let (Some(limit), Some(d), false) = (cfg.short_file, r.effective_duration(), offline)
            {
                if d.is_finite() && d >= 0.0 && d < limit.as_secs_f64() {
                    emit(Rule::ShortFile, Some(i), newest_index, &|| {
                        format!(
                            "{}: the newest file is only {} long (under {}): {}",
                            name(),
                            seconds(d),
                            duration_words(limit),
                            r.uri
                        )
                    });
                }
            }
            if r.mismatch {
                emit(Rule::DurationMismatch, Some(i), newest_index, &|| {
                    format!(
                        "{}: the newest file's duration ({}) disagrees with stop − start ({} s): {}",
                        name(),
                        r.duration.map(seconds).unwrap_or_default(),
                        r.span_s().unwrap_or_default(),
                        r.uri
                    )
                });
            }
            if let (Some(limit), Some(p)) = (cfg.gap, previous) {
                if let Some(gap) = crate::core::store::span_s(p.stop_time, r.start_time) {
                    if gap > limit.as_secs() as i64 {
                        emit(Rule::Gap, Some(i), newest_index, &|| {
                            format!(
                                "{}: {} s not recorded between the last two files (over {}): {} → {}",
                                name(),
                                gap,
                                duration_words(limit),
                                p.uri,
                                r.uri
                            )
                        });
                    }
                }
            }
        }
    }
    if anything_on {
        if let Some((_, limit)) = over(since(now, store.last_callback_at()), cfg.silence) {
            emit(Rule::Silence, None, 0, &|| {
                format!(
                    "no callback for over {} (the last at {}) while streams are live or recording: is the provider still calling?",
                    duration_words(limit),
                    store
                        .last_callback_at()
                        .map(crate::core::time::format_time)
                        .unwrap_or_else(|| "-".into())
                )
            });
        }
    }
    if let Some(at) = store.last_auth_failure_at() {
        if since(now, Some(at)).is_some_and(|a| a < BAD_SIGNATURE_HOLD) {
            emit(Rule::BadSignature, None, store.auth_failures(), &|| {
                format!(
                    "requests with a missing, wrong or stale signature ({} so far): a misconfigured key, or someone forging callbacks",
                    store.auth_failures()
                )
            });
        }
    }
    if let Some(at) = store.last_journal_failure_at() {
        if since(now, Some(at)).is_none_or(|a| a < JOURNAL_FAILURE_HOLD) {
            let (n, why) = store.journal_failures();
            emit(Rule::JournalFailure, None, n, &|| {
                format!(
                    "journal writes fail ({n} so far): callbacks are not recorded (answered 503 so that the provider retries; nginx-rtmp and SRS, which never retry, 200 so that their streams go on). {}",
                    why.unwrap_or("")
                )
            });
        }
    }
    for t in store.forward_targets() {
        if let Some(age) = since(now, t.oldest_pending()) {
            if age > FORWARD_PENDING_LIMIT {
                emit(Rule::ForwardFailing, None, 0, &|| {
                    format!(
                        "forwarding to {} is behind: callbacks pending since {}{}",
                        t.name,
                        t.oldest_pending()
                            .map(crate::core::time::format_time)
                            .unwrap_or_default(),
                        t.last_error
                            .as_ref()
                            .map(|(_, e)| format!(" (last error: {e})"))
                            .unwrap_or_default()
                    )
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Callback, Method, Outcome};
    use crate::providers::aliyun::classify;
    use std::sync::Arc;

    /// A store fed callbacks at fake times, with the alert engine's clock under the test's
    /// control.
    struct Clocked {
        store: Store,
        seq: u64,
    }

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    impl Clocked {
        fn new(cfg: AlertConfig) -> Self {
            let mut store = Store::default();
            store.set_alert_config(cfg);
            Clocked { store, seq: 0 }
        }

        fn request(&mut self, at: i64, method: &str, query: Option<&str>, body: &str) {
            self.seq += 1;
            let cb: Option<Callback> =
                classify(Method::from_name(method), query, body.as_bytes()).ok();
            let outcome = if cb.is_some() {
                Outcome::Accepted
            } else {
                Outcome::Rejected
            };
            let e = crate::core::store::tests::entry(self.seq, t(at), outcome);
            self.store.apply(&e, cb.as_ref(), Arc::from(""));
        }

        fn status(&mut self, at: i64, stream: &str, event: &str) {
            let body =
                format!(r#"{{"domain":"d","app":"a","stream":"{stream}","event":"{event}"}}"#);
            self.request(at, "POST", None, &body);
        }

        fn ingest(&mut self, at: i64, stream: &str, action: &str) {
            let q = format!("action={action}&app=d&appname=a&id={stream}");
            self.request(at, "GET", Some(&q), "");
        }

        fn file(&mut self, at: i64, stream: &str, n: u32, start: i64, stop: i64, duration: f64) {
            let body = format!(
                r#"{{"domain":"d","app":"a","stream":"{stream}","uri":"a/{stream}/{n}.flv","duration":{duration},"start_time":{start},"stop_time":{stop}}}"#
            );
            self.request(at, "POST", None, &body);
        }

        /// The rules firing at `at` (evaluating also applies them to the book).
        fn firing_at(&mut self, at: i64) -> Vec<(Rule, Option<String>)> {
            tick(&mut self.store, t(at));
            self.store
                .alerts()
                .firing()
                .iter()
                .map(|a| (a.rule, a.stream.clone()))
                .collect()
        }
    }

    impl Clocked {
        /// The verdict of the file with seq `of` (`--verify`), as its journal line applies it.
        fn verdict(&mut self, of: u64, verdict: Verdict, also: &[Verdict]) {
            self.seq += 1;
            self.store.apply_verdict(&crate::core::checks::VerdictLine {
                seq: self.seq,
                received_at: t(0),
                verdict: crate::core::checks::FileVerdict {
                    of,
                    verdict,
                    also: also.to_vec(),
                    location: String::new(),
                    claimed_s: Some(60.0),
                    measured_s: Some(21.0),
                    size: None,
                    container: None,
                    audio: None,
                    video: None,
                    bytes_read: 0,
                    attempts: 1,
                },
            });
        }
    }

    #[test]
    fn a_failed_file_fires_its_rule_until_a_newer_file_checks_ok() {
        let mut c = Clocked::new(only(Rule::ShortFile, 0));
        c.file(10, "cam", 0, 0, 60, 60.0);
        // Being checked: nothing yet.
        assert!(c.firing_at(11).is_empty());
        c.verdict(1, Verdict::Short, &[Verdict::NoAudio]);
        assert_eq!(
            c.firing_at(12),
            [
                (Rule::FileShort, Some(S.into())),
                (Rule::NoAudio, Some(S.into()))
            ]
        );
        let short = c
            .store
            .alerts()
            .firing()
            .into_iter()
            .find(|a| a.rule == Rule::FileShort)
            .cloned()
            .unwrap();
        assert!(
            short.message.contains("is short (claimed 60")
                && short.message.contains("measured 21")
                && short.message.ends_with("a/cam/0.flv"),
            "{}",
            short.message
        );
        // A newer file, still being checked: the older verdict stands.
        c.file(70, "cam", 1, 60, 120, 60.0);
        assert_eq!(c.firing_at(71).len(), 2);
        c.verdict(3, Verdict::Missing, &[]);
        assert_eq!(c.firing_at(72), [(Rule::FileMissing, Some(S.into()))]);
        assert_eq!(Rule::FileMissing.severity(), Severity::Critical);
        c.file(130, "cam", 2, 120, 180, 60.0);
        c.verdict(5, Verdict::Ok, &[]);
        assert!(c.firing_at(131).is_empty());
        // Unchecked is recmon's access, not the file's: no alert.
        c.file(190, "cam", 3, 180, 240, 60.0);
        c.verdict(
            7,
            Verdict::Unchecked(crate::verify::verdict::Unchecked::Forbidden),
            &[],
        );
        assert!(c.firing_at(191).is_empty());
    }

    fn only(rule: Rule, seconds: u64) -> AlertConfig {
        let d = |r: Rule| (r == rule).then(|| Duration::from_secs(seconds));
        AlertConfig {
            paused: d(Rule::PausedTooLong),
            not_recording: d(Rule::LiveNotRecording),
            not_recorded: d(Rule::NotRecorded),
            file_overdue: d(Rule::FileOverdue),
            record_cycle: Duration::from_secs(6 * 3600),
            short_file: d(Rule::ShortFile),
            gap: d(Rule::Gap),
            silence: d(Rule::Silence),
        }
    }

    const S: &str = "d/a/cam";

    #[test]
    fn paused_too_long_fires_at_the_threshold_not_before_and_resolves_on_resume() {
        let mut c = Clocked::new(only(Rule::PausedTooLong, 300));
        c.status(0, "cam", "record_started");
        c.status(10, "cam", "record_paused");
        assert!(
            c.firing_at(310).is_empty(),
            "exactly 300 s is not over 300 s"
        );
        assert_eq!(c.firing_at(311), [(Rule::PausedTooLong, Some(S.into()))]);
        let firing = c.store.alerts().firing()[0].clone();
        assert_eq!(firing.fired_at, t(311));
        assert!(
            firing
                .message
                .contains("paused for over 5m (since 2027-01-15T08:00:10.000Z)"),
            "{}",
            firing.message
        );
        c.status(400, "cam", "record_resumed");
        assert!(c.firing_at(401).is_empty());
        let resolved = c.store.alerts().recent().back().unwrap();
        assert_eq!(
            (resolved.state, resolved.resolved_at),
            ("resolved", Some(t(401)))
        );
    }

    #[test]
    fn a_recording_error_fires_at_once_and_resolves_when_it_records_again() {
        let mut c = Clocked::new(only(Rule::PausedTooLong, 300));
        c.status(0, "cam", "record_started");
        assert!(c.firing_at(1).is_empty());
        // ApsaraVideo's records API names; Tencent's are read the same way.
        c.status(5, "cam", "record_force_transcode_fail");
        assert_eq!(c.firing_at(5), [(Rule::RecordingError, Some(S.into()))]);
        let firing = c.store.alerts().firing()[0].clone();
        assert_eq!(firing.severity, Severity::Critical);
        assert!(
            firing
                .message
                .contains("failed: record_force_transcode_fail"),
            "{}",
            firing.message
        );
        c.status(60, "cam", "record_started");
        assert!(c.firing_at(61).is_empty());
        // Another error is another alert.
        c.status(70, "cam", "transformat_error");
        assert_eq!(c.firing_at(70).len(), 1);
    }

    #[test]
    fn a_paused_stream_that_goes_offline_is_not_an_alert() {
        let mut c = Clocked::new(only(Rule::PausedTooLong, 60));
        c.status(0, "cam", "record_paused");
        assert_eq!(c.firing_at(100).len(), 1);
        c.ingest(110, "cam", "publish_done");
        assert!(c.firing_at(111).is_empty(), "the broadcast ended");
    }

    #[test]
    fn a_rule_set_to_zero_never_fires() {
        let mut c = Clocked::new(AlertConfig {
            paused: None,
            ..AlertConfig::default()
        });
        c.status(0, "cam", "record_paused");
        assert!(!c
            .firing_at(100_000)
            .iter()
            .any(|(r, _)| *r == Rule::PausedTooLong));
    }

    #[test]
    fn live_not_recording_needs_a_domain_that_sends_status_callbacks() {
        let mut c = Clocked::new(only(Rule::LiveNotRecording, 120));
        c.ingest(0, "cam", "publish");
        assert!(
            c.firing_at(1000).is_empty(),
            "no status callback from this domain yet"
        );
        c.status(1000, "other", "record_started");
        c.ingest(1000, "cam2", "publish");
        assert!(c
            .firing_at(1120)
            .iter()
            .all(|(_, s)| s.as_deref() != Some("d/a/cam2")));
        let firing = c.firing_at(1121);
        assert!(
            firing.contains(&(Rule::LiveNotRecording, Some("d/a/cam2".into()))),
            "{firing:?}"
        );
        assert!(
            firing.contains(&(Rule::LiveNotRecording, Some(S.into()))),
            "{firing:?}"
        );
        c.status(1130, "cam2", "record_started");
        let firing = c.firing_at(1131);
        assert_eq!(firing, [(Rule::LiveNotRecording, Some(S.into()))]);
    }

    #[test]
    fn file_overdue_learns_the_cycle_from_the_streams_files() {
        let mut c = Clocked::new(only(Rule::FileOverdue, 60));
        c.status(0, "cam", "record_started");
        // Two 10-minute files: the stream's cycle is 600 s, not the 6 h default.
        c.file(600, "cam", 0, 0, 600, 600.0);
        c.file(1200, "cam", 1, 600, 1200, 600.0);
        assert_eq!(
            learned_cycle(
                &c.store.streams()[0],
                c.store.recordings(),
                Duration::from_secs(21600)
            ),
            Duration::from_secs(600)
        );
        assert!(c.firing_at(1860).is_empty(), "due at 1800, 60 s of slack");
        assert_eq!(c.firing_at(1861), [(Rule::FileOverdue, Some(S.into()))]);
        c.file(1900, "cam", 2, 1200, 1900, 700.0);
        assert!(c.firing_at(1901).is_empty(), "the file came");
        // A pause stops the clock: no file is due while paused.
        c.status(1950, "cam", "record_paused");
        assert!(c.firing_at(5000).is_empty());
    }

    #[test]
    fn file_overdue_uses_the_configured_cycle_until_a_stream_has_two_files() {
        let mut cfg = only(Rule::FileOverdue, 0);
        cfg.file_overdue = Some(Duration::from_secs(1));
        cfg.record_cycle = Duration::from_secs(100);
        let mut c = Clocked::new(cfg);
        c.status(0, "cam", "record_started");
        assert!(c.firing_at(101).is_empty());
        assert_eq!(c.firing_at(102).len(), 1);
    }

    #[test]
    fn short_files_gaps_and_mismatches_fire_on_the_newest_file_and_resolve_on_the_next() {
        let mut cfg = only(Rule::ShortFile, 10);
        cfg.gap = Some(Duration::from_secs(5));
        let mut c = Clocked::new(cfg);
        c.file(10, "cam", 0, 0, 60, 60.0);
        c.file(20, "cam", 1, 65, 70, 5.0); // 5 s gap: not over 5 s; 5 s long: short
        assert_eq!(c.firing_at(21), [(Rule::ShortFile, Some(S.into()))]);
        c.file(30, "cam", 2, 76, 136, 60.0); // 6 s gap
        assert_eq!(c.firing_at(31), [(Rule::Gap, Some(S.into()))]);
        c.file(40, "cam", 3, 136, 196, 70.0); // contiguous, but 70 s against a 60 s span
        assert_eq!(c.firing_at(41), [(Rule::DurationMismatch, Some(S.into()))]);
        let gap = c
            .store
            .alerts()
            .recent()
            .iter()
            .find(|a| a.rule == Rule::Gap)
            .unwrap();
        assert!(gap.message.contains("6 s not recorded"), "{}", gap.message);
        assert_eq!(gap.severity, Severity::Warning);
    }

    #[test]
    fn silence_fires_only_while_something_is_live_or_recording() {
        let mut c = Clocked::new(only(Rule::Silence, 600));
        c.request(0, "POST", None, "{junk");
        assert!(c.firing_at(10_000).is_empty(), "nothing live");
        c.ingest(10_000, "cam", "publish");
        c.request(10_500, "POST", None, "{junk"); // rejected requests are not callbacks
        assert!(c.firing_at(10_600).is_empty());
        assert_eq!(c.firing_at(10_601), [(Rule::Silence, None)]);
        c.ingest(10_700, "cam", "publish_done");
        assert!(c.firing_at(10_701).is_empty());
    }

    #[test]
    fn events_say_what_fired_and_what_resolved_once() {
        let mut c = Clocked::new(only(Rule::PausedTooLong, 1));
        c.status(0, "cam", "record_paused");
        let ev = tick(&mut c.store, t(5));
        assert_eq!(ev.len(), 1);
        assert!(!ev[0].resolved());
        assert!(
            tick(&mut c.store, t(6)).is_empty(),
            "still firing: no new event"
        );
        c.status(7, "cam", "record_resumed");
        let ev = tick(&mut c.store, t(8));
        assert_eq!(ev.len(), 1);
        assert!(ev[0].resolved());
        assert_eq!(c.store.alerts().fired_total()[&Rule::PausedTooLong], 1);
        let json = serde_json::to_value(&ev[0].alert).unwrap();
        assert_eq!(json["rule"], "paused_too_long");
        assert_eq!(json["state"], "resolved");
        assert_eq!(json["severity"], "warning");
        assert_eq!(json["stream"], S);
        assert_eq!(json["fired_at"], "2027-01-15T08:00:05.000Z");
        assert!(json["resolved_at"].is_string());
    }

    #[test]
    fn a_resumed_journal_fires_what_still_holds_at_the_first_evaluation() {
        let line = |seq: u64, at: i64, event: &str| {
            format!(
                r#"{{"seq":{seq},"received_at":"{}","remote":"r","method":"POST","path":"/","outcome":"accepted","status":200,"kind":"status","body":{{"domain":"d","app":"a","stream":"cam","event":"{event}"}}}}"#,
                crate::core::time::format_time(t(at))
            )
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.jsonl");
        std::fs::write(
            &path,
            [line(1, 0, "record_started"), line(2, 10, "record_paused")].join("\n") + "\n",
        )
        .unwrap();
        let mut store = Store::default();
        crate::core::rebuild::rebuild(
            &path,
            &mut store,
            &mut crate::core::dedup::Deduper::default(),
            |_| {},
        )
        .unwrap();
        store.set_alert_config(only(Rule::PausedTooLong, 300));
        // The pause began before the restart: its age counts from the journal's time.
        let events = tick(&mut store, t(400));
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].alert.fired_at, t(400));
        assert!(
            events[0]
                .alert
                .message
                .contains("since 2027-01-15T08:00:10.000Z"),
            "{}",
            events[0].alert.message
        );
    }

    #[test]
    fn a_broadcast_that_ended_with_no_file_is_not_recorded_after_the_grace() {
        let mut c = Clocked::new(only(Rule::NotRecorded, 60));
        c.ingest(0, "cam", "publish");
        assert!(c.firing_at(500).is_empty(), "live: not over yet");
        c.ingest(600, "cam", "publish_done");
        assert!(
            c.firing_at(660).is_empty(),
            "within the grace the last file may still come"
        );
        assert_eq!(c.firing_at(661), [(Rule::NotRecorded, Some(S.into()))]);
        let a = c.store.alerts().firing()[0].clone();
        assert_eq!(a.severity, Severity::Critical);
        assert!(
            a.message.contains("ended with no recording file"),
            "{}",
            a.message
        );
        // A late file resolves it.
        c.file(700, "cam", 0, 0, 600, 600.0);
        assert!(c.firing_at(701).is_empty());
        // The next broadcast, recorded, never fires; one with no file does again.
        c.ingest(800, "cam", "publish");
        c.file(900, "cam", 1, 800, 900, 100.0);
        c.ingest(900, "cam", "publish_done");
        assert!(c.firing_at(2000).is_empty(), "this broadcast has a file");
        c.ingest(2000, "cam", "publish");
        c.ingest(2100, "cam", "publish_done");
        assert_eq!(c.firing_at(2161), [(Rule::NotRecorded, Some(S.into()))]);
        // Live again: the new broadcast is watched by file_overdue; this alert resolves.
        c.ingest(2200, "cam", "publish");
        assert!(c.firing_at(2201).is_empty());
        assert_eq!(c.store.alerts().fired_total()[&Rule::NotRecorded], 2);
    }

    #[test]
    fn not_recorded_names_the_broadcast_by_the_senders_own_times() {
        let mut c = Clocked::new(only(Rule::NotRecorded, 5));
        // Sent 10 minutes apart by the provider's clock, arriving 1 s apart.
        let base = t(0).timestamp();
        let q = |action: &str, at: i64| format!("action={action}&app=d&appname=a&id=cam&time={at}");
        c.request(0, "GET", Some(&q("publish", base - 600)), "");
        c.request(1, "GET", Some(&q("publish_done", base)), "");
        assert_eq!(c.firing_at(7), [(Rule::NotRecorded, Some(S.into()))]);
        let a = c.store.alerts().firing()[0].clone();
        assert!(
            a.message
                .contains("the broadcast 2027-01-15 07:50:00 UTC → 2027-01-15 08:00:00 UTC ended"),
            "{}",
            a.message
        );
    }

    #[test]
    fn nginx_rtmp_and_srs_get_a_short_grace_others_the_configured_one() {
        use crate::event::Provider;
        let five_min = Some(Duration::from_secs(300));
        assert_eq!(
            not_recorded_grace(Provider::NginxRtmp, five_min),
            Some(CLOSE_AT_END_GRACE)
        );
        assert_eq!(
            not_recorded_grace(Provider::Srs, Some(Duration::from_secs(5))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(not_recorded_grace(Provider::Aliyun, five_min), five_min);
        assert_eq!(not_recorded_grace(Provider::Tencent, None), None);
    }

    #[test]
    fn a_live_stream_without_status_callbacks_is_overdue_with_no_file_for_a_cycle() {
        let mut cfg = only(Rule::FileOverdue, 60);
        cfg.record_cycle = Duration::from_secs(600);
        let mut c = Clocked::new(cfg);
        // An earlier broadcast's file says nothing of the next one.
        c.file(10, "cam", 0, 0, 10, 10.0);
        c.ingest(1000, "cam", "publish");
        assert!(c.firing_at(1660).is_empty(), "cycle 600 s + 60 s slack");
        assert_eq!(c.firing_at(1661), [(Rule::FileOverdue, Some(S.into()))]);
        c.file(1700, "cam", 1, 1000, 1700, 700.0);
        assert!(c.firing_at(1701).is_empty());
        c.ingest(1800, "cam", "publish_done");
        assert!(c.firing_at(5000).is_empty(), "offline: no file is due");
    }

    #[test]
    fn the_last_file_of_a_broadcast_that_ended_is_not_a_short_file() {
        let mut c = Clocked::new(only(Rule::ShortFile, 10));
        c.ingest(0, "cam", "publish");
        c.file(600, "cam", 0, 0, 600, 600.0);
        c.ingest(603, "cam", "publish_done");
        // The tail: the 3 s after the last cycle's file, reported after the end.
        c.file(610, "cam", 1, 600, 603, 3.0);
        assert!(c.firing_at(611).is_empty(), "the broadcast's tail");
        // While live, a short file is one.
        c.ingest(700, "cam", "publish");
        c.file(710, "cam", 2, 700, 705, 5.0);
        assert_eq!(c.firing_at(711), [(Rule::ShortFile, Some(S.into()))]);
    }

    #[test]
    fn journal_failure_fires_on_a_failed_write_and_resolves_a_minute_after_the_last() {
        let mut store = Store::default();
        store.set_alert_config(AlertConfig::default());
        let now = Utc::now();
        assert!(tick(&mut store, now).is_empty());
        store.note_journal_failure("No space left on device (os error 28)".into());
        let at = store.last_journal_failure_at().unwrap();
        let ev = tick(&mut store, at);
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].alert.rule, Rule::JournalFailure);
        assert_eq!(ev[0].alert.severity, Severity::Critical);
        assert!(
            ev[0].alert.message.contains("(1 so far)")
                && ev[0].alert.message.contains("No space left"),
            "{}",
            ev[0].alert.message
        );
        let hold = chrono::Duration::from_std(JOURNAL_FAILURE_HOLD).unwrap();
        assert!(
            tick(&mut store, at + hold - chrono::Duration::seconds(1)).is_empty(),
            "still within the hold"
        );
        let ev = tick(&mut store, at + hold);
        assert_eq!(ev.len(), 1);
        assert!(ev[0].resolved());
    }

    #[test]
    fn forward_failing_fires_when_the_oldest_pending_is_over_a_minute_old() {
        use crate::core::outbox::{Delivery, DeliveryLine, DeliveryResult, ForwardMode};
        let mut store = Store::default();
        store.set_alert_config(only(Rule::PausedTooLong, 300));
        let mut e = crate::core::store::tests::entry(1, t(0), crate::event::Outcome::Accepted);
        e.forward = vec!["http://backend/".into()];
        store.apply(&e, None, Arc::from(""));
        assert!(tick(&mut store, t(60)).is_empty(), "60 s is not over 60 s");
        let ev = tick(&mut store, t(61));
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].alert.rule, Rule::ForwardFailing);
        assert!(
            ev[0]
                .alert
                .message
                .contains("forwarding to http://backend/"),
            "{}",
            ev[0].alert.message
        );
        let line = |attempt: u32, result: DeliveryResult| DeliveryLine {
            seq: 1 + u64::from(attempt),
            received_at: t(62),
            delivery: Delivery {
                of: 1,
                target: "http://backend/".into(),
                mode: ForwardMode::Async,
                attempt,
                result,
                status: Some(200),
                ms: 1,
                error: None,
                reply: None,
                retry_in_s: None,
                answered: None,
            },
        };
        store.apply_delivery_state(&line(1, DeliveryResult::Retry));
        assert!(tick(&mut store, t(62)).is_empty(), "a retry owes it still");
        store.apply_delivery_state(&line(2, DeliveryResult::Delivered));
        let ev = tick(&mut store, t(63));
        assert_eq!(ev.len(), 1);
        assert!(ev[0].resolved(), "delivered: nothing pending");
    }
}
