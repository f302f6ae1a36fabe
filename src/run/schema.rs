//! The JSON Schema of a `molecule.toml`, generated from the key table ([`super::keys`]) and
//! committed as `docs/schemas/molecule-run.schema.json` for editors and CI linters (taplo,
//! check-jsonschema). A test fails when the committed file drifts from the table.
//! (`protocol/schemas/` holds exactly the wire types' schemas, checked by the protocol's own
//! test, so the run file's lives beside the docs.)

use serde_json::{Map, Value, json};

use super::keys::{ID, KEYS, Kind, Scope, TOKEN_ENV, WORKSPACE};

/// Where the schema is committed, from the repository root.
pub const PATH: &str = "docs/schemas/molecule-run.schema.json";

/// The schema, as committed (pretty JSON and a final newline).
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// The schema of the whole file.
pub fn schema() -> Value {
    let mut top = properties(|s| s == Scope::Both);
    let mut own = properties(|_| true);
    let mut ws = Map::new();
    ws.insert(
        ID.into(),
        json!({"type": "string", "format": "uuid",
        "description": "The workspace's id, as shown in the canvas."}),
    );
    ws.insert(
        TOKEN_ENV.into(),
        json!({"type": "string",
        "description": "The name of the environment variable holding the workspace token."}),
    );
    ws.append(&mut own);
    top.insert(
        WORKSPACE.into(),
        json!({
            "type": "array",
            "minItems": 1,
            "description": "The workspaces to serve; their keys override the top-level ones.",
            "items": {
                "type": "object",
                "additionalProperties": false,
                "required": [ID],
                "not": {"required": ["token_file", TOKEN_ENV]},
                "properties": ws,
            },
        }),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/molecule-ai/molecule/docs/schemas/molecule-run.schema.json",
        "title": "molecule.toml",
        "description": "The file of `molecule run`: defaults at the top (molecule connect's long flags with underscores), one [[workspace]] per workspace. A token is never written inline.",
        "type": "object",
        "additionalProperties": false,
        "required": [WORKSPACE],
        "properties": top,
    })
}

fn properties(keep: impl Fn(Scope) -> bool) -> Map<String, Value> {
    KEYS.iter()
        .filter(|k| keep(k.scope))
        .map(|k| {
            let mut v = of_kind(k.kind);
            v["description"] = k.doc.into();
            (k.name.to_owned(), v)
        })
        .collect()
}

fn of_kind(kind: Kind) -> Value {
    match kind {
        Kind::Text => json!({"type": "string"}),
        Kind::Path => json!({"type": "string", "minLength": 1}),
        Kind::Number => json!({"type": ["integer", "string"]}),
        Kind::Duration => json!({"type": "string", "examples": ["250ms", "30s", "10m"]}),
        Kind::Flag => json!({"type": "boolean"}),
        Kind::Env => json!({"type": "object", "additionalProperties": {"type": "string"}}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UPDATE_SCHEMAS=1 cargo test --lib run::schema` rewrites the committed file.
    #[test]
    fn the_committed_schema_matches_the_key_table() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PATH);
        let want = render();
        if std::env::var_os("UPDATE_SCHEMAS").is_some() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &want).unwrap();
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "{PATH} is out of date with src/run/keys.rs; regenerate it with \
             UPDATE_SCHEMAS=1 cargo test --lib run::schema, and commit it"
        );
    }

    #[test]
    fn every_key_is_in_the_schema() {
        let s = schema();
        let ws = &s["properties"]["workspace"]["items"]["properties"];
        for key in KEYS {
            assert!(ws.get(key.name).is_some(), "{}", key.name);
            let top = s["properties"].get(key.name).is_some();
            assert_eq!(top, key.scope == Scope::Both, "{}", key.name);
        }
    }
}
