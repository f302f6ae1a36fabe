//! Peer calls between two real `molecule connect` processes on the local platform emulator:
//! each backend asks the other with `waitMs`, the answers land in the askers' own feeds and
//! complete their calls synchronously (by polling, and by the event stream alone); on the older
//! platform, senders are enriched from the registry.

use molecule_emulator::{
    Compat, CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs,
    WorkspaceSpec,
};
use serde_json::{Value, json};

use super::connect_host::{FAST, Host, Site, write_private};
use super::peers_support::{PEER_BACKEND, PEER_FAST, script};
use super::support::wait::until;

/// A planner ("alpha") and its child ("beta", a researcher), both in poll mode.
pub(super) async fn pair(compat: Compat) -> (Emulator, CreatedWorkspace, CreatedWorkspace) {
    let emu = Emulator::start(EmulatorConfig::for_compat(compat))
        .await
        .expect("emulator");
    let spec = |name: &str, role: &str, parent| WorkspaceSpec {
        name: Some(name.into()),
        role: Some(role.into()),
        parent_id: parent,
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let a = emu
        .create_workspace(spec("alpha", "planner", None))
        .expect("a");
    let b = emu
        .create_workspace(spec("beta", "researcher", Some(a.id)))
        .expect("b");
    (emu, a, b)
}

fn serve(emu: &Emulator, ws: &CreatedWorkspace, site: &Site, extra: &[&str]) -> Host {
    write_private(&site.token_file(), &ws.token);
    let mut args: Vec<String> = ["--log-format", "json", "connect", &ws.id.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let token = site.token_file().display().to_string();
    let state = site.state_dir().display().to_string();
    args.extend(
        [
            "--api-url",
            emu.base_url(),
            "--backend-cmd",
            PEER_BACKEND,
            "--token-file",
            &token,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    args.extend(["--state-dir".to_owned(), state]);
    args.extend(
        FAST.iter()
            .chain(PEER_FAST)
            .chain(extra)
            .map(|s| s.to_string()),
    );
    Host::start_with(
        &args,
        &[(
            "RUST_LOG",
            "info,molecule_host::connect=debug,molecule_host::peers=debug",
        )],
    )
}

/// The scripted report a host's backend posted to its canvas, parsed.
fn report(emu: &Emulator, ws: &CreatedWorkspace) -> Option<Value> {
    emu.feed(ws.id)?
        .into_iter()
        .filter(|r| r["method"] == "notify")
        .find_map(|r| {
            let text = r.pointer("/response_body/result")?.as_str()?;
            let inner = text.strip_prefix("```json\n")?.strip_suffix("\n```")?;
            serde_json::from_str::<Value>(inner).ok()
        })
}

fn ask(other: &CreatedWorkspace, question: &str) -> DevMessage {
    let calls = json!([
        {"method": "peers/list"},
        {"method": "peers/send", "params": {"id": other.id.to_string(), "text": question, "waitMs": 20000}},
    ]);
    DevMessage {
        text: script(calls),
        ..DevMessage::default()
    }
}

#[tokio::test]
async fn two_hosts_delegate_to_each_other_and_get_answers_synchronously() {
    delegate_both_ways(&["--no-event-stream"], "serving").await;
}

#[tokio::test]
async fn two_hosts_delegating_get_their_answers_through_the_event_stream() {
    // Polls minutes apart: within the test's deadline only the stream can fetch the messages
    // and the answers the waiting calls take.
    let flags = ["--poll-interval", "10m", "--safety-poll-interval", "10m"];
    delegate_both_ways(&flags, "event stream live").await;
}

/// Each of two hosts asks the other with `waitMs`; `ready` is the log line after which a host
/// serves.
async fn delegate_both_ways(extra: &[&str], ready: &str) {
    let (emu, a, b) = pair(Compat::New).await;
    let (site_a, site_b) = (Site::new(), Site::new());
    let host_a = serve(&emu, &a, &site_a, extra);
    let host_b = serve(&emu, &b, &site_b, extra);
    host_a.wait_log(ready, |_| true).await;
    host_b.wait_log(ready, |_| true).await;
    emu.send(a.id, SendAs::Canvas, ask(&b, "what do you know?"))
        .await
        .expect("to a");
    emu.send(b.id, SendAs::Canvas, ask(&a, "and you?"))
        .await
        .expect("to b");
    let mut reports = (None, None);
    until("both backends' reports", || {
        reports = (report(&emu, &a), report(&emu, &b));
        reports.0.is_some() && reports.1.is_some()
    })
    .await;
    let (ra, rb) = (reports.0.unwrap_or_default(), reports.1.unwrap_or_default());
    let answer = |r: &Value| r.pointer("/outcomes/1/result").cloned().unwrap_or_default();
    let text = |t: &str| json!([{"kind": "text", "text": t}]);
    assert_eq!(answer(&ra)["queued"], false, "{ra}");
    assert_eq!(
        answer(&ra)["parts"],
        text("peer-backend got: what do you know? (from alpha/planner)")
    );
    assert_eq!(
        answer(&rb)["parts"],
        text("peer-backend got: and you? (from beta/researcher)")
    );
    assert_eq!(
        ra.pointer("/outcomes/0/result/peers/0/id"),
        Some(&json!(b.id.to_string()))
    );
    assert_eq!(
        ra.pointer("/outcomes/0/result/peers/0/name"),
        Some(&json!("beta"))
    );
    for host in [&host_a, &host_b] {
        host.wait_log("row answers a waiting peers/send call", |_| true)
            .await;
    }
    host_a.stop().await;
    host_b.stop().await;
}

#[tokio::test]
async fn on_the_older_platform_senders_are_named_from_the_registry() {
    let (emu, a, b) = pair(Compat::Old).await;
    let site = Site::new();
    let host = serve(&emu, &b, &site, &[]);
    host.wait_log("serving", |_| true).await;
    let says = |text: &str| DevMessage {
        text: text.into(),
        ..DevMessage::default()
    };
    emu.send(b.id, SendAs::Workspace(a.id), says("hello"))
        .await
        .expect("sent");
    host.wait_handled(1).await;
    let lookup = host.wait_log("sender lookup", |_| true).await;
    assert_eq!(lookup["peer"], a.id.to_string());
    assert_eq!(lookup["found"], true);
    let answer = emu
        .feed(a.id)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.to_string())
        .find(|r| r.contains("peer-backend got: hello"));
    let answer = answer.expect("beta answered alpha");
    assert!(answer.contains("(from alpha/planner)"), "{answer}");
    host.stop().await;
}
