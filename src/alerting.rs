//! Running the alert rules ([`crate::core::alerts`]) and telling a human: once a second the
//! store is evaluated at the current time; each alert that fires or resolves goes to
//! `--alert-exec` and to `--alert-webhook`. Nothing here ever blocks ingest: the evaluation
//! holds the store's lock for one pass over the streams, and the programs and webhooks run in
//! tasks of their own.
//!
//! A receiver's engine changes no state itself: each transition it decides (fired, updated,
//! resolved) is committed through the sequencer as a journal line of its own kind
//! ([`crate::core::alerts::line`]), and the store applies it from there, like any other line;
//! the feed carries it to `/api/events` (`event: alert`) and attached views. Each page's
//! outcome at a sink is journaled too (`alert_sent`), so a `--resume` knows what was firing
//! (nothing is paged again for it) and which pages no sink took yet: those are sent again
//! when the engine starts. Sending twice is preferred over never. Should the journal fail,
//! the transition is applied in memory and paged all the same (`journal_failure` must reach
//! someone), and nothing is owed for it.
//!
//! An attached view has no journal: its engine applies what it decides to its own store.
//!
//! Each alert's own events reach each sink in the order they happened: a resolution never
//! overtakes its firing, even while the firing's webhook is being retried (the resolution
//! waits until that firing is delivered or given up). Events of different alerts (rule and
//! stream) do not wait for each other: a sink runs up to [`SINK_IN_FLIGHT`] of them at once, so
//! a webhook that never answers for one alert delays that alert only. A sink that falls far
//! behind drops new events past [`QUEUE_LIMIT`], saying so.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::core::alerts::{Alert, AlertEvent, AlertNote, AlertSent, Change, Rule};
use crate::core::sequencer::Sequencer;
use crate::core::store::SharedStore;
use crate::util::sanitize::terminal;

/// How often the rules are evaluated.
pub const TICK: Duration = Duration::from_secs(1);

/// How long `--alert-exec` may run before it is killed.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts of one webhook POST (1 s, 2 s, 4 s, 8 s apart).
const WEBHOOK_ATTEMPTS: u32 = 5;

/// Events waiting for one sink at most (running ones included); newer ones are dropped (and
/// logged) until it catches up. A webhook that is down takes about a minute per event, with
/// [`SINK_IN_FLIGHT`] at once, so this is hours of them.
pub const QUEUE_LIMIT: usize = 1000;

/// Events one sink delivers at once, each of a different alert.
pub const SINK_IN_FLIGHT: usize = 8;

/// The most of `--alert-exec`'s stderr kept for the log; the rest is read and discarded.
const EXEC_STDERR_KEPT: usize = 64 * 1024;

/// How long `--alert-exec`'s stderr is still read after the program exited: a child it left
/// running may hold the pipe open for as long as it runs.
const EXEC_STDERR_GRACE: Duration = Duration::from_millis(200);

/// The name of `--alert-exec` in journal lines.
pub const EXEC_SINK: &str = "exec";
/// The name of `--alert-webhook` in journal lines.
pub const WEBHOOK_SINK: &str = "webhook";

/// Where alerts go besides the views.
#[derive(Debug, Clone, Default)]
pub struct AlertSinks {
    /// `--alert-exec PROGRAM`: run directly (never through a shell) for each event.
    pub exec: Option<PathBuf>,
    /// `--alert-webhook URL`: POSTed each event's JSON with a `text` field.
    pub webhook: Option<Uri>,
}

/// An alert event as JSON: the alert's fields plus `text`, one line a chat shows (Slack-style
/// incoming webhooks take exactly that field).
pub fn event_json(e: &AlertEvent) -> serde_json::Value {
    let mut v = serde_json::to_value(&e.alert).expect("an alert serializes");
    v["text"] = serde_json::Value::String(format!("recmon: {}", e.line()));
    v
}

/// Starts evaluating the store's alert rules every [`TICK`] until the returned handle is
/// aborted, applying what changes to the store itself: for a store no journal backs (an
/// attached view).
pub fn start(shared: Arc<SharedStore>, sinks: AlertSinks) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(shared, None, sinks))
}

