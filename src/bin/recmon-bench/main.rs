//! `recmon-bench`: the load generator and the baseline server used by the load tests and the
//! benchmark suite. Runs as a separate process so that load and server never share a runtime.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use recmon::tools::loadgen::{self, LoadSpec};

mod follow;
mod suite;

// Same allocator as recmon, so memory figures and the baseline compare like with like.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "recmon-bench",
    about = "Load generator and baseline server for recmon"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send callbacks over keep-alive connections and print a JSON report on stdout.
    Load {
        /// Target address, e.g. 127.0.0.1:8080.
        #[arg(long)]
        to: SocketAddr,
        /// Request path.
        #[arg(long, default_value = "/cb")]
        path: String,
        /// Simultaneous connections.
        #[arg(long, default_value_t = 64)]
        connections: usize,
        /// Total requests.
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        /// Every Nth request is a retry of the previous one (0 = none: every request is a
        /// new recording).
        #[arg(long, default_value_t = 10)]
        dup_every: u64,
        /// Fixed total rate in requests/s, open loop: latency counts from each request's
        /// scheduled send instant (default: closed loop, as fast as answers come).
        #[arg(long)]
        rate: Option<f64>,
        /// Write `index seq outcome` for every acknowledged request here.
        #[arg(long)]
        acked_file: Option<PathBuf>,
    },
    /// Run the benchmark suite and write BENCHMARKS.md.
    Run {
        /// A tiny run that only checks that every part still works.
        #[arg(long)]
        smoke: bool,
        /// Where to write the report.
        #[arg(long, default_value = "BENCHMARKS.md")]
        out: PathBuf,
        /// Only these sections: ingest, tui, latency, screen, frames, memory, journal, load, forward, alerts,
        /// attach.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Another build's `recmon` (`bash bench/compare.sh REF` makes one): the ingest
        /// section then also runs it, interleaved with this build's, and reports after/before.
        #[arg(long)]
        before_bin: Option<PathBuf>,
        /// What `--before-bin` was built from, for the report (e.g. `0e561f3`).
        #[arg(long, default_value = "the other build")]
        before_label: String,
    },
    /// Follow a receiver's /api/events with N subscribers (the attach feed client) until each
    /// has the entry with seq UNTIL; prints `connected`, then a JSON report.
    Follow {
        /// The receiver's base URL, e.g. http://127.0.0.1:8080.
        #[arg(long)]
        url: String,
        /// How many subscribers.
        #[arg(long, default_value_t = 1)]
        subscribers: usize,
        /// Each subscriber is done when it has this seq.
        #[arg(long)]
        until: u64,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 300)]
        limit_secs: u64,
    },
    /// Print the RSS growth per recording for N recordings held (one measurement process).
    Memory {
        /// How many recordings.
        #[arg(long, default_value_t = 1_000_000)]
        recordings: usize,
        /// `store`: the real store and deduper; `strings`: the same strings alone.
        #[arg(long, default_value = "store")]
        mode: String,
    },
    /// Write a journal of N lines in the real format.
    MakeJournal {
        /// Lines to write.
        #[arg(long, default_value_t = 1_000_000)]
        lines: u64,
        /// `load`: the load generator's requests (89% unique recordings, 10% retries, a few
        /// rejections and ingest callbacks), the heavy case; `broadcast`: what `recmon
        /// simulate` sends for 50 streams going live again and again (statuses, files,
        /// ingest, retries), the realistic case.
        #[arg(long, default_value = "load")]
        mix: String,
        /// Output file.
        #[arg(short, long)]
        o: PathBuf,
    },
    /// Count the lines of a file (the baseline for journal reading).
    Linecount {
        /// The file.
        path: PathBuf,
    },
    /// Run the bare hyper baseline server (answers 200 to everything).
    Baseline {
        /// Address to listen on (port 0 picks one; the address is printed on stdout).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Also parse each body with serde_json.
        #[arg(long)]
        parse_json: bool,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            smoke,
            out,
            only,
            before_bin,
            before_label,
        } => {
            let before = before_bin.map(|b| (b, before_label));
            std::process::exit(run_suite(smoke, &out, &only, before))
        }
        Command::Memory { recordings, mode } => {
            memory(recordings, &mode);
            return;
        }
        Command::MakeJournal { lines, o, mix } => {
            make_journal(lines, &o, &mix);
            return;
        }
        Command::Linecount { path } => {
            let mut f = std::fs::File::open(&path).expect("open");
            let mut buf = vec![0u8; 1 << 20];
            let mut n = 0usize;
            loop {
                let k = std::io::Read::read(&mut f, &mut buf).expect("read");
                if k == 0 {
                    break;
                }
                n += buf[..k].iter().filter(|b| **b == b'\n').count();
            }
            println!("{n}");
            return;
        }
        _ => {}
    }
    // The subscribers get one worker thread: at most one core, like a view on another machine
    // would take none of the receiver's.
    let rt = match cli.command {
        Command::Follow { .. } => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build(),
        _ => tokio::runtime::Runtime::new(),
    }
    .expect("tokio runtime");
    let code = rt.block_on(async move {
        match cli.command {
            Command::Follow {
                url,
                subscribers,
                until,
                limit_secs,
            } => {
                follow::run(follow::FollowSpec {
                    url,
                    subscribers,
                    until,
                    limit: std::time::Duration::from_secs(limit_secs),
                })
                .await
            }
            Command::Load {
                to,
                path,
                connections,
                count,
                dup_every,
                rate,
                acked_file,
            } => {
                let spec = LoadSpec {
                    addr: to,
                    path,
                    connections,
                    count,
                    dup_every,
                    rate,
                    acked_file,
                };
                match loadgen::run(spec).await {
                    Ok(report) => {
                        println!("{}", serde_json::to_string(&report).unwrap());
                        0
                    }
                    Err(e) => {
                        eprintln!("recmon-bench: load failed: {e}");
                        1
                    }
                }
            }
            Command::Run { .. }
            | Command::Memory { .. }
            | Command::MakeJournal { .. }
            | Command::Linecount { .. } => unreachable!("handled above"),
            Command::Baseline { listen, parse_json } => {
                let listener = match tokio::net::TcpListener::bind(listen).await {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("recmon-bench: cannot listen on {listen}: {e}");
                        return 1;
                    }
                };
                println!("listening on {}", listener.local_addr().unwrap());
                if let Err(e) = loadgen::serve_baseline(listener, parse_json).await {
                    eprintln!("recmon-bench: baseline server failed: {e}");
                    return 1;
                }
                0
            }
        }
    });
    std::process::exit(code);
}

