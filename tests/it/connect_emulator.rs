//! `molecule connect` against the local platform emulator: two hosts talking to each other
//! (one exchange with echoes; the hop limit with backends that always answer), canvas uploads
//! handed to the backend as local files, the Python and Node echoes, and the older platform.

use std::os::unix::fs::PermissionsExt;

use molecule_emulator::{
    Compat, CreatedWorkspace, DeliveryMode, DevMessage, Emulator, EmulatorConfig, SendAs,
    WorkspaceSpec,
};
use serde_json::{Value, json};
use uuid::Uuid;

use super::connect_host::{Host, Site, TEST_BACKEND, echo, write_private};
use super::support::wait::until;

pub(super) struct Pair {
    pub emu: Emulator,
    pub main: CreatedWorkspace,
    pub peer: CreatedWorkspace,
}

pub(super) async fn pair(compat: Compat) -> Pair {
    let emu = Emulator::start(EmulatorConfig::for_compat(compat))
        .await
        .expect("emulator");
    let spec = |name: &str, parent| WorkspaceSpec {
        name: Some(name.into()),
        parent_id: parent,
        delivery_mode: Some(DeliveryMode::Poll),
        ..WorkspaceSpec::default()
    };
    let main = emu.create_workspace(spec("main", None)).expect("main");
    let peer = emu
        .create_workspace(spec("peer", Some(main.id)))
        .expect("peer");
    Pair { emu, main, peer }
}

/// A host serving `ws` on the emulator with `backend`.
pub(super) fn serve(
    emu: &Emulator,
    ws: &CreatedWorkspace,
    site: &Site,
    backend: &str,
    extra: &[&str],
) -> Host {
    write_private(&site.token_file(), &ws.token);
    let mut args = site.args(emu.base_url(), backend);
    args[3] = ws.id.to_string();
    args.extend(extra.iter().map(|s| s.to_string()));
    Host::start(&args)
}

