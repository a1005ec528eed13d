//! What the journal says about recording files checked against the files themselves
//! (`--verify`, see [`crate::verify`]): one line per recording, once its verdict is final.
//!
//! ```text
//! {"seq":42,"received_at":"…","verdict":{"of":17,"verdict":"short","location":"oss://rec-bucket/live/cam1/…flv",
//!  "claimed_s":10800.0,"measured_s":1264.2,"size":…,"container":"flv","audio":true,"video":true,…}}
//! ```
//!
//! A verdict line is a write-back like a forwarding delivery line: the verifier (a subscriber
//! of the feed, above the core) commits it through the sequencer, the store applies it to the
//! recording whose seq is `of`, and every reader of the journal (`--resume`, attach, export,
//! report, the forwarder's catch-up) sees the same verdict. `recmon replay` never sends one.
//! No credential is ever in a line: `location` is the store and the path only.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::verify::media::Container;
use crate::verify::verdict::Verdict;

/// The verdict on one recording file, as journaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileVerdict {
    /// The seq of the recording callback the file was named in.
    pub of: u64,
    /// The verdict (the worst one, when several apply).
    pub verdict: Verdict,
    /// Further verdicts that also apply (a short file with no audio: `["no_audio"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<Verdict>,
    /// Where the file was read: `oss://bucket/key`, `file:///dir/key`, a path, a URL (never
    /// a credential). Untrusted text (it holds the callback's uri): sanitize to show.
    #[serde(default)]
    pub location: String,
    /// The duration the callback claimed, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_s: Option<f64>,
    /// The duration measured from the file, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_s: Option<f64>,
    /// The file's size in bytes, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The container recognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<Container>,
    /// Whether an audio track was found (`None`: not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio: Option<bool>,
    /// Whether a video track was found (`None`: not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video: Option<bool>,
    /// Bytes read to decide.
    #[serde(default)]
    pub bytes_read: u64,
    /// Checks made (more than one when a missing file was looked for again).
    #[serde(default)]
    pub attempts: u32,
}

impl FileVerdict {
    /// Whether the file failed (a fault of the recording, not `ok` and not `unchecked`).
    pub fn failed(&self) -> bool {
        self.verdict.is_failure()
    }
}

/// A verdict's journal line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictLine {
    /// Its own journal seq (numbered with the requests, in one order).
    pub seq: u64,
    /// When the verdict was reached (RFC 3339, UTC, milliseconds).
    #[serde(with = "crate::core::time::rfc3339_ms")]
    pub received_at: DateTime<Utc>,
    /// The verdict.
    pub verdict: FileVerdict,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_line_round_trips_and_names_its_kind() {
        let line = VerdictLine {
            seq: 9,
            received_at: "2026-12-04T10:00:00.123Z".parse().unwrap(),
            verdict: FileVerdict {
                of: 3,
                verdict: Verdict::Short,
                also: vec![Verdict::NoAudio],
                location: "oss://b/live/a.flv".into(),
                claimed_s: Some(60.0),
                measured_s: Some(21.5),
                size: Some(1000),
                container: Some(Container::Flv),
                audio: Some(false),
                video: Some(true),
                bytes_read: 800,
                attempts: 1,
            },
        };
        let text = serde_json::to_string(&line).unwrap();
        assert!(text.starts_with(r#"{"seq":9,"received_at":"2026-12-04T10:00:00.123Z","verdict":{"of":3,"verdict":"short","also":["no_audio"]"#), "{text}");
        let back: VerdictLine = serde_json::from_str(&text).unwrap();
        assert_eq!(back, line);
        let unchecked = FileVerdict {
            verdict: Verdict::Unchecked(crate::verify::verdict::Unchecked::Forbidden),
            ..line.verdict.clone()
        };
        let text = serde_json::to_string(&unchecked).unwrap();
        assert!(text.contains(r#""verdict":{"unchecked":"403"}"#), "{text}");
        assert!(!unchecked.failed());
        assert!(line.verdict.failed());
    }
}
