//! Failures of a turn, each as the host must see it.

use crate::support::{Rig, from_agent, reply_text};
use serde_json::Value;

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

fn error(answer: &Value) -> &Value {
    answer
        .get("error")
        .unwrap_or_else(|| panic!("not an error: {answer}"))
}

#[test]
fn is_error_with_exit_0_and_status_429_is_retryable_after_the_reset() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:rate-limit] hi", PEER));
    let e = error(&answer);
    assert_eq!(e["code"], 1002, "{answer}");
    assert_eq!(e["data"]["retryable"], true);
    let wait = e["data"]["retryAfterMs"].as_u64().expect("retryAfterMs");
    assert!(
        (60_000..=90_000).contains(&wait),
        "from the event's resetsAt (90 s out): {wait}"
    );
}

#[test]
fn unauthorised_is_not_retryable_and_says_the_agent_is_not_logged_in() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:auth] hi", PEER));
    let e = error(&answer);
    assert_eq!(e["data"]["retryable"], false, "{answer}");
    let msg = e["data"]["userMessage"].as_str().expect("userMessage");
    assert!(msg.contains("not logged in"), "{msg}");
}

#[test]
fn no_result_line_is_an_error_with_the_stderr_tail_in_details_only() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:no-result] hi", PEER));
    let e = error(&answer);
    let tail = e["data"]["details"]["stderrTail"]
        .as_array()
        .expect("stderrTail");
    assert_eq!(
        tail.last().and_then(Value::as_str),
        Some("fake stderr line 30")
    );
    assert!(tail.len() <= 20, "only the tail is kept");
    assert!(
        e["data"]
            .get("userMessage")
            .is_none_or(|m| !m.as_str().unwrap_or("").contains("stderr"))
    );
    assert!(
        !e["message"].as_str().unwrap().contains("fake stderr"),
        "{e}"
    );
    // A fresh session failing is not retried; the broken mapping is dropped.
    assert_eq!(rig.runs().len(), 1);
}

#[test]
fn reaching_max_turns_is_a_reply_that_says_so() {
    let rig = Rig::new();
    let mut b = rig.start(&["--max-turns", "3"]);
    let answer = b.a2a(from_agent("[fake:max-turns] big job", PEER));
    assert!(
        reply_text(&answer).contains("limited number of steps"),
        "{answer}"
    );
    assert!(crate::support::flag(&rig.runs()[0], "max-turns").as_deref() == Some("3"));
}

#[test]
fn a_second_turn_on_a_busy_conversation_gets_1001() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let first = b.send_a2a(from_agent("[fake:hang] long", PEER));
    rig.wait_children();
    let answer = b.a2a(from_agent("meanwhile", PEER));
    assert_eq!(error(&answer)["code"], 1001, "{answer}");
    assert_eq!(error(&answer)["data"]["retryable"], true);
    b.cancel(first);
    assert_eq!(error(&b.answer(first))["code"], -32800);
}

#[test]
fn a_missing_claude_fails_start_up_with_how_to_install_it() {
    let rig = Rig::new();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_molecule-claude-code"))
        .args(["--claude-bin", "claude-not-installed"])
        .env("PATH", rig.dir.path())
        .env("MOLECULE_BACKEND", "1")
        .env_remove("MOLECULE_CLAUDE_BIN")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("npm install -g @anthropic-ai/claude-code"),
        "{err}"
    );
}

#[test]
fn skipping_permissions_as_root_is_refused_unless_sandboxed_and_warns_otherwise() {
    let rig = Rig::new();
    let mut cmd = rig.command(&["--dangerously-skip-permissions"]);
    cmd.env_remove("IS_SANDBOX");
    let root = nix::unistd::geteuid().is_root();
    if root {
        let out = cmd
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot be used as root") && err.contains("IS_SANDBOX=1"),
            "{err}"
        );
    }
    cmd.env("IS_SANDBOX", "1");
    let mut b = crate::support::Backend::spawn(&mut cmd);
    b.initialize();
    b.a2a(from_agent("hi", PEER));
    assert_eq!(
        crate::support::flag(&rig.runs()[0], "permission-mode").as_deref(),
        Some("bypassPermissions")
    );
    b.close_stdin();
    b.wait_exit();
    let err = b.stderr();
    assert!(
        err.contains("anyone who can message this workspace can run commands"),
        "{err}"
    );
}

