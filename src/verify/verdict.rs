//! The verdict on one recording: a pure function of what [`super::media::probe`] measured (or
//! why it could not) and what the callback claimed.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::media::{Probe, ReadError};

pub use super::media::Unchecked;

/// The verdict on one recording file. Serialized in snake_case: `"ok"`, `"no_audio"`,
/// `{"unchecked":"403"}`; displayed as the issue names them: `ok`, `no-audio`,
/// `unchecked: 403`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The file is there, readable, as long as claimed, with audio and video.
    Ok,
    /// Measured shorter than claimed by more than the tolerance.
    Short,
    /// Measured longer than claimed by more than the tolerance.
    Long,
    /// 0 bytes, or a container with no media in it.
    Empty,
    /// The container is unreadable (an MP4 without `moov`, a file cut inside a box...).
    Broken,
    /// The file does not exist.
    Missing,
    /// No audio track (when audio was expected).
    NoAudio,
    /// No video track (when video was expected).
    NoVideo,
    /// recmon could not check it (its own access fault).
    Unchecked(Unchecked),
}

impl Verdict {
    /// True for the verdicts that are a fault of the recording (not `ok`, not `unchecked`).
    pub fn is_failure(self) -> bool {
        !matches!(self, Verdict::Ok | Verdict::Unchecked(_))
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Verdict::Ok => "ok",
            Verdict::Short => "short",
            Verdict::Long => "long",
            Verdict::Empty => "empty",
            Verdict::Broken => "broken",
            Verdict::Missing => "missing",
            Verdict::NoAudio => "no-audio",
            Verdict::NoVideo => "no-video",
            Verdict::Unchecked(r) => return write!(f, "unchecked: {}", r.as_str()),
        };
        f.write_str(s)
    }
}

/// How far a measured duration may be from the claimed one: `max(min_s, ratio × claimed)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerance {
    /// The floor, in seconds (default 2).
    pub min_s: f64,
    /// The fraction of the claimed duration (default 0.02).
    pub ratio: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance {
            min_s: 2.0,
            ratio: 0.02,
        }
    }
}

impl Tolerance {
    /// The allowed difference for this claimed duration, in seconds.
    pub fn allowed(&self, claimed_s: f64) -> f64 {
        self.min_s.max(self.ratio * claimed_s.abs())
    }
}

/// What a recording should have.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Expect {
    /// An audio track (default true).
    pub audio: bool,
    /// A video track (default true).
    pub video: bool,
    /// How far the duration may be off.
    pub tolerance: Tolerance,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            audio: true,
            video: true,
            tolerance: Tolerance::default(),
        }
    }
}

/// Every verdict that applies, the worst first (`ok` alone when none does): a short file
/// with no audio is `[short, no_audio]`.
pub fn judge_all(
    result: &Result<Probe, ReadError>,
    claimed_s: Option<f64>,
    expect: Expect,
) -> Vec<Verdict> {
    let p = match result {
        Err(ReadError::Missing) => return vec![Verdict::Missing],
        Err(ReadError::Unchecked(r)) => return vec![Verdict::Unchecked(*r)],
        Ok(p) => p,
    };
    if p.size == 0 {
        return vec![Verdict::Empty];
    }
    if p.container.is_none() || p.is_broken() {
        return vec![Verdict::Broken];
    }
    if p.has_audio == Some(false) && p.has_video == Some(false) {
        return vec![Verdict::Empty];
    }
    if p.problems.contains(&super::media::Problem::ReadBudget) {
        return vec![Verdict::Unchecked(Unchecked::TooCostly)];
    }
    let mut out = Vec::new();
    match (p.duration_s, claimed_s) {
        (None, _) if p.problems.contains(&super::media::Problem::MasterPlaylist) => {
            return vec![Verdict::Unchecked(Unchecked::Unmeasurable)];
        }
        (None, _) => return vec![Verdict::Broken],
        (Some(m), Some(c)) if c.is_finite() && c > 0.0 => {
            let allowed = expect.tolerance.allowed(c);
            if m < c - allowed {
                out.push(Verdict::Short);
            } else if m > c + allowed {
                out.push(Verdict::Long);
            }
        }
        (Some(m), _) if m <= 0.0 => return vec![Verdict::Empty],
        _ => {}
    }
    if expect.video && p.has_video == Some(false) {
        out.push(Verdict::NoVideo);
    }
    if expect.audio && p.has_audio == Some(false) {
        out.push(Verdict::NoAudio);
    }
    if out.is_empty() {
        out.push(Verdict::Ok);
    }
    out
}

