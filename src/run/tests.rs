//! The run file's refusals, each placed at file:line:column and key.

use std::path::Path;

use super::file::parse;

const ID: &str = "3f0c0000-0000-4000-8000-000000000001";

fn error(text: &str) -> String {
    let env = |k: &str| (k == "A_TOKEN").then(|| "s3cr3t-value".to_owned());
    match parse(Path::new("/etc/m.toml"), text, &env) {
        Ok(f) => panic!("accepted: {f:?}"),
        Err(e) => e.to_string(),
    }
}

fn minimal(extra: &str) -> String {
    format!(
        "api_url = \"http://127.0.0.1:9\"\nbackend_cmd = \"/bin/sh\"\n[[workspace]]\nid = \"{ID}\"\ntoken_env = \"A_TOKEN\"\n{extra}"
    )
}

#[test]
fn the_minimal_file_is_read_with_connects_defaults() {
    let env = |k: &str| (k == "A_TOKEN").then(|| "s3cr3t-value".to_owned());
    let text = minimal("concurrency = 7\nbackend_env = { LANG = \"C\" }\n");
    let f = parse(Path::new("/etc/m.toml"), &text, &env).unwrap();
    let w = &f.workspaces[0];
    assert_eq!(w.id.to_string(), ID);
    assert_eq!(w.config.settings.delivery.concurrency, 7);
    assert_eq!(w.config.settings.timers.heartbeat.as_secs(), 20);
    assert_eq!(w.config.backend.secrets, ["A_TOKEN"]);
    assert_eq!(w.config.backend.env, [("LANG".into(), "C".into())]);
    let default = molecule_host::connect::statedir::resolve(None, w.id).unwrap();
    assert_eq!(w.state_dir, default);
    assert!(
        !format!("{w:?}").contains("s3cr3t"),
        "the token leaks in Debug"
    );
}

#[test]
fn unknown_keys_are_placed() {
    let e = error(&minimal("poll_intervall = \"1s\"\n"));
    assert_eq!(e, "/etc/m.toml:6:1: unknown key poll_intervall");
    let e = error(&format!("nope = 1\n{}", minimal("")));
    assert_eq!(e, "/etc/m.toml:1:1: unknown key nope");
}

#[test]
fn a_token_inline_is_refused() {
    let e = error(&minimal("token = \"abc\"\n"));
    assert!(
        e.starts_with("/etc/m.toml:6:1: key token: a token is never written"),
        "{e}"
    );
}

#[test]
fn bad_values_are_refused_by_connects_validation_at_their_key() {
    let e = error(&minimal("batch_size = 501\n"));
    assert!(
        e.starts_with("/etc/m.toml:6:1: key batch_size: invalid --batch-size"),
        "{e}"
    );
    let e = error(&minimal("poll_interval = 5\n"));
    assert!(
        e.starts_with("/etc/m.toml:6:17: key poll_interval: expected a duration"),
        "{e}"
    );
    let e = error(&minimal("heartbeat_interval = \"2m\"\n"));
    assert!(e.contains("key heartbeat_interval"), "{e}");
    let e = error(&minimal("backend_cmd = \"/no/such/agent\"\n"));
    assert!(
        e.starts_with("/etc/m.toml:6:1: key backend_cmd: backend program"),
        "{e}"
    );
}

#[test]
fn tokens_come_from_one_named_place() {
    let e = error(&minimal("").replace("A_TOKEN", "UNSET_TOKEN"));
    assert!(
        e.contains("key token_env: the variable UNSET_TOKEN is not set"),
        "{e}"
    );
    let e = error(&minimal("token_file = \"t\"\n"));
    assert!(e.contains("give the token one way"), "{e}");
    let e = error(&format!("token_file = \"t\"\n{}", minimal("")));
    assert!(
        e.starts_with("/etc/m.toml:1:1: key token_file belongs in a [[workspace]]"),
        "{e}"
    );
}

#[test]
fn structure_errors_are_placed() {
    assert!(error("api_url = \"x\"\n").contains("no workspace"));
    let e = error("[[workspace]]\nid = \"nope\"\n");
    assert!(e.starts_with("/etc/m.toml:"), "{e}");
    let e = error("api_url = = 1\n");
    assert!(e.starts_with("/etc/m.toml:1:"), "{e}");
    let twice = minimal("") + &format!("[[workspace]]\nid = \"{ID}\"\ntoken_env = \"A_TOKEN\"\n");
    assert!(error(&twice).contains("listed twice"));
}
