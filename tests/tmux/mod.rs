//! The tmux harness of the end-to-end tests: a tmux server of its own (`-L`, so tests run in
//! parallel) with one 160×45 pane running a plain bash in a temp dir, and polling of what the
//! pane shows. tmux is required: `.ci/run` installs it; without it these tests fail.
#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The shell prompt in the pane (capture-pane drops trailing spaces, so the PS1 is this plus
/// a space): seeing it again means recmon has exited.
pub const PROMPT: &str = "e2e$";

/// Only bounds how long a broken build takes to fail.
pub const CEILING: Duration = Duration::from_secs(20);

/// A tmux server with one 160×45 pane running a plain bash in a temp dir.
pub struct Pane {
    socket: String,
    /// The pane's working directory.
    pub dir: tempfile::TempDir,
}

impl Pane {
    pub fn start() -> Pane {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "tmux is required for the end-to-end tests (bash .ci/run installs it; or apt-get install tmux)"
        );
        let dir = tempfile::tempdir().unwrap();
        let socket = format!(
            "recmon-e2e-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let pane = Pane { socket, dir };
        pane.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            "160",
            "-y",
            "45",
            "-s",
            "e2e",
            "-c",
            &pane.dir.path().display().to_string(),
            &format!("env -u NO_COLOR -u RECMON_LISTEN -u RECMON_API_TOKEN TERM=xterm-256color PS1='{PROMPT} ' bash --norc --noprofile"),
        ]);
        pane.wait_for("the shell prompt", CEILING, |s| s.contains(PROMPT));
        pane
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("run tmux");
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Types a line into the shell.
    pub fn run(&self, line: &str) {
        self.tmux(&["send-keys", "-t", "e2e", "-l", line]);
        self.tmux(&["send-keys", "-t", "e2e", "Enter"]);
    }

    /// Presses keys (tmux key names), one at a time with a pause, so that Esc followed by a
    /// key is not read as Alt+key.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            self.tmux(&["send-keys", "-t", "e2e", k]);
            std::thread::sleep(Duration::from_millis(120));
        }
    }

    pub fn screen(&self) -> String {
        // -J joins wrapped lines, so long messages can be matched whole.
        self.tmux(&["capture-pane", "-p", "-J", "-t", "e2e"])
    }

    pub fn screen_with_escapes(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-e", "-t", "e2e"])
    }

    /// Polls the pane every 20 ms until `pred` holds; returns the screen and how long it took.
    pub fn wait_timed(
        &self,
        what: &str,
        limit: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> (String, Duration) {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return (s, start.elapsed());
            }
            if start.elapsed() > limit {
                panic!("{what}: not on screen within {limit:?}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn wait_for(&self, what: &str, limit: Duration, pred: impl Fn(&str) -> bool) -> String {
        self.wait_timed(what, limit, pred).0
    }
}

impl Drop for Pane {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("-L")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}
