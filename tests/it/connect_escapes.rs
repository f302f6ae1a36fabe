//! What a backend running as the host's user may try against `molecule connect`: leaving
//! descendants behind with a double fork (`setsid`, the middle process exits).

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::connect_host::{Host, Site, TEST_BACKEND, gone};
use super::connect_platform::Platform;
use super::support::wait::{file, until};

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
