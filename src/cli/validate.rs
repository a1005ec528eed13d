//! Checks across options and conversions of the parsed options into the configurations the
//! service, the alert engine and the attachment take. Pure: nothing here reads the clock, the
//! environment or a file (the time a default journal is named after is passed in).
//!
//! A usage mistake is an [`AppError`] with code 2, its message printed after `recmon: `.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::alerting::AlertSinks;
use crate::attach::AttachConfig;
use crate::cli::alerts::AlertArgs;
use crate::cli::run::{
    AuthArgs, ForwardArgs, JournalArgs, ReconcileRunArgs, RunArgs, VerifyArgs, DEMO_NGINX_PATH,
    DEMO_SRS_PATH,
};
use crate::cli::tools::AttachArgs;
use crate::core::alerts::AlertConfig;
use crate::core::journal::default_path;
use crate::core::outbox::ForwardMode;
use crate::error::AppError;
use crate::forward::target::Target;
use crate::forward::ForwardConfig;
use crate::providers::aliyun::auth::AuthConfig;
use crate::providers::Pins;
use crate::server::ServerConfig;
use crate::service::{JournalChoice, ServiceConfig};

fn usage(message: impl Into<String>) -> AppError {
    AppError::new(2, message)
}

impl RunArgs {
    /// The service this command line asks for, with a default journal named after `now`.
    /// `Err` for a usage mistake (exit 2).
    pub fn service_config(&self, now: DateTime<Utc>) -> Result<ServiceConfig, AppError> {
        // The checks run in this order, so that a command line with several mistakes reports
        // the same one first as before the options were grouped.
        let auth = self.auth.signature_auth()?;
        let journal = self.journal.choice(self.demo, now);
        let alert_sinks = self.alerts.sinks()?;
        let forward = self.forward.config()?;
        let pins = self.auth.pins(self.demo)?;
        let tencent_key = self.auth.tencent_key()?;
        let verify = self.verify.config()?;
        let reconcile = self.reconcile.config(self.journal.no_journal)?;
        let s = &self.server;
        Ok(ServiceConfig {
            verify,
            reconcile,
            alerts: self.alerts.enabled(),
            alert_sinks,
            forward,
            listen: s.listen,
            any_port_if_taken: self.demo,
            journal,
            fsync: self.journal.fsync,
            log_capacity: s.log_capacity,
            server: ServerConfig {
                max_body: s.max_body,
                api_token: self.auth.api_token.clone(),
                header_timeout: Duration::from_secs(s.header_timeout.max(1)),
                idle_timeout: Duration::from_secs(s.idle_timeout.max(1)),
                max_connections: s.max_connections,
                max_conns_per_ip: s.max_conns_per_ip,
                request_timeout: Duration::from_secs(s.request_timeout.max(1)),
                auth,
                keep_alive: Duration::from_secs(s.keep_alive_secs.max(1)),
                keep_all_headers: false,
                forward_sync: None,
                pins,
                tencent_key,
                // Set by the service when it starts the reconcile loop.
                reconcile: None,
            },
        })
    }
}

impl ReconcileRunArgs {
    /// How often to reconcile, and with what, if asked. `Err` without a journal (the
    /// journal is what is compared).
    pub fn config(
        &self,
        no_journal: bool,
    ) -> Result<Option<(std::time::Duration, crate::reconciler::Settings)>, AppError> {
        let Some(every) = self.reconcile_every else {
            return Ok(None);
        };
        if no_journal {
            return Err(usage(
                "--reconcile-every compares the journal with the providers' records: it needs a journal (drop --no-journal)",
            ));
        }
        if every < std::time::Duration::from_secs(10) {
            return Err(usage(
                "--reconcile-every must be at least 10s (the providers' APIs are rate-limited; 1h is a good start)",
            ));
        }
        Ok(Some((
            every,
            crate::reconciler::Settings {
                url: None,
                domains: Vec::new(),
                aliyun_endpoint: self.aliyun_endpoint.clone(),
                tencent_endpoint: self.tencent_endpoint.clone(),
            },
        )))
    }
}

impl VerifyArgs {
    /// The checking asked for, if any. `Err` names a rule that does not read.
    pub fn config(&self) -> Result<Option<crate::verifier::VerifyConfig>, AppError> {
        if self.verify.is_empty() {
            return Ok(None);
        }
        let rules = crate::verify::location::Rules::parse(&self.verify, &self.verify_path_map)
            .map_err(usage)?;
        if self.verify_timeout.is_zero() {
            return Err(usage("--verify-timeout must be more than 0"));
        }
        let mut cfg = crate::verifier::VerifyConfig::new(rules);
        cfg.concurrency = self.verify_concurrency as usize;
        cfg.missing_for = self.verify_missing_for;
        cfg.timeout = self.verify_timeout;
        Ok(Some(cfg))
    }
}

