//! `connect::serve` run in-process, as `molecule dev` and the peer calls will: an in-memory
//! token, the ready hook, a backend → host method served from the hooks, and the row
//! interceptor that takes rows away from dispatch.

use std::sync::Arc;
use std::time::Duration;

use molecule_emulator::{
    DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs, WorkspaceSpec,
};
use molecule_host::backend::{BackendCommand, HostCall, HostHandlers};
use molecule_host::connect::{self, Config, Hooks, RowInterceptor, TokenSetting};
use molecule_host::platform::{ActivityRow, PlatformConfig, Secret};
use molecule_host::signal::Shutdown;
use serde_json::{Value, json};

use super::connect_host::TEST_BACKEND;
use super::support::wait::{until, within};

/// Claims rows whose message text starts with "for-a-waiting-call".
struct Claims;

impl RowInterceptor for Claims {
    fn claim(&self, row: &ActivityRow) -> bool {
        let text = row
            .request_body
            .as_ref()
            .and_then(|b| b.pointer("/params/message/parts/0/text"))
            .and_then(Value::as_str);
        text.is_some_and(|t| t.starts_with("for-a-waiting-call"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_in_process_with_hooks_for_dev_and_the_peer_calls() {
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator");
    let spec = |name: &str| WorkspaceSpec {
        name: Some(name.into()),
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let main = emu.create_workspace(spec("main")).expect("main");
    let dir = tempfile::tempdir().expect("dir");
    let platform = PlatformConfig::new(emu.base_url(), &main.id.to_string()).expect("platform");
    let token = TokenSetting::Value {
        token: Secret::new(main.token.clone()),
        origin: "molecule dev".into(),
    };
    let command = BackendCommand::from_argv(vec![TEST_BACKEND.into()]).expect("backend");
    let mut config = Config::new(platform, token, command);
    config.state_dir = Some(dir.path().join("state"));
    config.settings.poll.interval = Duration::from_millis(20);
    config.settings.timers.heartbeat = Duration::from_millis(100);

    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let ready = std::sync::Mutex::new(Some(ready_tx));
    let hooks = Hooks {
        host_handlers: Some(Arc::new(
            |_client: &molecule_host::platform::PlatformClient| {
                let mut handlers = HostHandlers::new();
                handlers.register("test/whoami", |_call: HostCall| async {
                    Ok(json!({"host": "in-process"}))
                });
                handlers
            },
        )),
        interceptor: Some(Arc::new(Claims)),
        enricher: None,
        host_socket: None,
        on_ready: Some(Arc::new(move || {
            if let Some(tx) = ready.lock().expect("lock").take() {
                let _ = tx.send(());
            }
        })),
        ..Hooks::default()
    };
    let shutdown = Shutdown::manual();
    let server = tokio::spawn(connect::serve(config, shutdown.clone(), hooks));
    within("the ready hook", ready_rx).await.expect("ready");

    let canvas = |text: &str| DevMessage {
        text: text.into(),
        ..DevMessage::default()
    };
    emu.send(
        main.id,
        SendAs::Canvas,
        canvas("for-a-waiting-call: the peer's answer"),
    )
    .await
    .expect("sent");
    emu.send(main.id, SendAs::Canvas, canvas("call-host:test/whoami"))
        .await
        .expect("sent");
    let notifies = || -> Vec<String> {
        let feed = emu.feed(main.id).unwrap_or_default();
        feed.iter()
            .filter(|r| r["method"] == "notify")
            .filter_map(|r| {
                r.pointer("/response_body/result")?
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    until("the reply to the second message", || !notifies().is_empty()).await;
    let state = dir.path().join("state/state.json");
    until("both rows to be settled", || {
        std::fs::read_to_string(&state)
            .is_ok_and(|s| s.contains("cursor") && !s.contains("\"cursor\":null"))
            && emu
                .workspace_state(main.id)
                .is_some_and(|w| w["backlog"] == 0)
    })
    .await;
    shutdown.graceful.cancel();
    within("serve to return", server)
        .await
        .expect("joined")
        .expect("a clean stop");
    let replies = notifies();
    assert_eq!(
        replies.len(),
        1,
        "the claimed row was not dispatched: {replies:?}"
    );
    assert!(
        replies[0].contains("in-process"),
        "the host method answered: {replies:?}"
    );
}
