//! The chat page of `molecule dev` in a real headless Chromium, driven over the W3C WebDriver
//! HTTP API by chromedriver: type as a person, see the echo's reply appear, read the state
//! panel, then speak as the peer workspace.
//!
//! Without a browser the test is skipped locally (it says so) and fails on CI (`CI` set),
//! where `.ci/run` installs `chromium` and `chromium-driver`. `MOLECULE_SCREENSHOT=path` makes
//! it save a screenshot of the page there.
#![allow(clippy::unwrap_used, reason = "a test fails on what it cannot do")]

use std::process::{Child, Command, Stdio};

use base64::Engine;
use serde_json::{Value, json};

use super::dev_support::{Dev, have};
use super::support::wait::until_some;

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver and one browser session.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn start() -> Browser {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let mut b = Browser {
            driver,
            http,
            base,
            session: String::new(),
            _profile: tempfile::tempdir().unwrap(),
        };
        b.wait_ready().await;
        b.new_session().await;
        b
    }

    async fn wait_ready(&self) {
        until_some("chromedriver to become ready", async || {
            let ready = match self.http.get(format!("{}/status", self.base)).send().await {
                Ok(r) => r.json::<Value>().await.ok(),
                Err(_) => None,
            };
            ready
                .is_some_and(|v| v["value"]["ready"] == true)
                .then_some(())
        })
        .await
    }

    async fn new_session(&mut self) {
        let profile = format!("--user-data-dir={}", self._profile.path().display());
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1100,640",
            &profile,
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium(), "args": args}}}});
        let v = self.call("POST", "/session", caps).await;
        self.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("{v}"))
            .into();
    }

    /// One WebDriver command; returns its `value`.
    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(r["value"]["error"].is_null(), "{method} {path}: {r}");
        r["value"].clone()
    }

    async fn cmd(&self, path: &str, body: Value) -> Value {
        self.call("POST", &format!("/session/{}{path}", self.session), body)
            .await
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd("/element", json!({"using": "css selector", "value": css}))
            .await;
        v[ELEMENT].as_str().unwrap().to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd(&format!("/element/{el}/value"), json!({"text": text}))
            .await;
    }

    async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd(&format!("/element/{el}/click"), json!({})).await;
    }

    async fn script(&self, js: &str) -> Value {
        self.cmd("/execute/sync", json!({"script": js, "args": []}))
            .await
    }

    /// Polls `js` until `ok` accepts its value (the page updates itself from its long-poll).
    async fn until(&self, what: &str, js: &str, ok: impl Fn(&Value) -> bool) -> Value {
        until_some(what, async || Some(self.script(js).await).filter(&ok)).await
    }

    async fn screenshot(&self) -> Vec<u8> {
        let path = format!("/session/{}/screenshot", self.session);
        let v = self.call("GET", &path, Value::Null).await;
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The test deletes its session (which ends the browser); this ends the driver.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn chromium() -> String {
    which::which("chromium")
        .or_else(|_| which::which("chromium-browser"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "chromium".into())
}

const BUBBLES: &str = "return Array.from(document.querySelectorAll('#reply-list .bubble'))\
    .map(b => b.className + ' | ' + b.textContent)";

fn has_bubble(v: &Value, class: &str, text: &str) -> bool {
    v.as_array().unwrap().iter().any(|b| {
        let b = b.as_str().unwrap_or_default();
        b.starts_with(&format!("bubble {class} ")) && b.contains(text)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_chat_page_talks_as_a_person_and_as_the_peer_and_shows_the_state() {
    let browsers = have("chromium", "chromium chromium-driver")
        && have("chromedriver", "chromium chromium-driver");
    if !browsers {
        return;
    }
    let mut dev = Dev::start(&[]).await;
    let browser = Browser::start().await;
    // The URL molecule dev printed, with the run's key in its fragment.
    assert!(
        dev.chat_url
            .starts_with(&format!("{}/?ws={}#key=", dev.url, dev.agent))
    );
    browser.cmd("/url", json!({"url": dev.chat_url})).await;

    // As a person in the canvas (the default speaker).
    browser
        .type_into("#message-box", "hello from the browser")
        .await;
    browser.click("#send-button").await;
    let v = browser
        .until("the echo's reply", BUBBLES, |v| {
            has_bubble(v, "out", "echo: hello from the browser")
        })
        .await;
    assert!(has_bubble(&v, "in", "canvas → agent"), "{v}");

    let state = "return ['state-registered','state-status','state-heartbeat','state-backlog',\
        'state-error','state-id','state-stream'].map(id => document.getElementById(id).textContent)";
    let s = browser
        .until("the state panel", state, |v| v[3].as_str() == Some("0"))
        .await;
    assert_eq!(s[0], "yes", "{s}");
    assert_eq!(s[1], "online", "{s}");
    let beat = s[2].as_str().unwrap();
    assert!(beat == "just now" || beat.ends_with(" ago"), "{s}");
    assert_eq!(s[4], "none", "{s}");
    assert_eq!(s[5], dev.agent.as_str(), "{s}");
    assert_eq!(s[6], "live", "the host's event stream is open: {s}");

    // As the peer workspace.
    browser
        .click(&format!("#speaker-select option[value='{}']", dev.peer))
        .await;
    browser.type_into("#message-box", "hello as the peer").await;
    browser.click("#send-button").await;
    let v = browser
        .until("the reply to the peer", BUBBLES, |v| {
            has_bubble(v, "out", "echo: hello as the peer")
        })
        .await;
    assert!(has_bubble(&v, "in", "peer → agent"), "{v}");
    assert!(has_bubble(&v, "out", "agent → peer"), "{v}");
    assert_eq!(dev.peer_replies().await, ["echo: hello as the peer"]);
    // The panel follows the host's next poll past the answered row.
    browser
        .until("the backlog to drain again", state, |v| {
            v[3].as_str() == Some("0")
        })
        .await;

    if let Some(path) = std::env::var_os("MOLECULE_SCREENSHOT") {
        std::fs::write(&path, browser.screenshot().await).unwrap();
        eprintln!("screenshot written to {}", path.to_string_lossy());
    }
    let session = format!("/session/{}", browser.session);
    browser.call("DELETE", &session, Value::Null).await;
    drop(browser);
    assert_eq!(dev.stop().await, Some(0));
}
