//! Checking every recording against the file itself while the broadcast runs (`--verify`): a
//! subscriber of the feed, off the ingest path.
//!
//! Each accepted recording callback on the feed is checked where its file lives (the rule of
//! [`crate::verify::location`]: OSS, COS, S3, a directory, this host's disk, HTTP), reading
//! only what [`crate::verify::media::probe`] needs, at most [`VerifyConfig::concurrency`]
//! files at once. A file that is not there yet is looked for again (1 s, 2 s, 4 s … apart)
//! until [`VerifyConfig::missing_for`] has passed since the first look: object stores lag
//! behind the callback. Then the verdict is final and committed through the sequencer as a
//! journal line of its own ([`crate::core::checks`]): the store, the views, attach, export and
//! the report see it like any other entry.
//!
//! Nothing here delays an answer to the provider: the verifier follows the feed at its own
//! pace, and when it falls behind (a slow store, a burst of files) it simply reads on from
//! the journal later; it holds at most [`RETRY_MAX`] files waiting for another look.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::core::checks::FileVerdict;
use crate::core::feed::{FeedItem, Next, Subscription};
use crate::core::journal::{parse_line, Line};
use crate::core::rebuild::callback_of_ref;
use crate::core::sequencer::Sequencer;
use crate::event::{Callback, Outcome, Provider};
use crate::verify::location::{Rules, Store, Target};
use crate::verify::media::{self, Probe, ReadError};
use crate::verify::reader::{self, Credentials};
use crate::verify::verdict::{self, Expect, Unchecked, Verdict};

/// Files held waiting for another look, at most; past it the verifier takes nothing more
/// from the feed until some are done (the journal keeps the rest).
pub const RETRY_MAX: usize = 10_000;

/// The first wait before a missing file is looked for again; each later one doubles, up to
/// [`RETRY_WAIT_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_WAIT_MAX: Duration = Duration::from_secs(30);

/// HLS segments looked for (a stat each) per playlist, at most.
const SEGMENTS_CHECKED: usize = 2_000;

/// How files are checked.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// Where each provider's (and domain's) files are.
    pub rules: Rules,
    /// Files checked at once (`--verify-concurrency`, 8).
    pub concurrency: usize,
    /// How long a missing file is looked for before `missing` is final (`--verify-missing-for`,
    /// 3m).
    pub missing_for: Duration,
    /// What a recording should have, and how far its duration may be off.
    pub expect: Expect,
    /// How long one request to a store may take (`--verify-timeout`, 10s).
    pub timeout: Duration,
}

impl VerifyConfig {
    /// The defaults with these rules.
    pub fn new(rules: Rules) -> VerifyConfig {
        VerifyConfig {
            rules,
            concurrency: 8,
            missing_for: Duration::from_secs(180),
            expect: Expect::default(),
            timeout: reader::DEFAULT_TIMEOUT,
        }
    }
}

/// One recording file to check.
#[derive(Debug, Clone, PartialEq)]
pub struct FileJob {
    /// The recording callback's seq.
    pub of: u64,
    /// Whose callback it was.
    pub provider: Provider,
    /// The stream's domain (for nginx-rtmp the host of its `tcurl`, for SRS its vhost): what a
    /// `PROVIDER:DOMAIN=` rule matches.
    pub domain: String,
    /// The file the callback names: an object key, a path, a URL.
    pub uri: String,
    /// The duration the callback claimed, when it claimed one (nginx-rtmp's and SRS's
    /// callbacks claim none).
    pub claimed_s: Option<f64>,
}