fn texts(feed: &[Value]) -> Vec<String> {
    feed.iter()
        .filter(|r| r["method"] == "message/send")
        .map(|r| {
            r.pointer("/request_body/params/message/parts/0/text")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

pub(super) fn feed(emu: &Emulator, id: Uuid) -> Vec<Value> {
    emu.feed(id).expect("a workspace")
}

pub(super) fn says(text: &str) -> DevMessage {
    DevMessage {
        text: text.into(),
        ..DevMessage::default()
    }
}

#[tokio::test]
async fn two_echo_hosts_exchange_exactly_once() {
    let p = pair(Compat::New).await;
    let (a, b) = (Site::new(), Site::new());
    let host_a = serve(&p.emu, &p.main, &a, &echo(), &[]);
    let host_b = serve(&p.emu, &p.peer, &b, &echo(), &[]);
    host_a.wait_log("serving", |_| true).await;
    host_b.wait_log("serving", |_| true).await;
    p.emu
        .send(p.main.id, SendAs::Workspace(p.peer.id), says("ping"))
        .await
        .expect("sent");
    let done = host_b.wait_log("row handled", |_| true).await;
    assert_eq!(
        done["outcome"], "no_reply",
        "the echo does not answer an automatic reply"
    );
    let seen = host_a.events().len();
    until("a few more of host A's log lines", || {
        host_a.events().len() > seen + 3
    })
    .await;
    assert_eq!(texts(&feed(&p.emu, p.main.id)), ["ping"]);
    assert_eq!(texts(&feed(&p.emu, p.peer.id)), ["echo: ping"]);
    let reply = &feed(&p.emu, p.peer.id)[0];
    assert_eq!(
        reply.pointer("/request_body/params/message/metadata/molecule/hops"),
        Some(&json!(1))
    );
    host_a.stop().await;
    host_b.stop().await;
}

#[tokio::test]
async fn two_always_answering_hosts_stop_at_the_hop_limit() {
    let p = pair(Compat::New).await;
    let (a, b) = (Site::new(), Site::new());
    let limit = ["--hop-limit", "3"];
    let host_a = serve(&p.emu, &p.main, &a, TEST_BACKEND, &limit);
    let host_b = serve(&p.emu, &p.peer, &b, TEST_BACKEND, &limit);
    host_a.wait_log("serving", |_| true).await;
    host_b.wait_log("serving", |_| true).await;
    p.emu
        .send(p.main.id, SendAs::Workspace(p.peer.id), says("ping"))
        .await
        .expect("sent");
    let last = host_b
        .wait_log("row handled", |e| {
            e["outcome"] == "reply_suppressed_at_hop_limit"
        })
        .await;
    assert!(last["row"].is_string());
    let seen = host_b.events().len();
    until("a few more of host B's log lines", || {
        host_b.events().len() > seen + 3
    })
    .await;
    let hops = |id| -> Vec<u64> {
        feed(&p.emu, id)
            .iter()
            .filter_map(|r| {
                r.pointer("/request_body/params/message/metadata/molecule/hops")
                    .and_then(Value::as_u64)
            })
            .collect()
    };
    assert_eq!(hops(p.peer.id), [1, 3]);
    // The ping, sent as a molecule peer sends, is hop 0.
    assert_eq!(hops(p.main.id), [0, 2]);
    assert_eq!(
        texts(&feed(&p.emu, p.main.id)).len(),
        2,
        "ping and one automatic reply"
    );
    host_a.stop().await;
    host_b.stop().await;
}

/// Stages a canvas upload of `../notes 1.txt` for `ws`; returns its `platform-pending:` URI.
async fn stage_upload(emu: &Emulator, ws: Uuid) -> String {
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"../notes 1.txt\"\r\n\
         Content-Type: text/plain\r\n\r\nthe file's content\r\n--{boundary}--\r\n"
    );
    let staged: Value = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client")
        .post(format!("{}/_dev/workspaces/{ws}/uploads", emu.base_url()))
        .header("x-molecule-dev", "1")
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("upload")
        .json()
        .await
        .expect("json");
    staged["files"][0]["uri"].as_str().expect("uri").to_owned()
}

/// Sends a canvas message whose file part references `uri` to the test backend (`params`:
/// it answers with the params it got), waits for the reply and returns its text.
async fn send_file(emu: &Emulator, ws: Uuid, host: &Host, uri: &str) -> String {
    let part =
        json!({"kind":"file","file":{"uri": uri, "name":"notes 1.txt","mimeType":"text/plain"}});
    let msg = DevMessage {
        text: "params".into(),
        parts: vec![part],
        ..DevMessage::default()
    };
    emu.send(ws, SendAs::Canvas, msg).await.expect("sent");
    host.wait_log("row handled", |e| e["outcome"] == "replied")
        .await;
    let notify = feed(emu, ws)
        .into_iter()
        .rfind(|r| r["method"] == "notify")
        .expect("a reply");
    notify
        .pointer("/response_body/result")
        .and_then(Value::as_str)
        .expect("text")
        .to_owned()
}

/// The local path a reply's `file://` URI names.
fn local_path(shown: &str) -> String {
    let start = shown.find("file://").expect("a local file uri") + "file://".len();
    let local = shown[start..].split('"').next().expect("uri");
    local.replace("%20", " ")
}

#[tokio::test]
async fn a_canvas_upload_reaches_the_backend_as_a_private_local_file() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    let host = serve(&p.emu, &p.main, &site, TEST_BACKEND, &[]);
    host.wait_log("serving", |_| true).await;
    let uri = stage_upload(&p.emu, p.main.id).await;
    let shown = send_file(&p.emu, p.main.id, &host, &uri).await;
    let local = local_path(&shown);
    assert!(
        local.starts_with(&site.state_dir().join("uploads").display().to_string()),
        "{local}"
    );
    assert_eq!(
        std::fs::read_to_string(&local).expect("saved"),
        "the file's content"
    );
    assert_eq!(
        std::fs::metadata(&local)
            .expect("meta")
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    assert!(!shown.contains("platform-pending:"), "{shown}");
    until("the upload map to be saved", || {
        site.state()["uploads"].get(&uri).is_some()
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn the_upload_map_survives_a_restart_and_uploads_are_deleted_after_the_retention() {
    let p = pair(Compat::New).await;
    let site = Site::new();
    let host = serve(&p.emu, &p.main, &site, TEST_BACKEND, &[]);
    host.wait_log("serving", |_| true).await;
    let uri = stage_upload(&p.emu, p.main.id).await;
    host.wait_log("row handled", |e| e["outcome"] == "upload")
        .await;
    until("the upload map to be saved", || {
        site.state()["uploads"].get(&uri).is_some()
    })
    .await;
    host.stop().await;
    let saved = site.state()["uploads"][&uri]["path"]
        .as_str()
        .expect("path")
        .to_owned();

    // A message that references the upload after a restart still gets the local copy.
    let host = serve(&p.emu, &p.main, &site, TEST_BACKEND, &[]);
    let shown = send_file(&p.emu, p.main.id, &host, &uri).await;
    assert_eq!(local_path(&shown), saved);
    host.stop().await;

    // Past the retention, the file and its map entry are gone.
    let host = serve(
        &p.emu,
        &p.main,
        &site,
        TEST_BACKEND,
        &["--upload-retention", "1s"],
    );
    host.wait_log("deleted canvas uploads past the retention period", |_| true)
        .await;
    until("the upload to be deleted", || {
        !std::path::Path::new(&saved).exists()
    })
    .await;
    until("the upload map entry to be dropped", || {
        site.state()["uploads"].get(&uri).is_none()
    })
    .await;
    host.stop().await;
}

#[tokio::test]
async fn the_python_and_node_echoes_answer_through_connect_on_the_older_platform() {
    let p = pair(Compat::Old).await;
    let root = env!("CARGO_MANIFEST_DIR");
    for backend in [
        format!("python3 {root}/plugins/echo/python/echo.py"),
        format!("node {root}/plugins/echo/node/echo.js"),
    ] {
        let site = Site::new();
        let host = serve(&p.emu, &p.main, &site, &backend, &[]);
        host.wait_log("serving", |_| true).await;
        let before = feed(&p.emu, p.peer.id).len();
        p.emu
            .send(p.main.id, SendAs::Workspace(p.peer.id), says("hi"))
            .await
            .expect("sent");
        until("the reply in the peer's feed", || {
            feed(&p.emu, p.peer.id).len() > before
        })
        .await;
        let reply = feed(&p.emu, p.peer.id).pop().expect("reply");
        assert_eq!(
            reply.pointer("/request_body/params/message/parts/0/text"),
            Some(&json!("echo: hi")),
            "{backend}"
        );
        assert!(reply.get("seq").is_none(), "the older platform has no seq");
        host.stop().await;
    }
}