/// [`start`] for a receiver: each transition is committed through `sequencer` (see the
/// module's documentation), and the pages its journal still owes are sent first.
pub fn start_receiver(
    shared: Arc<SharedStore>,
    sequencer: Sequencer,
    sinks: AlertSinks,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(shared, Some(sequencer), sinks))
}

async fn run(shared: Arc<SharedStore>, sequencer: Option<Sequencer>, sinks: AlertSinks) {
    let report: Option<Report> = sequencer.clone().map(|seq| -> Report {
        Arc::new(move |sent: AlertSent| {
            let seq = seq.clone();
            tokio::spawn(async move {
                if let Err(e) = seq.record_alert(AlertNote::AlertSent(sent)).await {
                    tracing::warn!("alerts: a page's outcome was not journaled: {}", e.0);
                }
            });
        })
    });
    let exec = sinks.exec.clone().map(|program| {
        SinkQueue::start(
            "--alert-exec",
            EXEC_SINK,
            report.clone(),
            move |alert, json| run_exec(program.clone(), alert, json),
        )
    });
    let webhook = sinks.webhook.as_ref().and_then(|uri| {
        let client = crate::util::http_client::connector(uri.scheme_str() == Some("https"), None)
            .map(|c| Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(c))
            .map_err(|e| tracing::warn!("--alert-webhook: {e}"))
            .ok()?;
        let uri = uri.clone();
        Some(SinkQueue::start(
            "--alert-webhook",
            WEBHOOK_SINK,
            report.clone(),
            move |_, json| post_webhook(client.clone(), uri.clone(), json),
        ))
    });
    let queues: Vec<&SinkQueue> = [&exec, &webhook].into_iter().flatten().collect();
    let names: Vec<String> = queues.iter().map(|q| q.sink.to_string()).collect();
    // What the journal still owes: pages no sink took before the last receiver stopped.
    if sequencer.is_some() {
        let owed: Vec<(u64, Vec<String>, AlertEvent)> = shared
            .lock()
            .alerts()
            .owed()
            .map(|(seq, sinks, e)| (seq, sinks.to_vec(), e.clone()))
            .collect();
        for (of, owed_to, e) in owed {
            let json = event_json(&e).to_string();
            for sink in owed_to {
                match queues.iter().find(|q| q.sink == sink) {
                    Some(q) => q.push(Job::new(&e, json.clone(), Some(of))),
                    // That sink is not configured any more: nobody to send it to.
                    None => {
                        if let Some(r) = &report {
                            r(AlertSent {
                                of,
                                sink,
                                delivered: false,
                                error: Some("not configured when the receiver restarted".into()),
                            });
                        }
                    }
                }
            }
        }
    }
    let mut journal_failing = false;
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        let now = Utc::now();
        let Some(sequencer) = &sequencer else {
            let events = crate::core::alerts::tick(&mut shared.lock(), now);
            if !events.is_empty() {
                shared.notify();
            }
            for e in events {
                let json = event_json(&e).to_string();
                for q in &queues {
                    q.push(Job::new(&e, json.clone(), None));
                }
            }
            continue;
        };
        let mut changes = crate::core::alerts::decide(&shared.lock(), now);
        if changes.is_empty() {
            continue;
        }
        for change in &mut changes {
            if change.state != Change::Updated {
                change.sinks = names.clone();
            }
        }
        let notes = changes
            .iter()
            .map(|c| AlertNote::Alert(Box::new(c.clone())))
            .collect();
        let results = sequencer.record_alerts(notes).await;
        for (change, result) in changes.into_iter().zip(results) {
            let (event, of) = match result {
                Ok(seq) => {
                    journal_failing = false;
                    (change.event(), Some(seq))
                }
                Err(e) => {
                    if !journal_failing {
                        tracing::warn!(
                            "alerts: the journal cannot be written ({}); alerts are paged without being journaled",
                            e.0
                        );
                        journal_failing = true;
                    }
                    let event = shared.lock().apply_alert_change_unjournaled(&change);
                    shared.notify();
                    (event, None)
                }
            };
            let Some(e) = event else { continue };
            let json = event_json(&e).to_string();
            for q in &queues {
                q.push(Job::new(&e, json.clone(), of));
            }
        }
    }
}

