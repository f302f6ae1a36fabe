//! One backend process serving several workspaces (SPEC §17.3), through `BackendPool` with the
//! real test backend: who shares, what each request names, a crash, a refused open, closing one
//! workspace while the others serve, fair slots, and host calls routed per workspace.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use molecule_host::backend::{
    BackendPool, CallError, CallOptions, HostCall, HostHandlers, Supervisor, SupervisorConfig,
    Unavailable,
};
use molecule_protocol::RpcError;
use molecule_protocol::methods::CancelReason;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::connect_host::gone;
use crate::support::backend::{Setup, message, reply_data, reply_text};
use crate::support::wait::{until, until_some, within};

/// Workspaces of one kind in one directory, and the log of the backend's opens and closes.
struct Fleet {
    dir: TempDir,
    pool: BackendPool,
    base: SupervisorConfig,
}

impl Fleet {
    /// The test backend advertising `max` workspaces per process and 8 requests at once (unless
    /// `extra` says otherwise), with `extra` variables.
    fn new(max: &str, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("workspaces.log");
        let concurrency = extra
            .iter()
            .find(|(k, _)| *k == "MOLECULE_TEST_MAX_CONCURRENCY")
            .map_or("8", |(_, v)| v);
        let refuse = dir.path().join("refuse");
        let mut setup = Setup::new()
            .env("MOLECULE_TEST_MAX_WORKSPACES", max)
            .env("MOLECULE_TEST_REFUSE_FILE", refuse.to_str().expect("utf-8"))
            .env("MOLECULE_TEST_MAX_CONCURRENCY", concurrency)
            .env("MOLECULE_TEST_WORKSPACE_LOG", log.to_str().expect("utf-8"))
            .with(|c| {
                c.restart.backoff_base = Duration::from_millis(5);
                c.restart.backoff_max = Duration::from_millis(20);
                c.restart.breaker_cooldown = Duration::from_millis(100);
            });
        for (k, v) in extra
            .iter()
            .filter(|(k, _)| *k != "MOLECULE_TEST_MAX_CONCURRENCY")
        {
            setup = setup.env(k, v);
        }
        Fleet {
            dir,
            pool: BackendPool::new(),
            base: setup.config,
        }
    }

    /// Starts workspace `id` through the pool; its `test/who` host method answers its id.
    async fn start(&self, id: &str) -> Supervisor {
        let mut config = self.base.clone();
        config.workspace_id = id.into();
        config.state_dir = self.dir.path().join(id);
        let mut handlers = HostHandlers::new();
        let me = id.to_owned();
        handlers.register("test/who", move |_: HostCall| {
            let me = me.clone();
            async move { Ok::<Value, RpcError>(json!({"workspace": me})) }
        });
        config.handlers = handlers;
        within("the workspace to start", self.pool.start(config))
            .await
            .unwrap_or_else(|e| panic!("{id} did not start: {e}"))
    }

    /// From now on the backend refuses to open `ids`.
    fn refuse(&self, ids: &[&str]) {
        std::fs::write(self.dir.path().join("refuse"), ids.join("\n")).expect("write");
    }

