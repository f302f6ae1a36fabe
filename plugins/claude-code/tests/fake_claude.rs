//! `fake-claude`: a stand-in for the `claude` CLI in print mode with stream-json output, for
//! the tests and the bench. No network, no account.
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
//! | `rate-limit` | a rejected rate-limit event, then `is_error` with status 429, exit 0 |
//! | `auth` | `is_error` with status 401 and "Please run /login" |
//! | `no-result` | 30 lines on stderr, exit 3 without a result |
//! | `max-turns` | an `error_max_turns` result |
//! | `hang` | init, starts a child in its group and a grandchild in a group of its own, records their pids, and waits forever |
//! | `slow` | `$FAKE_CLAUDE_EVENTS` events `$FAKE_CLAUDE_DELAY_MS` apart, then the result |
//! | `silent` | init, `$FAKE_CLAUDE_SILENCE_MS` of silence, then the result |
//! | `linger` | the result, then it never exits |
//! | `in-use` | the first `--session-id=` run (of this session store) fails "already in use" |
//! | `die-on-resume` | a `--resume=` run exits 3 without a result; a fresh session works |

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let mut prompt = String::new();
    let _ = std::io::stdin().read_to_string(&mut prompt);
    record(json!({
        "pid": std::process::id(),
        "argv": argv,
        "env": std::env::vars().collect::<BTreeMap<_, _>>(),
        "stdin": prompt,
        "cwd": std::env::current_dir().ok(),
    }));
    let flag = |name: &str| {
        argv.iter()
            .find_map(|a| a.strip_prefix(&format!("--{name}=")).map(str::to_owned))
    };
    let fresh = flag("session-id");
    let resume = flag("resume");
    let session = fresh
        .clone()
        .or(resume.clone())
        .unwrap_or_else(|| "no-session".into());
    let scenario = prompt
        .split("[fake:")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .map(str::to_owned)
        .or_else(|| std::env::var("FAKE_CLAUDE_SCENARIO").ok())
        .unwrap_or_else(|| "ok".into());
    if let Some(code) = check_session(fresh.as_deref(), resume.as_deref(), &scenario) {
        return code;
    }
    play(&scenario, &session, &prompt)
}

/// Plays the session rules of the real CLI; `Some` when the run ends here.
fn check_session(fresh: Option<&str>, resume: Option<&str>, scenario: &str) -> Option<ExitCode> {
    let dir = std::env::var_os("FAKE_CLAUDE_SESSIONS").map(PathBuf::from);
    if let Some(id) = resume
        && (scenario == "forget" || dir.as_ref().is_some_and(|d| !d.join(id).exists()))
    {
        let msg = format!("No conversation found with session ID: {id}");
        emit(
            json!({"type":"result","subtype":"error_during_execution","is_error":true,
                    "session_id":id,"errors":[msg]}),
        );
        return Some(ExitCode::from(1));
    }
    if scenario == "die-on-resume" && resume.is_some() {
        eprintln!("fake: died in the middle of a resumed turn");
        return Some(ExitCode::from(3));
    }
    if let (Some(id), Some(dir)) = (fresh, &dir) {
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

fn play(scenario: &str, session: &str, prompt: &str) -> ExitCode {
    let ms = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .map_or(Duration::from_millis(default), Duration::from_millis)
    };
    emit(
        json!({"type":"system","subtype":"init","session_id":session,"cwd":std::env::current_dir().ok(),"tools":[]}),
    );
    let reply = format!("claude heard: {prompt}");
    match scenario {
        "rate-limit" => {
            let reset = now_secs() + 90;
            emit(
                json!({"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":reset}}),
            );
            emit(
                json!({"type":"result","subtype":"success","is_error":true,"api_error_status":429,
                        "terminal_reason":"api_error","result":"API Error: 429 rate_limit_error","session_id":session}),
            );
            return ExitCode::SUCCESS;
        }
        "auth" => {
            emit(
                json!({"type":"result","subtype":"success","is_error":true,"api_error_status":401,
                        "result":"Invalid API key · Please run /login","session_id":session}),
            );
            return ExitCode::from(1);
        }
        "no-result" => {
            for i in 1..=30 {
                eprintln!("fake stderr line {i}");
            }
            return ExitCode::from(3);
        }
        "max-turns" => {
            emit(
                json!({"type":"result","subtype":"error_max_turns","is_error":true,"num_turns":2,"session_id":session}),
            );
            return ExitCode::SUCCESS;
        }
        "hang" => hang(),
        "slow" => {
            for _ in 0..ms("FAKE_CLAUDE_EVENTS", 5).as_millis() {
                std::thread::sleep(ms("FAKE_CLAUDE_DELAY_MS", 50));
                emit(json!({"type":"tool_progress","session_id":session}));
            }
        }
        "silent" => std::thread::sleep(ms("FAKE_CLAUDE_SILENCE_MS", 1000)),
        _ => {}
    }
    emit(
        json!({"type":"assistant","session_id":session,"message":{"content":[{"type":"text","text":reply}]}}),
    );
    let id = if scenario == "new-id" {
        adopt_new_id(session)
    } else {
        session.to_owned()
    };
    emit(
        json!({"type":"result","subtype":"success","is_error":false,"result":reply,"session_id":id,
                "num_turns":1,"total_cost_usd":0.001,"usage":{"input_tokens":10,"output_tokens":5}}),
    );
    if scenario == "linger" {
        hang_forever();
    }
    ExitCode::SUCCESS
}

/// The id the `new-id` scenario switches to, known to the session store from now on.
fn adopt_new_id(old: &str) -> String {
    let id = format!("{old}-next");
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

fn emit(event: Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{event}");
    let _ = out.flush();
}

fn record(line: Value) {
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

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
