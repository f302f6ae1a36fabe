//! The JSON Schemas of the protocol, generated from the wire types (feature `schemars`).
//!
//! One schema per method direction (`initialize.params.json`, `initialize.result.json`, …), one
//! for the error object and one for its `data`, and one for the JSON-RPC envelope. They are
//! committed under `protocol/schemas/` for authors in other languages; a test fails when the
//! committed files drift from what [`all`] generates, and [`UPDATE_COMMAND`] rewrites them.
//!
//! Host → backend messages are described as the host writes them (every member the host always
//! sends is `required`); backend → host messages as the host reads them (members the host can
//! default are optional). A backend author can rely on the first kind and validate their own
//! output against the second.

use crate::error::{ErrorData, RpcError};
use crate::host_methods::{PeersDiscover, PeersList, PeersSend, UserNotify, WorkspaceInfo};
use crate::methods::{
    CancelReason, CancelRequest, HandleA2a, Initialize, Method, Ping, Progress, WorkspaceClose,
    WorkspaceOpen,
};
use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::transform::{Transform, transform_subschemas};
use schemars::{JsonSchema, Schema, json_schema};
use serde_json::{Map, Value, json};
use std::borrow::Cow;

mod envelope;

/// The command that rewrites the committed schemas; drift failures quote it.
pub const UPDATE_COMMAND: &str =
    "UPDATE_SCHEMAS=1 cargo test -p molecule-protocol --features schemars";

/// The file name of the JSON-RPC envelope schema.
pub const ENVELOPE: &str = "envelope.json";
/// The file name of the error object schema.
pub const ERROR: &str = "error.json";
/// The file name of the schema of an error's `data`.
pub const ERROR_DATA: &str = "error-data.json";

/// Who writes a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// The host writes it; the backend reads it.
    HostToBackend,
    /// The backend writes it; the host reads it.
    BackendToHost,
    /// Either side may write it.
    Both,
}

impl Direction {
    /// The other way round (the direction of a request's response).
    pub fn reversed(self) -> Direction {
        match self {
            Direction::HostToBackend => Direction::BackendToHost,
            Direction::BackendToHost => Direction::HostToBackend,
            Direction::Both => Direction::Both,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Direction::HostToBackend => "Host → backend, as the host writes it",
            Direction::BackendToHost => "Backend → host, as the host reads it",
            Direction::Both => "Either direction",
        }
    }

    fn contract(self) -> Contract {
        match self {
            Direction::HostToBackend => Contract::Serialize,
            Direction::BackendToHost | Direction::Both => Contract::Deserialize,
        }
    }
}

/// The schema files of one protocol method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MethodSchemas {
    /// The method's wire name.
    pub method: &'static str,
    /// Who sends the request or notification.
    pub direction: Direction,
    /// The file name of the params schema.
    pub params: &'static str,
    /// The file name of the result schema; `None` for a notification.
    pub result: Option<&'static str>,
}

/// The methods of protocol v1 and their schema files.
pub const METHODS: &[MethodSchemas] = &[
    MethodSchemas {
        method: Initialize::NAME,
        direction: Direction::HostToBackend,
        params: "initialize.params.json",
        result: Some("initialize.result.json"),
    },
    MethodSchemas {
        method: HandleA2a::NAME,
        direction: Direction::HostToBackend,
        params: "handle_a2a.params.json",
        result: Some("handle_a2a.result.json"),
    },
    MethodSchemas {
        method: Ping::NAME,
        direction: Direction::Both,
        params: "ping.params.json",
        result: Some("ping.result.json"),
    },
    MethodSchemas {
        method: CancelRequest::NAME,
        direction: Direction::HostToBackend,
        params: "cancel_request.params.json",
        result: None,
    },
    MethodSchemas {
        method: Progress::NAME,
        direction: Direction::BackendToHost,
        params: "progress.params.json",
        result: None,
    },
    MethodSchemas {
        method: WorkspaceOpen::NAME,
        direction: Direction::HostToBackend,
        params: "workspace_open.params.json",
        result: Some("workspace_open.result.json"),
    },
    MethodSchemas {
        method: WorkspaceClose::NAME,
        direction: Direction::HostToBackend,
        params: "workspace_close.params.json",
        result: Some("workspace_close.result.json"),
    },
    host_method(
        PeersList::NAME,
        "peers_list.params.json",
        "peers_list.result.json",
    ),
    host_method(
        PeersDiscover::NAME,
        "peers_discover.params.json",
        "peers_discover.result.json",
    ),
    host_method(
        PeersSend::NAME,
        "peers_send.params.json",
        "peers_send.result.json",
    ),
    host_method(
        WorkspaceInfo::NAME,
        "workspace_info.params.json",
        "workspace_info.result.json",
    ),
    host_method(
        UserNotify::NAME,
        "user_notify.params.json",
        "user_notify.result.json",
    ),
];