/// Which alert an event is of: its rule and stream. Events of one alert reach a sink in order.
type AlertKey = (Rule, Option<String>);

/// Journals a page's outcome at a sink (a receiver's; none for an attached view).
type Report = Arc<dyn Fn(AlertSent) + Send + Sync>;

/// One event for a sink.
struct Job {
    key: AlertKey,
    alert: Alert,
    json: String,
    /// The seq of its journal line (`None`: not journaled).
    of: Option<u64>,
}

impl Job {
    fn new(e: &AlertEvent, json: String, of: Option<u64>) -> Job {
        Job {
            key: (e.alert.rule, e.alert.stream.clone()),
            alert: e.alert.clone(),
            json,
            of,
        }
    }
}

/// One sink: a dispatcher task starts each event once no earlier event of its alert is
/// running, the oldest first, up to [`SINK_IN_FLIGHT`] at once.
struct SinkQueue {
    name: &'static str,
    /// Its name in journal lines.
    sink: &'static str,
    tx: mpsc::UnboundedSender<Job>,
    /// Events queued or running.
    queued: Arc<AtomicUsize>,
    report: Option<Report>,
    /// Dropping events now (said once until the queue has room again).
    dropping: std::sync::atomic::AtomicBool,
}

impl SinkQueue {
    /// Starts the sink's task. It ends when the queue is dropped and every event delivered.
    fn start<F, Fut>(
        name: &'static str,
        sink: &'static str,
        report: Option<Report>,
        deliver: F,
    ) -> SinkQueue
    where
        F: Fn(Alert, String) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel::<Job>();
        let queued = Arc::new(AtomicUsize::new(0));
        tokio::spawn(dispatch(rx, deliver, queued.clone(), sink, report.clone()));
        SinkQueue {
            name,
            sink,
            tx,
            queued,
            report,
            dropping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn push(&self, job: Job) {
        if self.queued.load(Ordering::Relaxed) >= QUEUE_LIMIT {
            if !self.dropping.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "{}: {QUEUE_LIMIT} alert events are waiting; newer ones are dropped until it catches up",
                    self.name
                );
            }
            if let (Some(r), Some(of)) = (&self.report, job.of) {
                r(AlertSent {
                    of,
                    sink: self.sink.to_string(),
                    delivered: false,
                    error: Some(format!("dropped: {QUEUE_LIMIT} events were waiting")),
                });
            }
            return;
        }
        self.dropping.store(false, Ordering::Relaxed);
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// A sink's dispatcher (see [`SinkQueue`]).
async fn dispatch<F, Fut>(
    mut rx: mpsc::UnboundedReceiver<Job>,
    deliver: F,
    queued: Arc<AtomicUsize>,
    sink: &'static str,
    report: Option<Report>,
) where
    F: Fn(Alert, String) -> Fut,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let mut waiting: VecDeque<Job> = VecDeque::new();
    let mut running = JoinSet::new();
    let mut busy: HashMap<tokio::task::Id, (AlertKey, Option<u64>)> = HashMap::new();
    let mut open = true;
    loop {
        while running.len() < SINK_IN_FLIGHT {
            let Some(i) = waiting
                .iter()
                .position(|j| !busy.values().any(|(key, _)| *key == j.key))
            else {
                break;
            };
            let job = waiting.remove(i).expect("a position in the queue");
            let id = running.spawn(deliver(job.alert, job.json)).id();
            busy.insert(id, (job.key, job.of));
        }
        if !open && running.is_empty() {
            // Nothing runs, so nothing waits either.
            return;
        }
        tokio::select! {
            job = rx.recv(), if open => match job {
                Some(job) => waiting.push_back(job),
                None => open = false,
            },
            Some(done) = running.join_next_with_id() => {
                let (id, outcome) = match done {
                    Ok((id, outcome)) => (id, outcome),
                    Err(e) => (e.id(), Err("the delivery task failed".to_string())),
                };
                if let Some((_, of)) = busy.remove(&id) {
                    queued.fetch_sub(1, Ordering::Relaxed);
                    if let (Some(r), Some(of)) = (&report, of) {
                        r(AlertSent {
                            of,
                            sink: sink.to_string(),
                            delivered: outcome.is_ok(),
                            error: outcome.err().map(|e| terminal(&e, 300).into_owned()),
                        });
                    }
                }
            }
        }
    }
}