fn run_suite(
    smoke: bool,
    out: &std::path::Path,
    only: &[String],
    before: Option<(PathBuf, String)>,
) -> i32 {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.to_path_buf()))
        .expect("where recmon-bench lives");
    if !bin_dir.join("recmon").exists() {
        eprintln!(
            "recmon-bench: no recmon binary beside me in {}",
            bin_dir.display()
        );
        return 1;
    }
    let size = if smoke {
        suite::Size::smoke()
    } else {
        suite::Size::full()
    };
    // Absolute: the servers run in a scratch directory.
    let before = match before {
        None => None,
        Some((bin, label)) => match std::fs::canonicalize(&bin) {
            Ok(abs) => Some((abs, label)),
            Err(e) => {
                eprintln!(
                    "recmon-bench: --before-bin {}: {e}; build it with bash bench/compare.sh REF",
                    bin.display()
                );
                return 2;
            }
        },
    };
    let mut s = suite::Suite::new(bin_dir, size, before);
    if let Some(unknown) = only
        .iter()
        .find(|o| !suite::SECTIONS.iter().any(|(name, _)| name == o))
    {
        eprintln!(
            "recmon-bench: there is no section {unknown:?}; the sections are: {}",
            suite::SECTIONS.map(|(name, _)| name).join(", ")
        );
        return 2;
    }
    let want = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let load_at_start = loadavg();
    let started = std::time::Instant::now();
    type Section = (&'static str, fn(&mut suite::Suite));
    let sections: [Section; 13] = [
        ("ingest", suite::Suite::ingest),
        ("tui", suite::Suite::ingest_tui),
        ("latency", suite::Suite::latency),
        ("screen", suite::Suite::callback_to_screen),
        ("frames", suite::Suite::frame_cost),
        ("memory", suite::Suite::memory),
        ("journal", suite::Suite::journal_reading),
        ("load", suite::Suite::load_and_crash),
        ("attach", suite::Suite::attach),
        ("forward", suite::Suite::forward),
        ("alerts", suite::Suite::alerts),
        ("providers", suite::Suite::providers),
        ("verify", suite::Suite::verify),
    ];
    for (name, f) in sections {
        if want(name) {
            eprintln!("recmon-bench: {name}...");
            let t = std::time::Instant::now();
            f(&mut s);
            eprintln!(
                "recmon-bench: {name} done in {:.1} s",
                t.elapsed().as_secs_f64()
            );
        }
    }
    let table = s.table();
    println!("{table}");
    let load = format!(
        "1-minute load average {load_at_start} at the start and {} at the end, on {} \
         (above the core count, other work was competing for the CPU)",
        loadavg(),
        recmon::util::human::count(
            std::thread::available_parallelism().map_or(0, |n| n.get() as u64),
            "core",
            "cores"
        )
    );
    // `--only NAME` replaces that section's rows in the existing report and keeps the others,
    // marked as carried over; a full run replaces everything.
    let carried = if only.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        let measured: Vec<&str> = only.iter().map(String::as_str).collect();
        std::fs::read_to_string(out)
            .map(|old| suite::carried_over(&old, &measured))
            .unwrap_or_default()
    };
    let report = report(
        &s,
        &table,
        smoke,
        started.elapsed().as_secs_f64(),
        &load,
        only,
        &carried,
    );
    if let Err(e) = std::fs::write(out, report) {
        eprintln!("recmon-bench: cannot write {}: {e}", out.display());
        return 1;
    }
    eprintln!("recmon-bench: wrote {}", out.display());
    0
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_string())
        })
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or("unknown".into(), |kb| {
            format!("{:.0} GiB", kb as f64 / 1048576.0)
        });
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cores} cores ({cpu}), {mem} RAM, Linux {}", kernel.trim())
}

