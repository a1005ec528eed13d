//! `recmon simulate`: the command. Generates a seeded sequence ([`Generator`]) or, with
//! `--chaos`, the alert conditions ([`chaos`]), sends it ([`run_requests`]) and reports.

use super::chaos::{chaos, CHAOS_RECEIVER_FLAGS};
use super::model::{provider_title, Generator, SimParams};
use super::senders::{run_requests, Pacing, Senders, SentSummary};
use crate::cli::SimulateArgs;
use crate::error::AppError;
use crate::providers::Provider;
use crate::tools::client::{CallbackSender, Stop, Tally, Target};
use crate::util::human;
use crate::util::output;

/// `recmon simulate`.
pub async fn run(args: SimulateArgs) -> Result<(), AppError> {
    let target = Target::parse(&args.to).map_err(|e| AppError::new(2, e))?;
    if args.chaos {
        if args.provider != Provider::Aliyun {
            return Err(AppError::new(
                2,
                format!(
                    "--chaos speaks ApsaraVideo Live's format only; leave out --provider {}",
                    args.provider.as_str()
                ),
            ));
        }
        return run_chaos(&args, target).await;
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut params = SimParams::new(seed, args.streams, args.domains).with_provider(args.provider);
    if let Some(t) = &args.start_time {
        params.epoch = crate::tools::export::parse_time(t)
            .map_err(|e| AppError::new(2, format!("--start-time: {e}")))?
            .timestamp();
    }
    if args.count.is_some() {
        // With a count, streams keep broadcasting (and coming back) until it is reached.
        params.broadcasts = None;
    }
    let senders = Senders::new(
        target,
        args.auth_key.clone(),
        args.tencent_key.clone(),
        "recmon-simulate",
    );
    let streams = match params.provider {
        Provider::Aliyun => human::count(params.streams as u64, "stream", "streams"),
        p => format!(
            "{} {}",
            provider_title(p),
            human::count(params.streams as u64, "stream", "streams")
        ),
    };
    say(&format!(
        "{streams} on {} -> {} (seed {seed}, rate {}{})",
        human::count(params.domains as u64, "domain", "domains"),
        args.to,
        args.rate,
        args.count
            .map(|c| format!(", {}", human::count(c, "request", "requests")))
            .unwrap_or_default()
    ));
    let requests = Generator::new(params).take(args.count.unwrap_or(u64::MAX) as usize);
    let (mut sent, mut tally) = (SentSummary::default(), Tally::default());
    let sending = run_requests(
        requests,
        &senders,
        Pacing::Rate(args.rate),
        &mut sent,
        &mut tally,
        |line| {
            say(line);
        },
    );
    // Ctrl-C still prints what was sent so far; a closed output stops quietly.
    let stopped = tokio::select! {
        r = sending => r.map(Stop::Failed),
        _ = crate::signals::shutdown_signal() => Some(Stop::Interrupted),
        _ = output::reader_gone(output::Stream::Stderr) => Some(Stop::OutputClosed),
    };
    say(&format!("sent {}", sent.line()));
    say(&tally.summary());
    say(&format!("repeat this exact sequence with --seed {seed}"));
    tally.outcome("simulate", stopped)
}

/// `recmon simulate --chaos` (ApsaraVideo Live's format only): sends [`chaos`], and with an
/// auth key one callback signed with a wrong one.
async fn run_chaos(args: &SimulateArgs, target: Target) -> Result<(), AppError> {
    let senders = Senders::new(target, args.auth_key.clone(), None, "recmon-simulate");
    let requests = chaos(chrono::Utc::now().timestamp_millis());
    say(&format!(
        "chaos: {} on chaos.example.com -> {}: every alert rule's condition, over about 10 s, then silence",
        human::count(requests.len() as u64, "callback", "callbacks"),
        args.to
    ));
    say(&format!(
        "chaos: for every rule to fire within a minute, run the receiver with {CHAOS_RECEIVER_FLAGS}"
    ));
    let (mut sent, mut tally) = (SentSummary::default(), Tally::default());
    let sending = run_requests(
        requests.into_iter(),
        &senders,
        Pacing::SimClock(1.0),
        &mut sent,
        &mut tally,
        |line| {
            say(line);
        },
    );
    let stopped = tokio::select! {
        r = sending => r.map(Stop::Failed),
        _ = crate::signals::shutdown_signal() => Some(Stop::Interrupted),
    };
    if args.auth_key.is_some() && stopped.is_none() {
        // A forged one: the right shape, a wrong signature (bad_signature).
        let forged = CallbackSender::new(
            senders.target().clone(),
            Some("not-the-key-0123456789".into()),
            "recmon-simulate",
        );
        let req = chaos(chrono::Utc::now().timestamp_millis()).remove(0);
        if let Ok(out) = req.outgoing(forged.target(), None) {
            let _ = forged.send(out).await;
            say("chaos: sent one callback with a wrong signature");
        }
    }
    say(&format!("sent {}", sent.line()));
    say(&tally.summary());
    tally.outcome("simulate", stopped)
}

/// One report line on stderr; a closed stderr is ignored (the run is stopped by
/// [`output::reader_gone`]).
fn say(line: &str) -> bool {
    output::eline(&format!("recmon simulate: {line}"))
}
