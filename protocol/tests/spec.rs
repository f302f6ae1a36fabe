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
    let reasons = [
        CancelReason::Deadline,
        CancelReason::IdleTimeout,
        CancelReason::HostShutdown,
        CancelReason::Superseded,
        CancelReason::Other,
    ];
    let names = reasons.iter().map(|r| {
        let name = serde_json::to_value(r).expect("a string");
        format!("`{}`", name.as_str().expect("a string"))
    });
    assert_documented(&spec(), names, "cancel reasons");
}

#[test]
fn every_error_code_is_documented() {
    let codes = [
        code::PARSE_ERROR,
        code::INVALID_REQUEST,
        code::METHOD_NOT_FOUND,
        code::INVALID_PARAMS,
        code::INTERNAL_ERROR,
        code::NOT_INITIALIZED,
        code::REQUEST_CANCELLED,
        code::BUSY,
        code::RATE_LIMITED,
        code::UPSTREAM_UNAVAILABLE,
        code::UNSUPPORTED_CONTENT,
        code::DEADLINE_EXCEEDED,
        code::REFUSED,
        code::REPLY_TOO_LARGE,
        code::UNAUTHORIZED,
        code::NOT_FOUND,
        code::REMOVED,
        code::PLATFORM_UNAVAILABLE,
        code::REJECTED,
        code::WAIT_TIMED_OUT,
        code::BUDGET_EXHAUSTED,
    ];
    let spec = spec();
    let rows = codes.iter().map(|c| format!("| {c} |"));
    assert_documented(&spec, rows, "error codes (as table rows)");
    let retryable: Vec<i64> = codes
        .into_iter()
        .filter(|c| code::retryable_by_default(*c))
        .collect();
    assert_eq!(
        retryable,
        [1001, 1002, 1003, 1013, 1016],
        "SPEC.md §8 says only 1001–1003, 1013 and 1016 are retryable by default"
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
