//! The state directory against links planted by another user: a directory someone else owns
//! (or could replace) is refused before anything in it is opened, and the host's own files are
//! never opened through a link (`lock`, `backend`, `state.json.tmp`).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use super::connect_host::{Host, Site, echo};
use super::connect_platform::{PEER, Platform};

/// Another user (the tests run as root here; as anyone else, root is the other user).
const NOBODY: u32 = 65534;

/// A file and a directory of the victim's that planted links point at.
struct Victim {
    file: PathBuf,
    dir: PathBuf,
}

impl Victim {
    fn new(site: &Site) -> Victim {
        let v = Victim {
            file: site.dir.path().join("victim.txt"),
            dir: site.dir.path().join("victim-dir"),
        };
        std::fs::write(&v.file, "the victim's file\n").expect("write");
        std::fs::set_permissions(&v.file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        std::fs::create_dir(&v.dir).expect("mkdir");
        std::fs::set_permissions(&v.dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        v
    }

    /// Plants the three links of the issue in `dir`.
    fn plant(&self, dir: &Path) {
        symlink(&self.file, dir.join("lock")).expect("symlink");
        symlink(&self.dir, dir.join("backend")).expect("symlink");
        symlink(&self.file, dir.join("state.json.tmp")).expect("symlink");
    }

    fn assert_untouched(&self) {
        let mode = |p: &Path| std::fs::metadata(p).expect("stat").permissions().mode() & 0o777;
        assert_eq!(
            std::fs::read_to_string(&self.file).expect("read"),
            "the victim's file\n"
        );
        assert_eq!(mode(&self.file), 0o644, "the victim's file was chmodded");
        assert_eq!(
            mode(&self.dir),
            0o755,
            "the victim's directory was chmodded"
        );
    }
}

/// `args` with `--state-dir` replaced by `dir`.
fn with_state_dir(mut args: Vec<String>, dir: &Path) -> Vec<String> {
    let i = args.iter().position(|a| a == "--state-dir").expect("flag");
    args[i + 1] = dir.display().to_string();
    args
}

/// Runs a host to its exit (with a deadline: a host that accepts the directory keeps running);
/// returns its exit code and stderr.
async fn run(args: &[String]) -> (Option<i32>, String) {
    let mut host = Host::start(args);
    let code = host.wait_exit().await;
    (code, host.lines().join("\n"))
}

/// Runs a host on `dir` and expects a refusal naming why.
async fn refused(site: &Site, dir: &Path, why: &str) {
    let platform = Platform::start().await;
    let args = with_state_dir(site.args(&platform.url(), &echo()), dir);
    let (code, stderr) = run(&args).await;
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains(why), "{stderr}");
    assert!(stderr.contains("--state-dir"), "{stderr}");
    assert!(
        platform.requests().await.is_empty(),
        "the platform was called"
    );
}

#[tokio::test]
async fn a_state_dir_owned_by_another_user_is_refused_and_its_links_are_not_followed() {
    let site = Site::new();
    let victim = Victim::new(&site);
    if !nix::unistd::geteuid().is_root() {
        // Only root can give a directory away; for anyone else, root's `/` is another's.
        return refused(&site, Path::new("/"), "owned by uid 0").await;
    }
    let theirs = site.dir.path().join("theirs");
    std::fs::create_dir(&theirs).expect("mkdir");
    victim.plant(&theirs);
    for entry in [&theirs, &theirs.join("lock"), &theirs.join("backend")] {
        std::os::unix::fs::lchown(entry, Some(NOBODY), Some(NOBODY)).expect("chown");
    }
    refused(&site, &theirs, &format!("owned by uid {NOBODY}")).await;
    victim.assert_untouched();
}

#[tokio::test]
async fn a_state_dir_inside_a_directory_another_user_can_change_is_refused() {
    let site = Site::new();
    let open = site.dir.path().join("open");
    std::fs::create_dir(&open).expect("mkdir");
    std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    refused(&site, &open.join("state"), "other users can write").await;
    if nix::unistd::geteuid().is_root() {
        let theirs = site.dir.path().join("theirs");
        std::fs::create_dir(&theirs).expect("mkdir");
        std::os::unix::fs::chown(&theirs, Some(NOBODY), Some(NOBODY)).expect("chown");
        refused(&site, &theirs.join("state"), "which is owned by uid").await;
    }
}

#[tokio::test]
async fn links_planted_in_the_hosts_own_state_dir_are_never_followed() {
    let platform = Platform::start().await;
    let site = Site::new();
    let victim = Victim::new(&site);
    std::fs::create_dir(site.state_dir()).expect("mkdir");
    std::fs::set_permissions(site.state_dir(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");

    // `lock` is opened without following a link: the host refuses to start.
    symlink(&victim.file, site.state_dir().join("lock")).expect("symlink");
    let (code, stderr) = run(&site.args(&platform.url(), &echo())).await;
    assert_eq!(code, Some(2), "{stderr}");
    std::fs::remove_file(site.state_dir().join("lock")).expect("rm");

    // `backend` is refused, not chmodded.
    symlink(&victim.dir, site.state_dir().join("backend")).expect("symlink");
    let (code, stderr) = run(&site.args(&platform.url(), &echo())).await;
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert_ne!(code, Some(0), "{stderr}");
    std::fs::remove_file(site.state_dir().join("backend")).expect("rm");

    // `state.json.tmp` planted while the host runs is replaced, not written through.
    let host = Host::start(&site.args(&platform.url(), &echo()));
    host.wait_log("serving", |_| true).await;
    symlink(&victim.file, site.state_dir().join("state.json.tmp")).expect("symlink");
    platform.agent_says(PEER, "hello", None);
    platform.wait_replies(1).await;
    host.stop().await;
    let saved = std::fs::symlink_metadata(site.state_file()).expect("state.json");
    assert!(
        saved.is_file(),
        "state.json is a file, not the planted link"
    );
    assert!(!site.state()["cursor"].is_null(), "the state was saved");
    victim.assert_untouched();
}
