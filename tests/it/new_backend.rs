//! `molecule new backend` through the real binary: each language's project, as generated,
//! passes `molecule backend-check` (the Python and Node ones with the SDKs of this repository
//! on PYTHONPATH and NODE_PATH; the Rust one built offline against `plugins/sdk/rust`, its own
//! test passing too), and what cannot be created is refused with exit code 2, writing nothing.
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use super::check_support::{Run, check_json, interpreter, repo_file};
use super::connect_host::MOLECULE;

/// Runs `molecule new backend <args>` in `dir`.
fn new_backend(dir: &Path, args: &[&str]) -> Output {
    Command::new(MOLECULE)
        .args(["new", "backend"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("molecule runs")
}

/// Creates the project and returns its directory.
fn generate(dir: &Path, args: &[&str]) -> PathBuf {
    let out = new_backend(dir, args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("molecule backend-check --"), "{stdout}");
    dir.join(args[0])
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every mandatory check passed, for the backend named `name`.
fn assert_passes(run: &Run, name: &str) {
    assert_eq!(run.code, 0, "{:#}\n{}", run.report, run.stderr);
    assert!(run.required_failures().is_empty(), "{:#}", run.report);
    assert_eq!(run.report["backend"]["name"], name);
    assert_eq!(run.outcome("a2a.utf8"), "pass");
}

#[test]
fn the_python_project_passes_backend_check_as_generated() {
    let Some(python) = interpreter("python3") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &["weather-bot", "--lang", "python"]);
    let pyproject = read(project.join("pyproject.toml"));
    assert!(pyproject.contains(r#"dependencies = ["molecule-plugin>=0.1.0"]"#));
    assert!(pyproject.contains(r#"weather-bot = "weather_bot:main""#));
    let readme = read(project.join("README.md"));
    assert!(readme.contains("molecule backend-check -- .venv/bin/python weather_bot.py"));
    assert!(readme.contains("pip install <clone>/plugins/sdk/python"));
    let script = project.join("weather_bot.py").display().to_string();
    let run = check_json(&[], &[&python.display().to_string(), &script]);
    assert_passes(&run, "weather-bot");
}

#[test]
fn the_node_project_passes_backend_check_as_generated() {
    let Some(node) = interpreter("node") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &["weather-bot", "--lang", "node"]);
    let package: Value = serde_json::from_str(&read(project.join("package.json"))).unwrap();
    assert_eq!(package["name"], "weather-bot");
    assert_eq!(package["dependencies"]["molecule-plugin"], "^0.1.0");
    let readme = read(project.join("README.md"));
    assert!(readme.contains("molecule backend-check -- node index.js"));
    let script = project.join("index.js").display().to_string();
    let run = check_json(&[], &[&node.display().to_string(), &script]);
    assert_passes(&run, "weather-bot");
}

/// Runs cargo `args` in `project`, offline, into this workspace's target directory with its
/// debug settings, so that the SDK's dependencies are built once and then reused.
fn cargo(project: &Path, target: &Path, args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args(args)
        .args(["--offline", "--jobs", "1", "--quiet"])
        .args(["--config", r#"profile.dev.debug="line-tables-only""#])
        .args(["--config", r#"profile.dev.package."*".debug=false"#])
        .env("CARGO_TARGET_DIR", target)
        .current_dir(project)
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo {args:?}:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_rust_project_builds_passes_its_test_and_backend_check_as_generated() {
    let tmp = tempfile::tempdir().unwrap();
    let sdk = repo_file("plugins/sdk/rust");
    let name = "generated-rust-backend";
    let project = generate(tmp.path(), &[name, "--lang", "rust", "--sdk-path", &sdk]);
    let manifest = read(project.join("Cargo.toml"));
    assert!(
        manifest.contains(&format!("molecule-plugin = {{ path = \"{sdk}\" }}")),
        "{manifest}"
    );
    // The workspace's lock pins the versions it has already built (Cargo drops the rest).
    std::fs::copy(repo_file("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let target = Path::new(MOLECULE)
        .parent()
        .and_then(Path::parent)
        .expect("the target directory");
    cargo(&project, target, &["build"]);
    cargo(&project, target, &["test"]);
    let binary = target.join("debug").join(name).display().to_string();
    let run = check_json(&[], &[&binary]);
    assert_passes(&run, name);
}

#[test]
fn without_sdk_path_the_rust_project_asks_for_the_crates_io_version() {
    let tmp = tempfile::tempdir().unwrap();
    let project = generate(tmp.path(), &["agent", "--lang", "rust"]);
    let manifest = read(project.join("Cargo.toml"));
    assert!(
        manifest.contains("\nmolecule-plugin = \"0.1.0\"\n"),
        "{manifest}"
    );
    assert!(
        manifest.contains("--sdk-path <clone>/plugins/sdk/rust"),
        "{manifest}"
    );
    assert!(read(project.join("src/main.rs")).contains("TestHost::start(Agent)"));
    assert!(read(project.join("README.md")).contains("cargo test"));
}

#[test]
fn what_cannot_be_created_is_refused_and_nothing_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let taken = tmp.path().join("taken");
    std::fs::create_dir(&taken).unwrap();
    std::fs::write(taken.join("keep.txt"), "mine").unwrap();
    let cases: [(&[&str], &str); 6] = [
        (&["taken", "--lang", "node"], "taken already exists"),
        (&["Weather_Bot", "--lang", "node"], "use lowercase letters"),
        (&["json", "--lang", "python"], "standard-library module"),
        (
            &["test", "--lang", "rust"],
            "Rust keyword or built-in crate",
        ),
        (
            &["x", "--lang", "node", "--sdk-path", "."],
            "--sdk-path is for --lang rust",
        ),
        (
            &["x", "--lang", "rust", "--sdk-path", "."],
            "it has no Cargo.toml",
        ),
    ];
    for (args, says) in cases {
        let out = new_backend(tmp.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let entries: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert_eq!(entries.len(), 1, "only the existing directory");
    let kept: Vec<_> = std::fs::read_dir(&taken).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1);
    assert_eq!(read(taken.join("keep.txt")), "mine");
}
