//! Shared by the protocol crate's integration tests: the committed schemas, validators built
//! from them, and round trips through the Rust wire types.

pub mod rules;
pub mod transcript;
pub mod workspaces;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// `protocol/`.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `protocol/schemas/`.
pub fn schemas_dir() -> PathBuf {
    crate_dir().join("schemas")
}

/// `protocol/examples/`.
pub fn examples_dir() -> PathBuf {
    crate_dir().join("examples")
}

/// Reads and parses a JSON file, naming it in any failure.
pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Validators for every committed schema, by file name. Formats (`date-time`, `uuid`) are
/// checked too: JSON Schema 2020-12 treats them as annotations unless asked.
pub struct Schemas {
    validators: BTreeMap<String, jsonschema::Validator>,
}

impl Schemas {
    /// Loads `protocol/schemas/*.json`.
    pub fn load() -> Schemas {
        let mut validators = BTreeMap::new();
        let dir = schemas_dir();
        let entries = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                let schema = read_json(&path);
                let validator = jsonschema::options()
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("{} is not a usable schema: {e}", path.display()));
                let name = path
                    .file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .into_owned();
                validators.insert(name, validator);
            }
        }
        for expected in molecule_protocol::schema::all() {
            assert!(
                validators.contains_key(expected.name),
                "{} is missing from {}; generate it with: {}",
                expected.name,
                dir.display(),
                molecule_protocol::schema::UPDATE_COMMAND
            );
        }
        Schemas { validators }
    }

    /// The problems `value` has against schema `name`, one line each (empty when valid).
    pub fn errors(&self, name: &str, value: &Value) -> Vec<String> {
        let Some(validator) = self.validators.get(name) else {
            return vec![format!("no committed schema named {name}")];
        };
        validator
            .iter_errors(value)
            .map(|e| format!("{name}: at `{}`: {e}", e.instance_path()))
            .collect()
    }
}

/// Reads `value` as a `T` and writes it back; the result must equal `value` exactly. Used for
/// what the host writes: the Rust types *are* the host's output.
pub fn round_trip_exact<T: Serialize + DeserializeOwned>(value: &Value) -> Result<(), String> {
    let back = through::<T>(value)?;
    if back == *value {
        Ok(())
    } else {
        Err(format!(
            "does not survive the Rust types unchanged:\n  written: {value}\n  re-read: {back}"
        ))
    }
}

/// Reads `value` as a `T` and writes it back; everything in `value` must still be there
/// (defaults may be added). Used for what the backend writes: the host must lose nothing.
pub fn round_trip_lossless<T: Serialize + DeserializeOwned>(value: &Value) -> Result<(), String> {
    let back = through::<T>(value)?;
    match missing(value, &back, "") {
        None => Ok(()),
        Some(path) => Err(format!(
            "the Rust types lose `{path}`:\n  written: {value}\n  re-read: {back}"
        )),
    }
}

fn through<T: Serialize + DeserializeOwned>(value: &Value) -> Result<Value, String> {
    let typed: T = serde_json::from_value(value.clone())
        .map_err(|e| format!("does not deserialize into the Rust type: {e}"))?;
    serde_json::to_value(&typed).map_err(|e| format!("does not serialize back: {e}"))
}

/// The first path of `original` that `copy` lacks or changes; numbers compare by value, so
/// `10` and `10.0` are the same.
fn missing(original: &Value, copy: &Value, path: &str) -> Option<String> {
    match (original, copy) {
        (Value::Object(a), Value::Object(b)) => a.iter().find_map(|(k, v)| {
            let path = format!("{path}/{k}");
            match b.get(k) {
                Some(w) => missing(v, w, &path),
                None => Some(path),
            }
        }),
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (v, w))| missing(v, w, &format!("{path}/{i}"))),
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => None,
        (a, b) if a == b => None,
        _ => Some(path.to_owned()),
    }
}
