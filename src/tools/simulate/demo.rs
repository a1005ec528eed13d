//! `recmon --demo`'s simulator: every provider recmon reads ([`DEMO_MIX`]), short files,
//! forever, following the simulated clock in real time.

use std::fmt::Write as _;
use std::net::SocketAddr;

use chrono::Utc;

use super::model::{provider_title, Generator, SimParams, SimRequest};
use super::senders::{run_requests, Pacing, Senders, SentSummary};
use crate::providers::Provider;
use crate::tools::client::{Tally, Target};
use crate::util::human;

/// What `--demo` simulates: per provider, streams and domains.
pub const DEMO_MIX: [(Provider, u32, u32); 4] = [
    (Provider::Aliyun, 4, 2),
    (Provider::NginxRtmp, 2, 1),
    (Provider::Srs, 2, 1),
    (Provider::Tencent, 2, 1),
];

/// The demo's mix in words: `10 streams: 4 ApsaraVideo Live on 2 domains, 2 nginx-rtmp, ...`.
pub fn demo_description() -> String {
    let total: u32 = DEMO_MIX.iter().map(|(_, n, _)| n).sum();
    let parts: Vec<String> = DEMO_MIX
        .iter()
        .map(|(p, streams, domains)| {
            let mut part = format!("{streams} {}", provider_title(*p));
            if *domains > 1 {
                let _ = write!(part, " on {domains} domains");
            }
            part
        })
        .collect();
    format!(
        "{}: {}",
        human::count(u64::from(total), "stream", "streams"),
        parts.join(", ")
    )
}

/// The demo's requests: every provider of [`DEMO_MIX`], 20 s files, nginx-rtmp updates every
/// 5 s, streams coming back after a break, forever; merged in simulated-time order.
pub fn demo_requests(seed: u64, epoch: i64) -> Merged {
    let gens = DEMO_MIX
        .iter()
        .enumerate()
        .map(|(i, (provider, streams, domains))| {
            let mut params = SimParams::new(seed.wrapping_add(i as u64), *streams, *domains)
                .with_provider(*provider);
            params.epoch = epoch;
            params.broadcasts = None;
            // Short files and a quick start, so that the screen fills within seconds.
            params.cycle_s = 20;
            params.delay_s = 15;
            params.stagger_s = 2;
            params.update_s = 5;
            Generator::new(params)
        })
        .collect();
    Merged::new(gens)
}

/// Several generators' requests as one sequence in simulated-time order (ties: the earlier
/// generator first).
pub struct Merged {
    gens: Vec<std::iter::Peekable<Generator>>,
}

impl Merged {
    /// Merges `gens`.
    pub fn new(gens: Vec<Generator>) -> Self {
        Merged {
            gens: gens.into_iter().map(Iterator::peekable).collect(),
        }
    }
}

impl Iterator for Merged {
    type Item = SimRequest;

    fn next(&mut self) -> Option<SimRequest> {
        let (_, i) = self
            .gens
            .iter_mut()
            .enumerate()
            .filter_map(|(i, g)| g.peek().map(|r| (r.at_ms, i)))
            .min()?;
        self.gens[i].next()
    }
}

/// The `--demo` driver: [`demo_description`] (every provider recmon reads), 20 s files,
/// following the simulated clock in real time (so times on screen agree with the recordings'
/// times), forever. Runs until the task is dropped; stops quietly if the monitor goes away.
/// `auth_key` signs ApsaraVideo's requests and `tencent_key` Tencent's, for a monitor that
/// checks signatures with those keys.
pub async fn run_demo(addr: SocketAddr, auth_key: Option<String>, tencent_key: Option<String>) {
    use crate::cli::{DEMO_NGINX_PATH, DEMO_SRS_PATH};
    let targets = ["/recmon", DEMO_NGINX_PATH, DEMO_SRS_PATH]
        .map(|path| Target::parse(&format!("http://{addr}{path}")));
    let [Ok(target), Ok(nginx), Ok(srs)] = targets else {
        tracing::error!("demo: no target for {addr}");
        return;
    };
    let senders = Senders::new(target, auth_key, tencent_key, "recmon-demo").unsigned_to(
        nginx,
        srs,
        "recmon-demo",
    );
    let stopped = run_requests(
        demo_requests(rand::random(), Utc::now().timestamp()),
        &senders,
        Pacing::SimClock(1.0),
        &mut SentSummary::default(),
        &mut Tally::default(),
        |line| tracing::warn!("demo: {line}"),
    )
    .await;
    if let Some(e) = stopped {
        tracing::info!("demo simulator stopped: {e}");
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::super::model::testing::{callback, NOW};
    use super::super::model::SimKind;
    use super::*;

    #[test]
    fn the_demo_mixes_every_provider() {
        let reqs: Vec<SimRequest> = demo_requests(7, NOW).take(3000).collect();
        assert!(reqs.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        for p in Provider::ALL {
            let live: HashSet<StreamIdKey> = reqs
                .iter()
                .filter(|r| r.provider == p && r.kind == SimKind::Publish)
                .filter_map(|r| {
                    callback(r)
                        .stream_id()
                        .map(|i| (i.domain.clone(), i.app.clone(), i.stream.clone()))
                })
                .collect();
            let want = DEMO_MIX.iter().find(|(q, _, _)| *q == p).unwrap().1 as usize;
            assert_eq!(live.len(), want, "{p:?}");
        }
        assert_eq!(
            demo_description(),
            "10 streams: 4 ApsaraVideo Live on 2 domains, 2 nginx-rtmp, 2 SRS, 2 Tencent Cloud"
        );
    }

    type StreamIdKey = (String, String, String);
}
