//! End to end: the real binary in a real terminal (tmux), callbacks over real HTTP, and
//! assertions on what the pane shows. Each test has its own tmux server (`-L`), so tests run
//! in parallel. tmux is required: `.ci/run` installs it; without it these tests fail.

mod common;
mod tmux;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;

use common::*;
use tmux::*;

impl Pane {
    /// Starts recmon in the pane on a free port and waits for its screen.
    fn start_recmon(&self, env: &str) -> SocketAddr {
        let addr = free_port();
        self.run(&format!(
            "S=$(stty -g); {env} {} --listen {addr} --journal j.jsonl",
            bin()
        ));
        self.wait_for("the recmon header", CEILING, |s| {
            s.contains(&format!("http://{addr}")) && s.contains("Streams")
        });
        addr
    }

    /// After recmon exits: the prompt is back, the terminal settings are what they were
    /// before recmon started, and the shell runs commands.
    fn assert_terminal_restored(&self) {
        self.wait_for("the summary", CEILING, |s| s.contains("recmon: stopped."));
        // The marker is computed by the shell, so it appears only if the command ran.
        self.run(r#"[ "$(stty -g)" = "$S" ] && echo "tty-$((6*7))-restored""#);
        self.wait_for("a usable shell", CEILING, |s| {
            s.contains("tty-42-restored") && s.trim_end().ends_with(PROMPT)
        });
    }

    fn journal(&self) -> std::path::PathBuf {
        self.dir.path().join("j.jsonl")
    }
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn status(addr: SocketAddr, event: &str) {
    let body = STATUS_SAMPLE.replace("record_started", event);
    assert_eq!(
        request(addr, "POST", "/recmon", &[], body.as_bytes()).0,
        200
    );
}

/// The line of the pane that shows a stream in the streams panel.
fn stream_row<'a>(screen: &'a str, stream: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(stream))
        .unwrap_or_default()
}