/// The one verdict: the worst of [`judge_all`].
pub fn judge(result: &Result<Probe, ReadError>, claimed_s: Option<f64>, expect: Expect) -> Verdict {
    judge_all(result, claimed_s, expect)[0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::media::{Container, Problem};

    fn probe(duration: Option<f64>, audio: bool, video: bool) -> Probe {
        Probe {
            container: Some(Container::Flv),
            size: 1000,
            duration_s: duration,
            first_ts_s: Some(0.0),
            last_ts_s: duration,
            has_audio: Some(audio),
            has_video: Some(video),
            bytes_read: 100,
            problems: Vec::new(),
            segments: Vec::new(),
        }
    }

    fn v(p: Probe, claimed: Option<f64>) -> Verdict {
        judge(&Ok(p), claimed, Expect::default())
    }

    #[test]
    fn tolerance_is_two_seconds_or_two_percent() {
        let t = Tolerance::default();
        assert_eq!(t.allowed(10.0), 2.0);
        assert_eq!(t.allowed(3600.0), 72.0);
        assert_eq!(v(probe(Some(8.1), true, true), Some(10.0)), Verdict::Ok);
        assert_eq!(v(probe(Some(7.9), true, true), Some(10.0)), Verdict::Short);
        assert_eq!(v(probe(Some(12.1), true, true), Some(10.0)), Verdict::Long);
        assert_eq!(
            v(probe(Some(3529.0), true, true), Some(3600.0)),
            Verdict::Ok
        );
        assert_eq!(
            v(probe(Some(1264.0), true, true), Some(10800.0)),
            Verdict::Short
        );
        // No claim: nothing to compare.
        assert_eq!(v(probe(Some(5.0), true, true), None), Verdict::Ok);
    }

    #[test]
    fn tracks() {
        assert_eq!(
            v(probe(Some(5.0), false, true), Some(5.0)),
            Verdict::NoAudio
        );
        assert_eq!(
            v(probe(Some(5.0), true, false), Some(5.0)),
            Verdict::NoVideo
        );
        assert_eq!(v(probe(Some(5.0), false, false), Some(5.0)), Verdict::Empty);
        let relaxed = Expect {
            video: false,
            ..Expect::default()
        };
        assert_eq!(
            judge(&Ok(probe(Some(5.0), true, false)), Some(5.0), relaxed),
            Verdict::Ok
        );
        assert_eq!(
            judge_all(
                &Ok(probe(Some(1.0), false, true)),
                Some(60.0),
                Expect::default()
            ),
            vec![Verdict::Short, Verdict::NoAudio]
        );
    }

    #[test]
    fn faults() {
        assert_eq!(
            judge(&Err(ReadError::Missing), Some(1.0), Expect::default()),
            Verdict::Missing
        );
        let forbidden = judge(
            &Err(ReadError::Unchecked(Unchecked::Forbidden)),
            Some(1.0),
            Expect::default(),
        );
        assert_eq!(forbidden, Verdict::Unchecked(Unchecked::Forbidden));
        assert!(!forbidden.is_failure());
        assert_eq!(forbidden.to_string(), "unchecked: 403");
        let mut p = probe(None, true, true);
        p.problems.push(Problem::NoMoov);
        assert_eq!(v(p, Some(5.0)), Verdict::Broken);
        let mut p = probe(None, true, true);
        p.size = 0;
        assert_eq!(v(p, Some(5.0)), Verdict::Empty);
    }

    #[test]
    fn serde_names() {
        let j = |v: Verdict| serde_json::to_string(&v).unwrap();
        assert_eq!(j(Verdict::Ok), r#""ok""#);
        assert_eq!(j(Verdict::NoAudio), r#""no_audio""#);
        assert_eq!(
            j(Verdict::Unchecked(Unchecked::Forbidden)),
            r#"{"unchecked":"403"}"#
        );
        assert_eq!(
            j(Verdict::Unchecked(Unchecked::Timeout)),
            r#"{"unchecked":"timeout"}"#
        );
        let back: Verdict = serde_json::from_str(r#"{"unchecked":"403"}"#).unwrap();
        assert_eq!(back, Verdict::Unchecked(Unchecked::Forbidden));
        assert_eq!(Verdict::NoVideo.to_string(), "no-video");
    }
}