    /// The backend's log lines, `<pid> <open|close> <id> <stateDir>`.
    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("workspaces.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

async fn ask(
    sup: &Supervisor,
    text: &str,
) -> Result<molecule_protocol::HandleA2aResult, CallError> {
    within(
        &format!("the answer to {text:?}"),
        sup.handle_a2a(message(text), CallOptions::default()),
    )
    .await
}

/// The workspace a request's params named, as the backend saw it.
async fn named(sup: &Supervisor) -> Value {
    let reply = ask(sup, "params").await.expect("an answer");
    reply_data(&reply)["workspace"]["id"].clone()
}

#[tokio::test]
async fn workspaces_of_one_kind_share_one_process_and_each_request_names_its_own() {
    let fleet = Fleet::new("8", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let c = fleet.start("ws-c").await;
    let pid = a.pid().expect("running");
    assert_eq!((b.pid(), c.pid()), (Some(pid), Some(pid)));
    assert_eq!(fleet.pool.shared_processes(), 1);
    for (sup, id) in [(&a, "ws-a"), (&b, "ws-b"), (&c, "ws-c")] {
        assert_eq!(named(sup).await, json!(id));
    }
    let b_dir = fleet.dir.path().join("ws-b");
    assert_eq!(
        fleet.log(),
        vec![
            format!("{pid} open ws-b {}", b_dir.display()),
            format!(
                "{pid} open ws-c {}",
                fleet.dir.path().join("ws-c").display()
            ),
        ]
    );
    assert!(
        b_dir.is_dir(),
        "the host made the state directory before the open"
    );
}

#[tokio::test]
async fn a_full_process_starts_another_and_a_single_workspace_backend_is_never_shared() {
    let fleet = Fleet::new("2", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let c = fleet.start("ws-c").await;
    assert_eq!(a.pid(), b.pid());
    assert_ne!(a.pid(), c.pid(), "the first process is full");
    assert_eq!(fleet.pool.shared_processes(), 2);

    let single = Fleet::new("1", &[]);
    let x = single.start("ws-x").await;
    let y = single.start("ws-y").await;
    assert_ne!(x.pid(), y.pid());
    assert_eq!(single.pool.shared_processes(), 0);
    assert!(single.log().is_empty(), "no workspace/open was sent");
}

#[tokio::test]
async fn a_refused_open_gets_a_process_of_its_own() {
    let fleet = Fleet::new("8", &[("MOLECULE_TEST_REFUSE_WORKSPACE", "ws-b")]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    assert_ne!(a.pid(), b.pid());
    assert_eq!(named(&b).await, json!("ws-b"));
    // ws-b's own process is shared too, from then on.
    let c = fleet.start("ws-c").await;
    assert!(c.pid() == a.pid() || c.pid() == b.pid());
    assert_eq!(named(&c).await, json!("ws-c"));
}

#[tokio::test]
async fn a_crash_fails_every_workspace_s_requests_and_the_next_process_reopens_them_all() {
    let fleet = Fleet::new("8", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let c = fleet.start("ws-c").await;
    let first = a.pid().expect("running");
    // Written first, so it is in flight when the crash comes.
    let held = c.handle_a2a(message("hang"), CallOptions::default());
    let (held, crashed) = tokio::join!(within("the held request", held), ask(&b, "crash"));
    assert!(matches!(crashed, Err(CallError::Crashed(_))), "{crashed:?}");
    assert!(
        matches!(held, Err(CallError::Crashed(_))),
        "another workspace's request: {held:?}"
    );
    for (sup, id) in [(&a, "ws-a"), (&b, "ws-b"), (&c, "ws-c")] {
        assert_eq!(named(sup).await, json!(id));
    }
    let second = a.pid().expect("running");
    assert_ne!(first, second);
    assert_eq!((b.pid(), c.pid()), (Some(second), Some(second)));
    let reopened: Vec<String> = fleet
        .log()
        .into_iter()
        .filter(|l| l.starts_with(&format!("{second} ")))
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        reopened,
        vec![format!("{second} open ws-b"), format!("{second} open ws-c")],
        "initialize named ws-a, workspace/open the others"
    );
}

#[tokio::test]
async fn closing_a_workspace_drains_it_alone_and_the_last_close_stops_the_process() {
    let fleet = Fleet::new("8", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let pid = a.pid().expect("running");
    // ws-a's request finishes within the drain; ws-b's hangs on, untouched by ws-a's close.
    let a_work = a.handle_a2a(message("sleep:100"), CallOptions::default());
    let b_cancel = tokio_util::sync::CancellationToken::new();
    let b_opts = CallOptions {
        cancel: Some(b_cancel.clone()),
        ..CallOptions::default()
    };
    let b_work = tokio::spawn({
        let b = b.clone();
        async move { b.handle_a2a(message("hang"), b_opts).await }
    });
    let (done, report) = tokio::join!(a_work, async {
        tokio::task::yield_now().await;
        a.shutdown(true).await
    });
    assert_eq!(reply_text(&done.expect("drained")), "echo: sleep:100");
    assert_eq!((report.finished, report.cancelled), (1, 0));
    assert!(report.stop.is_none(), "the process serves on");
    assert!(
        fleet
            .log()
            .iter()
            .any(|l| l.starts_with(&format!("{pid} close ws-a")))
    );
    assert!(matches!(
        ask(&a, "hello").await,
        Err(CallError::Unavailable(_))
    ));
    assert!(!b_work.is_finished(), "ws-b's request is still in flight");
    assert_eq!(
        reply_text(&ask(&b, "hello").await.expect("ws-b serves")),
        "echo: hello"
    );
    b_cancel.cancel();
    let cancelled = within("ws-b's cancel", b_work).await.expect("joined");
    assert!(
        matches!(cancelled, Err(CallError::Cancelled { .. })),
        "{cancelled:?}"
    );
    let last = within("the last close", b.shutdown(true)).await;
    assert!(last.stop.is_some(), "the last workspace stops the process");
    until("the process to go", || gone(pid)).await;
}

#[tokio::test]
async fn closing_without_a_drain_cancels_only_that_workspace_s_requests() {
    let fleet = Fleet::new("8", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let a_work = tokio::spawn({
        let a = a.clone();
        async move { a.handle_a2a(message("hang"), CallOptions::default()).await }
    });
    let b_work = b.handle_a2a(message("sleep:300"), CallOptions::default());
    let (closed, b_done) = tokio::join!(
        async {
            // ws-a's task runs first: its request is in flight by the close.
            tokio::task::yield_now().await;
            a.shutdown(false).await
        },
        b_work
    );
    assert_eq!(closed.cancelled, 1);
    let a_out = within("ws-a's request", a_work).await.expect("joined");
    assert!(
        matches!(
            a_out,
            Err(CallError::Cancelled {
                reason: CancelReason::HostShutdown
            })
        ),
        "{a_out:?}"
    );
    assert_eq!(
        reply_text(&b_done.expect("ws-b's request was not cancelled")),
        "echo: sleep:300"
    );
}

#[tokio::test]
async fn a_freed_slot_goes_to_the_workspace_that_waited_longest() {
    let fleet = Fleet::new("8", &[("MOLECULE_TEST_MAX_CONCURRENCY", "1")]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let order = Arc::new(Mutex::new(Vec::new()));
    let send = |sup: &Supervisor, tag: &'static str| {
        let (sup, order) = (sup.clone(), order.clone());
        tokio::spawn(async move {
            sup.handle_a2a(message("sleep:30"), CallOptions::default())
                .await
                .expect("an answer");
            order.lock().expect("lock").push(tag);
        })
    };
    // The test's runtime runs spawned tasks in order: a1 takes the slot, a2 waits for it, a3
    // and a4 wait behind a2 for ws-a's turn, and b1 waits for the slot after a2.
    let tasks = vec![
        send(&a, "a1"),
        send(&a, "a2"),
        send(&a, "a3"),
        send(&a, "a4"),
        send(&b, "b1"),
    ];
    within("every request", join_all(tasks)).await;
    let order = order.lock().expect("lock").clone();
    let at = |tag| order.iter().position(|t| *t == tag).expect("finished");
    assert!(
        at("b1") < at("a3"),
        "ws-b waited behind one ws-a request, not three: {order:?}"
    );
}

#[tokio::test]
async fn host_calls_are_served_by_the_workspace_of_their_request() {
    let fleet = Fleet::new("8", &[]);
    let _a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let reply = ask(&b, "call-host:test/who").await.expect("an answer");
    assert_eq!(
        reply_data(&reply)["hostResponse"]["result"]["workspace"],
        json!("ws-b")
    );
}

#[tokio::test]
async fn a_workspace_the_restarted_process_refuses_is_parked_alone_and_opened_again_later() {
    let fleet = Fleet::new("8", &[]);
    let a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let c = fleet.start("ws-c").await;
    fleet.refuse(&["ws-b"]);
    assert!(matches!(ask(&a, "crash").await, Err(CallError::Crashed(_))));
    assert_eq!(named(&a).await, json!("ws-a"));
    assert_eq!(named(&c).await, json!("ws-c"), "the other workspaces serve");
    let parked = ask(&b, "hello").await;
    assert!(
        matches!(
            parked,
            Err(CallError::Unavailable(Unavailable::BreakerOpen { .. }))
        ),
        "a parked workspace's message waits, as for an open breaker: {parked:?}"
    );
    fleet.refuse(&[]);
    let reply = until_some("ws-b to be opened again", async || {
        ask(&b, "params").await.ok()
    })
    .await;
    assert_eq!(reply_data(&reply)["workspace"]["id"], json!("ws-b"));
    assert_eq!(b.pid(), a.pid());
}

#[tokio::test]
async fn a_call_made_right_after_an_open_is_answered_reaches_its_workspace() {
    let fleet = Fleet::new(
        "8",
        &[
            ("MOLECULE_TEST_FAULT", "call-after-open"),
            ("MOLECULE_TEST_HOST_METHOD", "test/who"),
        ],
    );
    let _a = fleet.start("ws-a").await;
    let b = fleet.start("ws-b").await;
    let pid = b.pid().expect("running");
    let called = format!("{pid} called ws-b");
    let line = until_some("the call's outcome", async || {
        fleet.log().into_iter().find(|l| l.starts_with(&called))
    })
    .await;
    assert_eq!(line, format!("{called} ok"));
}
