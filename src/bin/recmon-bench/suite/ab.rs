//! The same-run A/B rows: a baseline (A) and recmon or the feature measured (B), run in
//! alternating rounds on the same machine, each round's pair back to back. [`ab_row`] turns
//! the two series into a [`Row`]: both medians, their ratio, and a verdict on the medians'
//! ratio or, for a "no cost" claim, on every round's own ratio ([`Verdict::every_round`]).

use super::median;
use super::report::{Row, Verdict};

/// Which side of its target a ratio (B ÷ A) must be on.
#[derive(Debug, Clone, Copy)]
pub enum Bound {
    /// At least this.
    AtLeast(f64),
    /// At most this.
    AtMost(f64),
}

impl Bound {
    /// Whether `ratio` is on the right side (never for a ratio that is not a number).
    pub fn holds(self, ratio: f64) -> bool {
        match self {
            Bound::AtLeast(x) => ratio >= x,
            Bound::AtMost(x) => ratio <= x,
        }
    }
}

/// How an A/B row's ratio is judged.
#[derive(Debug, Clone, Copy)]
pub enum Judge {
    /// On the ratio of the medians.
    Median(Bound),
    /// On each round's own ratio, B ÷ A of the pair that ran back to back: met only when
    /// every round is within the bound, inside the noise when the rounds disagree. For the
    /// "no cost" claims, which a median alone cannot make.
    EveryRound(Bound),
}

/// One same-run A/B comparison and how its row reads.
pub struct Ab<'a> {
    /// The row's name.
    pub what: String,
    /// A's figure in each round, in round order.
    pub baseline: &'a [f64],
    /// B's figure in each round, in round order.
    pub recmon: &'a [f64],
    /// How a figure reads: `12345 req/s`, `p99 1.20 ms`.
    pub show: fn(f64) -> String,
    /// What A is, in parentheses after its figure: `bare hyper`, `--no-alerts`.
    pub baseline_is: &'a str,
    /// What B is, in parentheses after its figure when it needs saying (`this build`).
    pub recmon_is: Option<&'a str>,
    /// Decimals of the ratio.
    pub decimals: usize,
    /// A floor under A's median in the ratio (a latency of 0 ms must not divide by zero).
    pub baseline_floor: Option<f64>,
    /// The target, in words.
    pub target: String,
    /// How the ratio is judged against the target.
    pub judge: Judge,
    /// Why the figures do not count (a run failed), if so: the row is then not measured.
    pub invalid: Option<String>,
    /// The raw numbers behind the row.
    pub raw: String,
}

/// Each round's ratio, B ÷ A, pairing the rounds in order.
pub fn per_round(recmon: &[f64], baseline: &[f64]) -> Vec<f64> {
    recmon.iter().zip(baseline).map(|(b, a)| b / a).collect()
}

/// The row of a same-run A/B comparison.
pub fn ab_row(ab: Ab) -> Row {
    let a = median(&mut ab.baseline.to_vec());
    let b = median(&mut ab.recmon.to_vec());
    let ratio = b / ab.baseline_floor.map_or(a, |floor| a.max(floor));
    let verdict = match (ab.invalid, ab.judge) {
        (Some(why), _) => Verdict::NotMeasured(why),
        (None, Judge::Median(bound)) => Verdict::of(bound.holds(ratio)),
        (None, Judge::EveryRound(bound)) => {
            Verdict::every_round(&per_round(ab.recmon, ab.baseline), |r| bound.holds(r))
        }
    };
    Row {
        what: ab.what,
        value: match ab.recmon_is {
            Some(is) => format!("{} ({is})", (ab.show)(b)),
            None => (ab.show)(b),
        },
        baseline: format!("{} ({})", (ab.show)(a), ab.baseline_is),
        ratio: format!("{:.*}×", ab.decimals, ratio),
        target: ab.target,
        verdict,
        raw: ab.raw,
    }
}

/// `12345 req/s`.
pub fn req_s(v: f64) -> String {
    format!("{v:.0} req/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ab<'a>(baseline: &'a [f64], recmon: &'a [f64], judge: Judge) -> Ab<'a> {
        Ab {
            what: "Alerts: ingest with every rule on".into(),
            baseline,
            recmon,
            show: req_s,
            baseline_is: "--no-alerts",
            recmon_is: None,
            decimals: 3,
            baseline_floor: None,
            target: "≥ 0.95× in every round".into(),
            judge,
            invalid: None,
            raw: "raw".into(),
        }
    }

    #[test]
    fn a_row_gives_both_medians_and_their_ratio() {
        let row = ab_row(ab(&[100.0, 90.0, 110.0], &[99.0, 100.0, 98.0], {
            Judge::Median(Bound::AtLeast(0.95))
        }));
        assert_eq!(row.value, "99 req/s");
        assert_eq!(row.baseline, "100 req/s (--no-alerts)");
        assert_eq!(row.ratio, "0.990×");
        assert_eq!(row.verdict, Verdict::Met);
        let row = ab_row(Ab {
            recmon_is: Some("this build"),
            ..ab(&[100.0], &[80.0], Judge::Median(Bound::AtLeast(0.95)))
        });
        assert_eq!(row.value, "80 req/s (this build)");
        assert_eq!(row.verdict, Verdict::Missed);
    }

    #[test]
    fn a_no_cost_row_is_met_only_when_every_round_is() {
        // The medians' ratio is 1.00×, but one round of three costs 12%.
        let (a, b) = ([100.0, 100.0, 100.0], [101.0, 100.0, 88.0]);
        let median_only = ab_row(ab(&a, &b, Judge::Median(Bound::AtLeast(0.95))));
        assert_eq!(median_only.verdict, Verdict::Met);
        let every = ab_row(ab(&a, &b, Judge::EveryRound(Bound::AtLeast(0.95))));
        assert_eq!(
            every.verdict,
            Verdict::every_round(&[1.01, 1.0, 0.88], |r| r >= 0.95)
        );
        assert!(matches!(every.verdict, Verdict::InsideNoise(_)));
        let every = ab_row(ab(
            &a,
            &[96.0, 99.0, 120.0],
            Judge::EveryRound(Bound::AtLeast(0.95)),
        ));
        assert_eq!(every.verdict, Verdict::Met);
    }

    #[test]
    fn a_failed_run_is_not_measured_whatever_the_figures() {
        let row = ab_row(Ab {
            invalid: Some("recmon: 0 of 10 requests answered 2xx".into()),
            ..ab(&[100.0], &[100.0], Judge::EveryRound(Bound::AtLeast(0.95)))
        });
        assert_eq!(
            row.verdict,
            Verdict::NotMeasured("recmon: 0 of 10 requests answered 2xx".into())
        );
    }

    #[test]
    fn a_floor_keeps_a_zero_baseline_from_dividing() {
        let row = ab_row(Ab {
            show: |v| format!("p99 {v:.2} ms"),
            baseline_is: "forwarding off",
            decimals: 2,
            baseline_floor: Some(0.001),
            ..ab(&[0.0], &[0.002], Judge::Median(Bound::AtMost(1.2)))
        });
        assert_eq!(row.value, "p99 0.00 ms");
        assert_eq!(row.baseline, "p99 0.00 ms (forwarding off)");
        assert_eq!(row.ratio, "2.00×");
        assert_eq!(row.verdict, Verdict::Missed);
    }
}
