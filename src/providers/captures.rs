//! The providers' real requests and documented bodies, verbatim, for the unit tests:
//! `tests/fixtures/providers/` holds `captures/` (nginx-rtmp requests captured byte for byte,
//! one file each) and `samples/` (the providers' documented bodies); `docs/providers.md`,
//! "Sources", says where each comes from.

use std::path::{Path, PathBuf};

use crate::event::Method;

/// One captured HTTP request.
pub struct Capture {
    /// Its file, relative to the captures folder.
    pub file: String,
    pub method: Method,
    pub query: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The `call=` it carries.
    pub call: String,
}

/// One documented sample body.
pub struct Sample {
    /// File name without `.json`.
    pub name: String,
    pub body: Vec<u8>,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/providers")
}

/// Every captured nginx-rtmp request (POST and GET runs, the refused publish, the slow
/// answer, the failed update, and the requests of recmon's own runs).
pub fn nginx_rtmp() -> Vec<Capture> {
    let dir = root().join("captures");
    let mut out = Vec::new();
    let mut runs: Vec<_> = std::fs::read_dir(&dir)
        .expect("tests/fixtures/providers/captures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    runs.sort_by_key(|e| e.path());
    for run in runs {
        let mut files: Vec<_> = std::fs::read_dir(run.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for f in files {
            let raw = std::fs::read(&f).unwrap();
            let name = format!(
                "{}/{}",
                run.file_name().to_string_lossy(),
                f.file_name().unwrap().to_string_lossy()
            );
            out.push(parse(&name, &raw));
        }
    }
    out
}

/// Parses one capture file: `# ...` comment lines, the request line, headers, a blank line,
/// the body.
fn parse(name: &str, raw: &[u8]) -> Capture {
    let mut rest = raw;
    while rest.starts_with(b"#") {
        let nl = rest.iter().position(|b| *b == b'\n').unwrap();
        rest = &rest[nl + 1..];
    }
    let head_end = memchr::memmem::find(rest, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| memchr::memmem::find(rest, b"\n\n").map(|i| (i, 2)))
        .expect("a blank line after the headers");
    let head = std::str::from_utf8(&rest[..head_end.0]).unwrap();
    let body = rest[head_end.0 + head_end.1..].to_vec();
    let mut lines = head.lines();
    let request_line = lines.next().unwrap();
    let mut parts = request_line.split(' ');
    let method = Method::from_name(parts.next().unwrap());
    let target = parts.next().unwrap();
    let query = target.split_once('?').map(|(_, q)| q.to_string());
    let mut content_type = String::new();
    let mut length = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-type" => content_type = v.trim().to_string(),
                "content-length" => length = v.trim().parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    let body = match length {
        Some(n) => body[..n.min(body.len())].to_vec(),
        None => body,
    };
    let fields = crate::providers::nginx_rtmp::fields(method, query.as_deref(), &body);
    let call = fields
        .iter()
        .find(|(k, _)| k == "call")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    Capture {
        file: name.to_string(),
        method,
        query,
        content_type,
        body,
        call,
    }
}

/// Every documented sample body (`samples/*.json`).
pub fn samples() -> Vec<Sample> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("samples"))
        .expect("tests/fixtures/providers/samples")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| Sample {
            name: f.file_stem().unwrap().to_string_lossy().into_owned(),
            body: std::fs::read(&f).unwrap(),
        })
        .collect()
}

/// One sample by name.
pub fn sample(name: &str) -> Vec<u8> {
    samples()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no sample {name}"))
        .body
}