/// A backend → host method (SPEC §14).
const fn host_method(
    method: &'static str,
    params: &'static str,
    result: &'static str,
) -> MethodSchemas {
    MethodSchemas {
        method,
        direction: Direction::BackendToHost,
        params,
        result: Some(result),
    }
}

/// The schema files of `method`, when it is a protocol v1 method.
pub fn method_schemas(method: &str) -> Option<&'static MethodSchemas> {
    METHODS.iter().find(|m| m.method == method)
}

/// One generated schema and the file name it is committed under.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaFile {
    /// The file name under `protocol/schemas/`.
    pub name: &'static str,
    /// The schema.
    pub schema: Value,
}

impl SchemaFile {
    /// The file's content: pretty-printed JSON with a final newline.
    pub fn render(&self) -> String {
        // Serialising a `Value` cannot fail.
        let mut text = serde_json::to_string_pretty(&self.schema).unwrap_or_default();
        text.push('\n');
        text
    }
}

/// Every schema of the protocol, in a stable order.
pub fn all() -> Vec<SchemaFile> {
    let mut out = vec![SchemaFile {
        name: ENVELOPE,
        schema: envelope::schema(),
    }];
    for m in METHODS {
        let (params, result) = method_schemas_of(m);
        out.push(SchemaFile {
            name: m.params,
            schema: params,
        });
        if let (Some(name), Some(schema)) = (m.result, result) {
            out.push(SchemaFile { name, schema });
        }
    }
    out.push(SchemaFile {
        name: ERROR,
        schema: root::<RpcError>(
            Direction::Both,
            "error",
            Some("The `error` member of a JSON-RPC error response."),
        ),
    });
    out.push(SchemaFile {
        name: ERROR_DATA,
        schema: root::<ErrorData>(
            Direction::Both,
            "error data",
            Some(
                "The `data` member of an error: how the receiver should treat the failure. \
                 Expected with the application codes 1001–1007 and the host-call codes \
                 1010–1016; allowed with any code.",
            ),
        ),
    });
    out
}

fn method_schemas_of(m: &MethodSchemas) -> (Value, Option<Value>) {
    match m.method {
        Initialize::NAME => (params::<Initialize>(m), Some(result::<Initialize>(m))),
        HandleA2a::NAME => (params::<HandleA2a>(m), Some(result::<HandleA2a>(m))),
        Ping::NAME => (params::<Ping>(m), Some(result::<Ping>(m))),
        CancelRequest::NAME => (params::<CancelRequest>(m), None),
        Progress::NAME => (params::<Progress>(m), None),
        WorkspaceOpen::NAME => (params::<WorkspaceOpen>(m), Some(result::<WorkspaceOpen>(m))),
        WorkspaceClose::NAME => (
            params::<WorkspaceClose>(m),
            Some(result::<WorkspaceClose>(m)),
        ),
        PeersList::NAME => (params::<PeersList>(m), Some(result::<PeersList>(m))),
        PeersDiscover::NAME => (params::<PeersDiscover>(m), Some(result::<PeersDiscover>(m))),
        PeersSend::NAME => (params::<PeersSend>(m), Some(result::<PeersSend>(m))),
        WorkspaceInfo::NAME => (params::<WorkspaceInfo>(m), Some(result::<WorkspaceInfo>(m))),
        UserNotify::NAME => (params::<UserNotify>(m), Some(result::<UserNotify>(m))),
        other => unreachable!("METHODS lists {other} but no schema is generated for it"),
    }
}

fn params<M: Method>(m: &MethodSchemas) -> Value
where
    M::Params: JsonSchema,
{
    root::<M::Params>(m.direction, &format!("{} params", m.method), None)
}

fn result<M: Method>(m: &MethodSchemas) -> Value
where
    M::Result: JsonSchema,
{
    root::<M::Result>(
        m.direction.reversed(),
        &format!("{} result", m.method),
        None,
    )
}

pub(crate) fn settings(contract: Contract) -> SchemaSettings {
    SchemaSettings::draft2020_12()
        .with(|s| s.contract = contract)
        .with_transform(Portable)
}

/// The schema of `T` as a root document. `description` replaces the type's doc comment.
fn root<T: JsonSchema>(direction: Direction, title: &str, description: Option<&str>) -> Value {
    let generator = settings(direction.contract()).into_generator();
    let mut schema: Value = generator.into_root_schema_for::<T>().into();
    decorate(&mut schema, direction, title, description);
    schema
}

