//! The documentation stays true to the code and to itself:
//! - `docs/tui.md`'s key table is the one [`key_table_markdown`] generates from the key
//!   bindings (run with `RECMON_UPDATE_DOCS=1` to rewrite it in place);
//! - every relative link in `README.md` and `docs/*.md` names a file that exists, and every
//!   `#anchor` into a Markdown page names one of its headings;
//! - the README links every page of `docs/` and keeps the commands CI and newcomers run;
//! - the layering `docs/architecture.md` describes holds: the core, the providers and the
//!   domain types import nothing above them.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;

use recmon::views::tui::keys::key_table_markdown;

const BEGIN: &str = "<!-- keys:begin -->";
const END: &str = "<!-- keys:end -->";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every page of docs/, sorted.
fn pages() -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|e| e.expect("read docs/").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    pages.sort();
    pages.insert(0, root().join("README.md"));
    pages
}

#[test]
fn the_tui_page_key_table_is_generated_from_the_bindings() {
    let path = root().join("docs/tui.md");
    let page = fs::read_to_string(&path).expect("docs/tui.md");
    let begin = page
        .find(BEGIN)
        .expect("docs/tui.md has <!-- keys:begin -->")
        + BEGIN.len();
    let end = page.find(END).expect("docs/tui.md has <!-- keys:end -->");
    assert!(begin <= end, "keys:begin comes before keys:end");
    let expected = format!("\n{}", key_table_markdown());
    if page[begin..end] == expected {
        return;
    }
    if std::env::var_os("RECMON_UPDATE_DOCS").is_some_and(|v| v == "1") {
        let updated = format!("{}{expected}{}", &page[..begin], &page[end..]);
        fs::write(&path, updated).expect("rewrite docs/tui.md");
        eprintln!("docs/tui.md: key table rewritten");
        return;
    }
    panic!(
        "docs/tui.md's key table differs from the key bindings (src/views/tui/keys.rs).\n\
         Rerun with RECMON_UPDATE_DOCS=1 to rewrite it, or paste this between the markers:\n\n{}",
        key_table_markdown()
    );
}

/// The text of a page outside fenced code blocks and inline code spans, line by line: what a
/// reader sees as links.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => {
                fence = Some(m);
                continue;
            }
            (Some(f), Some(m)) if f == m => {
                fence = None;
                continue;
            }
            (Some(_), _) => continue,
            (None, None) => {}
        }
        // Drop inline code spans (`...`): a `](x)` inside one is not a link.
        let mut prose = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
            } else if !in_code {
                prose.push(c);
            }
        }
        out.push((i + 1, prose));
    }
    out
}

/// The targets of the inline links and images on a line: `[text](target)`, `![alt](target)`.
fn link_targets(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("](") {
        let after = &rest[at + 2..];
        // Targets may hold balanced parentheses; a title ("...") ends at the first space.
        let mut depth = 0usize;
        let mut end = after.len();
        for (i, c) in after.char_indices() {
            match c {
                '(' => depth += 1,
                ')' if depth == 0 => {
                    end = i;
                    break;
                }
                ')' => depth -= 1,
                _ => {}
            }
        }
        let target = after[..end].split_whitespace().next().unwrap_or("");
        out.push(target.trim_matches(|c| c == '<' || c == '>').to_string());
        rest = &after[end.min(after.len())..];
    }
    out
}

