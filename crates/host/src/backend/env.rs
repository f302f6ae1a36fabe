//! The environment a backend is started with: the host's own minus its secrets, the documented
//! `MOLECULE_*` variables, unbuffered Python, a UTF-8 locale and the caller's extra variables.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// The variable holding the platform token; it is never inherited by a backend.
pub const TOKEN_VAR: &str = "MOLECULE_WORKSPACE_TOKEN";

/// What the caller decides about a backend's environment.
#[derive(Clone, Debug, Default)]
pub struct EnvConfig {
    /// The environment to inherit from; `None` means the host process's own.
    pub base: Option<Vec<(OsString, OsString)>>,
    /// Variables added last (`--backend-env`); they may set anything, the token included when
    /// the user asks for it explicitly.
    pub extra: Vec<(OsString, OsString)>,
    /// Names never inherited, besides [`TOKEN_VAR`] and the host's other `MOLECULE_*` variables.
    pub secrets: Vec<OsString>,
    /// The value of `MOLECULE_HOST_EXE`; `None` means the running executable.
    pub host_exe: Option<PathBuf>,
    /// `MOLECULE_HOST_SOCKET`: the Unix socket serving the host methods, when there is one.
    pub host_socket: Option<PathBuf>,
}

/// The values of the documented variables for one backend.
#[derive(Clone, Debug)]
pub struct HostVars {
    /// `MOLECULE_WORKSPACE_ID`.
    pub workspace_id: String,
    /// `MOLECULE_STATE_DIR`.
    pub state_dir: PathBuf,
}

/// The full environment for a backend, in a stable order.
pub fn backend_env(config: &EnvConfig, vars: &HostVars) -> Vec<(OsString, OsString)> {
    let base = config
        .base
        .clone()
        .unwrap_or_else(|| std::env::vars_os().collect());
    // The `MOLECULE_` namespace belongs to the host: whatever the host was started with (its
    // token, its platform settings) is not the backend's business. `--backend-env` passes one
    // on deliberately.
    let (host_vars, mut env): (Vec<_>, Vec<_>) = base
        .into_iter()
        .filter(|(k, _)| !config.secrets.iter().any(|s| s == k))
        .partition(|(k, _)| k.as_bytes().starts_with(b"MOLECULE_"));
    say_once_what_stays_with_the_host(&host_vars, &config.extra);
    let host_exe = config
        .host_exe
        .clone()
        .or_else(|| std::env::current_exe().ok())
        .unwrap_or_default();
    let documented: [(&str, OsString); 7] = [
        ("MOLECULE_BACKEND", "1".into()),
        (
            "MOLECULE_PROTOCOL_VERSION",
            molecule_protocol::PROTOCOL_VERSION.to_string().into(),
        ),
        ("MOLECULE_HOST_PID", std::process::id().to_string().into()),
        ("MOLECULE_HOST_EXE", host_exe.into_os_string()),
        ("MOLECULE_WORKSPACE_ID", vars.workspace_id.clone().into()),
        (
            "MOLECULE_STATE_DIR",
            vars.state_dir.clone().into_os_string(),
        ),
        ("PYTHONUNBUFFERED", "1".into()),
    ];
    for (k, v) in documented {
        set(&mut env, k.into(), v);
    }
    if let Some(socket) = &config.host_socket {
        set(
            &mut env,
            "MOLECULE_HOST_SOCKET".into(),
            socket.clone().into_os_string(),
        );
    }
    if !locale_is_utf8(&env) {
        set(&mut env, "LC_ALL".into(), "C.UTF-8".into());
        set(&mut env, "LANG".into(), "C.UTF-8".into());
    }
    for (k, v) in &config.extra {
        set(&mut env, k.clone(), v.clone());
    }
    env
}