/// Puts `$schema`, `title`, `description` and `$comment` first, with the direction stated at
/// the start of the description.
pub(crate) fn decorate(
    schema: &mut Value,
    direction: Direction,
    title: &str,
    description: Option<&str>,
) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let own = obj.remove("description");
    let text = description
        .or_else(|| own.as_ref().and_then(Value::as_str))
        .unwrap_or_default();
    let mut head = Map::new();
    if let Some(meta) = obj.remove("$schema") {
        head.insert("$schema".into(), meta);
    }
    obj.remove("title");
    head.insert("title".into(), Value::from(title));
    head.insert(
        "description".into(),
        Value::from(format!("{}. {text}", direction.label())),
    );
    head.insert("$comment".into(), Value::from(COMMENT));
    head.append(obj);
    *obj = head;
}

const COMMENT: &str = "Generated from the molecule-protocol Rust types by protocol/src/schema/mod.rs; \
                       do not edit. Regenerate with: UPDATE_SCHEMAS=1 cargo test -p \
                       molecule-protocol --features schemars";

/// Makes generated schemas read well outside Rust: drops the Rust-only `format` values
/// (`uint32`, `int64`, `double`…; the bounds they imply are already `minimum`s) and unwraps the
/// hard line breaks of doc comments.
#[derive(Clone)]
struct Portable;

impl Transform for Portable {
    fn transform(&mut self, schema: &mut Schema) {
        if let Some(obj) = schema.as_object_mut() {
            let rust_only = obj
                .get("format")
                .and_then(Value::as_str)
                .is_some_and(|f| !STANDARD_FORMATS.contains(&f));
            if rust_only {
                obj.remove("format");
            }
            if let Some(Value::String(d)) = obj.get_mut("description") {
                *d = unwrap_lines(d);
            }
        }
        transform_subschemas(self, schema);
    }
}

/// The `format` values of JSON Schema 2020-12 that the generated schemas may use.
const STANDARD_FORMATS: &[&str] = &["date-time", "uuid", "uri"];

/// Joins the lines of each paragraph with spaces; paragraphs stay separated by a blank line.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|p| p.lines().map(str::trim).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Written by hand because the derive cannot say that unknown reasons are accepted
/// (`#[serde(other)]`): a newer host may send reasons this version does not list.
impl JsonSchema for CancelReason {
    fn schema_name() -> Cow<'static, str> {
        "CancelReason".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let known = |reason: &str, description: &str| json!({"type": "string", "const": reason, "description": description});
        json_schema!({
            "description": "Why the host cancels a request. Receivers accept any string and \
                            treat a reason they do not know like `other`.",
            "anyOf": [
                known("deadline", "The request's hard timeout passed."),
                known("idle_timeout", "No `$/progress` arrived within the idle timeout."),
                known("host_shutdown", "The host is shutting down."),
                known("superseded", "A newer message replaced this one."),
                known("other", "Any other reason."),
                {"type": "string", "description": "A reason added by a later version."}
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_its_schemas() {
        let names: Vec<&str> = all().iter().map(|f| f.name).collect();
        for m in METHODS {
            assert!(names.contains(&m.params), "{}", m.params);
            if let Some(r) = m.result {
                assert!(names.contains(&r), "{r}");
            }
        }
        assert_eq!(
            method_schemas("$/progress").map(|m| m.params),
            Some("progress.params.json")
        );
        assert_eq!(method_schemas("peers/other"), None);
        assert!(method_schemas("peers/send").is_some());
    }

    #[test]
    fn the_cancel_reason_schema_lists_every_variant() {
        // The match is exhaustive: a new variant does not compile until it is listed here (and
        // in CancelReason::ALL), and the assertion then fails until the hand-written schema
        // lists it too.
        let all = |r: CancelReason| match r {
            CancelReason::Deadline
            | CancelReason::IdleTimeout
            | CancelReason::HostShutdown
            | CancelReason::Superseded
            | CancelReason::Other => r,
        };
        let schema = Value::from(CancelReason::json_schema(&mut SchemaGenerator::default()));
        let listed: Vec<&Value> = schema["anyOf"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("const"))
            .collect();
        for &reason in CancelReason::ALL {
            let wire = serde_json::to_value(all(reason)).unwrap_or_default();
            assert!(listed.contains(&&wire), "{wire} is missing from the schema");
        }
    }

    #[test]
    fn doc_comment_line_breaks_are_unwrapped() {
        assert_eq!(unwrap_lines("a\nb\n\nc\n d"), "a b\n\nc d");
    }
}
