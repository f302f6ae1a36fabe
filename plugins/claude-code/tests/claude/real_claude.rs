//! One turn against the real `claude` CLI, when asked for: it needs the CLI installed and
//! logged in, and costs a little. `MOLECULE_TEST_REAL_CLAUDE=1 cargo test -p molecule-claude-code
//! real_claude -- --nocapture`.

use crate::support::{Backend, from_agent, reply_text};

#[test]
fn a_real_claude_answers_and_resumes() {
    if std::env::var_os("MOLECULE_TEST_REAL_CLAUDE").is_none_or(|v| v != "1") {
        eprintln!("SKIPPED: set MOLECULE_TEST_REAL_CLAUDE=1 to run a real (paid) Claude turn");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-claude-code"));
    cmd.arg("--cwd")
        .arg(dir.path())
        .args(["--model", "haiku", "--max-turns", "2"])
        .env("MOLECULE_BACKEND", "1")
        .env("MOLECULE_STATE_DIR", dir.path().join("state"));
    let mut b = Backend::spawn(&mut cmd);
    b.initialize();
    let peer = "aaaaaaaa-0000-4000-8000-000000000001";
    let first = b.a2a(from_agent(
        "Remember the word 'ultramarine'. Reply with just OK.",
        peer,
    ));
    eprintln!("first: {}", reply_text(&first));
    let second = b.a2a(from_agent(
        "Which word did I ask you to remember? One word.",
        peer,
    ));
    assert!(
        reply_text(&second).to_lowercase().contains("ultramarine"),
        "{second}"
    );
}
