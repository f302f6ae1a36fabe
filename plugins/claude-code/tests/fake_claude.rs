//! `fake-claude`: a stand-in for the `claude` CLI in print mode with stream-json output, for
//! the fast tests and the bench. No network, no account.
//!
//! It is as strict as the real CLI and prints what the real one prints (the transcripts it is
//! checked against were recorded from the real CLI: `tests/claude/transcripts/`): it answers
//! `--version` and `--help`; it refuses an unknown option, stream-json without `--verbose`, a
//! bad permission mode, a session id that is not a UUID and an empty prompt as the real one
//! does (same message, exit 1); it emits `system/api_retry`, tool-use messages,
//! `permission_denials`, the assistant `error` field, and error results with their exit code 1.
//! `$FAKE_CLAUDE_VERSION` (default 2.1.332) picks the version it imitates: 2.1.197 has no
//! `--system-prompt-snapshot`, says nothing to a whitespace prompt and ends API errors with
//! `terminal_reason: completed`.
//!
//! It records every run as one JSON line appended to `$FAKE_CLAUDE_LOG` (argv, environment,
//! stdin, cwd, pid), then plays the scenario named by a `[fake:NAME]` marker in the prompt
//! (or `$FAKE_CLAUDE_SCENARIO`, default `ok`). With `$FAKE_CLAUDE_SESSIONS` set it keeps
//! sessions like the real CLI: `--session-id=` of a known id fails "already in use", and
//! `--resume=` of an unknown id fails "No conversation found".
//!
//! | scenario | what it does |
//! |---|---|
//! | `ok` | init, an assistant message, a successful result `claude heard: <prompt>` |
//! | `new-id` | as `ok`, but the result carries another session id |
//! | `forget` | `--resume=` fails "No conversation found" (a fresh session works) |
//! | `rate-limit` | a rejected rate-limit event, the synthetic `rate_limit` message, a 429 result |
//! | `rate-limit-allowed` | an *allowed* rate-limit event (reset in 5 h), then a 429 result |
//! | `auth` | "Not logged in · Please run /login" (no credentials at all) |
//! | `auth-retry` | `api_retry` with 401 every `$FAKE_CLAUDE_DELAY_MS`, `$CLAUDE_CODE_MAX_RETRIES` (10) times, then "Invalid API key" |
//! | `unreachable` | `api_retry` without a status (as often as for `auth-retry`), then "Unable to connect to API" |
//! | `overloaded` | a 529 result |
//! | `tool` | a `Read` tool use, its result, then the answer |
//! | `denied` | a `Write` tool use the permission mode denies, listed in `permission_denials` |
//! | `no-result` | 30 lines on stderr, exit 3 without a result |
//! | `max-turns` | a tool use, then an `error_max_turns` result |
//! | `hang` | init, starts a child in its group and a grandchild in a group of its own, records their pids, and waits forever |
//! | `slow` | `$FAKE_CLAUDE_EVENTS` events `$FAKE_CLAUDE_DELAY_MS` apart, then the result |
//! | `silent` | init, `$FAKE_CLAUDE_SILENCE_MS` of silence, then the result |
//! | `linger` | the result, then it never exits |
//! | `in-use` | the first `--session-id=` run (of this session store) fails "already in use" |
//! | `die-on-resume` | a `--resume=` run exits 3 without a result; a fresh session works |

#[path = "fake_claude/argv.rs"]
mod argv;
#[path = "fake_claude/events.rs"]
mod events;

use argv::Argv;
use events::{Out, now_secs};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Duration;

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    let version = std::env::var("FAKE_CLAUDE_VERSION").unwrap_or_else(|_| "2.1.332".into());
    let argv = match Argv::parse(&raw[1..], &version) {
        Ok(argv) => argv,
        Err(argv::Refusal { message, code }) => {
            eprintln!("{message}");
            return ExitCode::from(code);
        }
    };
    if argv.version {
        println!("{version} (Claude Code)");
        return ExitCode::SUCCESS;
    }
    if argv.help {
        print!("{}", argv::help(&version));
        return ExitCode::SUCCESS;
    }
    let mut prompt = String::new();
    let _ = std::io::stdin().read_to_string(&mut prompt);
    record(json!({
        "pid": std::process::id(),
        "argv": raw,
        "env": std::env::vars().collect::<BTreeMap<_, _>>(),
        "stdin": prompt,
        "cwd": std::env::current_dir().ok(),
    }));
    if let Some(code) = check_prompt(&prompt, &version) {
        return code;
    }
    let out = Out::new(&version, &argv);
    let scenario = prompt
        .split("[fake:")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .map(str::to_owned)
        .or_else(|| std::env::var("FAKE_CLAUDE_SCENARIO").ok())
        .unwrap_or_else(|| "ok".into());
    if let Some(code) = check_session(&argv, &out, &scenario) {
        return code;
    }
    play(&scenario, &out, &prompt)
}

/// The real CLI's answers to an empty or whitespace-only prompt.
fn check_prompt(prompt: &str, version: &str) -> Option<ExitCode> {
    if prompt.is_empty() {
        eprintln!(
            "Error: Input must be provided either through stdin or as a prompt argument when using --print"
        );
        return Some(ExitCode::from(1));
    }
    if prompt.trim().is_empty() {
        if version == "2.1.197" {
            return Some(ExitCode::SUCCESS);
        }
        eprintln!(
            "Error: Input contained only whitespace. Provide a prompt with text through stdin or as a prompt argument when using --print"
        );
        return Some(ExitCode::from(1));
    }
    None
}