/// GitHub's anchor for a heading: lowercase, punctuation dropped (letters, digits, `-`
/// and `_` kept), spaces become `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// Every anchor a page's headings make (a repeated heading gets `-1`, `-2`, ...), and any
/// `<a id="...">` / `<a name="...">` it holds.
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence {
            continue;
        }
        let level = line.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&level) && line[level..].starts_with(' ') {
            let base = slug(&line[level..].replace('`', ""));
            let mut anchor = base.clone();
            let mut n = 0;
            while seen.contains(&anchor) {
                n += 1;
                anchor = format!("{base}-{n}");
            }
            seen.insert(anchor);
        }
        for attr in ["id=\"", "name=\""] {
            let mut rest = line;
            while let Some(at) = rest.find(attr) {
                let after = &rest[at + attr.len()..];
                let end = after.find('"').unwrap_or(after.len());
                seen.insert(after[..end].to_string());
                rest = &after[end..];
            }
        }
    }
    seen
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = fs::read_to_string(&page).unwrap();
        let dir = page.parent().unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        for (line_no, line) in prose_lines(&text) {
            for target in link_targets(&line) {
                if target.is_empty() || target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                checked += 1;
                let (file, anchor) = match target.split_once('#') {
                    Some((f, a)) => (f, Some(a)),
                    None => (target.as_str(), None),
                };
                let resolved: PathBuf = if file.is_empty() {
                    page.clone()
                } else {
                    dir.join(file)
                };
                if !resolved.exists() {
                    broken.push(format!("{name}:{line_no}: {target}: no such file"));
                    continue;
                }
                let Some(anchor) = anchor else { continue };
                if resolved.extension().is_some_and(|e| e == "md") {
                    let target_text = fs::read_to_string(&resolved).unwrap();
                    if !anchors(&target_text).contains(anchor) {
                        broken.push(format!("{name}:{line_no}: {target}: no such heading"));
                    }
                }
            }
        }
    }
    assert!(checked > 20, "the links were found ({checked})");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn the_readme_links_every_docs_page_and_keeps_its_commands() {
    let readme = fs::read_to_string(root().join("README.md")).unwrap();
    let linked: HashSet<String> = prose_lines(&readme)
        .iter()
        .flat_map(|(_, l)| link_targets(l))
        .map(|t| t.split('#').next().unwrap_or("").to_string())
        .collect();
    for page in pages().iter().skip(1) {
        let rel = page.strip_prefix(root()).unwrap().display().to_string();
        assert!(linked.contains(&rel), "README.md does not link {rel}");
    }
    // CI runs the README's test command; a newcomer runs the demo and the receiver.
    for command in [
        "bash .ci/run",
        "cargo run --release -- --demo",
        "cargo run --release -- --listen 0.0.0.0:8080",
    ] {
        assert!(readme.contains(command), "README.md lost `{command}`");
    }
    let first_image = readme
        .lines()
        .find(|l| l.contains("!["))
        .expect("README.md has a picture");
    assert!(
        first_image.contains("](screenshots/main.png)"),
        "README.md's first picture is screenshots/main.png: {first_image}"
    );
}

#[test]
fn the_anchor_rule_matches_github() {
    assert_eq!(
        slug("Put recmon in front of your backend"),
        "put-recmon-in-front-of-your-backend"
    );
    assert_eq!(slug("Prometheus: /metrics"), "prometheus-metrics");
    assert_eq!(slug("nginx-rtmp"), "nginx-rtmp");
    assert_eq!(slug("`recmon attach`"), "recmon-attach");
    let a = anchors("# A\n## B\n## B\n```\n# not\n```\n");
    assert!(a.contains("a") && a.contains("b") && a.contains("b-1") && !a.contains("not"));
    assert_eq!(
        link_targets("see [x](docs/a.md#b) and ![p](s/p.png \"t\") and [y](f(1).md)"),
        ["docs/a.md#b", "s/p.png", "f(1).md"]
    );
}

/// Every `.rs` file under `dir` (or `dir` itself when it is a file).
fn rust_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return;
    }
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn the_architecture_pages_layering_holds() {
    // (folder, the modules above it that it must not import), as docs/architecture.md says.
    let above_core = [
        "server", "views", "service", "attach", "tools", "alerting", "cli", "forward",
    ];
    let rules: [(&str, &[&str]); 3] = [
        ("src/core", &above_core),
        (
            "src/providers",
            &[
                "core", "server", "views", "service", "attach", "tools", "alerting", "cli",
                "forward",
            ],
        ),
        (
            "src/event.rs",
            &[
                "core",
                "providers",
                "server",
                "views",
                "service",
                "attach",
                "tools",
                "alerting",
                "cli",
                "forward",
            ],
        ),
    ];
    let mut found = Vec::new();
    for (dir, banned) in rules {
        let mut files = Vec::new();
        rust_files(&root().join(dir), &mut files);
        assert!(!files.is_empty(), "{dir} has Rust files");
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            for (i, line) in text.lines().enumerate() {
                // Doc links name modules above without importing them.
                if line.trim_start().starts_with("//") {
                    continue;
                }
                for m in banned {
                    if line.contains(&format!("crate::{m}::"))
                        || line.contains(&format!("crate::{m};"))
                    {
                        let name = file.strip_prefix(root()).unwrap().display();
                        found.push(format!("{name}:{}: {}", i + 1, line.trim()));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "imports against the layering of docs/architecture.md:\n{}",
        found.join("\n")
    );
}
