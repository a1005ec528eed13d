//! Commands that must never destroy or mix data, and the words recmon prints about them: the
//! real binary, real files, real HTTP over loopback.
//!
//! - `export -o` replaces its output only when the export succeeds (the UI's `e` too);
//! - one journal has one writer: a second recmon is refused with the first one's pid;
//! - `--resume` refuses a file that is not a journal and leaves it byte for byte as it was;
//! - `--journal DIR` is refused with a file name to use inside DIR; `--journal` on a file that is
//!   not a journal is refused without suggesting `--resume` of it; an unwritable folder is named;
//! - `export` of a file that is not a journal fails (exit 2), as `report` does;
//! - a port in use is answered with a port that is free;
//! - times given as strings read as the numbers they hold;
//! - summaries count with the right plural and thousands separators; `--help` reads right.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Generous: these commands finish in milliseconds, but the machine is shared.
const CEILING: Duration = Duration::from_secs(30);

fn recmon(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_remove("RECMON_LISTEN")
        .env_remove("RECMON_AUTH_KEY")
        .env_remove("RECMON_API_TOKEN")
        .stdin(Stdio::null())
        .output()
        .expect("run recmon")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// What became of a monitor that was expected to refuse to start.
enum Start {
    /// It exited, with its stderr.
    Exited(ExitStatus, String),
    /// It started listening (the refusal did not happen); the caller uses and stops it.
    Listening(Child, SocketAddr, String),
}

/// Runs the monitor until it exits or says it is listening, whichever comes first.
fn start_or_exit(dir: &Path, args: &[&str]) -> Start {
    let mut child = Command::new(bin())
        .args(["--headless", "--listen", "127.0.0.1:0"])
        .args(args)
        .current_dir(dir)
        .env_remove("RECMON_LISTEN")
        .env_remove("RECMON_AUTH_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn recmon");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let start = Instant::now();
    let mut stderr = String::new();
    loop {
        while let Ok(line) = rx.try_recv() {
            if let Some(addr) = line.strip_prefix("recmon: listening on http://") {
                let addr = addr.trim().parse().unwrap();
                stderr.push_str(&line);
                return Start::Listening(child, addr, stderr);
            }
            stderr.push_str(&line);
            stderr.push('\n');
        }
        if let Ok(Some(status)) = child.try_wait() {
            // The reader ends at EOF, once the process is gone: every line is in.
            reader.join().unwrap();
            stderr.extend(rx.try_iter().map(|l| l + "\n"));
            return Start::Exited(status, stderr);
        }
        assert!(
            start.elapsed() < CEILING,
            "recmon neither exited nor listened within {CEILING:?}; stderr:\n{stderr}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Expects a refusal: the exit status and stderr. A monitor that started instead is sent one
/// callback (so that whatever it would have written is written) and stopped, and the test
/// fails with what it printed.
fn refused(dir: &Path, args: &[&str]) -> (ExitStatus, String) {
    match start_or_exit(dir, args) {
        Start::Exited(status, err) => (status, err),
        Start::Listening(mut child, addr, err) => {
            let _ = try_request(addr, "POST", "/cb", &[], STATUS_SAMPLE.as_bytes());
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let _ = wait_timeout(&mut child, CEILING);
            let _ = child.kill();
            panic!("recmon {args:?} was not refused: it started.\n{err}");
        }
    }
}

/// The names in a folder.
fn names(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A journal of `n` accepted recording callbacks, as recmon writes them.
fn journal_of_recordings(n: u64) -> String {
    (1..=n)
        .map(|seq| {
            let body = format!(
                r#"{{"domain":"live.example.com","app":"app","stream":"cam-{}","uri":"app/cam/{seq}.flv","duration":60.0,"start_time":1764265953,"stop_time":1764266013}}"#,
                seq % 7
            );
            format!(
                r#"{{"seq":{seq},"received_at":"2026-11-27T17:54:13.847Z","remote":"127.0.0.1:40000","method":"POST","path":"/cb","headers":{{}},"outcome":"accepted","status":200,"kind":"recording","body_bytes":{},"body":{body}}}"#,
                body.len()
            ) + "\n"
        })
        .collect()
}

// ---- 2. export -o is all or nothing ---------------------------------------------------------

#[test]
fn export_replaces_its_output_only_when_the_export_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keep = d.join("keep.csv");
    std::fs::write(&keep, "precious,data\n1,2\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&keep, std::fs::Permissions::from_mode(0o604)).unwrap();
    }
    // A journal that can be opened but not read (a folder) fails mid-export, after the
    // output was opened: the case that emptied keep.csv.
    std::fs::create_dir(d.join("folder.jsonl")).unwrap();
    let before = names(d);
    for journal in ["missing.jsonl", "folder.jsonl"] {
        for format in ["jsonl", "json", "csv"] {
            for what in ["events", "recordings", "streams"] {
                let args = [
                    "export", journal, "--format", format, "--what", what, "-o", "keep.csv",
                ];
                let out = recmon(d, &args);
                assert_eq!(out.status.code(), Some(1), "{args:?}");
                assert!(
                    text(&out.stderr).contains("cannot read the journal"),
                    "{args:?}: {}",
                    text(&out.stderr)
                );
                assert_eq!(
                    std::fs::read_to_string(&keep).unwrap(),
                    "precious,data\n1,2\n",
                    "{args:?} changed the existing output"
                );
                assert_eq!(names(d), before, "{args:?} left files behind");
            }
        }
    }

    // A good export replaces it, and leaves nothing else.
    let mut r = Recmon::start_in(d, &d.join("j.jsonl"), &[]);
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 200);
    r.stop();
    let before = names(d);
    let out = recmon(
        d,
        &[
            "export",
            "j.jsonl",
            "--what",
            "recordings",
            "--format",
            "csv",
            "-o",
            "keep.csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = std::fs::read_to_string(&keep).unwrap();
    assert!(csv.starts_with("seq,received_at,"), "{csv}");
    assert!(
        csv.contains("0_2017-03-08-23:09:46_2017-03-08-23:10:40.flv"),
        "{csv}"
    );
    assert_eq!(names(d), before, "only keep.csv changed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&keep).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o604,
            "the replaced file keeps its permissions"
        );
    }

    // A new file is made the same way, with the usual permissions (not the temporary
    // file's owner-only ones).
    let out = recmon(d, &["export", "j.jsonl", "-o", "new.jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(d.join("new.jsonl")).unwrap(),
        std::fs::read(d.join("j.jsonl")).unwrap()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("new.jsonl"))
            .unwrap()
            .permissions()
            .mode();
        let reference = {
            let p = d.join("reference");
            std::fs::File::create(&p).unwrap();
            std::fs::metadata(&p).unwrap().permissions().mode()
        };
        assert_eq!(mode & 0o777, reference & 0o777);
    }
}

/// A target that is not a regular file cannot be replaced and is written through: a FIFO
/// here (the same path as `/dev/null` or `/dev/stdout`, without touching the system's).
#[test]
fn export_to_a_fifo_writes_through_it() {
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("j.jsonl"), journal_of_recordings(3)).unwrap();
    let fifo = d.join("pipe");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let reading = fifo.clone();
    std::thread::spawn(move || {
        let _ = tx.send(std::fs::read(&reading));
    });
    let out = recmon(d, &["export", "j.jsonl", "-o", "pipe"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let got = rx
        .recv_timeout(CEILING)
        .expect("the export reached the FIFO")
        .unwrap();
    assert_eq!(got, journal_of_recordings(3).into_bytes());
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_eq!(names(d), BTreeSet::from(["j.jsonl".into(), "pipe".into()]));
}

/// Ctrl-C in the middle of an export leaves `-o` as it was and no temporary file: the
/// journal is a FIFO that the test feeds and keeps open, so the export is caught mid-read.
#[test]
fn an_interrupted_export_leaves_its_output_as_it_was() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("keep.csv"), "precious\n").unwrap();
    let fifo = d.join("j.jsonl");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut child = Command::new(bin())
        .args(["export", "j.jsonl", "--format", "csv", "-o", "keep.csv"])
        .current_dir(d)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Opening the FIFO for writing waits for the export to open it for reading.
    let mut feed = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    feed.write_all(journal_of_recordings(50).as_bytes())
        .unwrap();
    let start = Instant::now();
    let is_tmp = |n: &String| n.starts_with(".keep.csv.") && n.ends_with(".tmp");
    while !names(d).iter().any(is_tmp) {
        assert!(
            start.elapsed() < CEILING,
            "no temporary file: {:?}",
            names(d)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = wait_timeout(&mut child, CEILING).expect("export exits on Ctrl-C");
    drop(feed);
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    assert!(err.contains("export interrupted"), "{err}");
    assert_eq!(
        std::fs::read_to_string(d.join("keep.csv")).unwrap(),
        "precious\n"
    );
    assert_eq!(
        names(d),
        BTreeSet::from(["j.jsonl".to_string(), "keep.csv".to_string()])
    );
}

/// The UI's `e` goes through `export_session`: a failed one leaves no folder and no file.
#[test]
fn a_failed_session_export_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let journal = d.join("folder.jsonl");
    std::fs::create_dir(&journal).unwrap();
    let before = names(d);
    let e = recmon::tools::export::export_session(&journal).unwrap_err();
    assert!(e.to_string().contains("cannot read the journal"), "{e}");
    assert_eq!(names(d), before);

    // A good one holds exactly its two files.
    let journal = d.join("j.jsonl");
    std::fs::write(&journal, journal_of_recordings(5)).unwrap();
    let ex = recmon::tools::export::export_session(&journal).unwrap();
    assert_eq!(
        names(&ex.dir),
        BTreeSet::from(["events.jsonl".to_string(), "recordings.csv".to_string()])
    );
    assert_eq!((ex.events, ex.recordings), (5, 5));
    assert_eq!(
        std::fs::read(&ex.events_jsonl).unwrap(),
        std::fs::read(&journal).unwrap()
    );
}

// ---- 3. one writer per journal --------------------------------------------------------------

#[test]
fn a_second_writer_on_one_journal_is_refused_naming_the_first() {
    let mut a = Recmon::start(&[]);
    assert_eq!(a.post("/cb", STATUS_SAMPLE).0, 200);
    let journal = a.journal.to_str().unwrap().to_string();
    let a_pid = a.child.id();
    for flag in ["--resume", "--journal"] {
        let (status, err) = refused(&a.dir, &[flag, &journal]);
        assert_eq!(status.code(), Some(1), "{flag}: {err}");
        assert!(
            err.contains(&format!("pid {a_pid}")) && err.contains("is in use"),
            "{flag}: the message names the writer: {err}"
        );
    }
    // Export reads beside the writer, without the lock.
    let out = recmon(&a.dir, &["export", &journal]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).lines().count(), 1);

    assert_eq!(a.post("/cb", RECORDING_SAMPLE).0, 200);
    let (status, _, err) = a.stop();
    assert!(status.success(), "{err}");
    let seqs: Vec<u64> = a
        .journal_lines()
        .iter()
        .map(|l| l["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, vec![1, 2], "one writer, no repeated seq");

    // The lock goes with the process: the journal can be resumed once A is gone.
    let mut b = Recmon::start_in(&a.dir, &a.journal, &["--resume", &journal]);
    assert_eq!(b.post("/cb", STATUS_SAMPLE).0, 200);
    b.stop();
    let lines = b.journal_lines();
    let seqs: Vec<u64> = lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect();
    // One seq each, none repeated (B may have journaled an alert about A's file too).
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>());
    let requests = lines.iter().filter(|l| l.get("method").is_some()).count();
    assert_eq!(requests, 3);
}

/// `export -o` naming a journal another recmon is writing is refused: the rename would leave
/// that session writing to a deleted file, and every later callback would get 503.
#[test]
fn an_export_over_a_live_journal_is_refused_and_the_journal_kept() {
    use std::os::unix::fs::MetadataExt;
    let mut a = Recmon::start(&[]);
    assert_eq!(a.post("/cb", STATUS_SAMPLE).0, 200);
    let live = a.journal.to_str().unwrap().to_string();
    let inode = std::fs::metadata(&a.journal).unwrap().ino();
    std::fs::write(a.dir.join("other.jsonl"), journal_of_recordings(2)).unwrap();
    let out = recmon(&a.dir, &["export", "other.jsonl", "-o", &live]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("is a live journal") && err.contains(&format!("pid {}", a.child.id())),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&a.journal).unwrap().ino(), inode);
    // The session still journals and answers 200.
    assert_eq!(a.post("/cb", RECORDING_SAMPLE).0, 200);
    let (status, _, err) = a.stop();
    assert!(status.success(), "{err}");
    assert_eq!(a.journal_lines().len(), 2);
}

/// `-o /dev/stdout` writes through the descriptor the shell opened: `>> app.log` keeps what
/// the log held and the export follows it (a rename over the file would drop both).
#[test]
fn an_export_to_dev_stdout_appends_through_the_shells_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("j.jsonl"), journal_of_recordings(2)).unwrap();
    std::fs::write(d.join("app.log"), "before\n").unwrap();
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' export j.jsonl -o /dev/stdout >> app.log && echo after >> app.log",
            bin()
        ))
        .current_dir(d)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let log = std::fs::read_to_string(d.join("app.log")).unwrap();
    assert_eq!(
        log,
        format!("before\n{}after\n", journal_of_recordings(2)),
        "the log keeps its line, then the export, then what the shell wrote after"
    );
}