/// Plays the session rules of the real CLI; `Some` when the run ends here.
fn check_session(argv: &Argv, out: &Out, scenario: &str) -> Option<ExitCode> {
    let dir = std::env::var_os("FAKE_CLAUDE_SESSIONS").map(PathBuf::from);
    if let Some(id) = &argv.resume
        && (scenario == "forget" || dir.as_ref().is_some_and(|d| !d.join(id).exists()))
    {
        let msg = format!("No conversation found with session ID: {id}");
        eprintln!("{msg}");
        out.error_result("error_during_execution", None, &[msg.as_str()], None);
        return Some(ExitCode::from(1));
    }
    if scenario == "die-on-resume" && argv.resume.is_some() {
        eprintln!("fake: died in the middle of a resumed turn");
        return Some(ExitCode::from(3));
    }
    if let (Some(id), Some(dir)) = (&argv.session_id, &dir) {
        let first_in_use = scenario == "in-use" && !dir.join("in-use-once").exists();
        if first_in_use {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join("in-use-once"), b"");
        }
        if first_in_use || dir.join(id).exists() {
            eprintln!("Error: Session ID {id} is already in use.");
            return Some(ExitCode::from(1));
        }
        let _ = std::fs::create_dir_all(dir);
        let _ = std::fs::write(dir.join(id), b"");
    }
    None
}

fn play(scenario: &str, out: &Out, prompt: &str) -> ExitCode {
    let ms = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(default), Duration::from_millis)
    };
    out.init();
    let reply = format!("claude heard: {prompt}");
    match scenario {
        "rate-limit" => {
            out.rate_limit("rejected", now_secs() + 90);
            return out.api_failure(
                Some(429),
                "rate_limit",
                "API Error: Request rejected (429) · Rate limited",
            );
        }
        "rate-limit-allowed" => {
            out.rate_limit("allowed", now_secs() + 5 * 3600);
            return out.api_failure(
                Some(429),
                "rate_limit",
                "API Error: Request rejected (429) · Rate limited",
            );
        }
        "auth" => {
            return out.api_failure(
                None,
                "authentication_failed",
                "Not logged in · Please run /login",
            );
        }
        "auth-retry" => {
            for attempt in 1..=retries() {
                out.api_retry(attempt, Some(401), "authentication_failed");
                std::thread::sleep(ms("FAKE_CLAUDE_DELAY_MS", 50));
            }
            return out.api_failure(
                Some(401),
                "authentication_failed",
                "Invalid API key · Fix external API key",
            );
        }
        "unreachable" => {
            for attempt in 1..=retries() {
                out.api_retry(attempt, None, "unknown");
            }
            return out.api_failure(
                None,
                "server_error",
                "API Error: Unable to connect to API (ConnectionRefused)",
            );
        }
        "overloaded" => {
            return out.api_failure(
                Some(529),
                "server_error",
                "API Error: 529 Overloaded. This is a server-side issue, usually temporary",
            );
        }
        "tool" => out.tool_round(
            "Read",
            json!({"file_path": "notes.txt"}),
            "1\tthe notes",
            false,
        ),
        "denied" => out.tool_round(
            "Write",
            json!({"file_path": "made.txt", "content": "x"}),
            "Claude requested permissions to write to made.txt, but you haven't granted it yet.",
            true,
        ),
        "no-result" => {
            for i in 1..=30 {
                eprintln!("fake stderr line {i}");
            }
            return ExitCode::from(3);
        }
        "max-turns" => {
            out.tool_round(
                "Read",
                json!({"file_path": "notes.txt"}),
                "1\tthe notes",
                false,
            );
            let n = out.max_turns.unwrap_or(1);
            let msg = format!("Reached maximum number of turns ({n})");
            out.error_result("error_max_turns", None, &[msg.as_str()], Some("max_turns"));
            return ExitCode::from(1);
        }
        "hang" => hang(),
        "slow" => {
            for _ in 0..ms("FAKE_CLAUDE_EVENTS", 5).as_millis() {
                std::thread::sleep(ms("FAKE_CLAUDE_DELAY_MS", 50));
                out.emit(json!({"type":"tool_progress","session_id":out.session}));
            }
        }
        "silent" => std::thread::sleep(ms("FAKE_CLAUDE_SILENCE_MS", 1000)),
        _ => {}
    }
    out.assistant_text(&reply, None);
    let session = if scenario == "new-id" {
        adopt_new_id(&out.session)
    } else {
        out.session.clone()
    };
    out.success(&reply, &session);
    if scenario == "linger" {
        hang_forever();
    }
    ExitCode::SUCCESS
}

/// How often the CLI retries a failed model call: `$CLAUDE_CODE_MAX_RETRIES`, or 10.
fn retries() -> u32 {
    std::env::var("CLAUDE_CODE_MAX_RETRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// The id the `new-id` scenario switches to, known to the session store from now on.
fn adopt_new_id(old: &str) -> String {
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, old.as_bytes()).to_string();
    if let Some(dir) = std::env::var_os("FAKE_CLAUDE_SESSIONS") {
        let _ = std::fs::write(PathBuf::from(dir).join(&id), b"");
    }
    id
}

/// Starts a child in our group and a grandchild-like process in a group of its own, records
/// both pids, and waits forever.
fn hang() -> ! {
    let spawn = |own_group: bool| {
        let mut cmd = Command::new("sleep");
        cmd.arg("1000").stdin(Stdio::null()).stdout(Stdio::null());
        if own_group {
            cmd.process_group(0);
        }
        cmd.spawn().map(|c| c.id()).unwrap_or(0)
    };
    let same_group = spawn(false);
    let own_group = spawn(true);
    record(json!({"event":"children","pid":std::process::id(),"children":[same_group, own_group]}));
    hang_forever()
}

fn hang_forever() -> ! {
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn record(line: serde_json::Value) {
    let Some(path) = std::env::var_os("FAKE_CLAUDE_LOG") else {
        return;
    };
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
}
