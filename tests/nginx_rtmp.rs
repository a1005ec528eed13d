//! recmon against a real nginx-rtmp (Debian's `nginx` + `libnginx-mod-rtmp`, installed by
//! `.ci/run`) fed by a real ffmpeg (Debian's `ffmpeg`): nginx records a 20 s test pattern in
//! 5 s files and sends every callback it has (connect, publish, update, play, play_done, done,
//! publish_done, record_done, disconnect) to recmon, once with `notify_method post` and once
//! with `notify_method get`. recmon must answer every one 2xx (nginx refuses the publish or
//! drops the publisher otherwise), journal every one as nginx-rtmp's, show the stream live and
//! then offline, and hold exactly one recording per file nginx wrote, with its real path.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Where Debian's libnginx-mod-rtmp puts the module (its modules-enabled snippet loads it as
/// `modules/ngx_rtmp_module.so`, relative to /usr/share/nginx; the tests' own config names it).
const RTMP_MODULE: &str = "/usr/lib/nginx/modules/ngx_rtmp_module.so";

/// Debian's nginx, the one the module is built for. /usr/sbin is not on a Debian user's PATH,
/// so the PATH's `nginx` is only the fallback.
fn nginx_bin() -> &'static str {
    const DEBIAN: &str = "/usr/sbin/nginx";
    if Path::new(DEBIAN).is_file() {
        DEBIAN
    } else {
        "nginx"
    }
}

/// How long ffmpeg pushes; with `record_interval 5s` and a 1 s GOP, four or five files.
const PUSH_SECONDS: u64 = 20;

/// The callbacks nginx-rtmp names in its error log (`notify: <name> '<url>'`); both
/// `update_publish` and `update_play` are logged as `update`.
const LOGGED_CALLS: [&str; 9] = [
    "connect",
    "disconnect",
    "publish",
    "play",
    "update",
    "publish_done",
    "play_done",
    "done",
    "record_done",
];

fn require_tools() {
    let hint = "bash .ci/run installs Debian's nginx, libnginx-mod-rtmp and ffmpeg packages";
    for (tool, arg) in [(nginx_bin(), "-v"), ("ffmpeg", "-version")] {
        assert!(
            Command::new(tool)
                .arg(arg)
                .output()
                .is_ok_and(|o| o.status.success()),
            "{tool} is required ({hint})"
        );
    }
    assert!(
        Path::new(RTMP_MODULE).is_file(),
        "nginx's RTMP module {RTMP_MODULE} is required ({hint})"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when something listens on 127.0.0.1:`port` (read from /proc/net/tcp, so that checking
/// opens no RTMP session nginx would report).
fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[1] == local && f[3] == "0A"
        })
}

/// How nginx records.
#[derive(Clone, Copy)]
enum Record {
    /// A file every 5 s (`record_interval 5s`).
    Cut5s,
    /// One file, reported when the publish ends (no `record_interval`).
    AtTheEnd,
    /// Into a path it cannot write: no file at all.
    Unwritable,
}