/// The most bytes of one `RECMON_ALERT_*` value: the system refuses to start a program with
/// a longer one (Linux: 128 KiB per string), and the whole text is on stdin anyway.
pub const EXEC_ENV_VALUE_MAX: usize = 16 * 1024;

/// `text` cut to [`EXEC_ENV_VALUE_MAX`] bytes at a character boundary, ending with `…` when
/// cut.
fn env_value(text: &str) -> String {
    if text.len() <= EXEC_ENV_VALUE_MAX {
        return text.to_string();
    }
    let mut end = EXEC_ENV_VALUE_MAX - '…'.len_utf8();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// The environment `--alert-exec` gets (a stream name or message too long for an
/// environment is cut, see [`EXEC_ENV_VALUE_MAX`]).
pub fn exec_env(a: &Alert) -> Vec<(&'static str, String)> {
    vec![
        ("RECMON_ALERT_RULE", a.rule.as_str().to_string()),
        (
            "RECMON_ALERT_STATE",
            if a.resolved_at.is_some() {
                "resolved"
            } else {
                "firing"
            }
            .to_string(),
        ),
        ("RECMON_ALERT_SEVERITY", a.severity.as_str().to_string()),
        (
            "RECMON_ALERT_STREAM",
            env_value(a.stream.as_deref().unwrap_or_default()),
        ),
        ("RECMON_ALERT_MESSAGE", env_value(&a.message)),
        (
            "RECMON_ALERT_SINCE",
            crate::core::journal::format_time(a.fired_at),
        ),
    ]
}

/// How one run of `--alert-exec` ended.
#[derive(Debug)]
enum ExecOutcome {
    /// Exited 0.
    Succeeded,
    /// Exited otherwise, with the start of what it wrote to stderr.
    Failed(std::process::ExitStatus, Vec<u8>),
    /// Waiting for it failed.
    Error(std::io::Error),
    /// Still running at the time limit, and killed.
    Killed,
}

/// Runs `--alert-exec` for one event (see [`exec_program`]) and logs a failure; `Err` says
/// why it failed (it is not run again: a program is its own judge of retrying).
async fn run_exec(program: PathBuf, alert: Alert, json: String) -> Result<(), String> {
    let shown = terminal(&program.display().to_string(), 200).into_owned();
    let outcome = match exec_program(&program, &alert, &json, EXEC_TIMEOUT) {
        Ok(run) => run.await,
        Err(e) => {
            tracing::warn!("--alert-exec {shown} could not be started: {e}");
            return Err(format!("could not be started: {e}"));
        }
    };
    let why = match outcome {
        ExecOutcome::Succeeded => return Ok(()),
        ExecOutcome::Failed(status, text) => {
            tracing::warn!(
                "--alert-exec {shown} failed ({status}) for {}: {}",
                alert.rule.as_str(),
                terminal(&String::from_utf8_lossy(&text), 300)
            );
            format!("failed ({status})")
        }
        ExecOutcome::Error(e) => {
            tracing::warn!("--alert-exec {shown}: {e}");
            e.to_string()
        }
        ExecOutcome::Killed => {
            tracing::warn!(
                "--alert-exec {shown} did not finish within {} s and was killed",
                EXEC_TIMEOUT.as_secs()
            );
            format!("killed after {} s", EXEC_TIMEOUT.as_secs())
        }
    };
    Err(why)
}

/// Starts `--alert-exec` for one event: the program itself (no shell: nothing in a stream
/// name is ever interpreted), the alert in its environment and as JSON on stdin. The run ends
/// when the program exits, or at `limit` whatever it is doing, reading its stdin or not
/// (writing the JSON is inside the time limit), when it is killed. Its stderr is read all
/// along (the first [`EXEC_STDERR_KEPT`] bytes kept), and for [`EXEC_STDERR_GRACE`] after it
/// exited: a child it left running that holds stdin or stderr open does not hold the run.
fn exec_program(
    program: &Path,
    alert: &Alert,
    json: &str,
    limit: Duration,
) -> std::io::Result<impl Future<Output = ExecOutcome>> {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new(program);
    cmd.envs(exec_env(alert))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take();
    let mut stderr = child.stderr.take();
    let json = json.to_string();
    Ok(async move {
        // Stdin is closed once written (or when the program has exited, written or not: a
        // program that exits without reading it all is not an error).
        let mut write = std::pin::pin!(async move {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(json.as_bytes()).await;
                let _ = stdin.write_all(b"\n").await;
            }
        });
        let mut written = false;
        let mut kept = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        let keep = |kept: &mut Vec<u8>, got: &[u8]| {
            let room = EXEC_STDERR_KEPT.saturating_sub(kept.len());
            kept.extend_from_slice(&got[..got.len().min(room)]);
        };
        let deadline = tokio::time::sleep(limit);
        let mut deadline = std::pin::pin!(deadline);
        let exited = loop {
            tokio::select! {
                status = child.wait() => break Some(status),
                () = &mut write, if !written => written = true,
                got = read_some(&mut stderr, &mut buf), if stderr.is_some() => match got {
                    Some(n) => keep(&mut kept, &buf[..n]),
                    None => stderr = None,
                },
                () = &mut deadline => break None,
            }
        };
        let Some(exited) = exited else {
            // Killed and reaped now, not whenever the runtime gets to it.
            let _ = child.kill().await;
            return ExecOutcome::Killed;
        };
        let status = match exited {
            Ok(status) if status.success() => return ExecOutcome::Succeeded,
            Ok(status) => status,
            Err(e) => return ExecOutcome::Error(e),
        };
        let _ = tokio::time::timeout(EXEC_STDERR_GRACE, async {
            while let Some(n) = read_some(&mut stderr, &mut buf).await {
                keep(&mut kept, &buf[..n]);
            }
        })
        .await;
        ExecOutcome::Failed(status, kept)
    })
}

