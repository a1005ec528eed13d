//! Sending: [`Senders`] (one HTTP connection per provider, each sending as that provider
//! does), [`run_requests`] (paced, in order, one at a time) and [`SentSummary`] (what was
//! sent, by kind).

use std::collections::BTreeMap;

use super::model::{SimKind, SimRequest};
use crate::cli::Speed;
use crate::providers::{srs::wire::USER_AGENT as SRS_USER_AGENT, Provider};
use crate::tools::client::{CallbackSender, Pacer, Tally, Target};
use crate::util::human;

/// Counts of what was sent, by kind.
#[derive(Debug, Default, Clone)]
pub struct SentSummary {
    /// Requests per kind (first deliveries and retries together).
    pub by_kind: BTreeMap<SimKind, u64>,
    /// Retries among them.
    pub retries: u64,
    /// Recording callbacks whose duration is more than 1 s off their span.
    pub mismatched: u64,
}

impl SentSummary {
    /// Counts one request.
    pub fn add(&mut self, req: &SimRequest) {
        *self.by_kind.entry(req.kind).or_default() += 1;
        if req.resend > 0 {
            self.retries += 1;
        } else if req.kind == SimKind::Recording && is_mismatched(&req.body) {
            self.mismatched += 1;
        }
    }

    /// `12 requests: publish 3, record_started 3, …, recording 4 (1 with duration ≠ span);
    /// 2 of them provider retries`, or `0 requests`.
    pub fn line(&self) -> String {
        let total: u64 = self.by_kind.values().sum();
        let mut line = human::count(total, "request", "requests");
        if total == 0 {
            return line;
        }
        let parts: Vec<String> = self
            .by_kind
            .iter()
            .map(|(k, n)| {
                let n = human::thousands(*n);
                if *k == SimKind::Recording {
                    format!(
                        "{} {n} ({} with duration ≠ span)",
                        k.as_str(),
                        human::thousands(self.mismatched)
                    )
                } else {
                    format!("{} {n}", k.as_str())
                }
            })
            .collect();
        line.push_str(&format!(
            ": {}; {} of them {}",
            parts.join(", "),
            human::thousands(self.retries),
            if self.retries == 1 {
                "a provider retry"
            } else {
                "provider retries"
            }
        ));
        line
    }
}

fn is_mismatched(body: &[u8]) -> bool {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    match (
        v["duration"].as_f64(),
        v["start_time"].as_i64(),
        // Tencent's `100` calls it end_time.
        v["stop_time"].as_i64().or(v["end_time"].as_i64()),
    ) {
        (Some(d), Some(a), Some(b)) => (d - (b - a) as f64).abs() > 1.0,
        _ => false,
    }
}

/// How `run_requests` spaces requests out.
#[derive(Debug, Clone, Copy)]
pub enum Pacing {
    /// `rate` requests per second (or no waiting with `Speed::Max`).
    Rate(Speed),
    /// Follow the simulated clock, sped up by the factor.
    SimClock(f64),
}

/// Sends each provider's requests as that provider does, to one receiver: ApsaraVideo's signed
/// with ALI-LIVE-* headers when there is an auth key, SRS's with SRS's User-Agent, Tencent's
/// stamped with `t` and `sign` ([`crate::providers::tencent::wire::stamp`]). One connection per provider; requests
/// still go one at a time, in order.
pub struct Senders {
    aliyun: CallbackSender,
    srs: CallbackSender,
    nginx: CallbackSender,
    tencent: CallbackSender,
    tencent_key: Option<String>,
}

impl Senders {
    /// Senders to `target`; `user_agent` for the providers whose agent recmon does not read.
    pub fn new(
        target: Target,
        auth_key: Option<String>,
        tencent_key: Option<String>,
        user_agent: &'static str,
    ) -> Self {
        Senders {
            aliyun: CallbackSender::new(target.clone(), auth_key, user_agent),
            srs: CallbackSender::new(target.clone(), None, SRS_USER_AGENT),
            nginx: CallbackSender::new(target.clone(), None, user_agent),
            tencent: CallbackSender::new(target, None, user_agent),
            tencent_key: tencent_key.filter(|k| !k.is_empty()),
        }
    }

    /// Sends nginx-rtmp's and SRS's requests to these targets instead (the demo's pinned
    /// paths: a receiver with `--auth-key` reads those providers only where pinned).
    pub fn unsigned_to(mut self, nginx: Target, srs: Target, user_agent: &'static str) -> Self {
        self.nginx = CallbackSender::new(nginx, None, user_agent);
        self.srs = CallbackSender::new(srs, None, SRS_USER_AGENT);
        self
    }

    /// The receiver.
    pub fn target(&self) -> &Target {
        self.aliyun.target()
    }

    /// The sender for `provider`'s requests.
    pub fn for_provider(&self, provider: Provider) -> &CallbackSender {
        match provider {
            Provider::Aliyun => &self.aliyun,
            Provider::Srs => &self.srs,
            Provider::NginxRtmp => &self.nginx,
            Provider::Tencent => &self.tencent,
        }
    }

    /// The key Tencent requests are signed with.
    pub fn tencent_key(&self) -> Option<&str> {
        self.tencent_key.as_deref()
    }
}

/// Sends `requests` in order, one at a time, paced, counting into `sent` and `tally` (so a
/// caller that stops this future early still has the counts). Reports each non-2xx answer
/// through `report`. Returns why it stopped early: a request that got no answer at all.
pub async fn run_requests(
    requests: impl Iterator<Item = SimRequest>,
    senders: &Senders,
    pacing: Pacing,
    sent: &mut SentSummary,
    tally: &mut Tally,
    mut report: impl FnMut(&str),
) -> Option<String> {
    tally.start();
    let mut pacer = match pacing {
        Pacing::Rate(speed) => Pacer::new(speed),
        Pacing::SimClock(speed) => Pacer::new(Speed::Factor(speed)),
    };
    let mut first_at: Option<i64> = None;
    for (i, req) in requests.enumerate() {
        let offset = match pacing {
            Pacing::Rate(_) => i as f64,
            Pacing::SimClock(_) => (req.at_ms - *first_at.get_or_insert(req.at_ms)) as f64 / 1000.0,
        };
        pacer.wait(offset).await;
        let target = senders.for_provider(req.provider).target();
        let out = match req.outgoing(target, senders.tencent_key()) {
            Ok(o) => o,
            Err(e) => return Some(e),
        };
        let what = format!("{} {}", req.method, out.uri);
        match senders.for_provider(req.provider).send(out).await {
            Ok(answer) => {
                sent.add(&req);
                tally.record(&answer);
                if !answer.is_success() {
                    report(&format!(
                        "{} ({}) -> {}: {}",
                        what,
                        req.kind.as_str(),
                        answer.status,
                        answer.body_excerpt()
                    ));
                }
            }
            Err(e) => {
                tally.failed += 1;
                return Some(e);
            }
        }
    }
    None
}
