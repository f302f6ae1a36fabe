//! The committed JSON Schemas: identical to what the Rust types generate, valid JSON Schema
//! 2020-12, readable outside Rust, and saying what SPEC.md says.
//!
//! `UPDATE_SCHEMAS=1 cargo test -p molecule-protocol --features schemars` rewrites them.

#[allow(dead_code)]
mod common;

use common::{Schemas, read_json, schemas_dir};
use molecule_protocol::schema::{self, SchemaFile, UPDATE_COMMAND};
use serde_json::{Value, json};
use std::path::Path;

/// How `dir` differs from `generated`: changed, missing and stale files, one line each.
fn drift(generated: &[SchemaFile], dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for file in generated {
        match std::fs::read_to_string(dir.join(file.name)) {
            Ok(text) if text == file.render() => {}
            Ok(_) => out.push(format!("{} differs from the Rust types", file.name)),
            Err(_) => out.push(format!("{} is missing", file.name)),
        }
    }
    for name in json_files(dir) {
        if !generated.iter().any(|f| f.name == name) {
            out.push(format!("{name} is no longer generated"));
        }
    }
    out
}

fn json_files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Makes `dir` hold exactly the generated schemas.
fn rewrite(generated: &[SchemaFile], dir: &Path) {
    std::fs::create_dir_all(dir).expect("create the schemas directory");
    for name in json_files(dir) {
        if !generated.iter().any(|f| f.name == name) {
            std::fs::remove_file(dir.join(&name)).expect("remove a stale schema");
        }
    }
    for file in generated {
        std::fs::write(dir.join(file.name), file.render()).expect("write a schema");
    }
}

#[test]
fn committed_schemas_match_the_rust_types() {
    let generated = schema::all();
    let dir = schemas_dir();
    if std::env::var_os("UPDATE_SCHEMAS").is_some() {
        rewrite(&generated, &dir);
    }
    let problems = drift(&generated, &dir);
    assert!(
        problems.is_empty(),
        "protocol/schemas/ is out of date with the Rust types:\n  {}\nRegenerate the schemas \
         with:\n  {UPDATE_COMMAND}\nand commit the result.",
        problems.join("\n  ")
    );
}

