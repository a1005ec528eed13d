//! `attach`: attached views: ingest with many `/api/events` subscribers against none,
//! callback to an attached view, and catching up on a big journal.

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::ab::{ab_row, req_s, Ab, Bound, Judge};
use super::harness::{free_port, post, Proc};
use super::report::{Row, Verdict};
use super::{median, Suite};

impl Suite {
    /// Attached views: ingest with many `/api/events` subscribers against none, callback to
    /// an attached view, and an attached view catching up on a big journal.
    pub fn attach(&mut self) {
        self.attached_ingest();
        self.stalled_memory();
        self.callback_to_view();
        self.catchup();
    }

    /// Starts `recmon-bench follow` with `n` subscribers on `port` (each done at seq `until`)
    /// and waits until every subscriber has its hello. `Err` says why they did not connect.
    fn spawn_followers(
        &self,
        port: u16,
        n: usize,
        until: u64,
    ) -> Result<(Proc, std::io::BufReader<std::process::ChildStdout>), String> {
        use std::io::BufRead;
        // At nice 19: the subscribers stand in for viewers on other machines, and on the
        // 2-core machines this runs on, 50 of them parsing every entry would otherwise take
        // the CPU the receiver is measured on. The receiver's own cost of serving them (its
        // wake-ups, framing and socket writes) is what this row measures.
        let mut child = Command::new("nice")
            .args(["-n", "19"])
            .arg(self.bench())
            .args(["follow", "--url", &format!("http://127.0.0.1:{port}")])
            .args([
                "--subscribers",
                &n.to_string(),
                "--until",
                &until.to_string(),
            ])
            .args(["--limit-secs", "180"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let p = Proc(child);
        let mut first = String::new();
        let _ = out.read_line(&mut first);
        if first.trim() != "connected" {
            return Err(format!(
                "the {n} subscribers did not all connect ({first:?})"
            ));
        }
        Ok((p, out))
    }

    /// Ingest with `size.subscribers` subscribers following `/api/events` (the attach feed
    /// client, in a separate process) against ingest with none, alternating.
    fn attached_ingest(&mut self) {
        let n = self.size.subscribers;
        let count = self.size.requests;
        let (mut none, mut with) = (vec![], vec![]);
        let mut invalid = None;
        let mut tails = vec![];
        for round in 0..3 {
            for subscribed in [false, true] {
                let port = free_port();
                let journal = self.work.path().join(format!("attached-{round}.jsonl"));
                let _r = self.spawn_recmon(
                    port,
                    &["--fsync", "never", "--journal", journal.to_str().unwrap()],
                );
                let followers = if subscribed {
                    match self.spawn_followers(port, n, count) {
                        Ok(f) => Some(f),
                        Err(e) => {
                            invalid = Some(e);
                            continue;
                        }
                    }
                } else {
                    None
                };
                match (self.rps_of(port, true), subscribed) {
                    (Ok(v), false) => none.push(v),
                    (Ok(v), true) => with.push(v),
                    (Err(e), _) => invalid = Some(format!("recmon: {e}")),
                }
                if let Some((mut p, mut out)) = followers {
                    // Every subscriber must have had every entry: the figure is ingest while
                    // all of them were really fed, not while they were silently dropped.
                    let load_end = Instant::now();
                    let mut rest = String::new();
                    let _ = out.read_to_string(&mut rest);
                    let tail = load_end.elapsed().as_secs_f64();
                    let _ = p.0.wait();
                    let v: serde_json::Value =
                        serde_json::from_str(rest.trim()).unwrap_or(serde_json::Value::Null);
                    if v["complete"] != serde_json::Value::Bool(true)
                        || v["out_of_order"].as_u64() != Some(0)
                        || v["entries_min"].as_u64() != Some(count)
                    {
                        invalid = Some(format!(
                            "the subscribers did not each get all {count} entries once, in order: {}",
                            rest.trim()
                        ));
                    }
                    tails.push(format!("{tail:.2} s after the load ({})", rest.trim()));
                }
                let _ = std::fs::remove_file(&journal);
            }
        }
        let raw = format!(
            "no subscriber {none:.0?} req/s, {n} subscribers {with:.0?} req/s (A B A B A B, \
             --fsync never, {count} unique recordings per run); every subscriber had every \
             entry: {}",
            tails.join("; ")
        );
        self.rows.push(ab_row(Ab {
            what: format!("Attach: ingest with {n} /api/events subscribers, --fsync never"),
            baseline: &none,
            recmon: &with,
            show: req_s,
            baseline_is: "no subscriber",
            recmon_is: None,
            decimals: 2,
            baseline_floor: None,
            target: "≥ 0.9× of no subscriber".into(),
            judge: Judge::Median(Bound::AtLeast(0.9)),
            invalid,
            raw,
        }));
    }

    /// The receiver's memory with 1 and with `size.subscribers` stalled `/api/events`
    /// subscribers (connected, their hello read, then never reading again) under the ingest
    /// load, alternating, two rounds each: peak RSS (VmHWM) and RSS after the load.
    fn stalled_memory(&mut self) {
        let n = self.size.subscribers;
        let (mut one, mut many) = (vec![], vec![]);
        let mut raw = vec![];
        let mut invalid = None;
        for round in 0..2 {
            for stalled in [1, n] {
                let port = free_port();
                let journal = self
                    .work
                    .path()
                    .join(format!("stalled-{round}-{stalled}.jsonl"));
                let r = self.spawn_recmon(
                    port,
                    &["--fsync", "never", "--journal", journal.to_str().unwrap()],
                );
                let pid = r.0.id();
                let subs: Vec<std::net::TcpStream> = (0..stalled)
                    .filter_map(|_| stalled_subscriber(port))
                    .collect();
                if subs.len() != stalled {
                    invalid = Some(format!(
                        "only {} of {stalled} stalled subscribers got their hello",
                        subs.len()
                    ));
                }
                let start_rss = rss_of(pid, "VmRSS:");
                let rps = self.rps_of(port, true);
                let (peak, end) = (rss_of(pid, "VmHWM:"), rss_of(pid, "VmRSS:"));
                match (rps, peak) {
                    (Ok(v), Some(peak)) => {
                        if stalled == 1 {
                            one.push(peak as f64)
                        } else {
                            many.push(peak as f64)
                        }
                        raw.push(format!(
                            "{stalled} stalled: {v:.0} req/s, RSS at start {} MiB, peak {} MiB, after the load {} MiB",
                            mib(start_rss),
                            mib(Some(peak)),
                            mib(end)
                        ));
                    }
                    (Err(e), _) => invalid = Some(format!("recmon: {e}")),
                    (_, None) => invalid = Some("cannot read the receiver's /proc status".into()),
                }
                drop(subs);
                drop(r);
                let _ = std::fs::remove_file(&journal);
            }
        }
        self.rows.push(ab_row(Ab {
            what: format!(
                "Attach: receiver's peak RSS with {n} stalled /api/events subscribers, --fsync never"
            ),
            baseline: &one,
            recmon: &many,
            show: |v| format!("{:.0} MiB", v / (1024.0 * 1024.0)),
            baseline_is: "1 stalled subscriber",
            recmon_is: None,
            decimals: 2,
            baseline_floor: None,
            target: "≤ 1.5× of 1 stalled subscriber (memory per receiver, not per subscriber)"
                .into(),
            judge: Judge::Median(Bound::AtMost(1.5)),
            invalid,
            raw: format!(
                "{} (2 rounds, 1 then {n} stalled, the ingest load: {} unique recordings over 32 connections); a stalled subscriber sends GET /api/events, reads its hello and never reads again",
                raw.join("; "),
                self.size.requests
            ),
        }));
    }

    /// POSTs `probes` status callbacks for new streams, one at a time, and times each from
    /// sending it to its entry arriving on `rx` (lines with when they arrived). Returns the
    /// view times and the POSTs' own answer times, in ms; a probe that never arrives is
    /// infinite.
    fn probe_view(
        &self,
        addr: SocketAddr,
        rx: &std::sync::mpsc::Receiver<(String, Instant)>,
        tag: &str,
    ) -> (Vec<f64>, Vec<f64>) {
        let (mut view, mut ack) = (vec![], vec![]);
        for i in 0..self.size.view_probes {
            let name = format!("view{i:04}{tag}");
            let body = format!(
                r#"{{"domain":"bench","app":"live","stream":"{name}","event":"record_started"}}"#
            );
            let start = Instant::now();
            post(addr, &body);
            ack.push(start.elapsed().as_secs_f64() * 1000.0);
            let ms = loop {
                let left = Duration::from_secs(5).saturating_sub(start.elapsed());
                match rx.recv_timeout(left) {
                    Ok((line, at)) if line.contains(&name) => {
                        break at.duration_since(start).as_secs_f64() * 1000.0
                    }
                    Ok(_) => continue,
                    Err(_) => break f64::INFINITY,
                }
            };
            view.push(ms);
            std::thread::sleep(Duration::from_millis(100));
        }
        (view, ack)
    }

    /// The row of one callback-to-view measurement.
    fn view_row(&mut self, what: &str, view: Vec<f64>, ack: Vec<f64>, invalid: Option<String>) {
        let raw = format!("view {view:.1?} ms; POST answered {ack:.1?} ms");
        let worst = view.iter().cloned().fold(0.0, f64::max);
        let lost = view.iter().filter(|v| v.is_infinite()).count();
        let (v, a) = (median(&mut view.clone()), median(&mut ack.clone()));
        let measured = !view.is_empty();
        self.rows.push(Row {
            what: what.into(),
            value: if measured {
                format!("median {v:.1} ms, max {worst:.1} ms")
            } else {
                "none".into()
            },
            baseline: if measured {
                format!("median {a:.1} ms (the POST's own answer)")
            } else {
                "none".into()
            },
            ratio: if measured {
                format!("{:.2}×", v / a)
            } else {
                "none".into()
            },
            target: "median ≤ 50 ms".into(),
            verdict: match invalid {
                Some(why) => Verdict::NotMeasured(why),
                None if lost > 0 => Verdict::NotMeasured(format!(
                    "{lost} of {} probes never reached the view within 5 s",
                    view.len()
                )),
                None => Verdict::of(v <= 50.0),
            },
            raw,
        });
    }

    /// Time from POSTing a callback to its entry reaching an attached view: the attach feed
    /// client in this process, then `recmon attach --json` (its stdout), on one receiver
    /// with the journal on and the default `--fsync batch`.
    fn callback_to_view(&mut self) {
        use recmon::attach::feed_client::{spawn_source, SourceConfig, SourceEvent};
        let port = free_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let url = format!("http://127.0.0.1:{port}");
        let journal = self.work.path().join("view.jsonl");
        let _r = self.spawn_recmon(port, &["--journal", journal.to_str().unwrap()]);

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
        let (ftx, mut frx) = tokio::sync::mpsc::channel(1024);
        let source = {
            let _guard = rt.enter();
            let cfg = SourceConfig {
                url: url.clone(),
                token: None,
                ca_cert: None,
            };
            spawn_source(0, cfg, 0, ftx).expect("a loopback URL is valid")
        };
        rt.spawn(async move {
            while let Some((_, ev)) = frx.recv().await {
                // Stamped as it comes off the client's channel, as a view would see it.
                let line = match ev {
                    SourceEvent::Entry { line, .. } => line,
                    SourceEvent::Connected { .. } => String::from("connected"),
                    SourceEvent::Disconnected { .. } => continue,
                };
                if tx.send((line, Instant::now())).is_err() {
                    return;
                }
            }
        });
        let invalid = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok((l, _)) if l == "connected" => None,
            _ => Some("the feed client did not connect within 10 s".to_string()),
        };
        let (view, ack) = if invalid.is_none() {
            self.probe_view(addr, &rx, "f")
        } else {
            (vec![], vec![])
        };
        source.abort();
        drop(rt);
        self.view_row(
            "Attach: callback to an /api/events subscriber (attach feed client)",
            view,
            ack,
            invalid,
        );

        // The same through `recmon attach --json`: a line on its stdout.
        let before = self.size.view_probes;
        let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
        let (invalid, view, ack) = match self.spawn_attach_json(&url, tx) {
            Err(e) => (Some(e), vec![], vec![]),
            Ok(mut p) => {
                // It first catches up on the feed client's probes.
                let mut seen = 0;
                while seen < before {
                    match rx.recv_timeout(Duration::from_secs(10)) {
                        Ok(_) => seen += 1,
                        Err(_) => break,
                    }
                }
                if seen < before {
                    let why = attach_failure(&mut p, &self.attach_stderr, seen, before);
                    (Some(why), vec![], vec![])
                } else {
                    let (v, a) = self.probe_view(addr, &rx, "a");
                    (None, v, a)
                }
            }
        };
        self.view_row(
            "Attach: callback to recmon attach --json (a line on its stdout)",
            view,
            ack,
            invalid,
        );
    }

    /// Starts `recmon attach --json URL`; a thread sends each stdout line, stamped as it is
    /// read, on `tx`.
    fn spawn_attach_json(
        &self,
        url: &str,
        tx: std::sync::mpsc::Sender<(String, Instant)>,
    ) -> Result<Proc, String> {
        use std::io::BufRead;
        let mut child = Command::new(self.recmon())
            .args(["attach", "--json", url])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start recmon attach: {e}"))?;
        let out = child.stdout.take().unwrap();
        // Its stderr is read all along (alerts and source changes go there: a pipe left full
        // would stop its printer), keeping the first lines for a failure message.
        let err = child.stderr.take().unwrap();
        let kept = self.attach_stderr.clone();
        kept.lock().unwrap().clear();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(err).lines() {
                let Ok(line) = line else { return };
                let mut k = kept.lock().unwrap();
                if k.len() < 4096 {
                    k.push_str(&line);
                    k.push('\n');
                }
            }
        });
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { return };
                if tx.send((line, Instant::now())).is_err() {
                    return;
                }
            }
        });
        Ok(Proc(child))
    }

    /// Catching up: an attached view that connects to a receiver resumed on a journal of
    /// `size.catchup_lines` entries, timed until it has every one: the attach feed client
    /// (`recmon-bench follow`) and `recmon attach --json`, alternating, against counting the
    /// journal's lines.
    fn catchup(&mut self) {
        let lines = self.size.catchup_lines;
        let journal = self.work.path().join("catchup.jsonl");
        let out = Command::new(self.bench())
            .args([
                "make-journal",
                "--mix",
                "load",
                "--lines",
                &lines.to_string(),
                "-o",
            ])
            .arg(&journal)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut base_t = vec![];
        for _ in 0..2 {
            let start = Instant::now();
            let out = Command::new(self.bench())
                .arg("linecount")
                .arg(&journal)
                .output()
                .unwrap();
            assert!(out.status.success());
            base_t.push(start.elapsed().as_secs_f64());
        }
        let port = free_port();
        let _r = self.spawn_resumed(port, &journal);
        let url = format!("http://127.0.0.1:{port}");
        let (mut client_t, mut attach_t) = (vec![], vec![]);
        let (mut client_bad, mut attach_bad) = (None, None);
        let mut reports = vec![];
        let mut attach_skipped = vec![];
        for _ in 0..2 {
            // The feed client: from starting the follower to its last entry.
            let start = Instant::now();
            let out = Command::new(self.bench())
                .args(["follow", "--url", &url, "--subscribers", "1"])
                .args(["--until", &lines.to_string(), "--limit-secs", "120"])
                .output()
                .unwrap();
            let secs = start.elapsed().as_secs_f64();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let report: serde_json::Value = text
                .lines()
                .last()
                .and_then(|l| serde_json::from_str(l).ok())
                .unwrap_or(serde_json::Value::Null);
            if report["complete"] == serde_json::Value::Bool(true)
                && report["entries_min"].as_u64() == Some(lines)
                && report["out_of_order"].as_u64() == Some(0)
            {
                client_t.push(secs);
            } else {
                client_bad = Some(format!(
                    "the feed client did not get all {lines} entries: {}",
                    text.trim()
                ));
            }
            reports.push(text.lines().last().unwrap_or("").to_string());

            // recmon attach --json: from starting it to its last entry's line.
            match self.attach_catchup(&url, lines) {
                Ok((secs, skipped)) => {
                    attach_t.push(secs);
                    attach_skipped.push(skipped);
                }
                Err(e) => attach_bad = Some(e),
            }
        }
        let base = lines as f64 / median(&mut base_t.clone());
        let skipped_note = match attach_skipped.iter().max() {
            Some(&n) if n > 0 => format!(
                " (its printer skipped up to {} lines, saying so: it drops lines rather than fall \
                 behind)",
                recmon::util::human::thousands(n)
            ),
            _ => String::new(),
        };
        for (what, t, bad, note) in [
            ("attach feed client", client_t, client_bad, String::new()),
            ("recmon attach --json", attach_t, attach_bad, skipped_note),
        ] {
            let rate = lines as f64 / median(&mut t.clone());
            let measured = !t.is_empty();
            self.rows.push(Row {
                what: format!("Attach: catch-up of a {lines}-entry journal ({what})"),
                value: if measured {
                    format!("{:.0}k entries/s{note}", rate / 1000.0)
                } else {
                    "none".into()
                },
                baseline: format!("{:.0}k lines/s (line count only)", base / 1000.0),
                ratio: if measured {
                    format!("{:.2}×", rate / base)
                } else {
                    "none".into()
                },
                target: "≥ 300k entries/s".into(),
                verdict: match bad {
                    Some(why) => Verdict::NotMeasured(why),
                    None => Verdict::of(rate >= 300_000.0),
                },
                raw: format!(
                    "receiver started with --resume on the journal; seconds until the last \
                     entry {t:.2?}; line count seconds {base_t:.3?}; feed client reports {}; \
                     attach --json printer skipped {attach_skipped:?} lines",
                    reports.join("; ")
                ),
            });
        }
        let _ = std::fs::remove_file(&journal);
    }

    /// Seconds from starting `recmon attach --json URL` to the line of entry `lines` (the
    /// journal's last) on its stdout, and how many entries its printer said it skipped (its
    /// `# N requests not shown` lines: the headless printer drops lines rather than fall
    /// behind; the view's own state still has them).
    fn attach_catchup(&self, url: &str, lines: u64) -> Result<(f64, u64), String> {
        let start = Instant::now();
        let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
        let mut p = self.spawn_attach_json(url, tx)?;
        let (mut printed, mut skipped) = (0u64, 0u64);
        let limit = Duration::from_secs(120);
        loop {
            let Ok((line, at)) = rx.recv_timeout(limit.saturating_sub(start.elapsed())) else {
                return Err(attach_failure(
                    &mut p,
                    &self.attach_stderr,
                    printed as usize,
                    lines as usize,
                ));
            };
            if let Some(note) = line.strip_prefix("# ") {
                let n: String = note
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == ',')
                    .filter(char::is_ascii_digit)
                    .collect();
                skipped += n.parse::<u64>().unwrap_or(0);
                continue;
            }
            printed += 1;
            let seq = line
                .strip_prefix("{\"seq\":")
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.parse::<u64>().ok());
            if seq.is_some_and(|s| s >= lines) {
                return Ok((at.duration_since(start).as_secs_f64(), skipped));
            }
        }
    }
}

