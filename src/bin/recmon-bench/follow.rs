//! `recmon-bench follow`: N subscribers of one receiver's `GET /api/events`, each the real
//! attach feed client (`recmon::attach::feed_client`), reading every entry until each has
//! seen a given seq. A separate process, so that the subscribers never share a runtime with
//! the load generator or the receiver.
//!
//! Protocol on stdout, for the suite: `connected` once every subscriber has had its `hello`,
//! then one JSON object when all are done (or the time limit passed).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use recmon::attach::feed_client::{spawn_source, SourceConfig, SourceEvent};
use tokio::sync::mpsc;

/// What to follow and until when.
pub struct FollowSpec {
    /// The receiver's base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// How many subscribers.
    pub subscribers: usize,
    /// Each subscriber is done once it has an entry with this seq (or a later one).
    pub until: u64,
    /// Give up after this long.
    pub limit: Duration,
}

/// Per-subscriber progress.
#[derive(Default, Clone, Copy)]
struct Progress {
    connected: bool,
    last_seq: u64,
    entries: u64,
    /// Entries whose seq was not above the one before (must stay 0).
    out_of_order: u64,
    disconnects: u64,
}

/// Runs the subscribers and prints the protocol above; returns the process exit code.
pub async fn run(spec: FollowSpec) -> i32 {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<(usize, SourceEvent)>(8192);
    let mut tasks = Vec::with_capacity(spec.subscribers);
    for i in 0..spec.subscribers {
        let cfg = SourceConfig {
            url: spec.url.clone(),
            token: None,
            ca_cert: None,
        };
        match spawn_source(i, cfg, 0, tx.clone()) {
            Ok(t) => tasks.push(t),
            Err(e) => {
                eprintln!("recmon-bench: cannot follow {}: {e}", spec.url);
                return 2;
            }
        }
    }
    drop(tx);
    let mut p = vec![Progress::default(); spec.subscribers];
    let (mut connected, mut done) = (0usize, 0usize);
    let mut connected_s = None;
    let mut reasons: HashMap<String, u64> = HashMap::new();
    let deadline = tokio::time::Instant::now() + spec.limit;
    while done < spec.subscribers {
        let Ok(Some((i, ev))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        let s = &mut p[i];
        match ev {
            SourceEvent::Connected { .. } => {
                if !s.connected {
                    s.connected = true;
                    connected += 1;
                    if connected == spec.subscribers {
                        connected_s = Some(started.elapsed().as_secs_f64());
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "connected");
                        let _ = out.flush();
                    }
                }
            }
            SourceEvent::Entry { seq, .. } => {
                if seq <= s.last_seq {
                    s.out_of_order += 1;
                }
                let was_done = s.last_seq >= spec.until;
                s.last_seq = s.last_seq.max(seq);
                s.entries += 1;
                if !was_done && s.last_seq >= spec.until {
                    done += 1;
                }
            }
            SourceEvent::Disconnected { reason, .. } => {
                s.disconnects += 1;
                *reasons.entry(reason).or_default() += 1;
            }
        }
    }
    let done_s = started.elapsed().as_secs_f64();
    for t in &tasks {
        t.abort();
    }
    let entries: Vec<u64> = p.iter().map(|s| s.entries).collect();
    let report = serde_json::json!({
        "subscribers": spec.subscribers,
        "until": spec.until,
        "complete": done == spec.subscribers,
        "connected_s": connected_s,
        "done_s": done_s,
        "entries_min": entries.iter().min(),
        "entries_max": entries.iter().max(),
        "entries_total": entries.iter().sum::<u64>(),
        "out_of_order": p.iter().map(|s| s.out_of_order).sum::<u64>(),
        "disconnects": p.iter().map(|s| s.disconnects).sum::<u64>(),
        "disconnect_reasons": reasons,
    });
    println!("{report}");
    0
}
