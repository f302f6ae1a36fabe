//! Tools over the real CLI: what the default permission mode lets Claude do and how denials
//! reach the sender, `--max-turns`, which MCP servers start, and delegation to another
//! workspace through `molecule mcp`.

use super::support::{RealRig, each_cli};
use crate::end_to_end::{Killed, http, try_http};
use crate::messages_api::{MessagesApi, Reply};
use crate::support::{from_agent, molecule_with, reply_text, wait_for};
use serde_json::{Value, json};
use std::io::BufRead;
use std::process::{Command, Stdio};

const PEER: &str = "aaaaaaaa-0000-4000-8000-000000000001";

/// Asks for `tool` with `input` on the first call of a turn, then answers with what the tool
/// gave back (the text of its `tool_result`).
fn one_tool(tool: &'static str, input: Value) -> MessagesApi {
    MessagesApi::start(move |r| {
        let results = r.tool_results();
        match results.first() {
            None => Reply::tool_use(tool, input.clone()),
            Some(result) => {
                let text = match &result["content"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let outcome = if result["is_error"] == true {
                    "failed"
                } else {
                    "ok"
                };
                Reply::text(format!("tool {outcome}: {text}"))
            }
        }
    })
}

#[test]
fn the_default_mode_runs_reads_in_the_cwd_and_denies_writes_and_reads_outside() {
    each_cli(|cli| {
        let cases = [
            (
                "Bash",
                json!({"command": "ls", "description": "list"}),
                true,
            ),
            ("Read", json!({"file_path": "@/notes.txt"}), true),
            (
                "Bash",
                json!({"command": "touch made.txt", "description": "make"}),
                false,
            ),
            (
                "Write",
                json!({"file_path": "@/made.txt", "content": "x"}),
                false,
            ),
            ("Read", json!({"file_path": "/etc/hostname"}), false),
        ];
        for (tool, input, runs) in cases {
            let mut rig = RealRig::at_url(cli, "http://127.0.0.1:9");
            std::fs::write(rig.cwd().join("notes.txt"), "the notes").expect("notes");
            // `@/` stands for the working directory.
            let cwd = rig.cwd().display().to_string();
            let input: Value =
                serde_json::from_str(&input.to_string().replace('@', &cwd)).expect("input");
            let api = one_tool(tool, input.clone());
            rig.use_api(&api);
            let mut b = rig.start(&[]);
            let answer = b.a2a(from_agent("do it", PEER));
            let text = reply_text(&answer);
            assert!(
                !rig.cwd().join("made.txt").exists(),
                "{tool} {input} wrote a file"
            );
            if runs {
                assert!(text.starts_with("tool ok:"), "{tool} {input}: {text}");
                assert!(
                    answer["result"]["metadata"]
                        .get("permissionDenials")
                        .is_none()
                );
            } else {
                assert!(text.starts_with("tool failed:"), "{tool} {input}: {text}");
                let denials = &answer["result"]["metadata"]["permissionDenials"];
                assert_eq!(denials[0]["tool"], tool, "{answer}");
                assert!(
                    text.contains("not allowed to use") && text.contains(tool),
                    "{text}"
                );
            }
        }
    });
}

#[test]
fn max_turns_1_answers_without_tools_and_stops_after_one_tool_round() {
    each_cli(|cli| {
        let mut rig = RealRig::at_url(cli, "http://127.0.0.1:9");
        std::fs::write(rig.cwd().join("notes.txt"), "the notes").expect("notes");
        let notes = rig.cwd().join("notes.txt");
        let api = MessagesApi::start(move |r| {
            if r.prompt().contains("read") && r.tool_results().is_empty() {
                Reply::tool_use("Read", json!({"file_path": notes}))
            } else {
                Reply::text("done")
            }
        });
        rig.use_api(&api);
        let mut b = rig.start(&["--max-turns", "1"]);
        assert_eq!(reply_text(&b.a2a(from_agent("hi", PEER))), "done");
        let answer = b.a2a(from_agent("read the notes", PEER));
        assert!(
            reply_text(&answer).contains("limited number of steps"),
            "{answer}"
        );
        assert_eq!(api.calls().len(), 2, "the tool ran, no further model call");
    });
}

#[test]
fn an_mcp_json_in_the_working_directory_starts_nothing() {
    each_cli(|cli| {
        let api = MessagesApi::answering("fine");
        let rig = RealRig::new(cli, &api);
        let marker = rig.dir.path().join("rogue-started");
        let server = json!({"mcpServers": {"rogue": {"type": "stdio", "command": "sh",
            "args": ["-c", format!("touch '{}'; sleep 5", marker.display())]}}});
        std::fs::write(rig.cwd().join(".mcp.json"), server.to_string()).expect(".mcp.json");
        let mut b = rig.start(&[]);
        assert_eq!(reply_text(&b.a2a(from_agent("hi", PEER))), "fine");
        assert!(!marker.exists(), "the project's MCP server was started");
        let tools = api.calls()[0].tool_names();
        assert!(
            !tools.iter().any(|t| t.starts_with("mcp__rogue")),
            "{tools:?}"
        );
    });
}

/// The emulator as a child process, and its base URL.
fn emulator(host: &std::path::Path) -> (Killed, String) {
    let mut emulator = Killed(
        Command::new(host)
            .args(["emulator", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the emulator"),
    );
    let mut first = String::new();
    let stdout = emulator.0.stdout.take().expect("stdout");
    std::io::BufReader::new(stdout)
        .read_line(&mut first)
        .expect("the emulator's URL line");
    let base: Value = serde_json::from_str(&first).expect("JSON URL line");
    let base = base["base_url"].as_str().expect("base_url");
    (emulator, base.trim_end_matches('/').to_owned())
}

/// `molecule connect` serving `ws` with `backend_cmd`, in `env` and nothing else.
fn connect(
    host: &std::path::Path,
    base: &str,
    ws: &Value,
    backend_cmd: &str,
    rig: &RealRig,
) -> Killed {
    let name = ws["name"].as_str().expect("name");
    let token_file = rig.dir.path().join(format!("{name}.token"));
    std::fs::write(&token_file, ws["token"].as_str().expect("token")).expect("token file");
    let mut perms = std::fs::metadata(&token_file).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&token_file, perms).expect("0600");
    let runtime = rig.dir.path().join(format!("{name}-run"));
    std::fs::create_dir_all(&runtime).expect("runtime dir");
    let mut cmd = Command::new(host);
    cmd.env_clear()
        .envs(rig.env())
        .env("XDG_RUNTIME_DIR", &runtime)
        .arg("connect")
        .arg(ws["id"].as_str().expect("id"))
        .args([
            "--api-url",
            base,
            "--backend-cmd",
            backend_cmd,
            "--poll-interval",
            "100ms",
        ])
        .arg("--token-file")
        .arg(&token_file)
        .arg("--state-dir")
        .arg(rig.dir.path().join(format!("{name}-state")))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Killed(cmd.spawn().expect("start connect"))
}

#[test]
fn claude_delegates_to_a_peer_through_molecule_mcp() {
    let Some(host) = molecule_with("mcp") else {
        return;
    };
    each_cli(|cli| {
        let (_emulator, base) = emulator(&host);
        let alpha = http(
            &base,
            "POST",
            "/_dev/workspaces",
            Some(json!({"name": "alpha"})),
        );
        let beta = http(
            &base,
            "POST",
            "/_dev/workspaces",
            Some(json!({"name": "beta", "parent_id": alpha["id"], "delivery_mode": "poll"})),
        );
        let beta_id = beta["id"].as_str().expect("id").to_owned();
        let api = MessagesApi::start(move |r| match r.tool_results().first() {
            None => Reply::tool_use(
                "mcp__molecule__send_message_to_peer",
                json!({"id": beta_id, "text": "ping", "wait_seconds": 20}),
            ),
            Some(result) => Reply::text(format!("beta says: {}", result["content"])),
        });
        let rig = RealRig::new(cli, &api);
        let backend = rig.command(&[]);
        let backend_cmd = std::iter::once(backend.get_program())
            .chain(backend.get_args())
            .map(|a| format!("'{}'", a.to_string_lossy()))
            .collect::<Vec<_>>()
            .join(" ");
        let echo = format!("'{}' echo-backend", host.display());
        let _beta_host = connect(&host, &base, &beta, &echo, &rig);
        let _alpha_host = connect(&host, &base, &alpha, &backend_cmd, &rig);
        let send = format!("/_dev/workspaces/{}/send", alpha["id"].as_str().unwrap());
        let message = json!({"text": "ask beta", "as": "canvas"});
        wait_for("alpha to accept messages", || {
            try_http(&base, "POST", &send, Some(message.clone())).ok()
        });
        let feed = format!("/_dev/workspaces/{}/feed", alpha["id"].as_str().unwrap());
        wait_for("alpha's answer with beta's reply", || {
            let rows = http(&base, "GET", &feed, None).to_string();
            (rows.contains("beta says:") && rows.contains("echo: ping")).then_some(())
        });
        // The tool ran through `molecule mcp` (2.1.332 offers MCP tools through its tool search,
        // so they need not be in the first call's list).
        let results = api.calls()[1].tool_results();
        assert!(
            results[0]["content"].to_string().contains("echo: ping"),
            "{results:?}"
        );
    });
}