impl FileJob {
    /// The job for a committed line, when it is an accepted recording callback. `cb` is the
    /// line's callback when the caller has it (the feed carries it for this run's lines).
    pub fn of_line(line: &str, cb: Option<&Callback>) -> Option<FileJob> {
        let Ok(Line::Request(e)) = parse_line(line) else {
            return None;
        };
        if e.outcome != Outcome::Accepted {
            return None;
        }
        let parsed;
        let cb = match cb {
            Some(cb) => cb,
            None => {
                parsed = callback_of_ref(&e)?;
                &parsed
            }
        };
        let Callback::Recording(r) = cb else {
            return None;
        };
        Some(FileJob {
            of: e.seq,
            provider: e.provider,
            domain: r.id.domain.clone(),
            uri: r.uri.clone(),
            // A derived duration (none claimed) is not the provider's word.
            claimed_s: r.duration.filter(|d| d.is_finite() && *d > 0.0),
        })
    }
}

/// Where a target is, for a person and the journal: the store and the path, never a
/// credential (an endpoint's query is dropped).
pub fn describe(target: &Target) -> String {
    let join = |prefix: &str, path: &str| {
        format!(
            "{}/{}",
            prefix.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    };
    match &target.store {
        Store::Oss(b) => join(&format!("oss://{}", b.bucket), &target.path),
        Store::Cos(b) => join(&format!("cos://{}", b.bucket), &target.path),
        Store::S3(b) => join(&format!("s3://{}", b.bucket), &target.path),
        Store::Fs(dir) => join(&dir.display().to_string(), &target.path),
        Store::Http(base) => join(base.split(['?', '#']).next().unwrap_or(base), &target.path),
    }
}

/// One look at a file: what it came to.
enum Look {
    /// A final verdict.
    Final(FileVerdict),
    /// Not there (yet).
    Missing(FileVerdict),
}

/// Checks one file once: where its rule says it is, reading only what the probe needs.
async fn look(job: &FileJob, cfg: &VerifyConfig, creds: &Credentials) -> Look {
    let mut out = FileVerdict {
        of: job.of,
        verdict: Verdict::Unchecked(Unchecked::NoRule),
        also: Vec::new(),
        location: String::new(),
        claimed_s: job.claimed_s,
        measured_s: None,
        size: None,
        container: None,
        audio: None,
        video: None,
        bytes_read: 0,
        attempts: 1,
    };
    let target = match cfg.rules.for_file(job.provider, &job.domain) {
        None => return Look::Final(out),
        Some(loc) => match loc.target(&job.uri, cfg.rules.path_maps()) {
            Ok(t) => t,
            Err(u) => {
                out.verdict = Verdict::Unchecked(u);
                return Look::Final(out);
            }
        },
    };
    out.location = describe(&target);
    let result: Result<Probe, ReadError> = match reader::open(&target, creds, cfg.timeout).await {
        Ok(mut src) => {
            let mut r = media::probe(&mut src, &target.path).await;
            // A playlist is only as good as its segments.
            if let Ok(p) = &mut r {
                if !p.segments.is_empty() {
                    let uris: Vec<String> = p.segments.iter().map(|s| s.uri.clone()).collect();
                    match reader::missing_segments(
                        src.operator(),
                        &target.path,
                        &uris,
                        SEGMENTS_CHECKED,
                        cfg.timeout,
                    )
                    .await
                    {
                        // What is missing of the playlist is not recorded: the measured
                        // duration is what the segments that exist hold.
                        Ok(missing) => {
                            let gone: f64 = p
                                .segments
                                .iter()
                                .filter(|s| {
                                    let u = s.uri.split(['?', '#']).next().unwrap_or(&s.uri);
                                    missing.iter().any(|m| m == u)
                                })
                                .map(|s| s.duration_s)
                                .sum();
                            if let Some(d) = p.duration_s.as_mut() {
                                *d = (*d - gone).max(0.0);
                            }
                        }
                        Err(e) => r = Err(e),
                    }
                }
            }
            r
        }
        Err(e) => Err(e),
    };
    let all = verdict::judge_all(&result, job.claimed_s, cfg.expect);
    out.verdict = all[0];
    out.also = all[1..].to_vec();
    if let Ok(p) = &result {
        out.measured_s = p.duration_s;
        out.size = Some(p.size);
        out.container = p.container;
        out.audio = p.has_audio;
        out.video = p.has_video;
        out.bytes_read = p.bytes_read;
    }
    if out.verdict == Verdict::Missing {
        Look::Missing(out)
    } else {
        Look::Final(out)
    }
}

/// Checks one file, looking again while it is missing, for up to `cfg.missing_for`: the
/// final verdict. (`recmon verify` uses this; the running verifier schedules the looks
/// itself so that a wait holds no slot.)
pub async fn check(job: &FileJob, cfg: &VerifyConfig, creds: &Credentials) -> FileVerdict {
    let first = Instant::now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        match look(job, cfg, creds).await {
            Look::Final(mut v) => {
                v.attempts = attempts;
                return v;
            }
            Look::Missing(mut v) => {
                v.attempts = attempts;
                let wait = retry_wait(attempts);
                if first.elapsed() + wait > cfg.missing_for {
                    return v;
                }
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// The wait after look number `attempts` found nothing: 1 s, 2 s, 4 s … 30 s.
fn retry_wait(attempts: u32) -> Duration {
    RETRY_FIRST
        .saturating_mul(1 << attempts.saturating_sub(1).min(16))
        .min(RETRY_WAIT_MAX)
}

/// The running verifier; stop it with [`Verifier::shutdown`].
pub struct Verifier {
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Verifier {
    /// Stops checking. Files being checked are dropped: a verdict not journaled yet is not
    /// decided (`recmon verify JOURNAL` checks a finished session whole).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}

/// How much lower than the listener's the verifier thread's scheduling priority is (nice):
/// under load the provider's answers come first, and the checks, which follow the feed
/// losslessly, catch up when there is CPU to spare.
const VERIFIER_NICE: i32 = 10;

/// A file waiting for another look.
struct Waiting {
    job: FileJob,
    first: Instant,
    attempts: u32,
}

/// Starts the verifier on the feed (`feed`: a subscription from the journal's last seq at
/// start), committing each final verdict through `sequencer`. It runs on a thread of its own
/// at a lower priority than the listener's (see [`VERIFIER_NICE`]).
pub fn start(
    cfg: VerifyConfig,
    creds: Credentials,
    feed: Subscription,
    sequencer: Sequencer,
) -> Verifier {
    let (stop, stop_rx) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("recmon-verify".into())
        .spawn(move || {
            // Linux: a thread is a task of its own, and its nice value is its own.
            #[cfg(target_os = "linux")]
            unsafe {
                let tid = libc::gettid();
                libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, VERIFIER_NICE);
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("the verifier's runtime");
            rt.block_on(run(
                Arc::new(cfg),
                Arc::new(creds),
                feed,
                sequencer,
                stop_rx,
            ));
        })
        .expect("spawn the verifier thread");
    Verifier { stop, thread }
}

async fn run(
    cfg: Arc<VerifyConfig>,
    creds: Arc<Credentials>,
    mut feed: Subscription,
    sequencer: Sequencer,
    mut stop: watch::Receiver<bool>,
) {
    let slots = cfg.concurrency.max(1);
    let mut active: JoinSet<(Waiting, Look)> = JoinSet::new();
    // Files from the feed not started yet (at most one chunk of it).
    let mut queued: VecDeque<FileJob> = VecDeque::new();
    // Files waiting for another look, soonest first.
    let mut again: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut waiting: std::collections::HashMap<u64, Waiting> = std::collections::HashMap::new();
    let mut open = true;
    loop {
        // Start what may start: files due for another look first, then new ones.
        let now = Instant::now();
        while active.len() < slots {
            let due = again.peek().is_some_and(|Reverse((at, _))| *at <= now);
            let w = if due {
                let Reverse((_, of)) = again.pop().expect("peeked");
                match waiting.remove(&of) {
                    Some(w) => w,
                    None => continue,
                }
            } else if let Some(job) = queued.pop_front() {
                Waiting {
                    job,
                    first: now,
                    attempts: 0,
                }
            } else {
                break;
            };
            let (cfg, creds) = (cfg.clone(), creds.clone());
            active.spawn(async move {
                let looked = look(&w.job, &cfg, &creds).await;
                (w, looked)
            });
        }
        let next_due = again.peek().map(|Reverse((at, _))| *at);
        let want_more = open && queued.is_empty() && again.len() < RETRY_MAX;
        tokio::select! {
            biased;
            _ = stop.changed() => return,
            Some(done) = active.join_next(), if !active.is_empty() => {
                let Ok((mut w, looked)) = done else { continue };
                w.attempts += 1;
                let verdict = match looked {
                    Look::Final(v) => v,
                    Look::Missing(v) => {
                        let wait = retry_wait(w.attempts);
                        if w.first.elapsed() + wait <= cfg.missing_for {
                            again.push(Reverse((Instant::now() + wait, w.job.of)));
                            waiting.insert(w.job.of, w);
                            continue;
                        }
                        v
                    }
                };
                let mut verdict = verdict;
                verdict.attempts = w.attempts;
                // A verdict that cannot be journaled (the journal is failing, or recmon is
                // stopping) is not decided: nothing else to do with it.
                if let Err(e) = sequencer.record_verdict(verdict).await {
                    tracing::warn!("verify: a verdict could not be journaled: {}", e.0);
                }
            }
            _ = tokio::time::sleep_until(next_due.unwrap_or_else(Instant::now)),
                if next_due.is_some() && active.len() < slots => {}
            next = feed.next(), if want_more => match next {
                Next::Items(items) => queued.extend(items.iter().filter_map(job_of_item)),
                Next::Closed => open = false,
                Next::Lagged => {
                    tracing::error!("verify: fell behind the feed (no journal to read back); recordings missed are not checked");
                }
            },
            else => return,
        }
    }
}

/// The file a committed line names, when it is an accepted recording callback. The line is
/// parsed only when it can be one (the feed's callback says so, or, for a line read back from
/// the journal, its text has a `"uri"`-bearing body of some recording).
fn job_of_item(item: &FeedItem) -> Option<FileJob> {
    match item.callback.as_deref() {
        Some(cb @ Callback::Recording(_)) => FileJob::of_line(&item.line, Some(cb)),
        Some(_) => None,
        None => FileJob::of_line(&item.line, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_from_a_second_to_half_a_minute() {
        let w: Vec<u64> = (1..=7).map(|a| retry_wait(a).as_secs()).collect();
        assert_eq!(w, [1, 2, 4, 8, 16, 30, 30]);
    }

    #[test]
    fn a_job_is_made_of_accepted_recording_lines_only() {
        let rec = r#"{"seq":5,"received_at":"2026-12-04T10:00:00.000Z","remote":"1.2.3.4:5","method":"POST","path":"/cb","headers":{},"outcome":"accepted","status":200,"kind":"recording","body_bytes":1,"body":{"domain":"d.example","app":"live","stream":"s","uri":"record/live/s/a.flv","duration":60.5,"start_time":1,"stop_time":61}}"#;
        let job = FileJob::of_line(rec, None).expect("a recording");
        assert_eq!(job.of, 5);
        assert_eq!(job.uri, "record/live/s/a.flv");
        assert_eq!(job.domain, "d.example");
        assert_eq!(job.claimed_s, Some(60.5));
        let dup = rec.replace("\"accepted\"", "\"duplicate\"");
        assert_eq!(FileJob::of_line(&dup, None), None);
        let status = rec.replace("\"uri\":\"record/live/s/a.flv\",", "").replace(
            "\"duration\":60.5,\"start_time\":1,\"stop_time\":61",
            "\"event\":\"record_started\"",
        );
        assert_eq!(FileJob::of_line(&status, None), None);
    }

    #[test]
    fn a_location_never_carries_an_endpoint_query() {
        let t = Target {
            store: Store::Http("https://cdn.example.com".into()),
            path: "/live/a.flv".into(),
        };
        assert_eq!(describe(&t), "https://cdn.example.com/live/a.flv");
    }
}
