//! Starting a backend: the handshake, the environment it gets, and a clear start error that
//! quotes what the backend did for each way the start fails.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use molecule_host::backend::{BackendCommand, HostCall, StartError, TOKEN_VAR};
use molecule_host::exit::HasExitCode;
use serde_json::{Value, json};

use crate::support::backend::{Setup, reply_data, reply_text};

#[tokio::test]
async fn an_exit_before_initialize_quotes_the_status_and_stderr() {
    let err = Setup::new().fault("exit-before-init").start_err().await;
    let text = err.to_string();
    assert!(matches!(err, StartError::Exited { .. }), "{err:?}");
    assert!(text.contains("exit status: 3"), "{text}");
    assert!(text.contains("before answering initialize"), "{text}");
    assert!(
        text.contains("cannot start: configuration missing"),
        "{text}"
    );
    assert_eq!(err.exit_code(), molecule_host::exit::BACKEND_START);
}

#[tokio::test]
async fn no_answer_to_initialize_is_a_startup_timeout() {
    let err = Setup::new()
        .fault("no-init")
        .with(|c| c.timeouts.startup = Duration::from_millis(300))
        .start_err()
        .await;
    assert!(
        matches!(err, StartError::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("did not answer initialize within 300ms"),
        "{err}"
    );
}

#[tokio::test]
async fn junk_instead_of_a_handshake_is_quoted() {
    let err = Setup::new()
        .fault("junk-handshake")
        .with(|c| c.timeouts.startup = Duration::from_millis(300))
        .start_err()
        .await;
    let text = err.to_string();
    assert!(
        text.contains(
            "non-protocol output to stdout: \"Welcome to my-agent v1.0! Type 'help' for commands.\""
        ),
        "{text}"
    );
    assert!(text.contains("send logs to stderr"), "{text}");
}

#[tokio::test]
async fn a_wrong_protocol_version_says_which_side_to_upgrade() {
    let err = Setup::new().fault("wrong-version").start_err().await;
    assert!(matches!(err, StartError::Version(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("test-backend 0.0.1 speaks protocol 2"),
        "{text}"
    );
    assert!(text.contains("upgrade molecule"), "{text}");
}

#[tokio::test]
async fn an_error_answer_to_initialize_is_quoted() {
    let err = Setup::new().fault("init-error").start_err().await;
    match &err {
        StartError::Rejected { error, .. } => assert_eq!(error.code, -32002),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .contains("cannot initialize (on purpose) (code -32002)"),
        "{err}"
    );
}

#[tokio::test]
async fn a_program_that_vanished_cannot_be_spawned() {
    let dir = tempfile::tempdir().unwrap();
    let program = dir.path().join("agent");
    std::fs::write(&program, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    let command = BackendCommand::from_argv(vec![program.clone().into()]).unwrap();
    std::fs::remove_file(&program).unwrap();
    let err = Setup::command(command).start_err().await;
    assert!(matches!(err, StartError::Spawn { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&program.display().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn the_handshake_offers_limits_and_host_methods() {
    let run = Setup::new()
        .with(|c| {
            c.max_message_bytes = 123_456;
            c.handlers
                .register("peers/list", |_call: HostCall| async { Ok(json!([])) });
        })
        .start()
        .await;
    let info = run.sup.backend_info();
    assert_eq!(info.backend.name, "test-backend");
    assert_eq!(
        info.capabilities.concurrency(),
        1,
        "maxConcurrency absent means 1"
    );
    let init = reply_data(&run.ask("init").await.unwrap());
    assert_eq!(init["protocolVersion"], 1);
    assert_eq!(init["host"]["name"], "molecule");
    assert_eq!(init["host"]["pid"], std::process::id());
    assert_eq!(init["workspace"]["id"], "ws-test");
    assert_eq!(
        init["workspace"].get("name"),
        None,
        "SPEC §6.1: no name at start-up"
    );
    assert_eq!(init["limits"]["maxMessageBytes"], 123_456);
    assert_eq!(init["limits"]["requestTimeoutMs"], 600_000);
    assert_eq!(init["limits"]["idleTimeoutMs"], 120_000);
    assert_eq!(init["limits"]["cancelGraceMs"], 10_000);
    assert_eq!(
        init["capabilities"],
        json!({"cancel": true, "progress": true, "hostMethods": ["peers/list"]})
    );
    assert_eq!(reply_text(&run.ask("hello").await.unwrap()), "echo: hello");
}

#[tokio::test]
async fn the_backend_environment_has_exactly_the_documented_variables() {
    let base = [
        (TOKEN_VAR, "secret-token"),
        ("MOLECULE_PLATFORM_URL", "https://platform.example"),
        ("OPENAI_API_KEY", "sk-listed-as-secret"),
        ("KEEP_ME", "1"),
        ("PATH", "/usr/bin:/bin"),
        ("LANG", "C"),
    ];
    let setup = Setup::new().with(|c| {
        c.env.base = Some(
            base.iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
        );
        c.env.secrets = vec!["OPENAI_API_KEY".into()];
    });
    let state_dir = setup.config.state_dir.clone();
    let run = setup.start().await;
    let env = reply_data(&run.ask("env").await.unwrap());
    let env: BTreeMap<String, String> = serde_json::from_value::<BTreeMap<String, Value>>(env)
        .unwrap()
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let molecule: BTreeMap<&str, &str> = env
        .iter()
        .filter(|(k, _)| k.starts_with("MOLECULE_"))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let host_pid = std::process::id().to_string();
    let host_exe = std::env::current_exe().unwrap().display().to_string();
    let state = state_dir.display().to_string();
    let want = BTreeMap::from([
        ("MOLECULE_BACKEND", "1"),
        ("MOLECULE_HOST_EXE", host_exe.as_str()),
        ("MOLECULE_HOST_PID", host_pid.as_str()),
        ("MOLECULE_PROTOCOL_VERSION", "1"),
        ("MOLECULE_STATE_DIR", state.as_str()),
        ("MOLECULE_WORKSPACE_ID", "ws-test"),
    ]);
    assert_eq!(molecule, want);
    assert!(
        !env.values()
            .any(|v| v.contains("secret-token") || v.contains("sk-listed")),
        "{env:?}"
    );
    assert_eq!(env["PYTHONUNBUFFERED"], "1");
    assert_eq!(env["LC_ALL"], "C.UTF-8");
    assert_eq!(env["LANG"], "C.UTF-8");
    assert_eq!(env["KEEP_ME"], "1");
    let mode = std::fs::metadata(&state_dir).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the state directory is private");
}

#[tokio::test]
async fn every_variable_a_backend_gets_is_in_the_spec_table() {
    let run = Setup::new()
        .with(|c| c.env.host_socket = Some("/run/molecule/ws-test.sock".into()))
        .start()
        .await;
    let env = reply_data(&run.ask("env").await.unwrap());
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/protocol/SPEC.md"))
        .expect("SPEC.md");
    let names = env.as_object().unwrap().keys();
    let documented = |name: &String| spec.contains(&format!("\n| `{name}` |"));
    let missing: Vec<&String> = names
        .filter(|k| k.starts_with("MOLECULE_") || k.as_str() == "PYTHONUNBUFFERED")
        .filter(|k| !documented(k))
        .collect();
    assert!(missing.is_empty(), "not in SPEC §4.1's table: {missing:?}");
    assert_eq!(env["MOLECULE_HOST_SOCKET"], "/run/molecule/ws-test.sock");
}