/// How long to wait for the screen to show something. The screen shows a change within a
/// frame (33 ms), but four of these tests run in parallel with a build on a loaded machine:
/// the tests poll for the condition, and this ceiling only decides when to give up.
#[test]
fn states_change_live_and_the_keys_work() {
    let pane = Pane::start();
    let addr = pane.start_recmon("");

    for (event, shown) in [
        ("record_started", "● started"),
        ("record_paused", "‖ paused"),
        ("record_resumed", "▶ resumed"),
    ] {
        status(addr, event);
        pane.wait_for(&format!("gs_stream {shown}"), CEILING, |s| {
            stream_row(s, "gs_domain/gs_app/gs_stream").contains(shown)
        });
    }
    request(addr, "POST", "/recmon", &[], RECORDING_SAMPLE.as_bytes());
    pane.wait_for("the recording", CEILING, |s| {
        s.contains("0:01:09.403 ≠") && s.contains("liveApp****/liveStream****/0_2017-03-08")
    });
    request(addr, "POST", "/recmon", &[], b"{broken");
    pane.wait_for("the rejected request", CEILING, |s| {
        s.contains("✗ rejected") && s.contains("body is not valid JSON")
    });

    // `/` filters every panel; Esc clears it.
    pane.keys(&["/", "g", "s", "_", "s", "t", "Enter"]);
    pane.wait_for("the filter", CEILING, |s| {
        s.contains("filter: \"gs_st\"") && !s.contains("demo.aliyundoc.com")
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the filter cleared", CEILING, |s| {
        !s.contains("filter:") && s.contains("demo.aliyundoc.com")
    });
    // `/rejected` keeps the rejected request and hides the streams.
    pane.keys(&["/", "r", "e", "j", "e", "c", "t", "e", "d", "Enter"]);
    pane.wait_for("the outcome filter", CEILING, |s| {
        s.contains("filter: \"rejected\"")
            && s.contains("body is not valid JSON")
            && stream_row(s, "gs_domain/gs_app/gs_stream").is_empty()
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the filter cleared", CEILING, |s| !s.contains("filter:"));

    // `?` lists every key.
    pane.keys(&["?"]);
    pane.wait_for("the help popup", CEILING, |s| {
        s.contains("Keys") && s.contains("this help") && s.contains("mouse wheel")
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the help closed", CEILING, |s| !s.contains("this help"));
    // At 80×24 the help fits the width and scrolls: PgDn shows what the first page cannot
    // (it used to close the popup).
    pane.tmux(&["resize-window", "-t", "e2e", "-x", "80", "-y", "24"]);
    pane.keys(&["?"]);
    pane.wait_for("the help's first page at 80×24", CEILING, |s| {
        s.contains("focus the next panel")
            && s.contains("lines 1–")
            && !s.contains("What the filter")
    });
    pane.keys(&["PageDown"]);
    pane.wait_for("the help scrolled at 80×24", CEILING, |s| {
        s.contains("What the filter matches") && !s.contains("lines 1–")
    });
    pane.tmux(&["resize-window", "-t", "e2e", "-x", "160", "-y", "45"]);
    pane.keys(&["Escape"]);
    pane.wait_for("the help closed", CEILING, |s| !s.contains("this help"));

    // Enter on the recording shows its request, body pretty-printed.
    pane.keys(&["Tab", "Enter"]);
    pane.wait_for("the detail popup", CEILING, |s| {
        s.contains("recording · seq 4") && s.contains("\"callback_myid\": \"1231389741\"")
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the detail closed", CEILING, |s| {
        !s.contains("recording · seq 4")
    });

    // `f` turns following off and on.
    pane.keys(&["f"]);
    pane.wait_for("follow off", CEILING, |s| s.contains("follow:off"));
    pane.keys(&["f"]);
    pane.wait_for("follow on", CEILING, |s| s.contains("follow:on"));

    // `e` asks for the folder, offering the journal's: Enter writes the export there, and
    // nothing it does tears the screen (a progress bar on stderr once pushed every row up
    // by one).
    pane.keys(&["e"]);
    pane.wait_for("the export folder prompt", CEILING, |s| {
        s.contains("export to folder:")
    });
    pane.keys(&["Enter"]);
    let s = pane.wait_for("the export", CEILING, |s| s.contains("export written"));
    let lines: Vec<&str> = s.lines().collect();
    assert!(
        lines[0].contains("recmon") && lines[1].contains("journal:"),
        "the header was torn:\n{s}"
    );
    assert!(
        !s.contains("export ["),
        "a progress bar reached the screen:\n{s}"
    );
    let dir = pane.journal().parent().unwrap().to_path_buf();
    let exported: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("-export-"))
        .collect();
    assert_eq!(exported.len(), 1, "one export folder beside the journal");
    let csv = std::fs::read_to_string(exported[0].path().join("recordings.csv")).unwrap();
    assert!(
        csv.contains("liveApp****/liveStream****/0_2017-03-08"),
        "{csv}"
    );
    status(addr, "record_paused");
    pane.wait_for("the screen still live after the export", CEILING, |s| {
        s.lines().next().unwrap_or("").contains("recmon")
            && stream_row(s, "gs_domain/gs_app/gs_stream").contains("‖ paused")
    });

    // A tiny terminal shows a notice, and the screen comes back when it grows.
    pane.tmux(&["resize-window", "-t", "e2e", "-x", "20", "-y", "5"]);
    pane.wait_for("the too-small notice", CEILING, |s| s.contains("too small"));
    pane.tmux(&["resize-window", "-t", "e2e", "-x", "160", "-y", "45"]);
    pane.wait_for("the screen again", CEILING, |s| s.contains("Streams"));

    pane.keys(&["q"]);
    pane.assert_terminal_restored();
    let s = pane.screen();
    assert!(s.contains("5 accepted, 0 duplicate, 1 rejected"), "{s}");
    assert_eq!(request_lines(&pane.journal()).len(), 6);
}

#[test]
fn sigterm_restores_the_terminal_and_no_color_is_honoured() {
    let pane = Pane::start();
    let addr = pane.start_recmon("NO_COLOR=1");
    status(addr, "record_started");
    pane.wait_for("the stream", CEILING, |s| s.contains("● started"));
    let with_escapes = pane.screen_with_escapes();
    assert_no_colours(&with_escapes);

    let shell: u32 = pane
        .tmux(&["display-message", "-p", "-t", "e2e", "#{pane_pid}"])
        .trim()
        .parse()
        .unwrap();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children"))
        .expect("list the shell's children");
    let pid: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    pane.assert_terminal_restored();
}

#[test]
fn a_panic_in_a_spawned_task_restores_the_terminal_first() {
    let pane = Pane::start();
    // Long enough after the screen is up for the header to be seen on a loaded machine
    // (polled every 25 ms); the panic message is then waited for, not slept on.
    pane.start_recmon("RECMON_DEBUG_PANIC_IN_TASK_MS=3000");
    let s = pane.wait_for("the panic message", CEILING, |s| {
        s.contains("deliberate panic in a spawned task")
    });
    // The message is on the normal screen, not lost with the alternate one.
    assert!(!s.contains("╭ Streams"), "{s}");
    pane.assert_terminal_restored();
}

#[test]
fn a_port_in_use_is_reported_on_a_normal_terminal() {
    let pane = Pane::start();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    pane.run(&format!(
        "S=$(stty -g); {} --listen {addr} --journal j.jsonl",
        bin()
    ));
    pane.wait_for("the error", CEILING, |s| {
        s.contains("cannot listen on") && s.contains("pick another port")
    });
    pane.run(r#"[ "$(stty -g)" = "$S" ] && echo "tty-$((6*7))-restored""#);
    pane.wait_for("a usable shell", CEILING, |s| s.contains("tty-42-restored"));
    assert!(!Path::new(&pane.journal()).exists() || journal_lines(&pane.journal()).is_empty());
}

/// An ApsaraVideo ingest callback (a GET with the action in the query) for gs_stream.
fn ingest(addr: SocketAddr, action: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let path = format!(
        "/recmon?action={action}&app=gs_domain&appname=gs_app&id=gs_stream&ip=198.51.100.20&node=edge7&time={now}"
    );
    assert_eq!(request(addr, "GET", &path, &[], b"").0, 200);
}

#[test]
fn a_stream_that_went_offline_shows_ended_and_e_writes_to_the_folder_typed() {
    let pane = Pane::start();
    let addr = pane.start_recmon("");
    ingest(addr, "publish");
    status(addr, "record_started");
    status(addr, "record_resumed");
    pane.wait_for("gs_stream resumed and live", CEILING, |s| {
        let row = stream_row(s, "gs_domain/gs_app/gs_stream");
        row.contains("▶ resumed") && row.contains("▲ live")
    });
    // The publisher stops: the row no longer reads as recording.
    ingest(addr, "publish_done");
    let s = pane.wait_for("gs_stream ended", CEILING, |s| {
        stream_row(s, "gs_domain/gs_app/gs_stream").contains("■ ended")
    });
    let row = stream_row(&s, "gs_domain/gs_app/gs_stream");
    assert!(row.contains("▼ offline") && !row.contains("resumed"), "{s}");
    // `/offline` finds it.
    pane.keys(&["/", "o", "f", "f", "l", "i", "n", "e", "Enter"]);
    pane.wait_for("the offline filter", CEILING, |s| {
        s.contains("filter: \"offline\"")
            && stream_row(s, "gs_domain/gs_app/gs_stream").contains("■ ended")
    });
    pane.keys(&["Escape"]);
    pane.wait_for("the filter cleared", CEILING, |s| !s.contains("filter:"));

    // `e` offers the journal's folder; another one is typed in its place.
    let here = std::fs::canonicalize(pane.dir.path()).unwrap();
    let chosen = here.join("handover");
    std::fs::create_dir(&chosen).unwrap();
    pane.keys(&["e"]);
    pane.wait_for("the folder prompt, pre-filled", CEILING, |s| {
        s.contains(&format!("export to folder: {}▏", here.display()))
    });
    pane.tmux(&["send-keys", "-t", "e2e", "-l", "/handover"]);
    pane.keys(&["Enter"]);
    let s = pane.wait_for("the export written to the folder typed", CEILING, |s| {
        s.contains("export written:")
    });
    assert!(
        s.contains(&format!("{}/j-export-", chosen.display())),
        "not in the folder typed:\n{s}"
    );
    let exported: Vec<_> = std::fs::read_dir(&chosen)
        .unwrap()
        .filter_map(|e| e.ok())
        .collect();
    assert_eq!(
        exported.len(),
        1,
        "one export folder in {}",
        chosen.display()
    );
    assert!(exported[0].path().join("events.jsonl").is_file());
    assert!(
        !std::fs::read_dir(&here).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("-export-")),
        "nothing beside the journal"
    );
    // Esc closes the message; the next `e` offers the folder used last.
    pane.keys(&["Escape"]);
    pane.wait_for("the message closed", CEILING, |s| {
        !s.contains("export written:")
    });
    pane.keys(&["e"]);
    pane.wait_for("the last folder offered", CEILING, |s| {
        s.contains(&format!("export to folder: {}▏", chosen.display()))
    });
    // A folder that does not exist is refused, not created.
    pane.keys(&["C-u"]);
    pane.tmux(&["send-keys", "-t", "e2e", "-l", "/nonexistent/recmon-e2e"]);
    pane.keys(&["Enter"]);
    pane.wait_for("the refusal", CEILING, |s| {
        s.contains("export: no folder /nonexistent/recmon-e2e")
    });
    assert!(!Path::new("/nonexistent/recmon-e2e").exists());
    pane.keys(&["Escape", "q"]);
    pane.assert_terminal_restored();
}

/// No SGR colour parameter (30–38, 40–48, 90–97, 100–107) in the captured escapes.
fn assert_no_colours(screen: &str) {
    let mut rest = screen;
    while let Some(i) = rest.find("\x1b[") {
        let after = &rest[i + 2..];
        let end = after
            .find(|c: char| c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        if after[end..].starts_with('m') {
            for p in after[..end].split(';') {
                let n: u32 = p.parse().unwrap_or(0);
                assert!(
                    !matches!(n, 30..=38 | 40..=48 | 90..=97 | 100..=107),
                    "colour {n} with NO_COLOR set in {:?}",
                    &after[..end]
                );
            }
        }
        rest = &after[end..];
    }
}
