//! The filter language of `/`: the text parsed once into a [`FilterQuery`] (a
//! `provider:NAME` term, then `#N` for one request's seq or any other text for a substring,
//! ignoring ASCII case), and the predicates that say whether a stream, a recording or a
//! request matches it. Pure: no view state, no store.

use std::collections::VecDeque;

use super::source::shown_state;
use super::text::contains_ci;
use crate::core::store::{LogEntry, Recording, Stream};
use crate::describe::request_detail;
use crate::event::{Outcome, Provider};

/// What the `/` filter text asks for, parsed once when the text changes: a `provider:NAME`
/// term, when the text has one, and what the rest of the text asks for. A row is kept when it
/// meets both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterQuery {
    /// `provider:NAME`: only that provider's streams, their recordings, and the requests
    /// read as that provider's.
    pub provider: Option<Provider>,
    /// What the rest of the text asks for.
    pub terms: FilterTerms,
}

/// What the filter text asks for besides a provider.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FilterTerms {
    /// No text: every row.
    #[default]
    All,
    /// Rows with a field that contains this text, ignoring ASCII case: a stream's domain,
    /// app, stream, state (as shown: see [`shown_state`]), ingest (`live`, `offline`,
    /// `unknown`) or last event; a recording's stream, uri, push_args, kind
    /// (`recording`) or outcome (`accepted`); a request's stream, event or uri, path, kind,
    /// outcome, detail or reason.
    Text(String),
    /// `#N` (digits only): exactly the request with journal seq N, the recording it
    /// reported, and its stream. A seq is exact because `#12` inside `#120` is never meant.
    Seq(u64),
}

/// How a filter term names a provider: `provider:` then the provider's name or its tag, in
/// any case, or the start of its name (`provider:nginx`, `provider:ngx`, `provider:t`).
const PROVIDER_TERM: &str = "provider:";

/// The provider a `provider:NAME` word names, if it is one.
fn provider_term(word: &str) -> Option<Provider> {
    let prefix = word.get(..PROVIDER_TERM.len())?;
    if !prefix.eq_ignore_ascii_case(PROVIDER_TERM) {
        return None;
    }
    let name = word[PROVIDER_TERM.len()..].to_ascii_lowercase();
    if name.is_empty() {
        return None;
    }
    Provider::ALL
        .into_iter()
        .find(|p| p.tag() == name || p.as_str().starts_with(&name))
}

/// Splits the first `provider:NAME` word naming a provider off a filter text: the provider,
/// and the text without that word (the words either side joined by one space).
pub fn split_provider_term(text: &str) -> Option<(Provider, String)> {
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        if !c.is_whitespace() {
            start.get_or_insert(i);
            continue;
        }
        let Some(s) = start.take() else {
            continue;
        };
        if let Some(p) = provider_term(&text[s..i]) {
            let (left, right) = (text[..s].trim_end(), text[i..].trim_start());
            let rest = match (left.is_empty(), right.is_empty()) {
                (true, _) => right.to_string(),
                (_, true) => left.to_string(),
                _ => format!("{left} {right}"),
            };
            return Some((p, rest));
        }
    }
    None
}

/// The filter text with its provider term replaced by `provider` (put first), or removed
/// when `provider` is `None`; the rest of the text is kept (what `p` does).
pub fn with_provider_term(text: &str, provider: Option<Provider>) -> String {
    let rest = match split_provider_term(text) {
        Some((_, rest)) => rest,
        None => text.to_string(),
    };
    match provider {
        None => rest,
        Some(p) if rest.is_empty() => format!("{PROVIDER_TERM}{}", p.as_str()),
        Some(p) => format!("{PROVIDER_TERM}{} {rest}", p.as_str()),
    }
}

impl FilterQuery {
    /// Reads the filter text: a `provider:NAME` word naming a provider, if there is one; of
    /// the rest, `#` then digits is a seq, anything else a substring.
    pub fn parse(text: &str) -> FilterQuery {
        match split_provider_term(text) {
            Some((provider, rest)) => FilterQuery {
                provider: Some(provider),
                terms: FilterTerms::parse(&rest),
            },
            None => FilterQuery {
                provider: None,
                terms: FilterTerms::parse(text),
            },
        }
    }

    /// Whether the filter keeps every row.
    pub fn is_all(&self) -> bool {
        self.provider.is_none() && self.terms == FilterTerms::All
    }

    /// Whether rows of this provider can match.
    pub fn provider_matches(&self, p: Provider) -> bool {
        self.provider.is_none_or(|q| q == p)
    }

    /// How a stream's recordings meet the filter: `None` when the provider term leaves them
    /// out, else whether the stream's identity matches the text (what each recording of it
    /// then matches through).
    pub fn recordings_of(&self, s: &Stream) -> Option<bool> {
        self.provider_matches(s.provider)
            .then(|| self.terms.matches_stream_id(s))
    }

    /// Whether a row of the streams panel matches. A seq filter shows the stream of that
    /// request, which only the log and the recordings know: see [`seq_stream`].
    pub fn matches_stream(&self, s: &Stream) -> bool {
        self.provider_matches(s.provider) && self.terms.matches_stream(s)
    }

    /// Whether a request of the log matches; `provider` is the one it was read as.
    pub fn matches_request(&self, e: &LogEntry, streams: &[Stream], provider: Provider) -> bool {
        self.provider_matches(provider) && self.terms.matches_request(e, streams)
    }
}

