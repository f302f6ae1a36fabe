//! `deploy/k8s/`: the manifests pass `kubernetes-validate --strict` (the PyPI package `.ci/run`
//! installs; skipped with a message when it is absent outside CI), the StatefulSet's shard
//! count matches its replicas and its probes are the metrics endpoint's, and the ConfigMap's
//! run file passes the real `molecule run --check` once its token paths point at real files.

#![allow(clippy::unwrap_used, reason = "a test fails where it unwraps")]

use std::path::PathBuf;
use std::process::Command;

use super::check_support::interpreter;
use super::connect_host::{MOLECULE, write_private};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/k8s")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap()
}

#[test]
fn the_manifests_pass_strict_validation() {
    // Absent: skipped with a message, or a failure under CI (`.ci/run` installs it).
    let Some(tool) = interpreter("kubernetes-validate") else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let out = Command::new(tool)
        .arg("--strict")
        .args(&files)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert_eq!(
        said.matches(" passed for resource ").count(),
        files.len(),
        "{said}"
    );
}

#[test]
fn each_pod_serves_its_shard_with_probes_on_the_metrics_endpoint() {
    let set = read("statefulset.yaml");
    let replicas = set
        .lines()
        .find_map(|l| l.trim().strip_prefix("replicas: "))
        .unwrap();
    assert!(
        set.contains(&format!("value: \"$(POD_INDEX)/{replicas}\"")),
        "MOLECULE_SHARD must count the replicas"
    );
    for want in [
        "- run",
        "- /etc/molecule/molecule.toml",
        "path: /healthz",
        "path: /readyz",
    ] {
        assert!(set.contains(want), "{want}");
    }
    assert!(set.contains("apps.kubernetes.io/pod-index"));
    assert!(set.contains("volumeClaimTemplates") && set.contains("requests:"));
}

#[test]
fn the_configmaps_file_passes_check() {
    let map = read("configmap.yaml");
    let text: String = map
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("molecule.toml: |"))
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("    ").unwrap_or(l)))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let tokens = tmp.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    for name in ["agent-a", "agent-b"] {
        write_private(&tokens.join(name), "a-token\n");
    }
    let local = text
        .replace("/etc/molecule/tokens", &tokens.display().to_string())
        .replace(
            "\"molecule echo-backend\"",
            &format!("\"{MOLECULE} echo-backend\""),
        );
    let file = tmp.path().join("molecule.toml");
    std::fs::write(&file, local).unwrap();
    let state = tmp.path().join("state").display().to_string();
    let out = Command::new(MOLECULE)
        .args(["run", "--config", &file.display().to_string(), "--check"])
        .env("XDG_STATE_HOME", &state)
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("ok, 2 workspaces"), "{said}");
}
