//! One `[[workspace]]` of a run file made into the [`Config`] `molecule connect` would build
//! from the same settings: the top-level keys first, the workspace's own over them, written
//! into a [`ConnectArgs`] and validated by connect's own `from_args`. A refusal is placed on
//! the key that caused it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use molecule_host::connect::{Config, ConfigError, ConnectError, TOKEN_ENV, TokenSetting};
use molecule_host::peers::PeerSettings;
use molecule_host::platform::{self, Secret};
use uuid::Uuid;

use crate::connect::{ConnectArgs, config as connect_config, peer_args};

use super::file::{FileError, Item, Source, text_of};
use super::keys::{self, ID, Kind, Slot, TOKEN_ENV as TOKEN_ENV_KEY};

/// One workspace to serve, checked.
#[derive(Debug)]
pub struct Entry {
    /// Its id.
    pub id: Uuid,
    /// What connect serves it with.
    pub config: Config,
    /// Its peer calls.
    pub peers: PeerSettings,
    /// Its state directory (the one connect would use for it when none is given).
    pub state_dir: PathBuf,
    /// Its settings as written (defaults merged), to tell on reload whether it changed.
    pub fingerprint: String,
}

/// Builds the workspace written at `span` from the top-level `defaults` and its `own` keys;
/// relative paths are read from `base`, token variables through `env`.
pub fn build(
    src: &Source<'_>,
    base: &Path,
    span: &Range<usize>,
    defaults: &[Item<'_>],
    own: &[Item<'_>],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Entry, FileError> {
    let mut args = ConnectArgs::default();
    let mut token_env = None;
    for item in defaults.iter().chain(own) {
        match item.key {
            ID => args.workspace_id = Some(text_of(src, item, Kind::Text)?),
            TOKEN_ENV_KEY => token_env = Some(text_of(src, item, Kind::Text)?),
            _ => apply(src, base, item, &mut args)?,
        }
    }
    let place = |key: Option<&str>, message: String| {
        let item = key.and_then(|k| own.iter().chain(defaults).find(|i| i.key == k));
        src.at(&item.map_or(span.clone(), |i| i.span.clone()), message)
    };
    if args.workspace_id.is_none() {
        return Err(place(None, "[[workspace]]: missing key id".into()));
    }
    let name = token_env.as_deref();
    let token = token_var(name, args.token_file.is_some(), env, &place)?;
    let value = token.as_ref().map(|(_, v)| v.clone());
    let read = |k: &str| (k == TOKEN_ENV).then(|| value.clone()).flatten();
    let mut config = connect_config::from_args(&args, read).map_err(|e| match &e {
        ConnectError::Config(ConfigError::Missing { flag, .. }) => {
            let key = keys::of_flag(flag).unwrap_or(ID);
            place(None, format!("[[workspace]]: missing key {key}"))
        }
        _ => {
            let key = key_of(&e);
            place(key, format!("key {}: {e}", key.unwrap_or(ID)))
        }
    })?;
    let peers = peer_args::settings(&args.peers).map_err(|e| {
        let key = key_of_config(&e);
        place(key, format!("key {}: {e}", key.unwrap_or(ID)))
    })?;
    if let Some((name, value)) = token {
        config.token = TokenSetting::Value {
            token: Secret::new(value),
            origin: name.clone(),
        };
        config.backend.secrets.push(name.into());
    }
    let id = config.platform.workspace_id();
    let state_dir = molecule_host::connect::statedir::resolve(config.state_dir.as_deref(), id)
        .map_err(|e| place(Some("state_dir"), format!("key state_dir: {e}")))?;
    Ok(Entry {
        id,
        config,
        peers,
        state_dir,
        fingerprint: format!("{args:?} token_env={name:?}"),
    })
}

/// The token in the variable `token_env` names, as (name, value): refused beside a
/// `token_file`, or when the variable is unset or empty.
fn token_var(
    name: Option<&str>,
    has_file: bool,
    env: &dyn Fn(&str) -> Option<String>,
    place: &dyn Fn(Option<&str>, String) -> FileError,
) -> Result<Option<(String, String)>, FileError> {
    let Some(name) = name else {
        return Ok(None);
    };
    if has_file {
        let message = "key token_env: give the token one way, token_file or token_env";
        return Err(place(Some(TOKEN_ENV_KEY), message.into()));
    }
    match env(name).filter(|v| !v.trim().is_empty()) {
        Some(value) => Ok(Some((name.to_owned(), value))),
        None => {
            let message = format!("key token_env: the variable {name} is not set");
            Err(place(Some(TOKEN_ENV_KEY), message))
        }
    }
}

/// Writes `item`'s value into its field of `args`.
fn apply(
    src: &Source<'_>,
    base: &Path,
    item: &Item<'_>,
    args: &mut ConnectArgs,
) -> Result<(), FileError> {
    // `file::item` let only table keys through.
    let Some(key) = keys::find(item.key) else {
        return Err(src.at(&item.span, format!("unknown key {}", item.key)));
    };
    match (key.slot)(args) {
        Slot::Text(field) => *field = Some(text_of(src, item, key.kind)?),
        Slot::Path(field) => *field = Some(base.join(text_of(src, item, key.kind)?)),
        Slot::Flag(field) => *field = text_of(src, item, key.kind)? == "true",
        Slot::Pairs(field) => pairs(src, item, field)?,
    }
    Ok(())
}

/// A `backend_env` table as `KEY=VALUE` pairs, added after the ones already there (a
/// workspace's own come after the top-level ones, so they win).
fn pairs(src: &Source<'_>, item: &Item<'_>, field: &mut Vec<String>) -> Result<(), FileError> {
    let toml::de::DeValue::Table(table) = item.value.get_ref() else {
        return Err(src.at(
            &item.value.span(),
            "key backend_env: expected a table, e.g. backend_env = { LANG = \"C\" }",
        ));
    };
    for (k, v) in table {
        let Some(text) = v.get_ref().as_str() else {
            let message = format!("key backend_env.{}: expected a string", k.get_ref());
            return Err(src.at(&v.span(), message));
        };
        field.push(format!("{}={text}", k.get_ref()));
    }
    Ok(())
}

/// The key a connect error is about, when one is.
fn key_of(e: &ConnectError) -> Option<&'static str> {
    match e {
        ConnectError::Config(c) => key_of_config(c),
        ConnectError::PlatformConfig(p) => match p {
            platform::ConfigError::ApiUrl { .. } => Some("api_url"),
            platform::ConfigError::Origin { .. } => Some("origin"),
            platform::ConfigError::OrgId { .. } => Some("org_id"),
            platform::ConfigError::WorkspaceId { .. } => Some(ID),
        },
        ConnectError::Command(_) => Some("backend_cmd"),
        _ => None,
    }
}

/// The key a settings error is about.
fn key_of_config(e: &ConfigError) -> Option<&'static str> {
    match e {
        ConfigError::Invalid { flag, .. } | ConfigError::Missing { flag, .. } => {
            keys::of_flag(flag)
        }
        ConfigError::BackendEnv(_) => Some("backend_env"),
        _ => None,
    }
}