/// A standalone nginx-rtmp (one process, no daemon) in a temp dir of its own; killed on drop,
/// also when the test panics.
struct Nginx {
    child: Child,
    port: u16,
    dir: PathBuf,
    rec: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Nginx {
    fn start(method: &str, recmon: SocketAddr) -> Nginx {
        Self::start_recording(method, recmon, Record::Cut5s)
    }

    fn start_recording(method: &str, recmon: SocketAddr, record: Record) -> Nginx {
        let mut last_failure = String::new();
        // The port is free when chosen, but another test may take it before nginx binds it.
        for _ in 0..3 {
            match Self::try_start(method, recmon, free_port(), record) {
                Ok(n) => return n,
                Err(e) => last_failure = e,
            }
        }
        panic!("nginx did not start:\n{last_failure}");
    }

    fn try_start(
        method: &str,
        recmon: SocketAddr,
        port: u16,
        record: Record,
    ) -> Result<Nginx, String> {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let rec = dir.join("rec");
        std::fs::create_dir(&rec).unwrap();
        // A record path nginx cannot write: under a plain file, so that no user, root
        // included, can create the recording there.
        let blocked = dir.join("not-a-dir");
        std::fs::write(&blocked, "").unwrap();
        let (record_path, interval) = match record {
            Record::Cut5s => (rec.clone(), "record_interval 5s;"),
            Record::AtTheEnd => (rec.clone(), ""),
            Record::Unwritable => (blocked.join("rec"), ""),
        };
        let url = format!("http://{recmon}/nginx");
        // Everything nginx writes stays in the temp dir: the pid file, the error log (also given
        // with -e, for what it logs before reading this file), the RTMP module's access log
        // (else Debian's /var/log/nginx/access.log, not writable by a CI user) and the records.
        // No http block: the RTMP module needs none.
        let conf = format!(
            "load_module {RTMP_MODULE};
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
    access_log {dir}/access.log;
    server {{
        listen 127.0.0.1:{port};
        notify_method {method};
        on_connect {url};
        on_disconnect {url};
        application live {{
            live on;
            record all;
            record_path {rec};
            record_unique on;
            {interval}
            on_publish {url};
            on_publish_done {url};
            on_play {url};
            on_play_done {url};
            on_done {url};
            on_record_done {url};
            on_update {url};
            notify_update_timeout 2s;
        }}
    }}
}}
",
            dir = dir.display(),
            rec = record_path.display(),
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let stderr = File::create(dir.join("stderr.txt")).unwrap();
        let mut prefix = dir.display().to_string();
        prefix.push('/');
        let child = Command::new(nginx_bin())
            .arg("-c")
            .arg(&conf_path)
            .args(["-p", &prefix])
            // The error log from the first line on, not Debian's /var/log/nginx/error.log.
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("spawn nginx");
        let mut n = Nginx {
            child,
            port,
            dir,
            rec,
            _tmp: tmp,
        };
        let up = wait_until(Duration::from_secs(10), || {
            listening(port) || matches!(n.child.try_wait(), Ok(Some(_)))
        });
        if up && listening(port) {
            return Ok(n);
        }
        let status = n.child.try_wait().ok().flatten();
        Err(format!(
            "nginx on port {port}: {}; stderr:\n{}\nerror.log:\n{}",
            status.map_or("still not listening after 10 s".into(), |s| s.to_string()),
            std::fs::read_to_string(n.dir.join("stderr.txt")).unwrap_or_default(),
            n.error_log()
        ))
    }

    fn rtmp_url(&self, name_and_args: &str) -> String {
        format!("rtmp://127.0.0.1:{}/live/{name_and_args}", self.port)
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }

    /// The callbacks nginx made (or tried), counted by name, from its `notify: ...` info lines:
    /// it logs each one as it starts the HTTP request.
    fn notify_calls(&self) -> BTreeMap<String, usize> {
        let mut calls = BTreeMap::new();
        for line in self.error_log().lines() {
            let Some((_, rest)) = line.split_once("notify: ") else {
                continue;
            };
            let Some((name, tail)) = rest.split_once(' ') else {
                continue;
            };
            let announced =
                tail.starts_with('\'') || (name == "record_done" && tail.starts_with("recorder="));
            if announced && LOGGED_CALLS.contains(&name) {
                *calls.entry(name.to_string()).or_insert(0) += 1;
            }
        }
        calls
    }

    /// The absolute paths of the .flv files nginx wrote.
    fn files(&self) -> BTreeSet<String> {
        std::fs::read_dir(&self.rec)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "flv"))
            .map(|p| p.display().to_string())
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// ffmpeg with its stderr kept (it prints only errors).
fn ffmpeg(args: &[&str]) -> Child {
    Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-loglevel", "error"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ffmpeg")
}

/// Waits (up to `limit`) for ffmpeg to end; its exit status and stderr.
fn finish(child: &mut Child, limit: Duration, what: &str) -> (ExitStatus, String) {
    let ended = child.try_wait().ok().flatten();
    let status = ended
        .or_else(|| wait_timeout(child, limit))
        .unwrap_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the ffmpeg {what} was still running after {limit:?}")
        });
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    (status, err)
}

/// `%XX` and `+` decoding of one form / query value.
fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The first value of `key` in a form-encoded text.
fn form_field(form: &str, key: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (url_decode(k) == key).then(|| url_decode(v))
    })
}

