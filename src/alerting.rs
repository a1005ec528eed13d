//! Running the alert rules ([`crate::core::alerts`]) and telling a human: once a second the
//! store is evaluated at the current time; each alert that fires or resolves goes to the
//! feed (`event: alert`), to `--alert-exec` and to `--alert-webhook`. The views read the
//! firing alerts and the event log from the store. Nothing here ever blocks ingest: the
//! evaluation holds the store's lock for one pass over the streams, and the programs and
//! webhooks run in tasks of their own.
//!
//! Each sink gets the events in the order they happened: one queue and one task per sink,
//! which runs the program (or POSTs, with its retries) for one event at a time, so that a
//! resolution never overtakes its firing, even while the firing's webhook is being retried
//! (the resolution waits until that firing is delivered or given up). A sink that falls far
//! behind drops new events past [`QUEUE_LIMIT`], saying so.
//!
//! A receiver's engine also marks its journal's modification time at each evaluation: a
//! `--resume` reads it as the time the last receiver still evaluated, and takes what fired
//! by then as already sent (see `service::already_paged`).

use std::fs::File;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc;

use crate::core::alerts::{Alert, AlertEvent};
use crate::core::feed::Feed;
use crate::core::store::SharedStore;
use crate::util::sanitize::terminal;

/// How often the rules are evaluated.
pub const TICK: Duration = Duration::from_secs(1);

/// How long `--alert-exec` may run before it is killed.
pub const EXEC_TIMEOUT: Duration = Duration::from_secs(10);

/// Attempts of one webhook POST (1 s, 2 s, 4 s, 8 s apart).
const WEBHOOK_ATTEMPTS: u32 = 5;

/// Events waiting for one sink at most; newer ones are dropped (and logged) until it catches
/// up. A webhook that is down takes about a minute per event, so this is many hours of them.
pub const QUEUE_LIMIT: usize = 1000;

/// The most of `--alert-exec`'s stderr kept for the log.
const EXEC_STDERR_KEPT: u64 = 64 * 1024;

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
/// aborted. `feed` is the receiver's (attached views have none to publish on).
pub fn start(
    shared: Arc<SharedStore>,
    feed: Option<Arc<Feed>>,
    sinks: AlertSinks,
) -> tokio::task::JoinHandle<()> {
    run(shared, feed, sinks, None)
}

/// [`start`] for a receiver: also publishes on its feed, and marks its journal (when it has
/// one) at each evaluation (see the module's documentation).
pub fn start_receiver(
    shared: Arc<SharedStore>,
    feed: Arc<Feed>,
    sinks: AlertSinks,
    journal: Option<&Path>,
) -> tokio::task::JoinHandle<()> {
    let mark = journal.and_then(|p| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .map_err(|e| tracing::warn!("alerts: cannot mark the journal {}: {e}", p.display()))
            .ok()
            // A device given as the journal (`/dev/null`) is not marked.
            .filter(|f| f.metadata().is_ok_and(|m| m.is_file()))
    });
    run(shared, Some(feed), sinks, mark)
}

fn run(
    shared: Arc<SharedStore>,
    feed: Option<Arc<Feed>>,
    sinks: AlertSinks,
    mark: Option<File>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let exec = sinks.exec.clone().map(|program| {
            SinkQueue::start("--alert-exec", move |(alert, json): Job| {
                run_exec(program.clone(), alert, json)
            })
        });
        let webhook = sinks.webhook.as_ref().and_then(|uri| {
            let client =
                crate::util::http_client::connector(uri.scheme_str() == Some("https"), None)
                    .map(|c| Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(c))
                    .map_err(|e| tracing::warn!("--alert-webhook: {e}"))
                    .ok()?;
            let uri = uri.clone();
            Some(SinkQueue::start(
                "--alert-webhook",
                move |(_, json): Job| post_webhook(client.clone(), uri.clone(), json),
            ))
        });
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let now = chrono::Utc::now();
            let events = crate::core::alerts::tick(&mut shared.lock(), now);
            if !events.is_empty() {
                shared.notify();
            }
            for e in events {
                let json = event_json(&e).to_string();
                if let Some(feed) = &feed {
                    feed.publish_alert(Arc::from(json.as_str()));
                }
                for q in [&exec, &webhook].into_iter().flatten() {
                    q.push((e.alert.clone(), json.clone()));
                }
            }
            if let Some(f) = &mark {
                mark_alive(f, now);
            }
        }
    })
}

/// One event for a sink: the alert and its JSON.
type Job = (Alert, String);

/// One sink's queue: a task takes the events one at a time, in order.
struct SinkQueue {
    name: &'static str,
    tx: mpsc::UnboundedSender<Job>,
    queued: Arc<AtomicUsize>,
    /// Dropping events now (said once until the queue has room again).
    dropping: std::cell::Cell<bool>,
}

