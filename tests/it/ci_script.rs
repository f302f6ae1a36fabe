//! `.ci/run` is what CI executes on a clean clone; a syntax error in it fails CI after zero
//! seconds with nothing tested, and no other test would notice. These checks parse it with
//! bash and hold it to the README's test command.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_ci_script_parses_as_bash() {
    let out = Command::new("bash")
        .arg("-n")
        .arg(root().join(".ci/run"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        ".ci/run does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_ci_script_runs_the_readme_test_command() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let script = std::fs::read_to_string(root().join(".ci/run")).expect(".ci/run");
    let command = "cargo test --workspace";
    assert!(
        readme.contains(command),
        "README.md no longer gives `{command}`"
    );
    assert!(
        script.lines().any(|l| l.trim() == command),
        ".ci/run does not run the README's test command `{command}` on a line of its own"
    );
}
