//! `molecule connect` as a container's init: PID 1 of a new PID namespace (`unshare --pid
//! --fork --mount-proc`, which needs root or user namespaces), against the emulator, with a
//! backend that leaves orphans outside its lineage and an outsider (`nsenter`, as `docker
//! exec` would) that leaves more. Every orphan is reaped, and the backend's own exit status
//! still reaches the supervisor.
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use molecule_emulator::{
    DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::connect_host::{Host, Site, TEST_BACKEND, write_private};
use super::support::wait::until;
use molecule_host::backend::children;

/// Makes `$2` orphans that each touch `$1/<their pid>` and exit: a subshell starts each in
/// the background, in a session of its own, and exits at once, so the kernel hands it to the
/// namespace's init (the host, also the backend's subreaper) before any lineage scan sees it.
const ORPHANS: &str = r#"#!/bin/sh
i=0
while [ "$i" -lt "$2" ]; do
  ( setsid sh -c ': > "$1/$$"' sh "$1" & )
  i=$((i + 1))
done
"#;

/// Whether this machine can make PID namespaces; fails the test under CI when it cannot.
fn can_unshare() -> bool {
    let ok = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to run `unshare --pid --fork --mount-proc` (root, util-linux)"
        );
        eprintln!("skipped: `unshare --pid --fork --mount-proc` is not permitted here");
    }
    ok
}

/// The pids (inside the namespace) the orphans wrote down.
fn marked(dir: &Path) -> HashSet<u32> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// A process's pid inside its namespace (the last `NSpid` entry) and its state letter.
fn inner(pid: u32) -> Option<(u32, char)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::trim)
    };
    let ns_pid = field("NSpid:")?.split_whitespace().last()?.parse().ok()?;
    let state = field("State:")?.chars().next()?;
    Some((ns_pid, state))
}

/// The children of `init` (outside pids) that are orphans from `marks`, and its zombies.
fn leftovers(init: u32, marks: &HashSet<u32>) -> (Vec<u32>, Vec<u32>) {
    let kids: Vec<(u32, u32, char)> = children(init)
        .into_iter()
        .filter_map(|c| inner(c).map(|(ns, state)| (c, ns, state)))
        .collect();
    let orphans = kids
        .iter()
        .filter(|(_, ns, _)| marks.contains(ns))
        .map(|k| k.0)
        .collect();
    let zombies = kids.iter().filter(|k| k.2 == 'Z').map(|k| k.0).collect();
    (orphans, zombies)
}

/// Waits for at least `n` orphans to have run, then for all of them to be gone.
async fn all_reaped(init: u32, dir: &Path, n: usize) {
    until(&format!("{n} orphans to run"), || marked(dir).len() >= n).await;
    let marks = marked(dir);
    let mut left = (Vec::new(), Vec::new());
    until("the orphans to be reaped", || {
        left = leftovers(init, &marks);
        left.0.is_empty()
    })
    .await;
    assert!(left.1.is_empty(), "zombies of PID 1: {:?}", left.1);
}

fn executable(path: &Path, text: &str) {
    write_private(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[tokio::test]
async fn as_pid_1_connect_reaps_orphans_and_keeps_its_backends_exit_status() {
    if !can_unshare() {
        return;
    }
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let ws = emu
        .create_workspace(WorkspaceSpec {
            delivery_mode: Some(DeliveryMode::Poll),
            ..WorkspaceSpec::default()
        })
        .expect("workspace");
    let site = Site::new();
    let marks = site.dir.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let orphans = site.dir.path().join("orphans.sh");
    executable(&orphans, ORPHANS);
    let backend = site.dir.path().join("backend.sh");
    let script = format!(
        "#!/bin/sh\n'{}' '{}' 3\nexec '{TEST_BACKEND}'\n",
        orphans.display(),
        marks.display()
    );
    executable(&backend, &script);

    write_private(&site.token_file(), &ws.token);
    let mut args = site.args(emu.base_url(), &backend.display().to_string());
    args[3] = ws.id.to_string();
    args.extend(["--max-attempts".into(), "1".into()]);
    let wrapper = ["unshare", "--pid", "--fork", "--mount-proc", "--"];
    let mut host = Host::start_under(&wrapper, &args, &[]);
    host.wait_log("running as PID 1", |_| true).await;
    host.wait_log("serving", |_| true).await;
    let mut init = Vec::new();
    until("molecule under unshare", || {
        init = children(host.pid());
        !init.is_empty()
    })
    .await;
    let init = init[0];

    // The backend's orphans, then an outsider's, as `docker exec` would leave them.
    all_reaped(init, &marks, 3).await;
    let outsider = Command::new("nsenter")
        .args(["--target", &init.to_string(), "--pid", "--"])
        .arg(&orphans)
        .arg(&marks)
        .arg("2")
        .status()
        .expect("nsenter");
    assert!(outsider.success());
    all_reaped(init, &marks, 5).await;

    // The supervisor still reads its backend's exit status: a crash is reported with it.
    let say = |text: &str| DevMessage {
        text: text.into(),
        ..DevMessage::default()
    };
    emu.send(ws.id, SendAs::Canvas, say("crash"))
        .await
        .expect("sent");
    host.wait_log("backend crash", |e| {
        e["message"]
            .as_str()
            .is_some_and(|m| m.contains("exit status: 42"))
    })
    .await;
    emu.send(ws.id, SendAs::Canvas, say("hello"))
        .await
        .expect("sent");
    host.wait_log("row handled", |e| e["outcome"] == "replied")
        .await;
    all_reaped(init, &marks, 8).await;

    kill(Pid::from_raw(init as i32), Signal::SIGTERM).unwrap();
    let code = host.wait_exit().await;
    assert_eq!(code, Some(0), "{}", host.lines().join("\n"));
}