impl SinkQueue {
    /// Starts the sink's task. It ends when the queue is dropped and every event taken.
    fn start<F, Fut>(name: &'static str, deliver: F) -> SinkQueue
    where
        F: Fn(Job) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        let queued = Arc::new(AtomicUsize::new(0));
        let left = queued.clone();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                deliver(job).await;
                left.fetch_sub(1, Ordering::Relaxed);
            }
        });
        SinkQueue {
            name,
            tx,
            queued,
            dropping: std::cell::Cell::new(false),
        }
    }

    fn push(&self, job: Job) {
        if self.queued.load(Ordering::Relaxed) >= QUEUE_LIMIT {
            if !self.dropping.replace(true) {
                tracing::warn!(
                    "{}: {QUEUE_LIMIT} alert events are waiting; newer ones are dropped until it catches up",
                    self.name
                );
            }
            return;
        }
        self.dropping.set(false);
        self.queued.fetch_add(1, Ordering::Relaxed);
        if self.tx.send(job).is_err() {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Sets the journal's modification time to `now`, the time the rules were just evaluated at.
/// Setting a given time needs the file's ownership; where the receiver only may write it, the
/// system's "now" (a few milliseconds coarser) is set instead.
fn mark_alive(file: &File, now: chrono::DateTime<chrono::Utc>) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let times = [
            libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
            libc::timespec {
                tv_sec: now.timestamp() as libc::time_t,
                tv_nsec: now.timestamp_subsec_nanos() as _,
            },
        ];
        // SAFETY: the fd is open for the call and `times` holds the two entries it reads; a
        // null `times` sets both to now.
        unsafe {
            if libc::futimens(file.as_raw_fd(), times.as_ptr()) != 0 {
                libc::futimens(file.as_raw_fd(), std::ptr::null());
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file.set_modified(now.into());
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

/// Runs `--alert-exec` for one event: the program itself (no shell: nothing in a stream name
/// is ever interpreted), the alert in its environment and as JSON on stdin, killed after
/// [`EXEC_TIMEOUT`] whatever it is doing, reading its stdin or not (writing the JSON is
/// inside the time limit). A failure is logged.
async fn run_exec(program: PathBuf, alert: Alert, json: String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let shown = terminal(&program.display().to_string(), 200).into_owned();
    let mut cmd = tokio::process::Command::new(&program);
    cmd.envs(exec_env(&alert))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("--alert-exec {shown} could not be started: {e}");
            return;
        }
    };
    let stdin = child.stdin.take();
    let stderr = child.stderr.take();
    let finished = tokio::time::timeout(EXEC_TIMEOUT, async {
        let write = async {
            if let Some(mut stdin) = stdin {
                // A program that exits without reading it all is not an error.
                let _ = stdin.write_all(json.as_bytes()).await;
                let _ = stdin.write_all(b"\n").await;
            }
        };
        let read = async {
            let mut text = Vec::new();
            if let Some(stderr) = stderr {
                let _ = stderr.take(EXEC_STDERR_KEPT).read_to_end(&mut text).await;
            }
            text
        };
        let ((), text) = tokio::join!(write, read);
        (child.wait().await, text)
    })
    .await;
    match finished {
        Ok((Ok(status), _)) if status.success() => {}
        Ok((Ok(status), text)) => tracing::warn!(
            "--alert-exec {shown} failed ({status}) for {}: {}",
            alert.rule.as_str(),
            terminal(&String::from_utf8_lossy(&text), 300)
        ),
        Ok((Err(e), _)) => tracing::warn!("--alert-exec {shown}: {e}"),
        Err(_) => {
            // Killed and reaped now, not whenever the runtime gets to it.
            let _ = child.kill().await;
            tracing::warn!(
                "--alert-exec {shown} did not finish within {} s and was killed",
                EXEC_TIMEOUT.as_secs()
            )
        }
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
) {
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
            Ok(Ok(status)) if status.is_success() => return,
            Ok(Ok(status)) => format!("answered {status}"),
            Ok(Err(e)) => crate::util::http_client::describe_error(&e, "the webhook"),
            Err(_) => "no answer within 10 s".to_string(),
        };
        if attempt == WEBHOOK_ATTEMPTS {
            tracing::warn!("--alert-webhook: gave up after {attempt} attempts: {why}");
            return;
        }
        tracing::warn!(
            "--alert-webhook: attempt {attempt} failed ({why}); retrying in {} s",
            wait.as_secs()
        );
        tokio::time::sleep(wait).await;
        wait *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_values_are_cut_to_what_a_program_can_be_started_with() {
        let e = env_value(&"é".repeat(EXEC_ENV_VALUE_MAX));
        assert!(e.len() <= EXEC_ENV_VALUE_MAX, "{}", e.len());
        assert!(e.ends_with("é…"));
        assert_eq!(env_value("short"), "short");
    }
}
