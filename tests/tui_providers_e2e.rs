//! End to end with every provider at once: the real binary in a real terminal (tmux, 100×30,
//! and a look at 80×24 and 120×32), fed over real loopback HTTP with the real nginx-rtmp
//! requests of `tests/fixtures/providers/captures/nginx-rtmp`, the SRS and Tencent Cloud
//! samples and an ApsaraVideo Live status callback; assertions on what the pane shows: each
//! stream tagged with its provider, derived durations marked `~`, the `p` filter going
//! through the providers and back to all, hostile stream names shown escaped, and after `q`
//! an exit code of 0 and one journal line per request with its provider. Each test has its
//! own tmux server (`-L`), so they run in parallel. tmux is required: `.ci/run` installs it.

mod common;
mod tmux;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use common::*;
use tmux::*;

/// Each provider as the journal names it, its tag in the `prov` column, pieces of its stream
/// names that no other provider's rows contain, and how many streams of it the session has.
const PROVIDERS: [(&str, &str, &[&str], usize); 4] = [
    ("aliyun", "ali", &["gs_stream"], 1),
    ("nginx-rtmp", "ngx", &["cam1"], 1),
    ("srs", "srs", &["livestream"], 1),
    ("tencent", "tc", &["test_stream", "1506308688"], 2),
];
const STREAMS: usize = 5;

impl Pane {
    /// Resizes the terminal (recmon redraws on the resize).
    fn size(&self, cols: u16, rows: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            "e2e",
            "-x",
            &cols.to_string(),
            "-y",
            &rows.to_string(),
        ]);
    }

    /// Starts recmon (the terminal UI) in the pane on a free port and waits for its screen;
    /// the shell prints recmon's exit code when it ends.
    fn start_recmon(&self) -> SocketAddr {
        let addr = free_port();
        self.run(&format!(
            "{} --listen {addr} --journal j.jsonl; echo \"recmon-exit-$?\"",
            bin()
        ));
        self.wait_for("the recmon header", CEILING, |s| {
            s.contains(&format!("http://{addr}")) && s.contains("Streams")
        });
        addr
    }

    /// Presses `q`, waits for recmon's summary and exit, and asserts the exit code is 0.
    fn quit(&self, summary: &str) {
        self.keys(&["q"]);
        let s = self.wait_for("recmon's exit code", CEILING, |s| {
            s.lines().any(|l| l.starts_with("recmon-exit-"))
        });
        assert!(
            s.lines().any(|l| l.trim_end() == "recmon-exit-0"),
            "recmon did not exit 0:\n{s}"
        );
        assert!(s.contains("recmon: stopped."), "no summary:\n{s}");
        assert!(s.contains(summary), "the summary is not {summary:?}:\n{s}");
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("j.jsonl")
    }
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Sends raw request bytes; returns the status recmon answered.
fn send_raw(addr: SocketAddr, bytes: &[u8]) -> u16 {
    let resp = raw_exchange(addr, bytes);
    parse_response(&resp)
        .unwrap_or_else(|| panic!("no HTTP answer: {resp:?}"))
        .0
}

/// An nginx-rtmp `publish` of `name` (URL-encoded, as nginx-rtmp sends it) on 127.0.0.1/live.
fn nginx_publish(addr: SocketAddr, name: &str) -> u16 {
    let body = format!(
        "app=live&flashver=FMLE/3.0%20(compatible%3B%20Lavf59.27&swfurl=&tcurl=rtmp://127.0.0.1:19935/live&pageurl=&addr=127.0.0.1&clientid=9&call=publish&name={name}&type=live"
    );
    send_raw(
        addr,
        format!(
            "POST /cb HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nConnection: Close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn post_json(addr: SocketAddr, path: &str, body: &str) -> (u16, String) {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
}

/// The rows of the panel titled `title` (`Streams`, `Recordings`, `Requests`): the lines
/// between its column names and its bottom border, blank rows left out.
fn panel<'a>(screen: &'a str, title: &str) -> Vec<&'a str> {
    let top = format!("╭ {title} ");
    screen
        .lines()
        .skip_while(|l| !l.starts_with(&top))
        .skip(2)
        .take_while(|l| !l.starts_with('╰'))
        .filter(|l| {
            !l.trim_matches(|c: char| c == '│' || c == '█' || c.is_whitespace())
                .is_empty()
        })
        .collect()
}

