//! `molecule connect`'s command line validated into the host's [`Config`]: every refusal is one
//! line naming the flag and the environment variable to fix.

use std::ffi::OsString;
use std::time::Duration;

use molecule_host::backend::{BackendCommand, Lookup};
use molecule_host::connect::settings::{HEARTBEAT_LIMIT, MAX_BATCH};
use molecule_host::connect::{Config, ConfigError, ConnectError, TOKEN_ENV, TokenSetting};
use molecule_host::platform::{PlatformConfig, Secret};
use molecule_protocol::duration::{EXAMPLES, parse_duration};

use super::args::ConnectArgs;
use super::config_values;

/// Validates the command line into a [`Config`]; `env` reads the environment (the token
/// variable).
pub fn from_args(
    args: &ConnectArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConnectError> {
    let workspace = required(
        &args.workspace_id,
        "workspace id",
        "the WORKSPACE_ID argument",
        "MOLECULE_WORKSPACE_ID",
    )?;
    let api_url = required(
        &args.api_url,
        "platform API URL",
        "--api-url",
        "MOLECULE_API_URL",
    )?;
    let cmdline = required(
        &args.backend_cmd,
        "backend command",
        "--backend-cmd",
        "MOLECULE_BACKEND_CMD",
    )?;
    let mut platform = PlatformConfig::new(api_url, workspace)?;
    if let Some(origin) = &args.origin {
        platform = platform.with_origin(origin)?;
    }
    if let Some(org) = &args.org_id {
        platform = platform.with_org_id(org)?;
    }
    let token = token_setting(args, &env)?;
    let command = BackendCommand::parse_in(cmdline, &Lookup::from_process())?;
    let mut config = Config::new(platform, token, command);
    config.backend.env = backend_env(&args.backend_env)?;
    config.state_dir = args.state_dir.clone();
    config.dry_run = args.dry_run;
    config_values::apply(args, &mut config)?;
    Ok(config)
}

fn required<'a>(
    value: &'a Option<String>,
    what: &'static str,
    flag: &'static str,
    env: &'static str,
) -> Result<&'a str, ConfigError> {
    value
        .as_deref()
        .filter(|v| !v.trim().is_empty())
        .ok_or(ConfigError::Missing { what, flag, env })
}

fn token_setting(
    args: &ConnectArgs,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<TokenSetting, ConfigError> {
    match (&args.token_file, &args.token) {
        (Some(_), Some(_)) => Err(ConfigError::TwoTokens),
        (Some(path), None) => Ok(TokenSetting::File(path.clone())),
        (None, Some(value)) => {
            tracing::warn!(
                "--token puts the token in the process list, visible to other users of this \
                 machine; prefer --token-file or {TOKEN_ENV}"
            );
            Ok(TokenSetting::Value {
                token: Secret::new(value.clone()),
                origin: "--token".into(),
            })
        }
        (None, None) => Ok(match env(TOKEN_ENV).filter(|v| !v.is_empty()) {
            Some(value) => TokenSetting::Value {
                token: Secret::new(value),
                origin: TOKEN_ENV.into(),
            },
            None => TokenSetting::Saved,
        }),
    }
}

/// The `--backend-env KEY=VALUE` pairs (connect's and dev's), each refused with the flag named
/// when it has no `=` or no key.
pub fn backend_env(pairs: &[String]) -> Result<Vec<(OsString, OsString)>, ConfigError> {
    pairs
        .iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
            _ => Err(ConfigError::BackendEnv(p.clone())),
        })
        .collect()
}

/// The environment variable behind `flag`: `--poll-interval` → `MOLECULE_POLL_INTERVAL`.
pub(crate) fn env_of(flag: &str) -> String {
    let name = flag
        .trim_start_matches('-')
        .to_ascii_uppercase()
        .replace('-', "_");
    format!("MOLECULE_{name}")
}

/// Reads one optional setting with `parse`, naming `flag` and its variable when it is
/// malformed.
pub(crate) fn parse_with<T>(
    value: &Option<String>,
    flag: &'static str,
    expected: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<Option<T>, ConfigError> {
    match value {
        None => Ok(None),
        Some(v) => parse(v).map(Some).ok_or_else(|| ConfigError::Invalid {
            flag,
            env: env_of(flag),
            value: v.clone(),
            expected: expected.to_owned(),
        }),
    }
}

/// A duration setting.
pub(crate) fn duration(
    value: &Option<String>,
    flag: &'static str,
) -> Result<Option<Duration>, ConfigError> {
    parse_with(
        value,
        flag,
        &format!("a duration such as {EXAMPLES}"),
        |v| parse_duration(v).ok(),
    )
}

/// A whole-number setting between `min` and `max`.
pub(crate) fn number(
    value: &Option<String>,
    flag: &'static str,
    min: u64,
    max: u64,
) -> Result<Option<u64>, ConfigError> {
    let expected = format!("a whole number from {min} to {max}");
    parse_with(value, flag, &expected, |v| {
        v.trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
    })
}

/// Refuses a heartbeat interval the platform would call stale.
pub(crate) fn check_heartbeat(value: &Option<String>, every: Duration) -> Result<(), ConfigError> {
    if every >= HEARTBEAT_LIMIT || every.is_zero() {
        return Err(ConfigError::Invalid {
            flag: "--heartbeat-interval",
            env: env_of("--heartbeat-interval"),
            value: value.clone().unwrap_or_default(),
            expected: "a duration under 90s (the platform marks a workspace stale after 90s \
                       without a heartbeat)"
                .into(),
        });
    }
    Ok(())
}

/// The largest batch, for messages.
pub(crate) const BATCH_MAX: u64 = MAX_BATCH as u64;