/// The 1-minute load average, as /proc/loadavg gives it.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

/// Timeless notes on method and targets; the figures all come from the run.
const STATIC_NOTES: &str = include_str!("../../../bench/notes.md");

fn report(
    s: &suite::Suite,
    table: &str,
    smoke: bool,
    secs: f64,
    load: &str,
    only: &[String],
    carried: &(Vec<String>, Vec<String>),
) -> String {
    let earlier = if carried.0.is_empty() && carried.1.is_empty() {
        String::new()
    } else {
        format!(
            "## {}\n\n\
This run measured only some sections (`--only`). These rows are copied unchanged from the \
report this file held before, measured by an earlier run, possibly on a busier or quieter \
machine and with the method of that time. They are not comparable with the figures above; \
rerun their sections to replace them.\n\n\
| measure | recmon | baseline (that run) | ratio | target | verdict |\n|---|---|---|---|---|---|\n\
{}\n\n{}\n\n",
            suite::CARRIED_HEADING,
            carried.0.join("\n"),
            carried.1.join("\n")
        )
    };
    format!(
        "# recmon benchmarks\n\n\
Generated by `bash bench/run.sh` (which builds the release binaries and runs \
`target/release/recmon-bench run`){}. Took {secs:.0} s.\n\n\
Machine: {}. Binaries: {}.\n\n\
Every figure in the first table is measured against a baseline **in the same run**, on the same machine, with \
the same load generator (`recmon-bench load`, a separate process speaking raw HTTP/1.1 \
over keep-alive loopback connections): these machines are noisy, so only ratios are \
comparable between runs.\n\n\
{table}\n\
{}\
## Method\n\n\
- **Ingest throughput**: {} requests per run over 32 connections, each a new recording with \
a unique uri (no retries), as fast as answers come back; only 2xx answers count, and every \
answer from recmon must say `accepted` or the row is \"not measured\". Baseline: `recmon-bench baseline`, a bare hyper 1.x \
server from the same hyper version that reads the body and answers 200. recmon runs \
`--headless` with its stdout to /dev/null and the journal on. Runs alternate baseline, \
recmon, baseline, recmon; medians are compared. Reproduce one section with \
`target/release/recmon-bench run --only ingest`.\n\
- **TUI in a pty**: recmon with the terminal UI inside tmux (200×50) against recmon \
headless, same load, A B A B (`--only tui`).\n\
- **Ack latency**: open loop at a fixed 10,000 requests/s over 32 connections, each a new \
recording; time from the instant the schedule meant a request to be sent (not from when a \
free connection sent it, which would hide stalls) to reading its answer, 2xx answers only, \
default `--fsync batch` (`--only latency`).\n\
- **Callback to screen**: a status callback for a new stream is POSTed and tmux's \
`capture-pane` is polled until its name is on screen. Baseline: the same with recmon \
`--headless` printing into the same kind of pane, which pays the same POST and capture \
costs (`--only screen`).\n\
- **Frame cost**: one frame rendered into a ratatui `TestBackend` of 200×50, median of 200 \
frames, with 1,000 vs {} recordings, in three situations; with a filter, every frame from \
setting it is timed, the frames that apply it included (`--only frames`).\n\
- **Memory**: RSS growth of a process holding N recordings in the real store (with the \
duplicate index) against a process holding only the same uri and push_args strings \
(`recmon-bench memory --mode store|strings`; `--only memory`).\n\
- **Journal reading**: two {}-line journals in the real format written by \
`recmon-bench make-journal`: `--mix load`, the load generator's requests (89% unique \
recordings with push_args, 10% retries, some ingest callbacks and rejections), the heavy \
case; and `--mix broadcast`, what `recmon simulate` sends for 50 streams going live again \
and again (statuses, files, ingest, retries), the realistic case. Each is read by \
`recmon export` and by `recmon --resume` (time until `/api/state` no longer says \
`rebuilding`: the rebuild runs in the background). Baseline: counting the file's lines \
(`recmon-bench linecount`). **Restart**: the time from spawning `recmon --resume` to a 200 \
for a callback (polled every millisecond), on a long journal against a short one (the \
same-run baseline), rounds alternating; the receiver is stopped once it has answered \
(`--only journal`).\n\
- **Load and crash** (issue 5 at full size): {} callbacks over 64 connections with every \
10th a retry; then acknowledgements, journal lines and /api/state must agree. Then a load \
is killed with kill -9 half-way, and recmon restarted with `--resume`; at least one request \
must have been acknowledged before the kill (`--only load`).\n- **Before/after** (with `bash bench/run.sh --compare-ref REF`, which builds REF's `recmon` \
once with `bash bench/compare.sh REF`, cached under target/compare/): every ingest round runs the \
baseline, then REF's build and this build in alternating order, {} rounds; the extra row per \
fsync mode is this build's median ÷ REF's median (`--only ingest`).\n\
- **Attach**: the subscribers are `recmon-bench follow`, a separate process running the attach \
feed client (`recmon::attach::feed_client`, the code `recmon attach` uses) on one worker \
thread. *Ingest with {} subscribers*: the follower runs at nice 19 (it stands in for viewers on \
other machines); all connected before the load starts; runs alternate \
no subscriber / subscribers, three rounds, `--fsync never`, the same load as ingest; a run counts \
only if every subscriber then got every entry once and in order. *Stalled subscribers*: \
the receiver's peak RSS (`VmHWM` in /proc) under the same load with 1 and with {} subscribers \
that send `GET /api/events`, read their hello and never read again (connected from the suite \
itself: raw sockets, nothing parsed), alternating 1 / {}, two rounds, `--fsync never`; the \
ratio is the medians'. *Callback to an attached \
view*: one status callback for a new stream at a time, timed from sending the POST to its entry \
coming off the feed client's channel in this process, and to its line on the stdout of \
`recmon attach --json URL`; baseline: the POST's own answer; `--fsync batch`. *Catch-up*: a \
{}-entry journal (`make-journal --mix load`), a receiver started with `--resume` on it, then a \
view attaches from seq 0 and is timed from its start to its last entry; baseline: counting the \
journal's lines (`--only attach`).\n\
- **Verify** (`--verify`, recording proof): *bytes read per file*: the checker (in this process, \
through the OpenDAL reader on local files) on a 10 MB FLV made by ffmpeg and on a {} MB one, the \
small file concatenated with itself, stream copy (the same kind of file); *verdicts per second*: `recmon \
verify JOURNAL --verify file://DIR --json` over {} recordings of local 10 MB files (a journal \
written by a real receiver), the whole process timed, three runs, against reading the first and \
last 64 KiB of each file; *ingest with --verify*: the ingest load with `--verify` on an empty \
directory and `--verify-missing-for 0s` (each recording looked up once and given a verdict \
line) against without, A B A B, three rounds (`--only verify`).\n\n\
## {}\n\n{}\n{}{}",
        match (smoke, only.is_empty()) {
            (true, _) => " in **smoke** size (not representative)".to_string(),
            (false, true) => String::new(),
            (false, false) => format!(", sections `--only {}`", only.join(",")),
        },
        machine(),
        s.bin_dir().display(),
        suite::findings(&s.rows, smoke, load),
        if smoke { "3,000" } else { "200,000" },
        if smoke { "20,000" } else { "1,000,000" },
        if smoke { "20,000" } else { "1,000,000" },
        if smoke { "5,000" } else { "200,000" },
        5,
        s.subscribers(),
        s.subscribers(),
        s.subscribers(),
        if smoke { "20,000" } else { "1,000,000" },
        if smoke { "100" } else { "1,000" },
        if smoke { "200" } else { "2,000" },
        suite::RAW_HEADING,
        s.raw(),
        earlier,
        STATIC_NOTES
    )
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn memory(n: usize, mode: &str) {
    use recmon::core::dedup::Deduper;
    use recmon::core::store::Store;
    use recmon::event::{Callback, RecordingGenerated, Rejection, StreamId};
    let ids: Vec<StreamId> = (0..20)
        .map(|s| StreamId {
            domain: "live.example.com".into(),
            app: "studio".into(),
            stream: format!("cam-{s}"),
        })
        .collect();
    let uri = |i: usize| {
        format!(
            "record/studio/cam-{}/{i}_1795780800_1795781100.m3u8",
            i % 20
        )
    };
    let arg = |i: usize| format!("show-{}", i % 13);
    let before = rss_bytes();
    let after;
    if mode == "strings" {
        // The strings a recording holds: its uri and its push_args pairs.
        type Strings = (Box<str>, Box<[(Box<str>, Box<str>)]>);
        let v: Vec<Strings> = (0..n)
            .map(|i| {
                (
                    uri(i).into_boxed_str(),
                    vec![("callback_show".into(), arg(i).into_boxed_str())].into_boxed_slice(),
                )
            })
            .collect();
        after = rss_bytes();
        std::hint::black_box(&v);
    } else {
        let mut store = Store::new(recmon::core::store::DEFAULT_LOG_CAPACITY);
        let mut dedup = Deduper::default();
        let line: std::sync::Arc<str> = std::sync::Arc::from("{}");
        for i in 0..n {
            let verdict: Result<Callback, Rejection> =
                Ok(Callback::Recording(RecordingGenerated {
                    id: ids[i % 20].clone(),
                    uri: uri(i),
                    duration: Some(300.0),
                    start_time: Some(1_795_780_800),
                    stop_time: Some(1_795_781_100),
                    push_args: vec![("callback_show".into(), arg(i))],
                    file_size: None,
                }));
            let at = chrono::DateTime::from_timestamp(1_795_780_800 + i as i64, 0).unwrap();
            let outcome = dedup.sequence(&verdict, at).outcome;
            let entry = suite::frames::entry_for_memory(i as u64 + 1, at, outcome);
            store.apply(&entry, verdict.as_ref().ok(), line.clone());
        }
        after = rss_bytes();
        std::hint::black_box((&store, &dedup));
    }
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    println!("{{\"mode\":\"{mode}\",\"recordings\":{n},\"rss_growth\":{},\"bytes_per_recording\":{per:.1}}}", after - before);
}

fn make_journal(lines: u64, path: &std::path::Path, mix: &str) {
    use recmon::core::dedup::Deduper;
    use recmon::core::journal::{encode_body, write_line, JournalEntry};
    use recmon::event::Method;
    use recmon::providers::aliyun::classify_request;
    use std::io::Write;
    let mut out =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut dedup = Deduper::default();
    let mut buf = Vec::with_capacity(1024);
    let base = chrono::DateTime::from_timestamp(1_795_780_800, 0).unwrap();
    let mut broadcast = (mix == "broadcast").then(|| {
        let mut p = recmon::tools::simulate::SimParams::new(42, 50, 3);
        p.broadcasts = None;
        recmon::tools::simulate::Generator::new(p)
    });
    for i in 0..lines {
        let mut at = base + chrono::Duration::milliseconds(i as i64 * 7);
        let (method, path, body): (&str, String, String) = if let Some(g) = broadcast.as_mut() {
            let r = g.next().expect("the broadcast generator runs forever");
            at = chrono::DateTime::from_timestamp_millis(r.at_ms).unwrap_or(at);
            let path = match &r.query {
                Some(q) => format!("/cb?{q}"),
                None => "/cb".to_string(),
            };
            (
                r.method,
                path,
                String::from_utf8_lossy(&r.body).into_owned(),
            )
        } else if i % 1000 == 500 {
            ("GET", format!("/pub?action={}&app=load.example.com&appname=live&id=s{}&ip=198.51.100.7&node=edge1&time={}", if i % 2000 == 500 { "publish" } else { "publish_done" }, i % 64, at.timestamp()), String::new())
        } else if i % 997 == 3 {
            ("POST", "/cb".into(), "{not json".into())
        } else {
            ("POST", "/cb".into(), loadgen::body_for(i, 10))
        };
        let query = path.split_once('?').map(|(_, q)| q);
        let (verdict, parsed) = classify_request(Method::from_name(method), query, body.as_bytes());
        let decision = dedup.sequence(&verdict, at);
        let (outcome, status, error) = (decision.outcome, decision.status, decision.error);
        let kind = verdict.as_ref().ok().map(|cb| cb.kind().to_string());
        let enc = encode_body(body.as_bytes(), parsed);
        let mut headers = std::collections::BTreeMap::new();
        headers.insert("host".to_string(), "rec.example.com:8080".to_string());
        headers.insert("user-agent".to_string(), "aliyun-live-callback".to_string());
        if !body.is_empty() {
            headers.insert("content-length".to_string(), body.len().to_string());
            headers.insert("content-type".to_string(), "application/json".to_string());
        }
        let entry = JournalEntry {
            seq: i + 1,
            received_at: at,
            remote: format!("203.0.113.{}:{}", i % 200, 40000 + i % 20000),
            method: method.into(),
            path,
            headers,
            outcome,
            status,
            provider: Default::default(),
            kind,
            forward: Vec::new(),
            error,
            body_bytes: body.len() as u64,
            body: None,
            body_text: enc.body_text.clone(),
            body_base64: enc.body_base64.clone(),
            body_truncated: None,
            auth: None,
        };
        buf.clear();
        write_line(&mut buf, &entry, enc.inline);
        out.write_all(&buf).expect("write");
    }
    out.flush().expect("flush");
}

#[cfg(test)]
mod tests {
    use super::STATIC_NOTES;

    /// The static notes are pasted into every report, so a figure in them would be an old
    /// run's figure shown as if it were this run's.
    #[test]
    fn the_static_notes_hold_no_measured_figures() {
        let units = [
            "req/s",
            "×",
            "ms",
            "µs",
            "k",
            "%",
            "instructions",
            "lines/s",
            "B",
            "s",
            "KiB",
            "MiB",
        ];
        let words: Vec<&str> = STATIC_NOTES.split_whitespace().collect();
        for (i, w) in words.iter().enumerate() {
            let w = w.trim_start_matches(['~', '(', '≥', '≤']);
            let digits = w.chars().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                continue;
            }
            let rest = w[digits..].trim_start_matches(['.', ',']);
            let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit());
            let rest = rest.trim_end_matches([',', '.', ';', ':', ')']);
            let next = words.get(i + 1).copied().unwrap_or("");
            let next = next.trim_end_matches([',', '.', ';', ':', ')']);
            let unit = units.iter().find(|u| rest == **u || next == **u);
            assert!(
                unit.is_none(),
                "bench/notes.md holds a figure ({w} {next}); figures belong to a run's report"
            );
        }
    }
}
