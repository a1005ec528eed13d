//! Fuzzes the pure classifier with arbitrary method, query and body, and checks the
//! invariants every caller relies on: no panic, rejections are 4xx with a message, and a
//! body the classifier accepted is journaled in a form that reads back byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use recmon::callback::{classify_post_reference, classify_request, Callback, Method};
use recmon::journal::encode_body;

fuzz_target!(|data: &[u8]| {
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
    let split = rest.iter().position(|b| *b == 0).unwrap_or(0);
    let query = std::str::from_utf8(&rest[..split]).ok();
    let body = &rest[split.min(rest.len())..];
    let (verdict, parsed) = classify_request(method, query, body);
    // The in-place fast path must read every POST body exactly as a full `Value` parse does.
    if method == Method::Post && !body.iter().all(u8::is_ascii_whitespace) {
        let (reference, reference_parsed) = classify_post_reference(body);
        assert_eq!(verdict, reference, "fast path and Value path disagree");
        assert_eq!(parsed, reference_parsed);
    }
    match &verdict {
        Ok(Callback::Recording(r)) => {
            assert!(r.duration.is_none_or(f64::is_finite));
            let _ = r.duration_mismatch();
        }
        Ok(_) => {}
        Err(rej) => {
            assert!((400..500).contains(&rej.status), "{rej:?}");
            assert!(!rej.error.is_empty());
        }
    }
    // The journal's body encoding must round-trip and stay loadable.
    let enc = encode_body(body, parsed);
    if let Some(raw) = enc.inline {
        // Inline bodies must load with a plain JSON reader, nested one level deeper.
        let line = format!("{{\"body\":{raw}}}");
        serde_json::from_str::<serde_json::Value>(&line).expect("inline body must parse");
        assert_eq!(raw.as_bytes(), body);
    } else if let Some(text) = &enc.body_text {
        assert_eq!(text.as_bytes(), body);
    }
});
