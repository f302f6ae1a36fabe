//! `molecule run` sharing one backend process between workspaces (SPEC §17), through the real
//! binary on the emulator with the test backend advertising `maxWorkspaces`: three workspaces,
//! one process; a reload that removes one closes it in that process while the others serve;
//! a SIGKILLed process is restarted and every workspace is opened in the new one.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use molecule_host::backend::descendants;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::connect_host::{TEST_BACKEND, run_out};
use super::run_support::{Fleet, handled, logged};
use super::support::wait::until_some;

/// The test backends under the host: (pid, name) of each.
fn backends(host_pid: u32) -> Vec<i32> {
    let name: String = std::path::Path::new(TEST_BACKEND)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .chars()
        .take(15)
        .collect();
    descendants(host_pid)
        .unwrap()
        .into_iter()
        .filter(|p| p.name == name && !p.is_zombie())
        .map(|p| p.pid)
        .collect()
}

fn log_lines(f: &Fleet) -> Vec<String> {
    std::fs::read_to_string(f.dir.path().join("workspaces.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn workspaces_share_one_backend_process_across_a_reload_and_a_crash() {
    let f = Fleet::start(3).await;
    let log = f.dir.path().join("workspaces.log");
    let top = format!(
        "backend_env = {{ MOLECULE_TEST_MAX_WORKSPACES = \"16\", MOLECULE_TEST_MAX_CONCURRENCY = \"4\", MOLECULE_TEST_WORKSPACE_LOG = \"{}\" }}\n",
        log.display()
    );
    f.write(&top, &[f.entry(0, ""), f.entry(1, ""), f.entry(2, "")]);
    let host = f.run(&[]);
    for i in 0..3 {
        logged(&host, f.id(i), "serving").await;
    }
    let procs = backends(host.pid());
    assert_eq!(
        procs.len(),
        1,
        "one backend process for three workspaces: {procs:?}"
    );
    let first = procs[0];
    for i in 0..3 {
        f.say(i, "hello").await;
        handled(&host, f.id(i), 1).await;
    }
    let opened: Vec<String> = log_lines(&f)
        .iter()
        .map(|l| l.split(' ').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        opened,
        vec![format!("{first} open"); 2],
        "{:?}",
        log_lines(&f)
    );

    // A reload without workspace 1 closes it in the process; the others serve on.
    f.write(&top, &[f.entry(0, ""), f.entry(2, "")]);
    let (code, out, err) = run_out(&f.args(&["--reload"]));
    assert_eq!(code, Some(0), "{out}{err}");
    logged(&host, f.id(1), "the workspace stopped").await;
    let closed = format!("{first} close {}", f.id(1));
    assert!(
        log_lines(&f).iter().any(|l| l.starts_with(&closed)),
        "{:?}",
        log_lines(&f)
    );
    assert_eq!(backends(host.pid()), vec![first], "the process serves on");

    // SIGKILL: a new process, and both workspaces opened in it.
    kill(Pid::from_raw(first), Signal::SIGKILL).unwrap();
    let second = until_some("a new backend process", async || {
        let now = backends(host.pid());
        (now.len() == 1 && now[0] != first).then(|| now[0])
    })
    .await;
    for i in [0, 2] {
        f.say(i, "after the crash").await;
        handled(&host, f.id(i), 2).await;
    }
    assert_eq!(backends(host.pid()), vec![second]);
    // initialize named one of the two, workspace/open the other.
    let reopened: Vec<String> = log_lines(&f)
        .into_iter()
        .filter(|l| l.starts_with(&format!("{second} open ")))
        .collect();
    assert_eq!(reopened.len(), 1, "{reopened:?}");
    let other = [f.id(0), f.id(2)].map(|id| reopened[0].contains(&id.to_string()));
    assert!(other.iter().any(|b| *b), "{reopened:?}");
    host.stop().await;
    // Stopping the host stops the process with its workspaces, without a close for each.
    let closes = log_lines(&f)
        .iter()
        .filter(|l| l.contains(" close "))
        .count();
    assert_eq!(closes, 1, "only the reload's: {:?}", log_lines(&f));
}
