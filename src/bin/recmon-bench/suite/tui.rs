//! `tui`: ingest throughput with the terminal UI drawing in a pseudo-terminal against headless.

use std::net::SocketAddr;
use std::time::Duration;

use super::ab::{ab_row, req_s, Ab, Bound, Judge};
use super::harness::{free_port, wait_healthy, Tmux};
use super::Suite;

impl Suite {
    /// Ingest throughput with the terminal UI drawing in a pseudo-terminal vs headless.
    pub fn ingest_tui(&mut self) {
        let (mut headless, mut tui) = (vec![], vec![]);
        let mut invalid = None;
        for _ in 0..2 {
            let port = free_port();
            let _r = self.spawn_recmon(port, &["--fsync", "never", "--no-journal"]);
            match self.rps_of(port, true) {
                Ok(v) => headless.push(v),
                Err(e) => invalid = Some(format!("headless: {e}")),
            }
            drop(_r);

            let port = free_port();
            let tmux = Tmux::new("tui");
            tmux.start(&format!(
                "{} --listen 127.0.0.1:{port} --fsync never --no-journal",
                self.recmon().display()
            ));
            assert!(wait_healthy(
                SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(20)
            ));
            match self.rps_of(port, true) {
                Ok(v) => tui.push(v),
                Err(e) => invalid = Some(format!("TUI: {e}")),
            }
            let screen = tmux.capture();
            assert!(
                screen.contains("requests"),
                "the UI was not drawing:\n{screen}"
            );
        }
        let raw = format!("headless {headless:.0?} req/s, TUI {tui:.0?} req/s (A B A B)");
        self.rows.push(ab_row(Ab {
            what: "Ingest throughput with the TUI in a pty (200×50)".into(),
            baseline: &headless,
            recmon: &tui,
            show: req_s,
            baseline_is: "headless",
            recmon_is: None,
            decimals: 2,
            baseline_floor: None,
            target: "≥ 0.9× of headless".into(),
            judge: Judge::Median(Bound::AtLeast(0.9)),
            invalid,
            raw,
        }));
    }
}
