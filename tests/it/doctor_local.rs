//! `molecule doctor`'s checks on this machine, each failure provoked for real: a lock held by a
//! running connect, a state directory that cannot be one, a backend that does not start, and
//! the claude-code backend asked about the `claude` CLI.

use std::path::{Path, PathBuf};

use super::connect_host::{Host, echo};
use super::doctor::{Setup, doctor, line, lines, output};
use super::emulator_support::env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_held_by_a_running_connect_is_a_warning() {
    let env = env().await;
    let setup = Setup::new(&env.main.token);
    let args: Vec<String> = [
        "--log-format",
        "json",
        "connect",
        &env.main.id.to_string(),
        "--api-url",
        env.emu.base_url(),
        "--backend-cmd",
        &echo(),
        "--token-file",
        &setup.dir.path().join("token").display().to_string(),
        "--state-dir",
        &setup.state().display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let host = Host::start(&args);
    host.wait_log("serving", |_| true).await;
    let o = doctor(&env, &setup, env.emu.base_url(), &[]).await;
    assert_eq!(o.status.code(), Some(0), "{:#?}", lines(&o));
    assert_eq!(
        line(&o, "lock"),
        format!(
            "warn  lock: a molecule connect (pid {}) serves this workspace from {}: a second one \
             would exit 7; stop it first, or give another --state-dir",
            host.pid(),
            setup.state().display()
        )
    );
    host.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_dir_that_cannot_be_one_fails() {
    let env = env().await;
    let setup = Setup::new(&env.main.token);
    std::fs::write(setup.state(), "a file").expect("write");
    let o = doctor(&env, &setup, env.emu.base_url(), &[]).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    assert_eq!(
        line(&o, "state"),
        format!(
            "fail  state: cannot use the state directory {}: File exists (os error 17) \
             (--state-dir / MOLECULE_STATE_DIR)",
            setup.state().display()
        )
    );
    assert_eq!(
        line(&o, "lock"),
        "skip  lock: the state directory cannot be used"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_that_does_not_start_fails_with_the_checks_words() {
    let env = env().await;
    let setup = Setup::new(&env.main.token);
    let mut cmd = setup.command(&env.main.id.to_string(), env.emu.base_url(), &[]);
    cmd.args(["--backend-cmd", "sh -c 'exit 3'"]);
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    let backend = line(&o, "backend");
    assert!(
        backend.starts_with("fail  backend: sh -c 'exit 3' fails handshake: "),
        "{backend}"
    );
    assert!(
        backend.ends_with("(molecule backend-check -- sh -c 'exit 3' says more)"),
        "{backend}"
    );
    assert!(
        line(&o, "token").starts_with("ok    token:"),
        "the rest still ran"
    );
}

/// The claude-code backend is asked with `--check`; a stand-in named like it answers the way
/// it does, so that its lines are taken over as they come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_claude_code_backend_is_asked_about_claude() {
    let env = env().await;
    let setup = Setup::new(&env.main.token);
    let stand_in = claude_code_stand_in(setup.dir.path());
    let mut cmd = setup.command(&env.main.id.to_string(), env.emu.base_url(), &[]);
    cmd.args(["--backend-cmd", &stand_in.display().to_string()]);
    let o = output(cmd).await;
    assert_eq!(o.status.code(), Some(9), "{:#?}", lines(&o));
    assert_eq!(line(&o, "claude"), "ok    claude: /usr/bin/claude");
    assert_eq!(
        line(&o, "claude login"),
        "fail  claude login: claude is not logged in: log in"
    );
}

/// A `molecule-claude-code` that answers `--check` with two lines and is otherwise the echo.
fn claude_code_stand_in(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("molecule-claude-code");
    let script = format!(
        "#!/bin/sh\nif [ \"$1\" = --check ]; then\n\
         echo '{{\"check\":\"claude.found\",\"status\":\"ok\",\"message\":\"/usr/bin/claude\"}}'\n\
         echo '{{\"check\":\"claude.login\",\"status\":\"fail\",\"message\":\"claude is not logged in: log in\"}}'\n\
         exit 1\nfi\nexec {}\n",
        echo()
    );
    std::fs::write(&path, script).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}