// ---- 4. --resume refuses what is not a journal ----------------------------------------------

#[test]
fn resume_refuses_a_file_that_is_not_a_journal_and_leaves_it_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An export's CSV, the likeliest wrong file; no newline at the end, which a writer
    // would have "repaired".
    let mut csv = String::from("seq,received_at,received_at_unix,remote,method\n");
    for i in 1..=132 {
        csv.push_str(&format!(
            "{i},2026-11-27T17:54:13.847Z,1764266053.847,127.0.0.1:1,POST"
        ));
        if i < 132 {
            csv.push('\n');
        }
    }
    let path = d.join("recordings.csv");
    std::fs::write(&path, &csv).unwrap();

    let (status, err) = refused(d, &["--resume", "recordings.csv"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains(
            "recordings.csv is not a recmon journal: none of its 133 lines is a journal entry"
        ),
        "{err}"
    );
    assert!(err.contains("line 1: not JSON"), "{err}");
    assert!(err.contains("line 2: a JSON integer `1`"), "{err}");
    assert!(err.contains("130 more lines not shown"), "{err}");
    assert!(
        err.contains(r#"{"seq":1,"received_at":"#),
        "shows a journal line: {err}"
    );
    for leak in ["EntryRef", "JournalEntry", "struct ", "line(s)"] {
        assert!(!err.contains(leak), "{leak}: {err}");
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        csv,
        "byte for byte"
    );
    assert_eq!(names(d), BTreeSet::from(["recordings.csv".to_string()]));

    // One line, no newline: "its one line", and still untouched.
    std::fs::write(&path, "hello").unwrap();
    let (status, err) = refused(d, &["--resume", "recordings.csv"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("recordings.csv is not a recmon journal: its one line is not a journal entry"),
        "{err}"
    );
    assert!(
        err.contains("line 1: 5 bytes with no newline at the end"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "hello");
}

/// A journal with damaged lines among good ones still resumes (the damaged ones are
/// reported, with no Rust type names).
#[test]
fn resume_reports_damaged_lines_in_plain_words() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut journal = journal_of_recordings(3);
    journal.insert_str(0, "[1,2,3]\n");
    std::fs::write(d.join("j.jsonl"), &journal).unwrap();
    let mut r = Recmon::start_in(d, &d.join("j.jsonl"), &["--resume", "j.jsonl"]);
    let (_, _, err) = r.stop();
    assert!(
        err.contains("line 1 (byte 0) is not a journal entry and was skipped: a JSON array, where a journal entry is a JSON object"),
        "{err}"
    );
    assert!(
        err.contains("resumed 3 entries from j.jsonl; new requests continue at seq 4; 1 damaged line skipped"),
        "{err}"
    );
    assert!(!err.contains("struct "), "{err}");
}

// ---- 5. --journal DIR -----------------------------------------------------------------------

#[test]
fn a_directory_given_as_the_journal_is_refused_with_a_file_name_inside_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).unwrap();
    let (status, err) = refused(d, &["--journal", "logs"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--journal logs is a directory"), "{err}");
    let suggested = err
        .split("--journal logs/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no file suggested: {err}"));
    assert!(
        suggested.starts_with("recmon-") && suggested.ends_with(".jsonl"),
        "{suggested}"
    );
    assert!(!err.contains("bytes"), "not an 'earlier session': {err}");
    assert!(names(&d.join("logs")).is_empty(), "nothing written inside");

    let (status, err) = refused(d, &["--resume", "logs"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--resume logs is a directory"), "{err}");
    assert!(names(&d.join("logs")).is_empty());
}

#[test]
fn journal_on_a_file_that_is_not_a_journal_names_it_and_suggests_a_new_path_not_resume() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("logs")).unwrap();
    let notes = "my notes, not a journal\nsecond line\n";
    std::fs::write(d.join("logs/notes.txt"), notes).unwrap();
    let (status, err) = refused(d, &["--journal", "logs/notes.txt"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("--journal logs/notes.txt is an existing file that is not a recmon journal (line 1 (byte 0) is not a journal entry"),
        "{err}"
    );
    assert!(
        !err.contains("--resume"),
        "resuming it would be refused too: {err}"
    );
    let suggested = err
        .split("--journal logs/")
        .nth(2)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no new path suggested: {err}"));
    assert!(
        suggested.starts_with("recmon-") && suggested.ends_with(".jsonl"),
        "{suggested}"
    );
    assert_eq!(
        std::fs::read_to_string(d.join("logs/notes.txt")).unwrap(),
        notes
    );

    // An earlier session's journal is still offered to --resume.
    std::fs::write(d.join("old.jsonl"), journal_of_recordings(2)).unwrap();
    let (status, err) = refused(d, &["--journal", "old.jsonl"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("Continue it with --resume old.jsonl"), "{err}");
}

#[cfg(unix)]
#[test]
fn a_journal_folder_that_is_not_writable_is_named() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    let ro = d.join("readonly");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    let mut cmd = Command::new(bin());
    cmd.args([
        "--headless",
        "--listen",
        "127.0.0.1:0",
        "--journal",
        "readonly/j.jsonl",
    ])
    .current_dir(d)
    .env_remove("RECMON_LISTEN")
    .stdin(Stdio::null());
    // root writes anywhere: the folder is unwritable to an ordinary user, so recmon runs as one.
    if unsafe { libc::geteuid() } == 0 {
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let folder = std::fs::canonicalize(&ro).unwrap();
    assert!(
        err.contains(&format!(
            "cannot create the journal readonly/j.jsonl: the folder {} is not writable",
            folder.display()
        )),
        "{err}"
    );
    assert!(err.contains("--no-journal"), "{err}");
}

#[test]
fn a_port_in_use_is_answered_with_a_port_that_is_free() {
    let dir = tempfile::tempdir().unwrap();
    // The port asked for and the next one are both taken.
    let (taken, next) = loop {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < 65000 {
            if let Ok(b) = std::net::TcpListener::bind(("127.0.0.1", port + 1)) {
                break (a, b);
            }
        }
    };
    let port = taken.local_addr().unwrap().port();
    let out = recmon(
        dir.path(),
        &[
            "--headless",
            "--no-journal",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let suggested: u16 = err
        .split("e.g. --listen 127.0.0.1:")
        .nth(1)
        .and_then(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|p| p.parse().ok())
        })
        .unwrap_or_else(|| panic!("no port suggested: {err}"));
    assert_ne!(suggested, port, "{err}");
    assert_ne!(suggested, port + 1, "taken too: {err}");
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", suggested)).is_ok(),
        "the suggested port {suggested} is not free"
    );
    drop(next);
}

// ---- 6. export refuses what is not a journal ------------------------------------------------

#[test]
fn export_of_a_file_that_is_not_a_journal_fails_with_exit_2_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("recordings.csv"), "seq,stream\n1,cam1\n2,cam2\n").unwrap();
    for what in ["events", "recordings", "streams", "deliveries"] {
        let out = recmon(
            d,
            &[
                "export",
                "recordings.csv",
                "--what",
                what,
                "--format",
                "csv",
                "-o",
                "out.csv",
            ],
        );
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            err.contains("recordings.csv is not a recmon journal: none of its 3 lines is a journal entry (line 1 (byte 0) is not a journal entry"),
            "{what}: {err}"
        );
        assert!(!d.join("out.csv").exists(), "{what}: nothing written");
        // To stdout: not even a CSV header.
        let out = recmon(
            d,
            &[
                "export",
                "recordings.csv",
                "--what",
                what,
                "--format",
                "csv",
            ],
        );
        assert_eq!(out.status.code(), Some(2), "{what}");
        assert!(out.stdout.is_empty(), "{what}: {}", text(&out.stdout));
    }
    // An empty file is an empty journal (a session that received nothing), not an error.
    std::fs::write(d.join("empty.jsonl"), "").unwrap();
    let out = recmon(d, &["export", "empty.jsonl"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

// ---- 13. times as strings -------------------------------------------------------------------

#[test]
fn a_time_given_as_a_string_is_read_as_the_number_it_holds() {
    let mut r = Recmon::start(&[]);
    let body = |uri: &str, start: &str, stop: &str| {
        format!(
            r#"{{"domain":"d.example.com","app":"app","stream":"s","uri":"{uri}","duration":54.0,"start_time":{start},"stop_time":{stop}}}"#
        )
    };
    let (status, resp) = r.post(
        "/cb",
        &body("app/s/1.flv", r#""1488985786.0""#, r#""1488985840""#),
    );
    assert_eq!(status, 200, "{resp}");
    let (status, resp) = r.post(
        "/cb",
        &body("app/s/2.flv", r#""1488985786.5""#, "1488985840"),
    );
    assert_eq!(status, 422, "{resp}");
    assert!(
        resp.contains(
            "start_time must be whole Unix seconds, as a JSON number or a string holding one"
        ) && resp.contains("got a string holding a number with a fraction"),
        "{resp}"
    );
    r.stop();
    let out = recmon(
        &r.dir,
        &[
            "export",
            r.journal.to_str().unwrap(),
            "--what",
            "recordings",
        ],
    );
    let rows: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["start_time_unix"], 1488985786);
    assert_eq!(rows[0]["span_s"], 54);
    assert_eq!(rows[0]["duration_mismatch"], false);
}

// ---- 14. words --------------------------------------------------------------------------------

#[test]
fn summaries_say_one_recording_and_one_line() {
    let mut r = Recmon::start(&[]);
    assert_eq!(r.post("/cb", RECORDING_SAMPLE).0, 200);
    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    assert!(
        err.contains(
            "recmon: stopped. requests: 1 accepted, 0 duplicate, 0 rejected (0 bad signatures); 1 recording\n"
        ),
        "{err}"
    );
    assert!(err.contains("(1 line written this run)"), "{err}");

    let out = recmon(
        &r.dir,
        &["export", r.journal.to_str().unwrap(), "-o", "one.jsonl"],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("read 1 journal entry from") && err.contains("wrote 1 event row to one.jsonl"),
        "{err}"
    );
}

#[test]
fn summaries_separate_thousands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut journal = journal_of_recordings(1234);
    journal.push_str("garbage\n");
    std::fs::write(d.join("j.jsonl"), &journal).unwrap();

    let out = recmon(
        d,
        &[
            "export",
            "j.jsonl",
            "--what",
            "recordings",
            "-o",
            "rec.csv",
            "--format",
            "csv",
        ],
    );
    let err = text(&out.stderr);
    assert!(
        err.contains("read 1,234 journal entries from j.jsonl; wrote 1,234 recording rows to rec.csv; skipped 1 damaged line, listed above"),
        "{err}"
    );

    let mut r = Recmon::start_in(d, &d.join("j.jsonl"), &["--resume", "j.jsonl"]);
    let (status, _, err) = r.stop();
    assert!(status.success(), "{err}");
    assert!(
        err.contains("recmon: resumed 1,234 entries from j.jsonl; new requests continue at seq 1,235; 1 damaged line skipped"),
        "{err}"
    );
    assert!(
        err.contains(
            "requests: 1,234 accepted, 0 duplicate, 0 rejected (0 bad signatures); 1,234 recordings"
        ),
        "{err}"
    );
    assert!(err.contains("(0 lines written this run)"), "{err}");
}

#[test]
fn help_names_the_listen_variable_without_an_empty_value() {
    let dir = tempfile::tempdir().unwrap();
    for value in [None, Some(""), Some("0.0.0.0:9000")] {
        let mut cmd = Command::new(bin());
        cmd.arg("--help").current_dir(dir.path());
        match value {
            None => cmd.env_remove("RECMON_LISTEN"),
            Some(v) => cmd.env("RECMON_LISTEN", v),
        };
        let out = cmd.output().unwrap();
        let help = text(&out.stdout);
        assert!(help.contains("[env: RECMON_LISTEN]"), "{value:?}: {help}");
        assert!(!help.contains("RECMON_LISTEN="), "{value:?}: {help}");
    }
    // Set to nothing, it is named in the refusal.
    let out = Command::new(bin())
        .args(["--headless", "--no-journal"])
        .env("RECMON_LISTEN", "")
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("RECMON_LISTEN set to nothing"),
        "{}",
        text(&out.stderr)
    );
}

/// An export whose stderr reader has gone (a closed pipe: a cron job's log, a dead ssh
/// session) still writes its output and exits 0: its summary line is best effort, and a
/// panic on EPIPE would make a good export look failed.
#[test]
fn an_export_with_stderr_closed_still_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("j.jsonl"), journal_of_recordings(2)).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let status = Command::new(bin())
        .args(["export", "j.jsonl", "-o", "out.jsonl"])
        .current_dir(d)
        .stderr(writer)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(d.join("out.jsonl")).unwrap(),
        journal_of_recordings(2)
    );
}
