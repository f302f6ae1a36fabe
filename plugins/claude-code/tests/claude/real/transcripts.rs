//! The real CLI against the recorded transcripts of `crate::transcripts`: each scenario is
//! run as the backend runs it, and its shape must match the recording (which the stand-in is
//! checked against too). `MOLECULE_RECORD_TRANSCRIPTS=1` writes the recordings instead.

use super::support::{RealCli, RealRig, each_cli};
use crate::messages_api::{MessagesApi, Reply, rate_limited, refused_url};
use crate::transcripts::{BASE, SCENARIOS, Scenario, dir, shape};
use serde_json::{Value, json};
use std::time::{SystemTime, UNIX_EPOCH};

/// The rig (and the API it talks to) that makes the real CLI meet `scenario`.
fn rig_for(cli: &RealCli, scenario: &Scenario) -> (RealRig, Option<MessagesApi>) {
    if scenario.name == "unreachable" {
        let mut rig = RealRig::at_url(cli, &refused_url());
        rig.set_env("CLAUDE_CODE_MAX_RETRIES", Some("1"));
        return (rig, None);
    }
    let mut rig = RealRig::at_url(cli, "http://127.0.0.1:9");
    std::fs::write(rig.cwd().join("notes.txt"), "the notes").expect("notes");
    let cwd = rig.cwd();
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 90;
    let name = scenario.name;
    let api = MessagesApi::start(move |r| {
        let first = r.tool_results().is_empty();
        match name {
            "tool" | "max-turns" if first => {
                Reply::tool_use("Read", json!({"file_path": cwd.join("notes.txt")})).into_answer()
            }
            "denied" if first => Reply::tool_use(
                "Write",
                json!({"file_path": cwd.join("made.txt"), "content": "x"}),
            )
            .into_answer(),
            "rate-limit" => rate_limited(30, Some(("rejected", reset))),
            "bad-key" => {
                Reply::error(401, "authentication_error", "invalid x-api-key").into_answer()
            }
            "overloaded" => Reply::error(529, "overloaded_error", "Overloaded").into_answer(),
            _ => Reply::text("hello back").into_answer(),
        }
    });
    rig.use_api(&api);
    match name {
        "rate-limit" => {
            rig.set_env("ANTHROPIC_API_KEY", None);
            rig.set_env(
                "CLAUDE_CODE_OAUTH_TOKEN",
                Some("sk-ant-oat01-local-test-token"),
            );
        }
        "not-logged-in" => rig.set_env("ANTHROPIC_API_KEY", None),
        "bad-key" => rig.set_env("CLAUDE_CODE_MAX_RETRIES", Some("1")),
        _ => {}
    }
    (rig, Some(api))
}

#[test]
fn the_real_cli_prints_what_was_recorded() {
    let record = std::env::var_os("MOLECULE_RECORD_TRANSCRIPTS").is_some_and(|v| v == "1");
    each_cli(|cli| {
        for scenario in SCENARIOS {
            let (rig, _api) = rig_for(cli, scenario);
            let args: Vec<&str> = BASE.iter().chain(scenario.args).copied().collect();
            let run = rig.run_cli(&args, scenario.prompt);
            let path = dir(cli.version).join(format!("{}.json", scenario.name));
            if record {
                std::fs::create_dir_all(dir(cli.version)).expect("transcripts dir");
                let raw = json!({"exit": run.exit, "stderr": run.stderr, "events": run.events});
                let text = serde_json::to_string_pretty(&raw).expect("json");
                std::fs::write(&path, text + "\n").expect("write the transcript");
                continue;
            }
            let recorded: Value = serde_json::from_str(
                &std::fs::read_to_string(&path).expect("a recorded transcript"),
            )
            .expect("JSON");
            let events = recorded["events"].as_array().cloned().unwrap_or_default();
            let want = shape(
                recorded["exit"].as_i64().map(|c| c as i32),
                &events,
                recorded["stderr"].as_str().unwrap_or(""),
            );
            let got = shape(run.exit, &run.events, &run.stderr);
            assert_eq!(
                got, want,
                "claude {} changed its output for {}",
                cli.version, scenario.name
            );
        }
    });
}