impl JournalArgs {
    /// Which journal: none, an earlier one resumed, or a new file (by default named after
    /// `now`, and `recmon-demo-…` for the demo, so that demo journals are easy to tell apart).
    pub fn choice(&self, demo: bool, now: DateTime<Utc>) -> JournalChoice {
        if self.no_journal {
            JournalChoice::Off
        } else if let Some(p) = &self.resume {
            JournalChoice::Resume(p.clone())
        } else {
            JournalChoice::New(self.journal.clone().unwrap_or_else(|| {
                let path = default_path(now);
                if demo {
                    PathBuf::from(
                        path.to_string_lossy()
                            .replacen("recmon-", "recmon-demo-", 1),
                    )
                } else {
                    path
                }
            }))
        }
    }
}

impl AuthArgs {
    /// ALI-LIVE-SIGNATURE checking, with `--auth-key`. An empty key is a mistake.
    pub fn signature_auth(&self) -> Result<Option<AuthConfig>, AppError> {
        match self.auth_key.as_deref() {
            Some("") => Err(usage(
                "--auth-key (or RECMON_AUTH_KEY) is empty: set it to your NotifyAuthKey",
            )),
            Some(k) => Ok(Some(AuthConfig::new(
                k.to_string(),
                self.auth_host.clone(),
                self.auth_max_age,
            ))),
            None => Ok(None),
        }
    }

    /// Tencent Cloud's `sign` key, with `--tencent-key`. An empty key is a mistake.
    pub fn tencent_key(&self) -> Result<Option<String>, AppError> {
        match self.tencent_key.as_deref() {
            Some("") => Err(usage(
                "--tencent-key (or RECMON_TENCENT_KEY) is empty: set it to your callback key",
            )),
            k => Ok(k.map(str::to_string)),
        }
    }

    /// The `--provider PATH_PREFIX=NAME` pins; the demo adds its nginx-rtmp and SRS paths
    /// (with --auth-key those are read only where pinned).
    pub fn pins(&self, demo: bool) -> Result<Pins, AppError> {
        let mut pins = self.provider_pins.clone();
        if demo {
            pins.push(format!("{DEMO_NGINX_PATH}=nginx-rtmp"));
            pins.push(format!("{DEMO_SRS_PATH}=srs"));
        }
        Pins::parse(&pins).map_err(usage)
    }
}

impl ForwardArgs {
    /// The forwarding asked for, if any. `Err` for a usage mistake.
    pub fn config(&self) -> Result<Option<ForwardConfig>, AppError> {
        if self.forward_to.is_empty() {
            // RECMON_FORWARD_SIGN_KEY alone (set for every run) does not ask for forwarding.
            return Ok(None);
        }
        let mut targets: Vec<Target> = Vec::new();
        for url in &self.forward_to {
            let t = Target::parse(url).map_err(usage)?;
            if targets.iter().any(|o| o.name == t.name) {
                return Err(usage(format!("--forward-to {} is given twice", t.name)));
            }
            targets.push(t);
        }
        if self.forward_mode == ForwardMode::Sync {
            if targets.len() > 1 {
                return Err(usage(
                    "--forward-mode sync answers the provider with one backend's answer: give one --forward-to (or use the default async mode for several)",
                ));
            }
            if self.forward_reconciled {
                return Err(usage(
                    "--forward-reconciled needs the async outbox: a callback filled in from the providers' records has no provider waiting for an answer (drop --forward-mode sync)",
                ));
            }
            if self.forward_skip_duplicates {
                return Err(usage(
                    "--forward-skip-duplicates does not apply to --forward-mode sync: there the provider's retries are how a failed delivery is sent again, so every one is forwarded",
                ));
            }
        }
        if self.forward_sign_key.as_deref() == Some("") {
            return Err(usage(
                "--forward-sign-key (or RECMON_FORWARD_SIGN_KEY) is empty",
            ));
        }
        let timeout = self.forward_timeout.unwrap_or(match self.forward_mode {
            ForwardMode::Async => Duration::from_secs(10),
            ForwardMode::Sync => Duration::from_secs(4),
        });
        if timeout.is_zero() {
            return Err(usage("--forward-timeout must be more than 0"));
        }
        Ok(Some(ForwardConfig {
            targets,
            mode: self.forward_mode,
            timeout,
            give_up: self.forward_give_up,
            concurrency: self.forward_concurrency as usize,
            skip_duplicates: self.forward_skip_duplicates,
            reconciled: self.forward_reconciled,
            sign_key: self.forward_sign_key.clone(),
        }))
    }
}