/// The provider tag a row of the streams panel starts with.
fn tag(row: &str) -> Option<&str> {
    row.split(|c: char| c == '│' || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .take(2)
        .find(|w| PROVIDERS.iter().any(|p| p.1 == *w))
}

/// The row of the streams panel that shows the stream whose name contains `piece`.
fn stream_row<'a>(screen: &'a str, piece: &str) -> &'a str {
    panel(screen, "Streams")
        .into_iter()
        .find(|l| l.contains(piece))
        .unwrap_or_default()
}

/// Every provider's streams are on screen, each row tagged with its provider.
fn every_provider_shown(s: &str) -> bool {
    let rows = panel(s, "Streams");
    rows.len() == STREAMS
        && PROVIDERS
            .iter()
            .all(|(_, t, pieces, _)| pieces.iter().all(|p| tag(stream_row(s, p)) == Some(*t)))
}

#[test]
fn every_provider_tagged_filtered_with_p_and_journaled() {
    let pane = Pane::start();
    pane.size(100, 30);
    let addr = pane.start_recmon();

    // What each request is expected to be journaled as, in order.
    let mut sent: Vec<(&str, String)> = Vec::new();
    for (name, bytes) in capture_run("nginx-rtmp") {
        assert_eq!(send_raw(addr, &bytes), 200, "{name}");
        sent.push(("nginx-rtmp", "/cb".into()));
    }
    for name in ["srs_on_publish", "srs_on_dvr"] {
        let (status, body) = post_json(addr, "/srs", &sample(name));
        assert_eq!(status, 200, "{name}: {body}");
        assert!(body.contains("\"code\":0"), "{name}: {body}");
        sent.push(("srs", "/srs".into()));
    }
    for name in ["tencent_push_1", "tencent_record_100"] {
        let (status, body) = post_json(addr, "/tencent", &sample(name));
        assert_eq!(status, 200, "{name}: {body}");
        sent.push(("tencent", "/tencent".into()));
    }
    let (status, body) = post_json(addr, "/recmon", STATUS_SAMPLE);
    assert_eq!(status, 200, "{body}");
    sent.push(("aliyun", "/recmon".into()));

    // Every stream tagged with its provider, in a `prov` column.
    let s = pane.wait_for("every provider's streams, tagged", CEILING, |s| {
        every_provider_shown(s) && stream_row(s, "cam1").contains("▼ offline")
    });
    assert!(s.contains("prov"), "no prov column:\n{s}");
    assert!(
        stream_row(&s, "gs_stream").contains("● started"),
        "the ApsaraVideo stream:\n{s}"
    );
    // nginx-rtmp's three files (and SRS's one) with durations recmon derived (`~`); Tencent's
    // file with the duration Tencent sent.
    let recordings = panel(&s, "Recordings");
    let derived: Vec<&&str> = recordings
        .iter()
        .filter(|l| l.contains("cam1-17958126") || l.contains("1420254068776"))
        .collect();
    assert_eq!(derived.len(), 4, "nginx-rtmp's and SRS's files:\n{s}");
    for row in &derived {
        assert!(
            row.contains("~0:"),
            "a derived duration without ~: {row}\n{s}"
        );
    }
    let tencent = recordings
        .iter()
        .find(|l| l.contains("playlist.m3u8"))
        .unwrap_or_else(|| panic!("Tencent's file:\n{s}"));
    assert!(
        tencent.contains("0:01:03.000") && !tencent.contains('~'),
        "Tencent's file: {tencent}\n{s}"
    );
    // Its size shows where the width allows a size column (at 120 columns it must).
    let has_size = |s: &str| {
        s.lines()
            .any(|l| l.contains("duration") && l.contains(" size "))
            && panel(s, "Recordings")
                .iter()
                .any(|l| l.contains("playlist.m3u8") && l.contains("1.3 kB"))
    };
    if s.lines()
        .any(|l| l.contains("duration") && l.contains(" size "))
    {
        assert!(has_size(&s), "a size column without Tencent's size:\n{s}");
    }
    pane.size(120, 32);
    pane.wait_for("Tencent's file size at 120×32", CEILING, |s| {
        has_size(s) && every_provider_shown(s)
    });

    // At 80×24 rows keep their tags and the derived durations their `~` (the uri column is
    // gone at this width: the recordings are told by their stream).
    pane.size(80, 24);
    let s = pane.wait_for("the providers at 80×24", CEILING, |s| {
        let rows = panel(s, "Streams");
        !rows.is_empty()
            && rows.iter().all(|r| tag(r).is_some())
            && panel(s, "Recordings")
                .iter()
                .any(|l| l.contains("live/cam1") && l.contains("~0:"))
    });
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[0].contains("recmon") && lines.last().unwrap().contains("q quit"),
        "header or footer missing at 80×24:\n{s}"
    );
    assert_eq!(lines.len(), 24, "{s}");

    // `p`: one provider's streams (and only their recordings and requests), in turn, then all.
    pane.size(100, 30);
    pane.wait_for("100×30 again", CEILING, every_provider_shown);
    for (name, t, pieces, n) in PROVIDERS {
        pane.keys(&["p"]);
        let s = pane.wait_for(&format!("the {name} filter"), CEILING, |s| {
            let rows = panel(s, "Streams");
            s.contains(&format!("filter: \"provider:{name}\""))
                && s.contains(&format!("Streams {n} of {STREAMS}"))
                && rows.len() == n
                && rows.iter().all(|r| tag(r) == Some(t))
        });
        for (other, _, theirs, _) in PROVIDERS.iter().filter(|p| p.0 != name) {
            for piece in theirs.iter() {
                assert!(
                    !s.contains(piece),
                    "{other}'s {piece} shown with provider:{name}:\n{s}"
                );
            }
        }
        for piece in pieces {
            assert!(
                s.contains(piece),
                "{piece} not shown with provider:{name}:\n{s}"
            );
        }
    }
    pane.keys(&["p"]);
    let s = pane.wait_for("every provider again", CEILING, |s| {
        !s.contains("filter:")
            && s.contains(&format!("Streams {STREAMS} "))
            && every_provider_shown(s)
    });
    assert!(!s.contains("provider:"), "{s}");

    pane.quit("26 accepted, 0 duplicate, 0 rejected");

    // One journal line per request, in order, each with the provider that read it (a line
    // without the field is read as ApsaraVideo's).
    let lines = request_lines(&pane.journal());
    assert_eq!(lines.len(), sent.len(), "{lines:#?}");
    for (i, (line, (provider, path))) in lines.iter().zip(&sent).enumerate() {
        assert_eq!(line["seq"], i as u64 + 1, "{line}");
        assert_eq!(
            line["provider"].as_str().unwrap_or("aliyun"),
            *provider,
            "{line}"
        );
        assert_eq!(line["path"], path.as_str(), "{line}");
        assert_eq!(line["outcome"], "accepted", "{line}");
        assert_eq!(line["status"], 200, "{line}");
    }
}

