//! What the fuzz targets check, as plain functions: the targets call them on the fuzzer's
//! bytes, and the tests below call them on every seed, so a seed that stopped reaching the
//! code it was written for (or a check that stopped holding) shows up in an ordinary
//! `cargo test` on stable, without cargo-fuzz.

use recmon::core::journal::{encode_body, JournalReader, ReadItem};
use recmon::event::{Callback, Method};
use recmon::providers::aliyun::{classify_post_reference, classify_request};
use recmon::providers::{classify, detect, Provider};

/// One classifier input, decoded from fuzzer bytes: the first byte picks the method (0 GET,
/// 1 POST, 2 anything else, modulo 3); if a NUL byte follows, the bytes before it are the
/// query string and the bytes after it the body; without a NUL there is no query and the
/// rest is the body.
#[derive(Debug)]
pub struct ClassifyInput<'a> {
    /// The request method.
    pub method: Method,
    /// The query string, if the input has one (and it is UTF-8).
    pub query: Option<&'a str>,
    /// The request body.
    pub body: &'a [u8],
}

/// Decodes fuzzer bytes into a classifier input (layout on [`ClassifyInput`]).
pub fn classify_input(data: &[u8]) -> ClassifyInput<'_> {
    let (method, rest) = match data.split_first() {
        Some((m, rest)) => (
            match m % 3 {
                0 => Method::Get,
                1 => Method::Post,
                _ => Method::Other,
            },
            rest,
        ),
        None => (Method::Post, data),
    };
    let (query, body) = match rest.iter().position(|b| *b == 0) {
        Some(nul) => (std::str::from_utf8(&rest[..nul]).ok(), &rest[nul + 1..]),
        None => (None, rest),
    };
    ClassifyInput {
        method,
        query,
        body,
    }
}

/// Runs the pure classifier on `data` and checks the invariants every caller relies on: no
/// panic, rejections are 4xx with a message, the in-place fast path reads a POST body exactly
/// as a full `Value` parse does, and the body is journaled in a form that reads back byte for
/// byte. Every provider's reader is run on the same input too, with the same invariants
/// (nginx-rtmp and SRS may also refuse with 200: they never answer otherwise), and Tencent's
/// signature check. Returns the kind of the verdict of the provider the request's shape
/// names (`recording`, `status`, `ingest`, `play`, `segment`, `notice`) or `rejected`.
pub fn check_classify(data: &[u8]) -> &'static str {
    let ClassifyInput {
        method,
        query,
        body,
    } = classify_input(data);
    let (verdict, parsed) = classify_request(method, query, body);
    if method == Method::Post && !body.iter().all(u8::is_ascii_whitespace) {
        let (reference, reference_parsed) = classify_post_reference(body);
        assert_eq!(verdict, reference, "fast path and Value path disagree");
        assert_eq!(parsed, reference_parsed);
    }
    let check =
        |provider: Provider, verdict: &Result<Callback, recmon::event::Rejection>| match verdict {
            Ok(cb) => {
                if let Callback::Recording(r) = cb {
                    assert!(r.duration.is_none_or(f64::is_finite));
                    let _ = r.duration_mismatch();
                }
                cb.kind()
            }
            Err(rej) => {
                let fail_open = matches!(provider, Provider::NginxRtmp | Provider::Srs);
                assert!(
                    (400..500).contains(&rej.status) || (fail_open && rej.status == 200),
                    "{provider:?}: {rej:?}"
                );
                assert!(!rej.error.is_empty());
                "rejected"
            }
        };
    let mut kind = check(Provider::Aliyun, &verdict);
    let detected = detect(method, query, None, None, body);
    for p in Provider::ALL {
        let (v, _) = classify(p, method, query, body);
        let k = check(p, &v);
        if p == detected {
            kind = k;
        }
    }
    let _ = recmon::providers::tencent::verify(body, "key", 1_800_000_000);
    let enc = encode_body(body, parsed);
    if let Some(raw) = enc.inline {
        // Inline bodies must load with a plain JSON reader, nested one level deeper.
        let line = format!("{{\"body\":{raw}}}");
        serde_json::from_str::<serde_json::Value>(&line).expect("inline body must parse");
        assert_eq!(raw.as_bytes(), body);
    } else if let Some(text) = &enc.body_text {
        assert_eq!(text.as_bytes(), body);
    }
    kind
}