impl AlertArgs {
    /// The thresholds, or `None` with `--no-alerts`.
    pub fn enabled(&self) -> Option<AlertConfig> {
        (!self.no_alerts).then(|| self.config())
    }

    /// The thresholds; `0` turns a rule off (and leaves the default recording cycle).
    pub fn config(&self) -> AlertConfig {
        let on = |d: Duration| (!d.is_zero()).then_some(d);
        AlertConfig {
            paused: on(self.alert_paused),
            not_recording: on(self.alert_not_recording),
            not_recorded: on(self.alert_not_recorded),
            file_overdue: on(self.alert_file_overdue),
            record_cycle: if self.record_cycle.is_zero() {
                AlertConfig::default().record_cycle
            } else {
                self.record_cycle
            },
            short_file: on(self.alert_short_file),
            gap: on(self.alert_gap),
            silence: on(self.alert_silence),
        }
    }

    /// Where alerts go. `Err` for a webhook URL that is not one.
    pub fn sinks(&self) -> Result<AlertSinks, AppError> {
        let webhook = match &self.alert_webhook {
            None => None,
            Some(url) => {
                let uri: hyper::Uri = url.parse().map_err(|_| {
                    usage(format!("--alert-webhook {url:?} is not a URL; e.g. https://hooks.slack.com/services/T000/B000/XXXX"))
                })?;
                if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.authority().is_none()
                {
                    return Err(usage(format!(
                        "--alert-webhook {url:?} must be an http:// or https:// URL with a host"
                    )));
                }
                Some(uri)
            }
        };
        Ok(AlertSinks {
            exec: self.alert_exec.clone(),
            webhook,
        })
    }
}

