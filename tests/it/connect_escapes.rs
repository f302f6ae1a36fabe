//! What a backend running as the host's user may try against `molecule connect`: leaving
//! descendants behind with a double fork (`setsid`, the middle process exits), and reading the
//! host's token from `/proc/<host pid>/environ`.

use std::os::unix::process::CommandExt;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::connect_host::{Host, Site, TEST_BACKEND, gone};
use super::connect_platform::{Platform, TOKEN};
use super::support::wait::{file, until};

/// The user a test's host runs as when the tests run as root, who may read any process's
/// `/proc` files: a person's host and backend run as that person, never as root.
const NOBODY: u32 = 65534;

/// The arguments of a host whose test backend double-forks a survivor that writes its pid to
/// `pid_file` at every start.
fn double_forking(site: &Site, platform: &Platform, pid_file: &std::path::Path) -> Vec<String> {
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    for kv in [
        "MOLECULE_TEST_FAULT=double-fork".to_owned(),
        format!("MOLECULE_TEST_PID_FILE={}", pid_file.display()),
    ] {
        args.extend(["--backend-env".into(), kv]);
    }
    args
}

/// The survivors seen so far, killed when the test ends so that a failure leaves none behind.
#[derive(Default)]
struct Survivors(Vec<u32>);

impl Survivors {
    /// Takes the pid the latest survivor wrote, removing the file for the next one.
    async fn next(&mut self, pid_file: &std::path::Path) -> u32 {
        let pid = file(pid_file).await.trim().parse().expect("pid");
        std::fs::remove_file(pid_file).expect("remove the pid file");
        self.0.push(pid);
        pid
    }
}

impl Drop for Survivors {
    fn drop(&mut self) {
        for pid in self.0.iter().filter(|p| !gone(**p)) {
            let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
        }
    }
}

#[tokio::test]
async fn a_double_forked_descendant_dies_with_its_backend_and_with_the_host() {
    let platform = Platform::start().await;
    let site = Site::new();
    let pid_file = site.dir.path().join("survivor.pid");
    let host = Host::start(&double_forking(&site, &platform, &pid_file));
    host.wait_log("serving", |_| true).await;
    let mut survivors = Survivors::default();
    let first = survivors.next(&pid_file).await;
    assert!(!gone(first), "the survivor runs");

    // A crash restarts the backend: the first survivor goes with the backend it came from.
    let ready = host.wait_log("backend ready", |_| true).await;
    let backend = ready["pid"].as_i64().expect("pid") as i32;
    kill(Pid::from_raw(backend), Signal::SIGKILL).expect("kill the backend");
    until("the survivor of the crashed backend to be gone", || {
        gone(first)
    })
    .await;
    let second = survivors.next(&pid_file).await;
    assert!(!gone(second), "the restarted backend's survivor runs");

    host.stop().await;
    assert!(
        gone(second),
        "survivor {second} outlived the host's SIGTERM"
    );
}

/// The arguments of a host taking its token from `MOLECULE_WORKSPACE_TOKEN`.
fn token_from_env(site: &Site, platform: &Platform) -> Vec<String> {
    let mut args = site.args(&platform.url(), TEST_BACKEND);
    let i = args.iter().position(|a| a == "--token-file").expect("flag");
    args.drain(i..i + 2);
    args
}

/// Gives `dir` and everything in it to `uid`.
fn give(dir: &std::path::Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).expect("chown");
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        std::os::unix::fs::chown(entry.path(), Some(uid), Some(uid)).expect("chown");
    }
}

#[tokio::test]
async fn a_backend_of_the_same_user_cannot_read_the_token_from_the_hosts_environ() {
    let platform = Platform::start().await;
    let site = Site::new();
    let mut cmd = Host::command(
        &token_from_env(&site, &platform),
        &[("MOLECULE_WORKSPACE_TOKEN", TOKEN)],
    );
    if nix::unistd::geteuid().is_root() {
        give(site.dir.path(), NOBODY);
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let host = Host::spawn(cmd);
    platform.canvas_says("parent-environ");
    let reply = platform.wait_replies(1).await.remove(0);
    assert!(
        !reply.contains(TOKEN),
        "the backend read the token: {reply}"
    );
    assert_eq!(
        reply, "unreadable: PermissionDenied",
        "the host is not dumpable"
    );
    host.stop().await;
}

#[tokio::test]
async fn the_tokens_bytes_are_wiped_from_the_environment_the_host_was_started_with() {
    let platform = Platform::start().await;
    let site = Site::new();
    let host = Host::start_with(
        &token_from_env(&site, &platform),
        &[("MOLECULE_WORKSPACE_TOKEN", TOKEN)],
    );
    host.wait_log("serving", |_| true).await;
    let environ = std::fs::read(format!("/proc/{}/environ", host.pid()));
    if nix::unistd::geteuid().is_root() {
        // Root reads any process's environ, dumpable or not: what it finds is wiped.
        let environ = String::from_utf8_lossy(&environ.expect("root reads it")).into_owned();
        assert!(
            environ.contains("RUST_LOG="),
            "the host's environ: {environ}"
        );
        assert!(
            !environ.contains(TOKEN),
            "the token is in the host's environ"
        );
    } else {
        let err = environ.expect_err("a non-dumpable process's environ is not readable");
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    }
    host.stop().await;
}