/// Names, once per process, the inherited `MOLECULE_*` variables the backend does not get (and
/// that no `--backend-env` gives it), so that one set for the backend is not lost silently.
fn say_once_what_stays_with_the_host(
    host_vars: &[(OsString, OsString)],
    extra: &[(OsString, OsString)],
) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    let names: Vec<String> = host_vars
        .iter()
        .filter(|(k, _)| k != TOKEN_VAR && !extra.iter().any(|(e, _)| e == k))
        .map(|(k, _)| k.to_string_lossy().into_owned())
        .collect();
    if !names.is_empty() {
        ONCE.call_once(|| {
            tracing::info!(
                "not passed to the backend (MOLECULE_* variables are the host's; give one to the \
                 backend with --backend-env KEY=VALUE): {}",
                names.join(", ")
            );
        });
    }
}

fn set(env: &mut Vec<(OsString, OsString)>, key: OsString, value: OsString) {
    match env.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => env.push((key, value)),
    }
}

/// Whether the locale in effect for `LC_CTYPE` (`LC_ALL`, then `LC_CTYPE`, then `LANG`) is UTF-8.
fn locale_is_utf8(env: &[(OsString, OsString)]) -> bool {
    let get = |name: &str| {
        env.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_os_str())
            .filter(|v| !v.is_empty())
    };
    let effective: Option<&OsStr> = get("LC_ALL")
        .or_else(|| get("LC_CTYPE"))
        .or_else(|| get("LANG"));
    effective.is_some_and(|v| {
        let v = v.to_string_lossy().to_ascii_lowercase();
        v.contains("utf-8") || v.contains("utf8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(base: &[(&str, &str)], secrets: &[&str]) -> Vec<(String, String)> {
        let config = EnvConfig {
            base: Some(
                base.iter()
                    .map(|(k, v)| ((*k).into(), (*v).into()))
                    .collect(),
            ),
            extra: vec![("EXTRA".into(), "x".into())],
            secrets: secrets.iter().map(|s| (*s).into()).collect(),
            host_exe: Some("/bin/molecule".into()),
            host_socket: Some("/run/m/ws.sock".into()),
        };
        let vars = HostVars {
            workspace_id: "ws-1".into(),
            state_dir: "/tmp/s".into(),
        };
        backend_env(&config, &vars)
            .into_iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect()
    }

    fn get<'a>(env: &'a [(String, String)], key: &str) -> Option<&'a str> {
        env.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    #[test]
    fn drops_secrets_and_sets_the_documented_variables() {
        let env = run(
            &[
                (TOKEN_VAR, "t0k"),
                ("MOLECULE_PLATFORM_URL", "u"),
                ("API_KEY", "k"),
                ("KEEP", "1"),
                ("LANG", "en_GB.UTF-8"),
            ],
            &["API_KEY"],
        );
        assert_eq!(get(&env, TOKEN_VAR), None);
        assert_eq!(get(&env, "MOLECULE_PLATFORM_URL"), None);
        assert_eq!(get(&env, "API_KEY"), None);
        assert_eq!(get(&env, "KEEP"), Some("1"));
        assert_eq!(get(&env, "MOLECULE_WORKSPACE_ID"), Some("ws-1"));
        assert_eq!(get(&env, "MOLECULE_HOST_EXE"), Some("/bin/molecule"));
        assert_eq!(get(&env, "LANG"), Some("en_GB.UTF-8"));
        assert_eq!(get(&env, "LC_ALL"), None);
        assert_eq!(get(&env, "EXTRA"), Some("x"));
        assert_eq!(get(&env, "MOLECULE_HOST_SOCKET"), Some("/run/m/ws.sock"));
    }

    #[test]
    fn forces_a_utf8_locale_when_the_effective_one_is_not() {
        let env = run(&[("LANG", "en_GB.UTF-8"), ("LC_ALL", "C")], &[]);
        assert_eq!(get(&env, "LC_ALL"), Some("C.UTF-8"));
        let env = run(&[], &[]);
        assert_eq!(get(&env, "LANG"), Some("C.UTF-8"));
    }
}