impl AttachArgs {
    /// The attachment's configuration.
    pub fn attach_config(&self) -> AttachConfig {
        AttachConfig {
            urls: self.urls.clone(),
            token: self.api_token.clone(),
            ca_cert: self.ca_cert.clone(),
            log_capacity: self.log_capacity,
            save: self.save.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn run(args: &[&str]) -> RunArgs {
        let mut argv = vec!["recmon"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("parses");
        assert!(cli.command.is_none());
        cli.run
    }

    fn now() -> DateTime<Utc> {
        "2026-11-27T17:00:05Z".parse().unwrap()
    }

    fn mistake(args: &[&str]) -> String {
        let Err(e) = run(args).service_config(now()) else {
            panic!("{args:?} is not a usage mistake")
        };
        assert_eq!(e.code, 2, "{}", e.message);
        e.message
    }

    #[test]
    fn defaults() {
        let c = run(&["--auth-key", "k", "--tencent-key", "t"])
            .service_config(now())
            .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert!(!c.any_port_if_taken);
        assert!(
            matches!(&c.journal, JournalChoice::New(p) if p == &PathBuf::from("recmon-20261127-170005.jsonl"))
        );
        assert!(c.forward.is_none());
        assert!(c.alerts.is_some());
        assert_eq!(c.server.max_body, 64 * 1024);
        assert_eq!(c.server.header_timeout, Duration::from_secs(10));
        assert_eq!(c.server.keep_alive, Duration::from_secs(15));
        assert_eq!(c.server.tencent_key.as_deref(), Some("t"));
        assert!(c.server.auth.is_some());
    }

    #[test]
    fn journal_choices() {
        let demo = run(&["--demo"]).service_config(now()).unwrap();
        assert!(demo.any_port_if_taken);
        assert!(
            matches!(&demo.journal, JournalChoice::New(p) if p == &PathBuf::from("recmon-demo-20261127-170005.jsonl"))
        );
        let off = run(&["--no-journal"]).service_config(now()).unwrap();
        assert!(matches!(off.journal, JournalChoice::Off));
        let resume = run(&["--resume", "j.jsonl"]).service_config(now()).unwrap();
        assert!(
            matches!(&resume.journal, JournalChoice::Resume(p) if p == &PathBuf::from("j.jsonl"))
        );
        let named = run(&["--journal", "x.jsonl"])
            .service_config(now())
            .unwrap();
        assert!(matches!(&named.journal, JournalChoice::New(p) if p == &PathBuf::from("x.jsonl")));
    }

    #[test]
    fn timeouts_of_zero_are_one_second() {
        let c = run(&[
            "--header-timeout",
            "0",
            "--idle-timeout",
            "0",
            "--request-timeout",
            "0",
        ])
        .service_config(now())
        .unwrap();
        assert_eq!(c.server.header_timeout, Duration::from_secs(1));
        assert_eq!(c.server.idle_timeout, Duration::from_secs(1));
        assert_eq!(c.server.request_timeout, Duration::from_secs(1));
    }

    #[test]
    fn empty_keys_are_mistakes() {
        assert_eq!(
            mistake(&["--auth-key", ""]),
            "--auth-key (or RECMON_AUTH_KEY) is empty: set it to your NotifyAuthKey"
        );
        assert_eq!(
            mistake(&["--tencent-key", ""]),
            "--tencent-key (or RECMON_TENCENT_KEY) is empty: set it to your callback key"
        );
        // The first mistake is the one reported, in the order of before.
        assert!(mistake(&["--tencent-key", "", "--auth-key", ""]).starts_with("--auth-key"));
        assert!(mistake(&["--tencent-key", "", "--alert-webhook", "x y"])
            .starts_with("--alert-webhook"));
    }

    #[test]
    fn pins() {
        assert_eq!(
            mistake(&["--provider", "/x=wowza"]),
            "--provider \"/x=wowza\": unknown provider \"wowza\"; one of aliyun, nginx-rtmp, srs, tencent"
        );
        assert!(run(&["--demo"]).auth.pins(true).is_ok());
    }

    #[test]
    fn forwarding() {
        let c = run(&["--forward-to", "http://a:1"])
            .forward
            .config()
            .unwrap()
            .unwrap();
        assert_eq!(c.mode, ForwardMode::Async);
        assert_eq!(c.timeout, Duration::from_secs(10));
        assert_eq!(c.give_up, Duration::from_secs(24 * 3600));
        assert_eq!(c.concurrency, 8);
        let c = run(&["--forward-to", "http://a:1", "--forward-mode", "sync"])
            .forward
            .config()
            .unwrap()
            .unwrap();
        assert_eq!(c.timeout, Duration::from_secs(4));
        // The sign key alone asks for nothing.
        let none = run(&["--forward-sign-key", ""]).forward.config().unwrap();
        assert!(none.is_none());
        assert_eq!(
            mistake(&["--forward-to", "http://a:1", "--forward-to", "http://a:1"]),
            "--forward-to http://a:1/ is given twice"
        );
        assert!(mistake(&[
            "--forward-to",
            "http://a:1",
            "--forward-to",
            "http://b:1",
            "--forward-mode",
            "sync"
        ])
        .starts_with("--forward-mode sync answers the provider with one backend's answer"));
        assert!(mistake(&[
            "--forward-to",
            "http://a:1",
            "--forward-mode",
            "sync",
            "--forward-skip-duplicates"
        ])
        .starts_with("--forward-skip-duplicates does not apply to --forward-mode sync"));
        assert_eq!(
            mistake(&["--forward-to", "http://a:1", "--forward-sign-key", ""]),
            "--forward-sign-key (or RECMON_FORWARD_SIGN_KEY) is empty"
        );
        assert_eq!(
            mistake(&["--forward-to", "http://a:1", "--forward-timeout", "0"]),
            "--forward-timeout must be more than 0"
        );
        assert!(mistake(&["--forward-to", "ftp://a:1"]).contains("must be http or https"));
    }

    #[test]
    fn alerts() {
        let a = run(&["--alert-gap", "0", "--record-cycle", "0"]).alerts;
        let c = a.config();
        assert_eq!(c.gap, None);
        assert_eq!(c.paused, Some(Duration::from_secs(300)));
        assert_eq!(c.record_cycle, AlertConfig::default().record_cycle);
        assert!(run(&["--no-alerts"]).alerts.enabled().is_none());
        assert_eq!(
            mistake(&["--alert-webhook", "ftp://x"]),
            "--alert-webhook \"ftp://x\" must be an http:// or https:// URL with a host"
        );
        assert_eq!(
            mistake(&["--alert-webhook", "not a url"]),
            "--alert-webhook \"not a url\" is not a URL; e.g. https://hooks.slack.com/services/T000/B000/XXXX"
        );
        let ok = run(&["--alert-webhook", "https://hooks.example/x"])
            .alerts
            .sinks()
            .unwrap();
        assert!(ok.webhook.is_some());
    }

    #[test]
    fn attach_config() {
        let cli = Cli::try_parse_from([
            "recmon",
            "attach",
            "http://a:1",
            "http://b:2",
            "--save",
            "c.jsonl",
        ])
        .unwrap();
        let Some(Command::Attach(a)) = cli.command else {
            panic!("attach")
        };
        let c = a.attach_config();
        assert_eq!(c.urls, ["http://a:1", "http://b:2"]);
        assert_eq!(c.save, Some(PathBuf::from("c.jsonl")));
    }
}