/// Reads `data` with the one journal reader (behind resume, export and replay) and checks
/// that it never panics, accounts for every byte, and reports every line it skips. Returns
/// how many entries it read.
pub fn check_journal(data: &[u8]) -> usize {
    let mut reader = JournalReader::new(data);
    let mut items = 0usize;
    let mut entries = 0usize;
    while let Some(item) = reader.next() {
        let item = item.expect("reading from memory cannot fail");
        items += 1;
        match item {
            ReadItem::Entry(e) => {
                entries += 1;
                let _ = e.body_raw();
                let _ = e.query();
                let _ = recmon::core::rebuild::callback_of(&e);
            }
            ReadItem::Delivery(d) => {
                // A forwarding attempt's line: it names the request it delivered.
                let _ = (d.seq, d.delivery.of, d.delivery.result.is_final());
            }
            ReadItem::Verdict(v) => {
                // A recording file's verdict: it names the recording it is about.
                let _ = (v.seq, v.verdict.of, v.verdict.failed());
            }
            ReadItem::Reconciled(r) => {
                // A callback filled in from the provider's records: it must read as one or
                // be passed over, never panic.
                let _ = (r.seq, r.reconciled.callback());
            }
            ReadItem::ReconcileRun(r) => {
                // A reconcile run's summary: plain counts, nothing to classify.
                let _ = (
                    r.seq,
                    r.reconcile_run.count("missed"),
                    r.reconcile_run.filled,
                );
            }
            ReadItem::Alert(a) => {
                // An alert's transition or a page's outcome: it names its seq.
                let _ = a.seq;
            }
            ReadItem::Garbled { offset, .. } | ReadItem::PartialTail { offset, .. } => {
                assert!((offset as usize) < data.len());
            }
        }
    }
    assert_eq!(reader.offset() as usize, data.len());
    assert!(items <= data.len());
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn seeds(target: &str) -> Vec<(String, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("seeds")
            .join(target);
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| {
                let path = e.unwrap().path();
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                (name, std::fs::read(&path).unwrap())
            })
            .collect();
        out.sort();
        assert!(!out.is_empty(), "no seeds in {}", dir.display());
        out
    }

    /// A seed's name starts with the verdict it was written to reach, so a change to the
    /// input layout or the classifier that turns the samples into rejections is caught.
    #[test]
    fn every_classify_seed_reaches_the_verdict_its_name_says() {
        let mut kinds = std::collections::BTreeSet::new();
        for (name, data) in seeds("classify") {
            let kind = check_classify(&data);
            assert!(name.starts_with(kind), "seed {name} was classified {kind}");
            kinds.insert(kind);
        }
        assert_eq!(
            kinds.into_iter().collect::<Vec<_>>(),
            [
                "ingest",
                "notice",
                "play",
                "recording",
                "rejected",
                "segment",
                "status"
            ]
        );
    }

    #[test]
    fn every_journal_seed_holds_entries() {
        for (name, data) in seeds("journal_reader") {
            assert!(check_journal(&data) > 0, "seed {name} holds no entry");
        }
    }

    #[test]
    fn the_input_layout_splits_query_and_body_at_the_first_nul() {
        let i = classify_input(b"\x00action=publish\x00");
        assert_eq!(
            (i.method, i.query, i.body),
            (Method::Get, Some("action=publish"), &b""[..])
        );
        let i = classify_input(b"\x01{}");
        assert_eq!(
            (i.method, i.query, i.body),
            (Method::Post, None, &b"{}"[..])
        );
    }
}