#[test]
fn drift_is_detected_and_repaired() {
    let generated = schema::all();
    let dir = std::env::temp_dir().join(format!("molecule-schema-drift-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    rewrite(&generated, &dir);
    assert!(drift(&generated, &dir).is_empty());

    std::fs::write(dir.join(schema::ERROR), "{}\n").expect("write");
    std::fs::remove_file(dir.join(schema::ENVELOPE)).expect("remove");
    std::fs::write(dir.join("old.params.json"), "{}\n").expect("write");
    assert_eq!(
        drift(&generated, &dir),
        [
            "envelope.json is missing",
            "error.json differs from the Rust types",
            "old.params.json is no longer generated"
        ]
    );
    rewrite(&generated, &dir);
    assert!(drift(&generated, &dir).is_empty());
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn every_schema_is_valid_json_schema_2020_12() {
    for name in json_files(&schemas_dir()) {
        let schema = read_json(&schemas_dir().join(&name));
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        if let Err(e) = jsonschema::meta::validate(&schema) {
            panic!("{name} is not a valid JSON Schema: {e}");
        }
    }
}

/// Walks every subschema, calling `visit(path, schema)`.
fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &serde_json::Map<String, Value>)) {
    match value {
        Value::Object(obj) => {
            visit(path, obj);
            for (k, v) in obj {
                walk(v, &format!("{path}/{k}"), visit);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{path}/{i}"), visit);
            }
        }
        _ => {}
    }
}

#[test]
fn schemas_read_well_outside_rust() {
    const RUST_ISMS: &[&str] = &["[`", "Option<", "Vec<", "::", "crate", "Self", "\n"];
    let mut problems = Vec::new();
    for name in json_files(&schemas_dir()) {
        let schema = read_json(&schemas_dir().join(&name));
        for key in ["title", "description", "$comment"] {
            assert!(schema[key].is_string(), "{name} has no {key}");
        }
        walk(&schema, &name, &mut |path, obj| {
            for key in ["title", "description"] {
                let text = obj.get(key).and_then(Value::as_str).unwrap_or_default();
                if let Some(ism) = RUST_ISMS.iter().find(|i| text.contains(**i)) {
                    problems.push(format!("{path}: {key} contains {ism:?}: {text}"));
                }
            }
            if let Some(f) = obj.get("format").and_then(Value::as_str)
                && !["date-time", "uuid", "uri"].contains(&f)
            {
                problems.push(format!("{path}: format {f:?} is not a JSON Schema format"));
            }
            let properties = obj.get("properties").and_then(Value::as_object);
            for (prop, sub) in properties.into_iter().flatten() {
                let said = sub.get("description").is_some() || sub.get("const").is_some();
                if !said && !path.contains("$defs/Request") && !path.ends_with("Response") {
                    problems.push(format!("{path}/properties/{prop} has no description"));
                }
            }
        });
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_generator_each_schema_names_exists() {
    let repository = common::crate_dir().parent().expect("the workspace root");
    for file in schema::all() {
        let comment = file.schema["$comment"].as_str().unwrap_or_default();
        let named = comment
            .split_whitespace()
            .find(|w| w.starts_with("protocol/src/"))
            .map(|w| w.trim_end_matches([';', ',', '.']))
            .unwrap_or_else(|| panic!("{}: $comment names no source file: {comment}", file.name));
        assert!(
            repository.join(named).is_file(),
            "{}: $comment points to {named}, which does not exist",
            file.name
        );
    }
}

/// Asserts that `value` is valid (or not) against schema `name`.
fn expect(schemas: &Schemas, name: &str, value: Value, valid: bool) {
    let errors = schemas.errors(name, &value);
    assert_eq!(
        errors.is_empty(),
        valid,
        "{name} should {}accept {value}: {errors:?}",
        if valid { "" } else { "not " }
    );
}

#[test]
fn the_schemas_say_what_the_spec_says() {
    let s = Schemas::load();
    // Backend output is read leniently: absent capabilities are allowed, unknown keys ignored.
    let minimal = json!({"protocolVersion": 1, "backend": {"name": "x", "version": "1"}});
    expect(&s, "initialize.result.json", minimal, true);
    let extra = json!({"protocolVersion": 1, "backend": {"name": "x", "version": "1"},
                       "capabilities": {"streaming": true}, "future": 1});
    expect(&s, "initialize.result.json", extra, true);
    // Parts are strict: `kind` on every part, data is an object, parts are required.
    expect(&s, "handle_a2a.result.json", json!({"parts": []}), true);
    expect(&s, "handle_a2a.result.json", json!({}), false);
    let typed = json!({"parts": [{"type": "text", "text": "x"}]});
    expect(&s, "handle_a2a.result.json", typed, false);
    let array_data = json!({"parts": [{"kind": "data", "data": [1, 2]}]});
    expect(&s, "handle_a2a.result.json", array_data, false);
    // Unknown cancel reasons are accepted; the host always sends one.
    expect(
        &s,
        "cancel_request.params.json",
        json!({"id": 3, "reason": "solar_flare"}),
        true,
    );
    expect(&s, "cancel_request.params.json", json!({"id": 3}), false);
    expect(&s, "progress.params.json", json!({"id": "a"}), true);
    // What the host sends is pinned: key format, RFC 3339 deadline, attempt ≥ 1, workspaceId.
    let params = |patch: &dyn Fn(&mut Value)| {
        let mut p = json!({
            "message": {"kind": "message", "role": "user", "messageId": "m",
                        "parts": [{"kind": "text", "text": "hi"}]},
            "sender": {"kind": "canvas", "workspaceId": null},
            "context": {"activityId": "r", "attempt": 1, "deadline": "2026-05-06T06:52:13.481Z",
                        "idempotencyKey": "3c089f08-dfd3-53d3-9106-ac4255318e26",
                        "conversationKey": "canvas", "hops": 0}
        });
        patch(&mut p);
        p
    };
    expect(&s, "handle_a2a.params.json", params(&|_| {}), true);
    let bad_key = params(&|p| p["context"]["conversationKey"] = json!("bogus"));
    expect(&s, "handle_a2a.params.json", bad_key, false);
    let bad_deadline = params(&|p| p["context"]["deadline"] = json!("in ten minutes"));
    expect(&s, "handle_a2a.params.json", bad_deadline, false);
    let attempt_zero = params(&|p| p["context"]["attempt"] = json!(0));
    expect(&s, "handle_a2a.params.json", attempt_zero, false);
    let no_workspace = params(&|p| {
        p["sender"]
            .as_object_mut()
            .expect("object")
            .remove("workspaceId");
    });
    expect(&s, "handle_a2a.params.json", no_workspace, false);
    // The envelope: no batches, no result on a request, a null id only on errors.
    let envelope = "envelope.json";
    expect(
        &s,
        envelope,
        json!([{"jsonrpc": "2.0", "method": "ping", "id": 1}]),
        false,
    );
    expect(
        &s,
        envelope,
        json!({"jsonrpc": "2.0", "id": 1, "method": "x", "result": 1}),
        false,
    );
    expect(
        &s,
        envelope,
        json!({"jsonrpc": "2.0", "id": null, "method": "x"}),
        false,
    );
    expect(
        &s,
        envelope,
        json!({"jsonrpc": "1.0", "id": 1, "method": "x"}),
        false,
    );
    let null_id_error = json!({"jsonrpc": "2.0", "id": null,
                               "error": {"code": -32600, "message": "invalid request"}});
    expect(&s, envelope, null_id_error, true);
    expect(
        &s,
        envelope,
        json!({"jsonrpc": "2.0", "method": "$/progress"}),
        true,
    );
}
