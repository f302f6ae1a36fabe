//! The schema of the JSON-RPC 2.0 envelope, written out here because the envelope types of
//! `crate::jsonrpc` are classified by hand rather than derived.

use super::{Direction, decorate, settings};
use crate::error::RpcError;
use crate::jsonrpc::RequestId;
use schemars::generate::Contract;
use serde_json::{Map, Value, json};

/// The schema of any protocol line: a request, a notification or a response.
pub(super) fn schema() -> Value {
    let mut generator = settings(Contract::Deserialize).into_generator();
    let id = generator.subschema_for::<RequestId>();
    let error = generator.subschema_for::<RpcError>();
    let mut defs = generator.take_definitions(true);
    message_defs(&mut defs, id.into(), error.into());
    let mut schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "oneOf": [
            {"$ref": "#/$defs/Request"},
            {"$ref": "#/$defs/Notification"},
            {"$ref": "#/$defs/SuccessResponse"},
            {"$ref": "#/$defs/ErrorResponse"}
        ],
        "$defs": defs
    });
    decorate(
        &mut schema,
        Direction::Both,
        "JSON-RPC 2.0 message",
        Some(
            "One line of the protocol: a request, a notification or a response. Batches \
             (JSON arrays) are not used.",
        ),
    );
    schema
}

/// Adds the four message shapes. Each one excludes the members that would make it another, so
/// that exactly one of them matches a valid line.
fn message_defs(defs: &mut Map<String, Value>, id: Value, error: Value) {
    let jsonrpc = json!({"const": "2.0", "description": "Always the string \"2.0\"."});
    let method = json!({"type": "string", "description": "The method name."});
    let params = json!({
        "type": "object",
        "description": "The method's params: always an object in this protocol."
    });
    let result = json!({"description": "The method's result (see the method's result schema)."});
    let nullable_id = json!({"anyOf": [id, {"type": "null"}]});
    let shapes = [
        (
            "Request",
            "A call that expects exactly one response carrying the same id.",
            json!({"jsonrpc": jsonrpc, "id": id, "method": method, "params": params}),
            &["jsonrpc", "id", "method"][..],
            &["result", "error"][..],
        ),
        (
            "Notification",
            "A call without an id; it is never answered.",
            json!({"jsonrpc": jsonrpc, "method": method, "params": params}),
            &["jsonrpc", "method"],
            &["id", "result", "error"],
        ),
        (
            "SuccessResponse",
            "The successful answer to a request.",
            json!({"jsonrpc": jsonrpc, "id": id, "result": result}),
            &["jsonrpc", "id", "result"],
            &["method", "error"],
        ),
        (
            "ErrorResponse",
            "The failed answer to a request. `id` is null only when the request's id could \
             not be read.",
            json!({"jsonrpc": jsonrpc, "id": nullable_id, "error": error}),
            &["jsonrpc", "id", "error"],
            &["method", "result"],
        ),
    ];
    for (name, description, properties, required, excluded) in shapes {
        let excluded: Vec<Value> = excluded.iter().map(|m| json!({"required": [m]})).collect();
        defs.insert(
            name.into(),
            json!({
                "description": description,
                "type": "object",
                "properties": properties,
                "required": required,
                "not": {"anyOf": excluded}
            }),
        );
    }
}