#[test]
fn a_refused_key_stops_the_turn_at_the_first_retry() {
    let rig = Rig::new();
    let mut cmd = rig.command(&["--turn-timeout", "5s"]);
    // Ten retries a second apart: ten seconds if the backend waited them out.
    cmd.env("FAKE_CLAUDE_DELAY_MS", "1000");
    let mut b = crate::support::Backend::spawn(&mut cmd);
    b.initialize();
    let answer = b.a2a(from_agent("[fake:auth-retry] hi", PEER));
    let e = error(&answer);
    assert_eq!(e["data"]["retryable"], false, "{answer}");
    assert!(
        e["data"]["userMessage"]
            .as_str()
            .unwrap()
            .contains("not logged in")
    );
}

#[test]
fn an_unreachable_api_is_retryable_with_a_user_message() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:unreachable] hi", PEER));
    let e = error(&answer);
    assert_eq!(
        (e["code"].clone(), e["data"]["retryable"].clone()),
        (1003.into(), true.into()),
        "{answer}"
    );
    assert!(
        e["data"]["userMessage"]
            .as_str()
            .unwrap()
            .contains("cannot reach")
    );
}

#[test]
fn an_allowed_rate_limit_event_does_not_set_the_wait() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:rate-limit-allowed] hi", PEER));
    assert_eq!(error(&answer)["data"]["retryAfterMs"], 60_000, "{answer}");
}

#[test]
fn a_denied_tool_use_is_told_to_the_sender() {
    let rig = Rig::new();
    let mut b = rig.start(&[]);
    let answer = b.a2a(from_agent("[fake:denied] write it", PEER));
    let text = reply_text(&answer);
    assert!(
        text.contains("not allowed to use") && text.contains("Write (made.txt)"),
        "{text}"
    );
    assert_eq!(
        answer["result"]["metadata"]["permissionDenials"][0]["tool"],
        "Write"
    );
}

#[test]
fn an_unsupported_claude_version_fails_start_up_and_says_which_to_install() {
    let rig = Rig::new();
    for version in ["2.1.100", "3.0.0"] {
        let out = rig
            .command(&[])
            .env("FAKE_CLAUDE_VERSION", version)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{version}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("is Claude Code {version}"))
                && err.contains("npm install -g @anthropic-ai/claude-code@2.1.332"),
            "{err}"
        );
    }
}

/// `--check` (what `molecule doctor` asks): one JSON line per check, the credentials looked for
/// in the environment and the login file, never printed; exit 1 when one fails.
#[test]
fn check_says_whether_claude_is_found_supported_and_logged_in() {
    let rig = Rig::new();
    let home = rig.dir.path().join("home");
    std::fs::create_dir_all(&home).expect("home");
    let run = |version: &str, key: Option<&str>| {
        let mut cmd = rig.command(&["--check"]);
        cmd.env("FAKE_CLAUDE_VERSION", version)
            .env("HOME", &home)
            .env_remove("CLAUDE_CONFIG_DIR")
            .env_remove("CLAUDE_CODE_OAUTH_TOKEN")
            .env_remove("ANTHROPIC_AUTH_TOKEN")
            .env_remove("CLAUDE_CODE_USE_BEDROCK")
            .env_remove("CLAUDE_CODE_USE_VERTEX");
        match key {
            Some(k) => cmd.env("ANTHROPIC_API_KEY", k),
            None => cmd.env_remove("ANTHROPIC_API_KEY"),
        };
        let out = cmd.output().expect("run");
        let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        (out.status.code(), lines)
    };
    let (code, lines) = run("2.1.332", Some("sk-ant-secret"));
    assert_eq!(code, Some(0), "{lines:#?}");
    let statuses: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["check"].as_str().unwrap_or(""),
                l["status"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("claude.found", "ok"),
            ("claude.version", "ok"),
            ("claude.login", "ok")
        ]
    );
    assert!(!format!("{lines:?}").contains("sk-ant-secret"));

    let (code, lines) = run("2.1.100", None);
    assert_eq!(code, Some(1));
    assert_eq!(lines[1]["status"], "fail");
    assert!(
        lines[1]["message"]
            .as_str()
            .unwrap_or("")
            .contains("is Claude Code 2.1.100")
    );
    let login = lines[2]["message"].as_str().unwrap_or("");
    assert!(login.starts_with("claude is not logged in"), "{login}");

    // A login made with `claude` and /login leaves this file.
    std::fs::create_dir_all(home.join(".claude")).expect("dir");
    std::fs::write(home.join(".claude/.credentials.json"), "{}").expect("write");
    let (code, lines) = run("2.1.332", None);
    assert_eq!(code, Some(0), "{lines:#?}");
}
