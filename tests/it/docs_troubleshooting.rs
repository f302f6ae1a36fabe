//! `docs/troubleshooting.md` is keyed by the exact lines the host prints: every error message
//! template that `molecule connect`, `run`, `dev`, `send` and `doctor` can print (thiserror
//! messages, ERROR log lines, the first-contact faults, doctor's fail and warn lines) must
//! appear in it, with `<…>` where the template has a value. A new or reworded message without
//! its entry fails here.

use regex::Regex;

/// The files whose messages the page must cover, relative to the repository root.
const SOURCES: &[&str] = &[
    "src/tls_env.rs",
    "src/connect/metrics_endpoint.rs",
    "src/dev/run.rs",
    "src/send/error.rs",
    "src/doctor/local.rs",
    "src/doctor/platform.rs",
    "src/doctor/backend.rs",
    "src/run/mod.rs",
    "src/run/file.rs",
    "src/run/fleet.rs",
    "crates/host/src/platform/error.rs",
    "crates/host/src/platform/config.rs",
    "crates/host/src/platform/token.rs",
    "crates/host/src/platform/diagnose.rs",
    "crates/host/src/backend/command.rs",
    "crates/host/src/backend/error.rs",
    "crates/host/src/backend/manager.rs",
    "crates/host/src/backend/process.rs",
    "crates/host/src/backend/tenant.rs",
    "crates/host/src/connect/error.rs",
    "crates/host/src/connect/config.rs",
    "crates/host/src/connect/heartbeat.rs",
    "crates/host/src/connect/run.rs",
    "crates/host/src/connect/feed/poller.rs",
    "crates/host/src/connect/engine/core/replies.rs",
    "crates/host/src/connect/state/file.rs",
    "crates/host/src/connect/state/writer.rs",
    "crates/emulator/src/lib.rs",
    "crates/emulator/src/db.rs",
];

fn read(path: &str) -> String {
    let root = env!("CARGO_MANIFEST_DIR");
    std::fs::read_to_string(format!("{root}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The message templates of `source`: the first string of each `#[error(…)]`, the message of
/// each `tracing::error!`, each string `write!` into a formatter, and the message of each
/// doctor `Line::fail`/`Line::warn`.
fn templates(source: &str) -> Vec<String> {
    let string = r#""((?s:[^"\\]|\\.)*)""#;
    let patterns = [
        format!(r"#\[error\(\s*{string}"),
        format!(r#"tracing::error!\([^"]*?{string}"#),
        format!(r"write!\(\s*f,\s*{string}"),
        format!(r#"Line::(?:fail|warn)\(\s*(?:"[a-z ]+"|check),\s*(?:format!\(\s*)?{string}"#),
    ];
    let mut found = Vec::new();
    for p in patterns {
        let re = Regex::new(&p).expect("pattern");
        for c in re.captures_iter(source) {
            found.push(unescape(&c[1]));
        }
    }
    found
}

/// A Rust string literal's text: line continuations joined, escaped quotes unescaped.
fn unescape(literal: &str) -> String {
    let joined = Regex::new(r"\\\n\s*").expect("re").replace_all(literal, "");
    joined.replace("\\\"", "\"")
}

/// The template as a pattern over the page: its literal parts in order, anything between.
fn pattern(template: &str) -> Option<Regex> {
    let holes = Regex::new(r"\{\{|\}\}|\{[^{}]*\}|\\n").expect("re");
    let mut parts = Vec::new();
    let mut last = 0;
    for m in holes.find_iter(template) {
        parts.push(template[last..m.start()].to_owned());
        match m.as_str() {
            "{{" => parts.push("{".into()),
            "}}" => parts.push("}".into()),
            _ => parts.push(String::new()),
        }
        last = m.end();
    }
    parts.push(template[last..].to_owned());
    let literal: Vec<String> = parts
        .iter()
        .map(|p| squash(p).trim().to_owned())
        .filter(|p| p.len() >= 3)
        .map(|p| regex::escape(&p))
        .collect();
    if literal.is_empty() {
        return None;
    }
    Regex::new(&literal.join(".*?")).ok()
}

/// Runs of whitespace as one space (the page wraps long lines).
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn every_error_line_has_an_entry() {
    let page = squash(&read("docs/troubleshooting.md"));
    let mut missing = Vec::new();
    let mut checked = 0;
    for source in SOURCES {
        let found = templates(&read(source));
        assert!(!found.is_empty(), "no message found in {source}");
        for template in found {
            let Some(re) = pattern(&template) else {
                continue;
            };
            checked += 1;
            if !re.is_match(&page) {
                missing.push(format!("{source}: {template}"));
            }
        }
    }
    assert!(
        checked > 80,
        "only {checked} templates were read: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md has no entry for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_scan_finds_each_kind_of_message() {
    let source = r#"
        #[error("cannot read {path}: {source}")]
        tracing::error!(pid = 1, "backend crash: {line}\nlast stderr:\n{tail}");
        write!(f, "nothing listens at {authority}: check --api-url")?;
        Line::fail("state", format!("cannot write in {}: \
                   give another", dir))
    "#;
    let found = templates(source);
    assert_eq!(
        found,
        [
            "cannot read {path}: {source}",
            "backend crash: {line}\\nlast stderr:\\n{tail}",
            "nothing listens at {authority}: check --api-url",
            "cannot write in {}: give another",
        ]
    );
    let re = pattern(&found[1]).expect("a pattern");
    assert!(re.is_match("`backend crash: <what happened>` (with the last stderr: lines)"));
}