/// Why `recmon attach --json` printed only `seen` of `want` lines, from its exit and stderr
/// (a build without the command says so there).
fn attach_failure(
    p: &mut Proc,
    stderr: &std::sync::Mutex<String>,
    seen: usize,
    want: usize,
) -> String {
    let _ = p.0.kill();
    let status = p.0.wait().ok();
    // (Its reader thread ends with the process.)
    std::thread::sleep(Duration::from_millis(100));
    let err = stderr.lock().unwrap().clone();
    let first = err
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    format!(
        "recmon attach --json printed {seen} of {want} lines (exit code {}){}",
        status
            .and_then(|s| s.code())
            .map_or("none: killed".to_string(), |c| c.to_string()),
        if first.is_empty() {
            String::new()
        } else {
            format!(": {}", first.replace('|', "/"))
        }
    )
}

/// A subscriber that connects to `/api/events`, reads up to its hello, and then never reads
/// again (the kernel's buffers fill, then the receiver's).
fn stalled_subscriber(port: u16) -> Option<std::net::TcpStream> {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.write_all(b"GET /api/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(12).any(|w| w == b"event: hello") {
        let k = s.read(&mut buf).ok()?;
        if k == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..k]);
    }
    Some(s)
}

/// A `/proc/PID/status` field in bytes (`VmRSS:`, `VmHWM:`).
fn rss_of(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| {
        format!("{:.1}", b as f64 / (1024.0 * 1024.0))
    })
}