impl FilterTerms {
    /// `#` then digits is a seq, anything else a substring, nothing every row.
    pub fn parse(text: &str) -> FilterTerms {
        if text.is_empty() {
            return FilterTerms::All;
        }
        let seq = text
            .trim()
            .strip_prefix('#')
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()));
        match seq.and_then(|d| d.parse().ok()) {
            Some(n) => FilterTerms::Seq(n),
            None => FilterTerms::Text(text.to_owned()),
        }
    }

    /// Whether a stream's identity matches (what a recording of it matches through).
    pub fn matches_stream_id(&self, s: &Stream) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => stream_id_contains(s, t),
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a row of the streams panel matches (a seq: see [`seq_stream`]).
    pub fn matches_stream(&self, s: &Stream) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                stream_id_contains(s, t)
                    || contains_ci(shown_state(s).0.as_str(), t)
                    || contains_ci(s.ingest.as_str(), t)
                    || s.last_event.as_deref().is_some_and(|e| contains_ci(e, t))
            }
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a recording matches; `stream_hit` is [`Self::matches_stream_id`] of its stream
    /// and `constant_hit` is [`Self::matches_every_recording`] (both worked out once, not per
    /// recording).
    pub fn matches_recording(&self, r: &Recording, stream_hit: bool, constant_hit: bool) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                stream_hit
                    || constant_hit
                    || contains_ci(&r.uri, t)
                    || r.push_args
                        .iter()
                        .any(|(k, v)| contains_ci(k, t) || contains_ci(v, t))
            }
            FilterTerms::Seq(n) => r.seq == *n,
        }
    }

    /// Whether the text matches what every recording is: kind `recording`, outcome
    /// `accepted` (only accepted recordings are kept).
    pub fn matches_every_recording(&self) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                contains_ci("recording", t) || contains_ci(Outcome::Accepted.as_str(), t)
            }
            FilterTerms::Seq(_) => false,
        }
    }

    /// Whether a request of the log matches.
    pub fn matches_request(&self, e: &LogEntry, streams: &[Stream]) -> bool {
        match self {
            FilterTerms::All => true,
            FilterTerms::Text(t) => {
                e.stream
                    .and_then(|i| streams.get(i as usize))
                    .is_some_and(|s| stream_id_contains(s, t))
                    || contains_ci(&e.summary, t)
                    || contains_ci(&e.path, t)
                    || contains_ci(e.outcome.as_str(), t)
                    || e.kind.as_deref().is_some_and(|k| contains_ci(k, t))
                    || (!e.facts.is_empty() && contains_ci(&request_detail(&e.facts), t))
                    || e.error.as_deref().is_some_and(|r| contains_ci(r, t))
            }
            FilterTerms::Seq(n) => e.seq == *n,
        }
    }
}

/// The stream that request `seq` concerns, from the request log or else from the recording
/// it reported: both are in seq order (the store is fed in seq order), so two binary
/// searches, whatever their size.
pub fn seq_stream(seq: u64, log: &VecDeque<LogEntry>, recordings: &[Recording]) -> Option<u32> {
    let i = log.partition_point(|e| e.seq < seq);
    if let Some(e) = log.get(i).filter(|e| e.seq == seq) {
        return e.stream;
    }
    let i = recordings.partition_point(|r| r.seq < seq);
    recordings.get(i).filter(|r| r.seq == seq).map(|r| r.stream)
}

/// Whether a stream's domain, app or stream contains `text`.
fn stream_id_contains(s: &Stream, text: &str) -> bool {
    contains_ci(&s.id.domain, text)
        || contains_ci(&s.id.app, text)
        || contains_ci(&s.id.stream, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_text_is_a_seq_only_as_hash_and_digits() {
        assert_eq!(FilterTerms::parse(""), FilterTerms::All);
        assert_eq!(FilterTerms::parse("#120"), FilterTerms::Seq(120));
        assert_eq!(FilterTerms::parse(" #7 "), FilterTerms::Seq(7));
        for text in [
            "#",
            "#12a",
            "# 12",
            "120",
            "#-1",
            "#99999999999999999999999",
        ] {
            assert_eq!(
                FilterQuery::parse(text),
                FilterQuery {
                    provider: None,
                    terms: FilterTerms::Text(text.into())
                },
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_provider_term_names_a_provider_by_name_tag_or_prefix_anywhere_in_the_text() {
        let q = |provider, terms| FilterQuery {
            provider: Some(provider),
            terms,
        };
        assert_eq!(
            FilterQuery::parse("provider:srs"),
            q(Provider::Srs, FilterTerms::All)
        );
        for text in [
            "provider:ngx",
            "PROVIDER:Nginx",
            "provider:nginx-rtmp",
            "provider:n",
        ] {
            assert_eq!(
                FilterQuery::parse(text),
                q(Provider::NginxRtmp, FilterTerms::All),
                "{text:?}"
            );
        }
        assert_eq!(
            FilterQuery::parse("provider:tc #12"),
            q(Provider::Tencent, FilterTerms::Seq(12))
        );
        assert_eq!(
            FilterQuery::parse("not  provider:ali valid"),
            q(Provider::Aliyun, FilterTerms::Text("not valid".into()))
        );
        // Not a provider: the whole text is text, as before.
        for text in [
            "provider:",
            "provider:xyz",
            "provider: srs",
            "myprovider:srs",
        ] {
            assert_eq!(FilterQuery::parse(text).provider, None, "{text:?}");
        }
        assert_eq!(
            with_provider_term("cam provider:srs", Some(Provider::Tencent)),
            "provider:tencent cam"
        );
        assert_eq!(
            with_provider_term("cam", Some(Provider::Srs)),
            "provider:srs cam"
        );
        assert_eq!(with_provider_term("provider:srs cam", None), "cam");
        assert_eq!(with_provider_term("", Some(Provider::Srs)), "provider:srs");
    }
}
