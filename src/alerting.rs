//! Running the alert rules ([`crate::core::alerts`]) and telling a human: once a second the
//! store is evaluated at the current time; each alert that fires or resolves goes to the
//! feed (`event: alert`), to `--alert-exec` and to `--alert-webhook`. The views read the
//! firing alerts and the event log from the store. Nothing here ever blocks ingest: the
//! evaluation holds the store's lock for one pass over the streams, and every program and
//! webhook runs in a task of its own.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Uri;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

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
    tokio::spawn(async move {
        let client = sinks.webhook.as_ref().and_then(|uri| {
            crate::util::http_client::connector(uri.scheme_str() == Some("https"), None)
                .map(|c| Client::builder(TokioExecutor::new()).build::<_, Full<Bytes>>(c))
                .map_err(|e| tracing::warn!("--alert-webhook: {e}"))
                .ok()
        });
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tick.tick().await;
            let events = crate::core::alerts::tick(&mut shared.lock(), chrono::Utc::now());
            if events.is_empty() {
                continue;
            }
            shared.notify();
            for e in events {
                let json = event_json(&e);
                if let Some(feed) = &feed {
                    feed.publish_alert(Arc::from(json.to_string()));
                }
                if let Some(program) = &sinks.exec {
                    tokio::spawn(run_exec(program.clone(), e.alert.clone(), json.to_string()));
                }
                if let (Some(uri), Some(client)) = (&sinks.webhook, &client) {
                    tokio::spawn(post_webhook(client.clone(), uri.clone(), json.to_string()));
                }
            }
        }
    })
}

/// The environment `--alert-exec` gets.
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
        ("RECMON_ALERT_STREAM", a.stream.clone().unwrap_or_default()),
        ("RECMON_ALERT_MESSAGE", a.message.clone()),
        (
            "RECMON_ALERT_SINCE",
            crate::core::journal::format_time(a.fired_at),
        ),
    ]
}

/// Runs `--alert-exec` for one event: the program itself (no shell: nothing in a stream name
/// is ever interpreted), the alert in its environment and as JSON on stdin, killed after
/// [`EXEC_TIMEOUT`]. A failure is logged.
async fn run_exec(program: PathBuf, alert: Alert, json: String) {
    use tokio::io::AsyncWriteExt;
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
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(json.as_bytes()).await;
        let _ = stdin.write_all(b"\n").await;
    }
    match tokio::time::timeout(EXEC_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => tracing::warn!(
            "--alert-exec {shown} failed ({}) for {}: {}",
            out.status,
            alert.rule.as_str(),
            terminal(&String::from_utf8_lossy(&out.stderr), 300)
        ),
        Ok(Err(e)) => tracing::warn!("--alert-exec {shown}: {e}"),
        Err(_) => tracing::warn!(
            "--alert-exec {shown} did not finish within {} s and was killed",
            EXEC_TIMEOUT.as_secs()
        ),
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
