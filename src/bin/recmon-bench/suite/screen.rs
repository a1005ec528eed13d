//! `screen`: time from a POST to its row on the screen, the TUI against the headless printer.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::harness::{free_port, post, wait_healthy, Tmux};
use super::report::{Row, Verdict};
use super::{median, Suite};

impl Suite {
    /// Time from a POST to its row being on the screen: the TUI in tmux, against the headless
    /// printer in the same tmux setup (which pays the same POST and capture costs).
    pub fn callback_to_screen(&mut self) {
        let measure = |headless: bool| -> Vec<f64> {
            let port = free_port();
            let tmux = Tmux::new(if headless { "s-headless" } else { "s-tui" });
            tmux.start(&format!(
                "{} {} --listen 127.0.0.1:{port} --no-journal",
                self.recmon().display(),
                if headless { "--headless" } else { "" }
            ));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            assert!(wait_healthy(addr, Duration::from_secs(20)));
            std::thread::sleep(Duration::from_millis(300));
            let mut times = vec![];
            for i in 0..self.size.screen_probes {
                let name = format!("probe{:04}x{}", i, if headless { "h" } else { "t" });
                let body = format!(
                    r#"{{"domain":"bench","app":"live","stream":"{name}","event":"record_started"}}"#
                );
                let start = Instant::now();
                post(addr, &body);
                loop {
                    if tmux.capture().contains(&name) {
                        times.push(start.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                    if start.elapsed() > Duration::from_secs(5) {
                        times.push(f64::INFINITY);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(150));
            }
            times
        };
        let mut base = measure(true);
        let mut tui = measure(false);
        let raw = format!("headless {base:.1?} ms; TUI {tui:.1?} ms");
        let worst = tui.iter().cloned().fold(0.0, f64::max);
        let (b, t) = (median(&mut base), median(&mut tui));
        self.rows.push(Row {
            what: "Callback to screen (POST → row visible, tmux capture)".into(),
            value: format!("median {t:.1} ms, max {worst:.1} ms"),
            baseline: format!("median {b:.1} ms (headless line in the same pane)"),
            ratio: format!("{:.2}×", t / b),
            target: "≤ 50 ms".into(),
            verdict: Verdict::of(worst <= 50.0),
            raw,
        });
    }
}