/// A field of the nginx-rtmp callback a journal line holds: from the parsed body if recmon
/// kept one, else from the raw form body, else from the query of the path (GET).
fn callback_field(line: &Value, key: &str) -> Option<String> {
    if let Some(v) = line["body"][key].as_str() {
        return Some(v.to_string());
    }
    if let Some(v) = line["body_text"].as_str().and_then(|t| form_field(t, key)) {
        return Some(v);
    }
    let query = line["path"].as_str()?.split_once('?')?.1;
    form_field(query, key)
}

/// The journal lines that are requests (forwarding results carry `delivery` instead).
fn requests(r: &Recmon) -> Vec<Value> {
    r.journal_lines()
        .into_iter()
        .filter(|l| l.get("method").is_some() && l.get("delivery").is_none())
        .collect()
}

/// The journaled callbacks counted the way nginx logs them (`update_*` as `update`).
fn journaled_calls(requests: &[Value]) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for l in requests {
        let call = callback_field(l, "call").unwrap_or_else(|| "<no call>".into());
        let call = if call.starts_with("update_") {
            "update".to_string()
        } else {
            call
        };
        *calls.entry(call).or_insert(0) += 1;
    }
    calls
}

fn count(requests: &[Value], call: &str) -> usize {
    requests
        .iter()
        .filter(|l| callback_field(l, "call").as_deref() == Some(call))
        .count()
}

/// One line per journaled request, for failure messages.
fn summary(requests: &[Value]) -> String {
    requests
        .iter()
        .map(|l| {
            format!(
                "seq {} {} {} -> {} provider={} call={}\n",
                l["seq"],
                l["method"].as_str().unwrap_or("?"),
                l["path"].as_str().unwrap_or("?"),
                l["status"],
                l["provider"],
                callback_field(l, "call").unwrap_or_default()
            )
        })
        .collect()
}

/// cam1's entry in /api/state, if any.
fn cam1(r: &Recmon) -> Option<Value> {
    r.state()["streams"]
        .as_array()?
        .iter()
        .find(|s| s["app"] == "live" && s["stream"] == "cam1")
        .cloned()
}

fn ingest(r: &Recmon) -> Option<String> {
    cam1(r).and_then(|s| s["ingest"].as_str().map(str::to_string))
}

