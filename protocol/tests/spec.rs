//! SPEC.md names everything the types and files define: a method, a cancel reason, an error
//! code, a schema or a transcript added without documentation fails here.

#[allow(dead_code)]
mod common;

use molecule_protocol::code;
use molecule_protocol::methods::CancelReason;
use molecule_protocol::schema;

fn spec() -> String {
    std::fs::read_to_string(common::crate_dir().join("SPEC.md")).expect("SPEC.md")
}

fn assert_documented(spec: &str, needles: impl IntoIterator<Item = String>, what: &str) {
    let missing: Vec<String> = needles.into_iter().filter(|n| !spec.contains(n)).collect();
    assert!(
        missing.is_empty(),
        "SPEC.md does not mention these {what}: {missing:?}"
    );
}

#[test]
fn every_method_and_schema_is_documented() {
    let spec = spec();
    let mut names = vec![
        schema::ENVELOPE.to_owned(),
        schema::ERROR.to_owned(),
        schema::ERROR_DATA.to_owned(),
    ];
    for m in schema::METHODS {
        names.push(format!("`{}`", m.method));
        names.push(m.params.to_owned());
        names.extend(m.result.map(str::to_owned));
    }
    assert_documented(&spec, names, "methods or schema files");
}

#[test]
fn every_cancel_reason_is_documented() {
    let names = CancelReason::ALL.iter().map(|r| format!("`{r}`"));
    assert_documented(&spec(), names, "cancel reasons");
}

#[test]
fn every_error_code_is_documented_as_the_table_says() {
    let spec = spec();
    let mut missing = Vec::new();
    for c in code::ALL {
        // SPEC §8: `| code | name | when | retryable by default |`.
        let retryable = match c.retryable {
            Some(true) => "yes",
            Some(false) => "no",
            None => "—",
        };
        let row = spec
            .lines()
            .find(|l| l.starts_with(&format!("| {} | {} |", c.code, c.name)));
        match row {
            Some(row) if row.ends_with(&format!("| {retryable} |")) => {}
            Some(row) => missing.push(format!("{row} (retryable by default: {retryable})")),
            None => missing.push(format!("| {} | {} | … | {retryable} |", c.code, c.name)),
        }
        if !c.classes.is_empty() {
            // SPEC §14.3: `| code | classes | when |`.
            let classes: Vec<String> = c.classes.iter().map(|k| format!("`{k}`")).collect();
            let row = format!("| {} | {} |", c.code, classes.join(", "));
            if !spec.contains(&row) {
                missing.push(row);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "SPEC.md's error tables disagree with molecule_protocol::code::ALL; expected rows:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_transcript_is_listed() {
    let spec = spec();
    let names = std::fs::read_dir(common::examples_dir())
        .expect("examples/")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .map(|n| format!("`{n}`"));
    assert_documented(&spec, names, "transcripts");
}

#[test]
fn the_version_messages_quoted_are_the_real_ones() {
    use molecule_protocol::version::check_backend_version;
    let spec = spec();
    for (backend, theirs) in [("my-agent 2.0.0", 2), ("my-agent 0.3.0", 0)] {
        let message = check_backend_version(backend, theirs, "0.1.0")
            .expect_err("an unsupported version")
            .to_string();
        assert!(
            spec.contains(&message),
            "SPEC.md §4.2 should quote: {message}"
        );
    }
}

/// The questions authors of backends asked that SPEC.md left open (issue 12, item 19), each
/// with the words that answer it.
#[test]
fn the_questions_backend_authors_asked_are_answered() {
    let answers = [
        (
            "the error code for an over-long request line",
            "it SHOULD answer that request with error `-32600`",
        ),
        (
            "what to answer for work abandoned at end of file",
            "otherwise with error 1001 (busy) and `data.retryable: true`",
        ),
        (
            "whether to advertise progress when the host does not",
            "A backend advertises what it supports whatever the host advertised",
        ),
        (
            "a ping or a cancel read while a sequential backend waits for a host call",
            "A sequential backend that calls the host ([§14](#14-backend--host-calls)) reads stdin while it waits",
        ),
        (
            "MOLECULE_HOST_SOCKET in the environment table",
            "| `MOLECULE_HOST_SOCKET` |",
        ),
        (
            "workspace.name under molecule dev",
            "`molecule connect` and `molecule dev` start the backend before they read the workspace's record, so they send no `name`",
        ),
        (
            "the member that marks an error reply",
            "`metadata.molecule.error: true`",
        ),
    ];
    let spec = spec();
    let open: Vec<&str> = answers
        .iter()
        .filter(|(_, words)| !spec.contains(words))
        .map(|(question, _)| *question)
        .collect();
    assert!(open.is_empty(), "SPEC.md does not answer: {open:?}");
}
