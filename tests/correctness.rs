//! Issue 9, "smaller correctness": the request-head limit to the byte, recmon's own endpoints
//! answering 404/405 and journaling them, output pipes that close, and what the summaries of
//! `simulate` and `replay` say. Everything runs the real binary over loopback.

mod common;

use common::*;

/// The documented limit (README, Limits): request line + headers + the blank line.
const HEAD_LIMIT: usize = 64 * 1024;

/// A request whose head is exactly `head_len` bytes, carrying the spec's status sample.
fn request_with_head_of(head_len: usize, stream: &str) -> Vec<u8> {
    let body = STATUS_SAMPLE.replace("gs_stream", stream);
    let base = format!(
        "POST /cb HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\nX-Pad: \r\n\r\n",
        body.len()
    );
    let pad = head_len - base.len();
    let head = base.replace("X-Pad: ", &format!("X-Pad: {}", "a".repeat(pad)));
    assert_eq!(head.len(), head_len);
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body.as_bytes());
    bytes
}

/// The value of response header `name` in a raw HTTP response.
fn header<'a>(resp: &'a str, name: &str) -> Option<&'a str> {
    let head = resp.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn a_request_head_over_64_kib_gets_431_to_the_byte_and_is_journaled_before_the_answer() {
    let r = Recmon::start(&[]);
    for (len, stream) in [(HEAD_LIMIT - 1, "under"), (HEAD_LIMIT, "at")] {
        let resp = raw_exchange(r.addr, &request_with_head_of(len, stream));
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, 200, "head of {len} bytes: {body}");
    }
    for len in [HEAD_LIMIT + 1, 100_000] {
        let resp = raw_exchange(r.addr, &request_with_head_of(len, "over"));
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, 431, "head of {len} bytes: {body}");
        assert!(body.contains("65,536"), "{body}");
        // Read at once, no waiting: the line was written before the answer was sent.
        let lines = r.journal_lines();
        let last = lines.last().expect("journaled");
        assert_eq!(last["status"], 431, "{last}");
        assert_eq!(last["outcome"], "rejected");
        assert_eq!(last["method"], "POST");
        assert_eq!(last["path"], "/cb");
        assert!(
            last["error"]
                .as_str()
                .unwrap()
                .contains(&format!("{} bytes", recmon::human::thousands(len as u64))),
            "{last}"
        );
    }
    let state = r.state();
    assert_eq!(state["requests"]["accepted"], 2, "{state}");
    assert_eq!(state["requests"]["rejected"], 2, "{state}");
}

#[test]
fn own_endpoints_answer_404_and_405_with_allow_and_journal_them() {
    let r = Recmon::start(&[]);
    struct Case {
        method: &'static str,
        path: &'static str,
        status: u16,
        allow: Option<&'static str>,
        error: &'static str,
    }
    let cases = [
        Case {
            method: "GET",
            path: "/api/other",
            status: 404,
            allow: None,
            error: "unknown API path",
        },
        Case {
            method: "GET",
            path: "/api",
            status: 404,
            allow: None,
            error: "unknown API path",
        },
        Case {
            method: "POST",
            path: "/api/state",
            status: 405,
            allow: Some("GET, HEAD"),
            error: "method POST not allowed on /api/state",
        },
        Case {
            method: "DELETE",
            path: "/healthz",
            status: 405,
            allow: Some("GET, HEAD"),
            error: "method DELETE not allowed on /healthz",
        },
        Case {
            method: "PUT",
            path: "/recmon",
            status: 405,
            allow: Some("GET, POST"),
            error: "method not allowed",
        },
    ];
    for (i, c) in cases.iter().enumerate() {
        let raw = format!(
            "{} {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            c.method, c.path
        );
        let resp = raw_exchange(r.addr, raw.as_bytes());
        let (status, body) = parse_response(&resp).expect("an answer");
        assert_eq!(status, c.status, "{} {}: {resp}", c.method, c.path);
        assert!(body.contains(c.error), "{} {}: {body}", c.method, c.path);
        assert_eq!(header(&resp, "allow"), c.allow, "{} {}", c.method, c.path);
        let lines = r.journal_lines();
        assert_eq!(lines.len(), i + 1, "{} {} journaled", c.method, c.path);
        let line = &lines[i];
        assert_eq!(line["outcome"], "rejected", "{line}");
        assert_eq!(line["status"], c.status, "{line}");
        assert_eq!(line["method"], c.method, "{line}");
        assert_eq!(line["path"], c.path, "{line}");
        assert!(line["error"].as_str().unwrap().contains(c.error), "{line}");
    }
    // A successful read of recmon's own endpoints is not a callback: not journaled.
    assert_eq!(r.get("/healthz").0, 200);
    assert_eq!(r.get("/api/state").0, 200);
    let (status, _) = request(r.addr, "HEAD", "/api/state", &[], b"");
    assert_eq!(status, 200);
    assert_eq!(r.journal_lines().len(), cases.len());
    assert_eq!(r.state()["requests"]["rejected"], cases.len() as u64);
}
