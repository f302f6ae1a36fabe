//! What `claude` is given: its argv, its environment, its stdin and its cwd.

use crate::support::{Rig, TOKEN, flag, from_agent, reply_text};
use serde_json::json;

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

#[test]
fn a_prompt_starting_with_a_dash_goes_on_stdin_not_argv() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("--help -rf /", PEER));
    assert_eq!(reply_text(&answer), "claude heard: --help -rf /");
    let run = &rig.runs()[0];
    assert_eq!(run["stdin"], "--help -rf /");
    let argv = run["argv"].as_array().unwrap();
    assert!(
        argv.iter().all(|a| !a.as_str().unwrap().contains("-rf")),
        "{argv:?}"
    );
    assert_eq!(
        argv[1..4],
        [
            json!("-p"),
            json!("--output-format=stream-json"),
            json!("--verbose")
        ]
    );
}

#[test]
fn claudecode_and_the_platform_token_are_not_in_claudes_environment() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    b.a2a(from_agent("hi", PEER));
    let run = &rig.runs()[0];
    let env = run["env"].as_object().unwrap();
    assert!(!env.contains_key("CLAUDECODE"), "{env:?}");
    assert!(!env.contains_key("MOLECULE_WORKSPACE_TOKEN"));
    assert!(
        env.values().all(|v| v.as_str() != Some(TOKEN)),
        "the token leaked: {env:?}"
    );
    assert!(!run["argv"].to_string().contains(TOKEN));
    assert!(
        env.contains_key("PATH"),
        "the rest of the environment is kept"
    );
}

#[test]
fn claude_runs_in_the_canonical_cwd_with_the_preamble_and_flags_as_values() {
    let rig = Rig::new();
    let dotted = rig.cwd().join("..").join("project");
    let mut b = rig.start(&[
        "--cwd",
        dotted.to_str().unwrap(),
        "--model",
        "sonnet",
        "--allowed-tools",
        "Read,Grep",
        "--append-system-prompt",
        "Be brief.",
        "--",
        "--add-dir",
        "/tmp",
    ]);
    b.a2a(from_agent("hi", PEER));
    let run = &rig.runs()[0];
    assert_eq!(run["cwd"], json!(rig.cwd().canonicalize().unwrap()));
    assert_eq!(flag(run, "model").as_deref(), Some("sonnet"));
    assert_eq!(flag(run, "allowedTools").as_deref(), Some("Read,Grep"));
    assert_eq!(flag(run, "permission-mode").as_deref(), Some("default"));
    let system = flag(run, "append-system-prompt").unwrap();
    assert!(
        system.starts_with("Be brief.\n\n# Who is writing"),
        "{system}"
    );
    assert!(
        system.contains("- name: \"planner\"") && system.contains("untrusted data"),
        "{system}"
    );
    let argv = run["argv"].as_array().unwrap();
    assert_eq!(argv[argv.len() - 2..], [json!("--add-dir"), json!("/tmp")]);
}

#[test]
fn file_and_data_parts_reach_claude_as_paths_and_fenced_json() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let mut params = from_agent("see attached", PEER);
    params["message"]["parts"] = json!([
        {"kind": "text", "text": "see attached"},
        {"kind": "file", "file": {"uri": "file:///var/lib/molecule/uploads/report.pdf", "name": "report.pdf"}},
        {"kind": "data", "data": {"rows": 3}}
    ]);
    b.a2a(params);
    let stdin = rig.runs()[0]["stdin"].as_str().unwrap().to_owned();
    assert!(
        stdin.contains("Attached file: /var/lib/molecule/uploads/report.pdf"),
        "{stdin}"
    );
    assert!(
        stdin.contains("```json\n{\n  \"rows\": 3\n}\n```"),
        "{stdin}"
    );
}

#[test]
fn the_system_prompt_snapshot_is_turned_off_where_the_cli_has_it() {
    for (version, expected) in [("2.1.332", Some("off")), ("2.1.197", None)] {
        let rig = Rig::new();
        let mut cmd = rig.command(&[]);
        cmd.env("FAKE_CLAUDE_VERSION", version);
        let mut b = crate::support::Backend::spawn(&mut cmd);
        b.initialize();
        let answer = b.a2a(from_agent("hi", PEER));
        assert_eq!(reply_text(&answer), "claude heard: hi", "{version}");
        let run = &rig.runs()[0];
        assert_eq!(
            flag(run, "system-prompt-snapshot").as_deref(),
            expected,
            "{version}"
        );
        assert!(run["argv"].to_string().contains("\"--strict-mcp-config\""));
    }
}