/// Polls `cond` every 100 ms (each poll is an /api/state or journal read) up to `limit`.
fn poll(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `recmon export JOURNAL --what recordings --format jsonl`, parsed.
fn exported_recordings(journal: &Path) -> Vec<Value> {
    let out = Command::new(bin())
        .arg("export")
        .arg(journal)
        .args(["--what", "recordings", "--format", "jsonl"])
        .output()
        .expect("run recmon export");
    assert!(
        out.status.success(),
        "recmon export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn nginx_rtmp_session(method: &str) {
    require_tools();
    let r = Recmon::start(&[]);
    let nginx = Nginx::start(method, r.addr);
    let diag = |r: &Recmon| {
        format!(
            "journal:\n{}nginx error.log:\n{}\nrecmon stderr:\n{}",
            summary(&requests(r)),
            nginx.error_log(),
            r.stderr.lock().unwrap()
        )
    };

    // The publisher: a 320x240 test pattern with a tone, a keyframe every second (nginx cuts a
    // file only on a keyframe once record_interval has passed).
    let mut publisher = push(&nginx.rtmp_url("cam1?token=abc"), PUSH_SECONDS);
    let pushing = |p: &mut Child| matches!(p.try_wait(), Ok(None));

    // Live while ffmpeg pushes (on_publish answered 2xx, or nginx would have refused it).
    let live = poll(Duration::from_secs(10), || {
        ingest(&r).as_deref() == Some("live") || !pushing(&mut publisher)
    });
    if !(live && pushing(&mut publisher)) {
        let ffmpeg = if pushing(&mut publisher) {
            "still pushing".to_string()
        } else {
            let (status, err) = finish(&mut publisher, Duration::ZERO, "publisher");
            format!("ended, {status}: {err}")
        };
        panic!(
            "cam1 never showed ingest live while ffmpeg pushed (ffmpeg {ffmpeg}); state: {}\n{}",
            r.state(),
            diag(&r)
        );
    }
    let s = cam1(&r).unwrap();
    assert_eq!(s["domain"], "127.0.0.1", "domain = the host of tcurl: {s}");
    assert_eq!(s["provider"], "nginx-rtmp", "{s}");

    // A viewer for 3 s: play, update_play, play_done, done and disconnect for its own session.
    // Its done is not the publisher's: the stream stays live.
    let mut player = ffmpeg(&[
        "-i",
        &nginx.rtmp_url("cam1?viewer=v1"),
        "-t",
        "3",
        "-f",
        "null",
        "-",
    ]);
    let (status, err) = finish(&mut player, Duration::from_secs(15), "player");
    assert!(status.success(), "the ffmpeg player: {status}\n{err}");
    let player_gone = poll(Duration::from_secs(10), || {
        let rq = requests(&r);
        ["play_done", "done", "disconnect"]
            .iter()
            .all(|call| count(&rq, call) == 1)
    });
    assert!(
        player_gone,
        "the player's play_done, done and disconnect were not journaled\n{}",
        diag(&r)
    );
    if !pushing(&mut publisher) {
        let (status, err) = finish(&mut publisher, Duration::ZERO, "publisher");
        panic!(
            "the publisher ended before its {PUSH_SECONDS} s: {status}\n{err}\n{}",
            diag(&r)
        );
    }
    assert_eq!(
        ingest(&r).as_deref(),
        Some("live"),
        "a viewer leaving must not end the stream\n{}",
        diag(&r)
    );

    // The whole push went through: never refused (on_publish) nor dropped (on_update).
    let (status, err) = finish(
        &mut publisher,
        Duration::from_secs(PUSH_SECONDS + 20),
        "publisher",
    );
    assert!(
        status.success(),
        "the ffmpeg publisher: {status}\n{err}\n{}",
        diag(&r)
    );
    let offline = poll(Duration::from_secs(10), || {
        ingest(&r).as_deref() == Some("offline")
    });
    assert!(
        offline,
        "cam1 never showed ingest offline after the push ended; cam1: {:?}\n{}",
        cam1(&r),
        diag(&r)
    );

    // Every callback nginx made was journaled. nginx logs the whole end of the publisher's
    // session (publish_done, done, record_done, disconnect) at once, before sending any, so
    // once publish_done is journaled the log is complete.
    let mut rq = Vec::new();
    let all_journaled = poll(Duration::from_secs(10), || {
        rq = requests(&r);
        count(&rq, "publish_done") >= 1 && journaled_calls(&rq) == nginx.notify_calls()
    });
    assert!(
        all_journaled,
        "the journal's callbacks {:?} are not the ones nginx made {:?}\n{}",
        journaled_calls(&rq),
        nginx.notify_calls(),
        diag(&r)
    );
    let expected_method = method.to_ascii_uppercase();
    for l in &rq {
        assert_eq!(l["provider"], "nginx-rtmp", "{l}");
        // recmon answers nginx 200 even for a call it cannot use (a refusal would stop the
        // stream) but journals it as rejected: none of a real session's calls may be.
        assert_ne!(l["outcome"], "rejected", "{l}");
        assert_eq!(l["method"], expected_method.as_str(), "{l}");
        let status = l["status"].as_u64().unwrap_or(0);
        assert!((200..300).contains(&status), "not answered 2xx: {l}");
        assert!(
            l["path"].as_str().is_some_and(|p| p.starts_with("/nginx")),
            "{l}"
        );
    }
    let calls: BTreeSet<String> = rq
        .iter()
        .filter_map(|l| callback_field(l, "call"))
        .collect();
    for call in [
        "connect",
        "publish",
        "update_publish",
        "play",
        "play_done",
        "record_done",
        "publish_done",
        "done",
        "disconnect",
    ] {
        assert!(calls.contains(call), "no call={call} journaled: {calls:?}");
    }
    for (call, n) in [
        ("connect", 2),
        ("disconnect", 2),
        ("publish", 1),
        ("publish_done", 1),
        ("play", 1),
        ("play_done", 1),
        ("done", 2),
    ] {
        assert_eq!(count(&rq, call), n, "call={call}\n{}", summary(&rq));
    }

    // The files nginx wrote: one record_done each, and one recording each in recmon with the
    // file's absolute path as its uri.
    let files = nginx.files();
    assert!(
        files.len() >= 3,
        "a {PUSH_SECONDS} s push cut every 5 s wrote only {files:?}"
    );
    let done_paths: Vec<String> = rq
        .iter()
        .filter(|l| callback_field(l, "call").as_deref() == Some("record_done"))
        .filter_map(|l| callback_field(l, "path"))
        .collect();
    assert_eq!(
        done_paths.iter().cloned().collect::<BTreeSet<_>>(),
        files,
        "record_done paths"
    );
    assert_eq!(done_paths.len(), files.len(), "{done_paths:?}");

    let mut recordings = Vec::new();
    let uris = |recs: &[Value]| -> Vec<String> {
        recs.iter()
            .map(|v| v["uri"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    let all_recorded = poll(Duration::from_secs(10), || {
        recordings = exported_recordings(&r.journal);
        uris(&recordings).into_iter().collect::<BTreeSet<_>>() == files
    });
    assert!(
        all_recorded,
        "recmon's recordings {:?} are not the files nginx wrote {files:?}",
        uris(&recordings)
    );
    assert_eq!(
        recordings.len(),
        files.len(),
        "exactly one recording per file: {recordings:?}"
    );
    for rec in &recordings {
        assert_eq!(rec["domain"], "127.0.0.1", "{rec}");
        assert_eq!(rec["app"], "live", "{rec}");
        assert_eq!(rec["stream"], "cam1", "{rec}");
    }
    let s = cam1(&r).unwrap();
    assert_eq!(s["recordings"], files.len(), "{s}");
    assert_eq!(s["provider"], "nginx-rtmp", "{s}");
    assert_eq!(s["domain"], "127.0.0.1", "{s}");
}

#[test]
fn nginx_rtmp_post_callbacks_stream_and_recordings() {
    nginx_rtmp_session("post");
}

#[test]
fn nginx_rtmp_get_callbacks_stream_and_recordings() {
    nginx_rtmp_session("get");
}

/// ffmpeg pushing a test pattern with a tone to `url` for `seconds`, a keyframe a second.
fn push(url: &str, seconds: u64) -> Child {
    let seconds = seconds.to_string();
    ffmpeg(&[
        "-re",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine",
        "-t",
        &seconds,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-g",
        "25",
        "-c:a",
        "aac",
        "-f",
        "flv",
        url,
    ])
}

/// The alerts recmon has fired, as (rule, state) pairs.
fn alerts(r: &Recmon) -> Vec<(String, String)> {
    let (_, body) = r.get("/api/alerts");
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    ["firing", "recent"]
        .iter()
        .flat_map(|k| v[k].as_array().cloned().unwrap_or_default())
        .map(|a| {
            (
                a["rule"].as_str().unwrap_or_default().to_string(),
                a["state"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The trial that found it: nginx cannot write its recording, so a broadcast leaves no file.
/// recmon fires `not_recorded` when the publish ends (nginx-rtmp reports a file as the publish
/// ends, so its grace is short), and after a second broadcast that does record (one file, sent
/// at its end, as nginx-rtmp does without record_interval), `recmon report` gives the first
/// broadcast 0%, the second its whole time, and says so in its one line.
#[test]
fn nginx_rtmp_broadcast_with_no_file_is_not_recorded_live_and_in_the_report() {
    require_tools();
    let r = Recmon::start(&["--alert-not-recorded", "3s"]);
    let diag = |r: &Recmon, nginx: &Nginx| {
        format!(
            "journal:\n{}nginx error.log:\n{}\nrecmon stderr:\n{}",
            summary(&requests(r)),
            nginx.error_log(),
            r.stderr.lock().unwrap()
        )
    };
    let broken = Nginx::start_recording("post", r.addr, Record::Unwritable);
    let mut publisher = push(&broken.rtmp_url("cam1"), 6);
    let (status, err) = finish(&mut publisher, Duration::from_secs(30), "publisher");
    assert!(status.success(), "{status}: {err}\n{}", diag(&r, &broken));
    assert!(
        poll(Duration::from_secs(10), || ingest(&r).as_deref()
            == Some("offline")),
        "cam1 never went offline\n{}",
        diag(&r, &broken)
    );
    assert!(broken.files().is_empty(), "nginx wrote a file after all");
    let fired = poll(Duration::from_secs(15), || {
        alerts(&r).contains(&("not_recorded".into(), "firing".into()))
    });
    assert!(
        fired,
        "no not_recorded alert: {:?}\n{}",
        alerts(&r),
        diag(&r, &broken)
    );
    drop(broken);

    let working = Nginx::start_recording("post", r.addr, Record::AtTheEnd);
    let mut publisher = push(&working.rtmp_url("cam1"), 5);
    let (status, err) = finish(&mut publisher, Duration::from_secs(30), "publisher");
    assert!(status.success(), "{status}: {err}\n{}", diag(&r, &working));
    let recorded = poll(Duration::from_secs(10), || {
        cam1(&r).is_some_and(|s| s["recordings"] == 1 && s["ingest"] == "offline")
    });
    assert!(
        recorded,
        "the second broadcast's file\n{}",
        diag(&r, &working)
    );
    assert_eq!(working.files().len(), 1);
    // The new publish resolved the first broadcast's alert, and the second broadcast, which
    // has its file, fires none of its own.
    assert!(
        !alerts(&r).contains(&("not_recorded".into(), "firing".into())),
        "{:?}",
        alerts(&r)
    );

    let out = Command::new(bin())
        .arg("report")
        .arg(&r.journal)
        // The receiver's threshold, so that the report replays the same alerts.
        .args(["--format", "json", "--alert-not-recorded", "3s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = v["streams"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["stream"] == "cam1")
        .unwrap();
    let b = s["broadcasts"].as_array().unwrap();
    assert_eq!(b.len(), 2, "{s}");
    assert_eq!(b[0]["verdict"], "not_recorded", "{s}");
    assert_eq!(b[0]["coverage"], 0.0, "{s}");
    assert_eq!(b[0]["files"], 0, "{s}");
    assert_eq!(b[0]["clock"], "arrival", "nginx-rtmp sends no times: {s}");
    assert!(b[0]["live_s"].as_f64().unwrap() >= 4.0, "{s}");
    assert_eq!(b[1]["files"], 1, "{s}");
    assert!(b[1]["coverage"].as_f64().unwrap() > 0.8, "{s}");
    // The whole stream: about half its live time, nowhere near the 99% of first-to-last file.
    let coverage = s["coverage"].as_f64().unwrap();
    assert!((0.3..0.7).contains(&coverage), "{s}");
    let verdict = v["verdict"].as_str().unwrap();
    assert!(
        verdict.starts_with("2 broadcasts, 1 not recorded: cam1 "),
        "{verdict}"
    );
    let fired: Vec<&str> = s["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["rule"].as_str().unwrap())
        .collect();
    assert!(fired.contains(&"not_recorded"), "{fired:?}");
}

/// ffprobe's format duration of `path` (`-show_entries format=duration`), or None when it
/// cannot tell one.
fn ffprobe_duration(path: &str) -> Option<f64> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path)
        .output()
        .expect("run ffprobe");
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The verdict lines of the journal (`"verdict":{...}`), their inner object.
fn verdicts(r: &Recmon) -> Vec<Value> {
    r.journal_lines()
        .into_iter()
        .filter_map(|l| l.get("verdict").filter(|v| v.is_object()).cloned())
        .collect()
}

/// Recording proof on the files nginx itself wrote: with `--verify nginx=local` (nginx-rtmp
/// names each file by its `path` on this host), every `record_done` gets exactly one verdict
/// line in the journal after the broadcast: `ok`, an FLV with audio and video, its measured
/// duration within 0.5 s of ffprobe's for the same file (nginx-rtmp claims no duration, so the
/// file alone decides). `recmon verify JOURNAL` on the finished session agrees and exits 0.
#[test]
fn nginx_rtmp_recorded_files_are_verified_on_disk() {
    require_tools();
    let have_ffprobe = Command::new("ffprobe")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !have_ffprobe {
        skip_unless_ci("ffprobe (Debian's ffmpeg package) is needed to measure nginx's files");
        return;
    }
    let r = Recmon::start(&["--verify", "nginx=local"]);
    let nginx = Nginx::start("post", r.addr);
    let diag = |r: &Recmon| {
        format!(
            "journal:\n{}verdicts: {:?}\nnginx error.log:\n{}\nrecmon stderr:\n{}",
            summary(&requests(r)),
            verdicts(r),
            nginx.error_log(),
            r.stderr.lock().unwrap()
        )
    };

    // 12 s cut every 5 s: files of about 5, 5 and 2 s; all but the first start at a media
    // time well past zero.
    let mut publisher = push(&nginx.rtmp_url("cam1"), 12);
    let (status, err) = finish(&mut publisher, Duration::from_secs(40), "publisher");
    assert!(status.success(), "{status}: {err}\n{}", diag(&r));

    // Every file nginx wrote is reported (record_done), and each report gets its verdict.
    let mut done: BTreeMap<u64, String> = BTreeMap::new();
    let mut lines = Vec::new();
    let complete = poll(Duration::from_secs(20), || {
        done = requests(&r)
            .iter()
            .filter(|l| callback_field(l, "call").as_deref() == Some("record_done"))
            .filter_map(|l| Some((l["seq"].as_u64()?, callback_field(l, "path")?)))
            .collect();
        lines = verdicts(&r);
        ingest(&r).as_deref() == Some("offline")
            && done.values().cloned().collect::<BTreeSet<_>>() == nginx.files()
            && lines.len() >= done.len()
    });
    assert!(
        complete,
        "files {:?}, record_done {done:?}\n{}",
        nginx.files(),
        diag(&r)
    );
    assert!(done.len() >= 2, "a 12 s push cut every 5 s: {done:?}");

    // Exactly one verdict per recording, journaled after the recording itself.
    let of: Vec<u64> = lines.iter().filter_map(|v| v["of"].as_u64()).collect();
    assert_eq!(
        of.iter().copied().collect::<BTreeSet<_>>(),
        done.keys().copied().collect::<BTreeSet<_>>(),
        "verdicts {lines:?}"
    );
    assert_eq!(of.len(), done.len(), "one verdict each: {lines:?}");
    let journal = r.journal_lines();
    for (seq, path) in &done {
        let line = journal
            .iter()
            .find(|l| l["verdict"]["of"].as_u64() == Some(*seq))
            .unwrap();
        assert!(line["seq"].as_u64().unwrap() > *seq, "{line}");
        let v = &line["verdict"];
        assert_eq!(v["verdict"], "ok", "{path}: {v}\n{}", diag(&r));
        assert_eq!(v["container"], "flv", "{path}: {v}");
        assert_eq!(v["audio"], true, "{path}: {v}");
        assert_eq!(v["video"], true, "{path}: {v}");
        assert!(v.get("claimed_s").is_none(), "nginx claims none: {v}");
        assert_eq!(
            v["size"].as_u64(),
            Some(std::fs::metadata(path).unwrap().len()),
            "{path}: {v}"
        );
        // The location names the file (the store is this host's root).
        let location = v["location"].as_str().unwrap_or_default();
        assert_eq!(
            location.trim_start_matches('/'),
            path.trim_start_matches('/'),
            "{v}"
        );
        assert!(
            v["bytes_read"]
                .as_u64()
                .is_some_and(|b| b > 0 && b <= 1 << 20),
            "{path}: {v}"
        );
        let measured = v["measured_s"].as_f64().expect("a measured duration");
        let probed = ffprobe_duration(path).expect("ffprobe measures nginx's file");
        eprintln!("{path}: recmon measured {measured:.3} s, ffprobe {probed:.3} s");
        assert!(
            (measured - probed).abs() <= 0.5,
            "{path}: recmon measured {measured} s, ffprobe {probed} s: {v}"
        );
        assert!(measured > 1.0, "{path}: {v}");
    }

    // The nightly job on the finished session: the same verdicts, exit 0.
    let out = Command::new(bin())
        .arg("verify")
        .arg(&r.journal)
        .args(["--verify", "nginx=local", "--json"])
        .output()
        .expect("run recmon verify");
    assert_eq!(
        out.status.code(),
        Some(0),
        "recmon verify: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let rechecked: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rechecked.len(), done.len(), "{rechecked:?}");
    for c in &rechecked {
        let seq = c["seq"].as_u64().unwrap();
        assert_eq!(c["uri"].as_str(), done.get(&seq).map(String::as_str), "{c}");
        assert_eq!(c["verdict"], "ok", "{c}");
        let live = lines.iter().find(|v| v["of"] == seq).unwrap();
        assert_eq!(c["measured_s"], live["measured_s"], "{c} vs {live}");
    }
}