#[test]
fn hostile_stream_names_are_shown_escaped_and_leave_the_screen_whole() {
    let pane = Pane::start();
    pane.size(100, 30);
    let title = pane.tmux(&["display-message", "-p", "-t", "e2e", "#{pane_title}"]);
    let addr = pane.start_recmon();
    let (status, body) = post_json(addr, "/recmon", STATUS_SAMPLE);
    assert_eq!(status, 200, "{body}");
    pane.wait_for("the ApsaraVideo stream", CEILING, |s| {
        stream_row(s, "gs_stream").contains("● started")
    });

    // ESC [2J (clear the screen) in an nginx-rtmp stream name, an OSC title and a colour with
    // a bidi override in SRS's and Tencent's.
    assert_eq!(nginx_publish(addr, "%1b%5b2Jevil"), 200);
    let (status, body) = post_json(
        addr,
        "/srs",
        r#"{"action":"on_publish","client_id":"1","ip":"192.0.2.1","vhost":"srs.example.org","app":"live","stream":"\u001b]0;pwned\u0007hall","param":""}"#,
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_json(
        addr,
        "/tencent",
        r#"{"app":"push.example.cn","appid":1,"appname":"live","stream_id":"\u001b[31mred\u202etxt","event_type":1,"event_time":1703731478,"t":1703732078,"sign":"0d1f8b0a2c4e6f8091a2b3c4d5e6f708"}"#,
    );
    assert_eq!(status, 200, "{body}");

    let s = pane.wait_for("the hostile names, escaped", CEILING, |s| {
        tag(stream_row(s, r"\x1b[2Jevil")) == Some("ngx")
            && tag(stream_row(s, r"\x1b]0;pwned\x07hall")) == Some("srs")
            && tag(stream_row(s, r"\x1b[31mred\u{202e}txt")) == Some("tc")
    });
    // Nothing was cleared or moved: the header, the stream shown before, the panels' borders
    // and the footer are all where they were.
    let lines: Vec<&str> = s.lines().collect();
    assert_eq!(lines.len(), 30, "{s}");
    assert!(
        lines[0].contains("recmon") && lines[0].contains(&addr.to_string()),
        "{s}"
    );
    assert!(lines[1].contains("journal:"), "{s}");
    assert!(lines[3].starts_with("╭ Streams 4 "), "{s}");
    assert!(lines[29].contains("q quit"), "{s}");
    assert!(stream_row(&s, "gs_stream").contains("● started"), "{s}");
    for l in lines.iter().filter(|l| l.contains("evil")) {
        assert!(l.contains(r"\x1b[2Jevil"), "an unescaped name: {l}\n{s}");
    }
    for l in lines.iter().filter(|l| l.contains("pwned")) {
        assert!(
            l.contains(r"\x1b]0;pwned\x07"),
            "an unescaped name: {l}\n{s}"
        );
    }
    // No sequence from a name reached the terminal: the pane's title is unchanged, and the
    // screen stays whole through the next redraws (the uptime ticks every second).
    assert_eq!(
        pane.tmux(&["display-message", "-p", "-t", "e2e", "#{pane_title}"]),
        title
    );
    let (status, body) = post_json(
        addr,
        "/recmon",
        &STATUS_SAMPLE.replace("gs_stream", "after"),
    );
    assert_eq!(status, 200, "{body}");
    pane.wait_for("the screen still whole after a redraw", CEILING, |s| {
        let lines: Vec<&str> = s.lines().collect();
        lines.len() == 30
            && lines[0].contains("recmon")
            && lines[3].starts_with("╭ Streams 5 ")
            && stream_row(s, "gs_app/after").contains("● started")
            && tag(stream_row(s, r"\x1b[2Jevil")) == Some("ngx")
    });

    pane.quit("5 accepted, 0 duplicate, 0 rejected");
    let lines = journal_lines(&pane.journal());
    let providers: Vec<&str> = lines
        .iter()
        .map(|l| l["provider"].as_str().unwrap_or("aliyun"))
        .collect();
    assert_eq!(
        providers,
        ["aliyun", "nginx-rtmp", "srs", "tencent", "aliyun"],
        "{lines:#?}"
    );
    assert!(
        lines[1].to_string().contains("%1b%5b2Jevil"),
        "the journal keeps the name as sent: {}",
        lines[1]
    );
}
