//! What the receiver prints at start (the banner) and at exit (the session summary).

use super::*;

impl Service {
    /// Lines printed at start (on stderr, so stdout stays the request stream).
    pub fn banner(&self) -> Vec<String> {
        let session = self;
        let mut lines = vec![format!("recmon: listening on http://{}", session.addr)];
        if session.loopback_only {
            lines.push(format!(
            "recmon: {} is loopback only: the provider cannot reach it. For real use: recmon --listen 0.0.0.0:{}",
            session.addr.ip(),
            session.addr.port()
        ));
        }
        match &session.auth {
        Some(a) => {
            lines.push(format!(
                "recmon: signature checking: on (host: {}, max age: {})",
                a.host_override
                    .as_deref()
                    .map(|h| format!("{h} (--auth-host)"))
                    .unwrap_or_else(|| "from the Host header".into()),
                if a.max_age_secs == 0 {
                    "unchecked".to_string()
                } else {
                    format!("{} s", a.max_age_secs)
                }
            ));
            if !a.key_looks_valid() {
                lines.push(
                    "recmon: warning: the auth key is not 16 to 64 letters and digits, as the provider's NotifyAuthKey is; check it"
                        .into(),
                );
            }
        }
        None if !session.loopback_only => lines.push(format!(
            "recmon: WARNING: listening on {} with no signature checking: anyone who can reach this port can forge callbacks. Set RECMON_AUTH_KEY to your NotifyAuthKey.",
            session.addr
        )),
        None => lines.push("recmon: signature checking: off (set RECMON_AUTH_KEY to turn it on)".into()),
    }
        if session.tencent_sign {
            lines.push(
                "recmon: Tencent Cloud sign checking: on (--tencent-key); nginx-rtmp and SRS sign nothing"
                    .into(),
            );
        }
        if !session.pins.is_empty() {
            lines.push(format!(
                "recmon: providers pinned by path: {}",
                session.pins
            ));
        }
        if session.auth.is_some() {
            lines.push(
                "recmon: with --auth-key, nginx-rtmp and SRS callbacks (which sign nothing) are read only on paths pinned to them, e.g. --provider /nginx=nginx-rtmp"
                    .into(),
            );
        }
        if let Some(f) = &session.forward {
            for t in &f.targets {
                lines.push(match f.mode {
                    ForwardMode::Async => format!(
                        "recmon: forwarding every callback to {} (async: at least once, each stream in order, retried for {}){}",
                        t.name,
                        crate::util::human::duration_words(f.give_up),
                        match session.resumed.as_ref().map(|r| r.owed) {
                            Some(n) if n > 0 => format!("; {} owed from the journal, sending now", count(n as u64, "callback", "callbacks")),
                            _ => String::new(),
                        }
                    ),
                    ForwardMode::Sync => format!(
                        "recmon: forwarding every callback to {} (sync: the provider gets the backend's answer, or 502/504 after {})",
                        t.name,
                        crate::util::human::duration_words(f.timeout)
                    ),
                });
            }
            if f.mode == ForwardMode::Sync && f.timeout > std::time::Duration::from_secs(5) {
                lines.push(format!(
                    "recmon: warning: --forward-timeout {} is longer than the provider waits (about 5 s): it will retry before the backend's answer can reach it",
                    crate::util::human::duration_words(f.timeout)
                ));
            }
            if session.journal_path.is_none() && f.mode == ForwardMode::Async {
                lines.push("recmon: warning: with --no-journal the outbox is in memory only: callbacks not yet delivered when recmon stops are lost".into());
            }
        }
        lines.push(match &session.journal_path {
            Some(p) => format!("recmon: journal: {}", p.display()),
            None => {
                "recmon: journal: off (--no-journal); requests are not kept on disk".to_string()
            }
        });
        // Where to watch from: a wildcard listen address is reached on loopback here.
        let ip = match session.addr.ip() {
            ip if ip.is_unspecified() && ip.is_ipv4() => "127.0.0.1".to_string(),
            ip if ip.is_unspecified() => "[::1]".to_string(),
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            ip => ip.to_string(),
        };
        lines.push(format!(
            "recmon: watch from another terminal: recmon attach http://{ip}:{}",
            session.addr.port()
        ));
        lines
    }
}

impl SessionSummary {
    /// The summary printed at exit.
    pub fn lines(&self) -> Vec<String> {
        let s = self;
        vec![
            format!(
                "recmon: stopped. requests: {} accepted, {} duplicate, {} rejected ({}); {}",
                thousands(s.counters.accepted),
                thousands(s.counters.duplicate),
                thousands(s.counters.rejected),
                count(s.auth_failures, "bad signature", "bad signatures"),
                count(s.recordings as u64, "recording", "recordings")
            ),
            match &s.journal_path {
                Some(p) => format!(
                    "recmon: journal: {} ({} this run)",
                    p.display(),
                    count(s.lines_written, "line written", "lines written")
                ),
                None => "recmon: journal: off".to_string(),
            },
        ]
        .into_iter()
        .chain(s.unfinished_rebuild.map(|p| {
            format!(
                "recmon: stopped before the state was rebuilt from the journal ({}%), so the counts above are not the journal's; the callbacks answered meanwhile are in it as pending, and the next --resume decides and applies them",
                p.percent()
            )
        }))
        .chain(
            s.forward
                .iter()
                .map(|(name, mode, delivered, pending, failed)| {
                    format!(
                        "recmon: forward to {name} ({}): {} delivered, {} pending{}, {} failed{}",
                        mode.as_str(),
                        thousands(*delivered),
                        thousands(*pending as u64),
                        if *pending > 0 {
                            " (recmon --resume JOURNAL delivers them)"
                        } else {
                            ""
                        },
                        thousands(*failed),
                        if *failed > 0 {
                            " (listed in /api/state; resend with recmon replay --seq)"
                        } else {
                            ""
                        },
                    )
                }),
        )
        .collect()
    }
}