/// Reads some of `from` into `buf`: how much, or `None` at its end (or on an error, or when
/// there is nothing to read).
async fn read_some(
    from: &mut Option<tokio::process::ChildStderr>,
    buf: &mut [u8],
) -> Option<usize> {
    use tokio::io::AsyncReadExt;
    match from.as_mut()?.read(buf).await {
        Ok(0) | Err(_) => None,
        Ok(n) => Some(n),
    }
}

/// POSTs one event to `--alert-webhook`, retried with backoff on a non-2xx or no answer.
async fn post_webhook(
    client: Client<
        hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        Full<Bytes>,
    >,
    uri: Uri,
    json: String,
) -> Result<(), String> {
    let body = Bytes::from(json);
    let mut wait = Duration::from_secs(1);
    for attempt in 1..=WEBHOOK_ATTEMPTS {
        let req = hyper::Request::post(uri.clone())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(hyper::header::USER_AGENT, "recmon-alert")
            .body(Full::new(body.clone()))
            .expect("a valid request");
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let resp = client.request(req).await?;
            let status = resp.status();
            let _ = resp.into_body().collect().await;
            Ok::<_, hyper_util::client::legacy::Error>(status)
        })
        .await;
        let why = match answer {
            Ok(Ok(status)) if status.is_success() => return Ok(()),
            Ok(Ok(status)) => format!("answered {status}"),
            Ok(Err(e)) => crate::util::http_client::describe_error(&e, "the webhook"),
            Err(_) => "no answer within 10 s".to_string(),
        };
        if attempt == WEBHOOK_ATTEMPTS {
            tracing::warn!("--alert-webhook: gave up after {attempt} attempts: {why}");
            return Err(format!("gave up after {attempt} attempts: {why}"));
        }
        tracing::warn!(
            "--alert-webhook: attempt {attempt} failed ({why}); retrying in {} s",
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
    Err("no attempt made".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::alerts::Severity;
    use std::sync::Mutex;

    fn alert(stream: &str) -> Alert {
        Alert {
            rule: Rule::PausedTooLong,
            state: "firing",
            severity: Severity::Warning,
            stream: Some(stream.to_string()),
            fired_at: Utc::now(),
            resolved_at: None,
            message: "paused".into(),
        }
    }

    fn script(dir: &Path, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("hook.sh");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    async fn exec(body: &str) -> (ExecOutcome, Duration) {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), body);
        let started = std::time::Instant::now();
        let outcome = exec_program(&program, &alert("cam"), "{}", EXEC_TIMEOUT)
            .unwrap()
            .await;
        (outcome, started.elapsed())
    }

    #[tokio::test]
    async fn a_hook_that_leaves_a_child_holding_its_stderr_is_finished_when_it_exits() {
        let (outcome, took) = exec("sleep 15 &\necho done >&2\nexit 3").await;
        assert!(took < Duration::from_secs(3), "took {took:?}");
        match outcome {
            ExecOutcome::Failed(status, text) => {
                assert_eq!(status.code(), Some(3));
                assert_eq!(String::from_utf8_lossy(&text).trim(), "done");
            }
            other => panic!("{other:?}"),
        }
        let (outcome, took) = exec("sleep 15 &\necho done").await;
        assert!(took < Duration::from_secs(3), "took {took:?}");
        assert!(matches!(outcome, ExecOutcome::Succeeded), "{outcome:?}");
    }

    #[tokio::test]
    async fn a_hook_writing_a_mebibyte_to_stderr_is_not_killed() {
        let (outcome, took) = exec("head -c 1048576 /dev/zero | tr '\\0' x >&2\nexit 0").await;
        assert!(matches!(outcome, ExecOutcome::Succeeded), "{outcome:?}");
        assert!(took < Duration::from_secs(5), "took {took:?}");
        // A failing one keeps the start of it.
        let (outcome, _) = exec("head -c 1048576 /dev/zero | tr '\\0' x >&2\nexit 1").await;
        match outcome {
            ExecOutcome::Failed(_, text) => {
                assert_eq!(text.len(), EXEC_STDERR_KEPT);
                assert!(text.iter().all(|&b| b == b'x'));
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_hook_is_still_killed_at_its_time_limit() {
        let dir = tempfile::tempdir().unwrap();
        let program = script(dir.path(), "exec sleep 30");
        let started = std::time::Instant::now();
        let outcome = exec_program(&program, &alert("cam"), "{}", Duration::from_millis(300))
            .unwrap()
            .await;
        assert!(matches!(outcome, ExecOutcome::Killed), "{outcome:?}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    /// A sink whose deliveries record `(stream, state)` when they start and end when the test
    /// lets that stream's go.
    struct Gated {
        started: Arc<Mutex<Vec<(String, &'static str)>>>,
        gates: Arc<Mutex<HashMap<String, Arc<tokio::sync::Semaphore>>>>,
    }

    impl Gated {
        fn new() -> Gated {
            Gated {
                started: Default::default(),
                gates: Default::default(),
            }
        }

        fn gate(&self, stream: &str) -> Arc<tokio::sync::Semaphore> {
            self.gates
                .lock()
                .unwrap()
                .entry(stream.to_string())
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(0)))
                .clone()
        }

        fn queue(&self, report: Option<Report>) -> SinkQueue {
            let (started, gates) = (self.started.clone(), self.gates.clone());
            SinkQueue::start("test", "test", report, move |alert, _| {
                let stream = alert.stream.clone().unwrap();
                started.lock().unwrap().push((stream.clone(), alert.state));
                let gate = gates
                    .lock()
                    .unwrap()
                    .entry(stream)
                    .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(0)))
                    .clone();
                async move {
                    gate.acquire().await.unwrap().forget();
                    Ok(())
                }
            })
        }

        fn started(&self) -> Vec<(String, &'static str)> {
            self.started.lock().unwrap().clone()
        }

        async fn wait_started(&self, n: usize) {
            for _ in 0..200 {
                if self.started().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("started only {:?}", self.started());
        }
    }

    fn job(stream: &str, state: &'static str, of: Option<u64>) -> Job {
        let mut a = alert(stream);
        a.state = state;
        Job {
            key: (a.rule, a.stream.clone()),
            alert: a,
            json: String::new(),
            of,
        }
    }

    #[tokio::test]
    async fn a_stuck_alert_delays_its_own_events_only() {
        let sink = Gated::new();
        let q = sink.queue(Default::default());
        q.push(job("a", "firing", None));
        q.push(job("a", "resolved", None));
        q.push(job("b", "firing", None));
        q.push(job("b", "resolved", None));
        sink.wait_started(2).await;
        // b's firing runs while a's is stuck; a's resolution waits for a's firing.
        assert_eq!(
            sink.started(),
            [("a".to_string(), "firing"), ("b".to_string(), "firing")]
        );
        sink.gate("b").add_permits(1);
        sink.wait_started(3).await;
        assert_eq!(sink.started()[2], ("b".to_string(), "resolved"));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            sink.started().len(),
            3,
            "a's resolution overtook its firing"
        );
        sink.gate("a").add_permits(1);
        sink.wait_started(4).await;
        assert_eq!(sink.started()[3], ("a".to_string(), "resolved"));
    }

    #[tokio::test]
    async fn a_sink_runs_a_bounded_number_of_alerts_at_once() {
        let sink = Gated::new();
        let q = sink.queue(Default::default());
        for i in 0..SINK_IN_FLIGHT + 2 {
            q.push(job(&format!("s{i}"), "firing", None));
        }
        sink.wait_started(SINK_IN_FLIGHT).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(sink.started().len(), SINK_IN_FLIGHT);
        assert_eq!(q.queued.load(Ordering::Relaxed), SINK_IN_FLIGHT + 2);
        sink.gate("s3").add_permits(1);
        sink.wait_started(SINK_IN_FLIGHT + 1).await;
        assert_eq!(
            sink.started()[SINK_IN_FLIGHT].0,
            format!("s{SINK_IN_FLIGHT}"),
            "the oldest waiting one next"
        );
    }

    #[tokio::test]
    async fn each_journaled_page_reports_its_outcome_once() {
        let sent: Arc<Mutex<Vec<AlertSent>>> = Default::default();
        let into = sent.clone();
        let report: Report = Arc::new(move |s| into.lock().unwrap().push(s));
        let sink = Gated::new();
        let q = sink.queue(Some(report));
        q.push(job("a", "firing", Some(7)));
        q.push(job("b", "firing", None));
        sink.wait_started(2).await;
        assert!(
            sent.lock().unwrap().is_empty(),
            "reported before it was delivered"
        );
        sink.gate("a").add_permits(1);
        sink.gate("b").add_permits(1);
        for _ in 0..200 {
            if q.queued.load(Ordering::Relaxed) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            *sent.lock().unwrap(),
            [AlertSent {
                of: 7,
                sink: "test".into(),
                delivered: true,
                error: None
            }],
            "only the journaled page is reported"
        );
    }

    #[test]
    fn environment_values_are_cut_to_what_a_program_can_be_started_with() {
        let e = env_value(&"é".repeat(EXEC_ENV_VALUE_MAX));
        assert!(e.len() <= EXEC_ENV_VALUE_MAX, "{}", e.len());
        assert!(e.ends_with("é…"));
        assert_eq!(env_value("short"), "short");
    }
}
