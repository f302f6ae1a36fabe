//! The fault suite's driver: one scenario is N messages from a peer to a workspace served by the
//! real `molecule connect` binary and the misbehaving test backend, on the real emulator, while
//! faults of one kind (or all kinds) are injected. Whatever happens, at the end every message
//! has exactly one reply id (the one derived from its row), the host exited only when killed
//! and stops with 0, no backend process is left, and the host's peak RSS stayed bounded.
#![allow(clippy::unwrap_used, reason = "test helpers fail the test they serve")]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use molecule_emulator::{CreatedWorkspace, DevMessage, Emulator, Endpoint, FaultConfig, SendAs};
use molecule_protocol::keys::reply_message_id;
use nix::sys::signal::Signal;
use serde_json::Value;

use super::connect_emu::Emu;
use super::connect_host::{Host, Site, TEST_BACKEND};
use super::fault_disk::Disk;

/// What a message asks of the test backend (the first word of its text).
pub const BACKEND_FAULTS: &[&str] = &[
    "crash",
    "hang",
    "junk",
    "dup",
    "stray",
    "stderr:3000",
    "bad-utf8",
    "self-cancel",
    "sleep:40",
    // A flood of host calls at once: the host bounds them in flight and answers the rest.
    "calls:100:peers/list",
];

/// One run of the suite.
pub struct Scenario {
    pub name: &'static str,
    pub messages: usize,
    pub seed: u64,
    /// The share of messages (0 to 1) that carry a backend fault.
    pub backend_faults: f64,
    /// Host SIGKILLs at random points.
    pub kills: u32,
    /// Faults set on the emulator before the first message (probabilistic rules, hostile rows).
    pub platform: FaultConfig,
    /// Hostile answers, each set once at an even spread over the run.
    pub hostile: Vec<FaultConfig>,
    /// The backend's process-wide fault (`MOLECULE_TEST_FAULT`), e.g. `double-fork`.
    pub process_fault: Option<&'static str>,
    /// The state directory on a tiny tmpfs that fills up, then turns read-only, mid-run.
    pub disk: bool,
    /// Record the host's RSS every this many messages (0: never).
    pub rss_every: usize,
}

impl Scenario {
    pub fn new(name: &'static str, messages: usize) -> Scenario {
        Scenario {
            name,
            messages,
            seed: 7,
            backend_faults: 0.0,
            kills: 0,
            platform: FaultConfig::default(),
            hostile: Vec::new(),
            process_fault: None,
            disk: false,
            rss_every: 0,
        }
    }
}

/// What a run came to: the row of the long mode's table in docs/benchmarks.md.
#[derive(Debug, Default)]
pub struct Summary {
    pub messages: usize,
    pub replied: usize,
    /// Reply posts the platform saw again (same messageId), by the kind of the message.
    pub duplicates: BTreeMap<String, usize>,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    pub host_kills: u32,
    pub max_rss_kib: u64,
    pub seconds: f64,
    /// (messages sent, host RSS in KiB), every `rss_every` messages.
    pub rss: Vec<(usize, u64)>,
}

impl Summary {
    /// One markdown table row.
    pub fn row(&self, name: &str) -> String {
        let join = |m: Vec<String>| {
            if m.is_empty() {
                "0".into()
            } else {
                m.join(", ")
            }
        };
        let dups = join(
            self.duplicates
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect(),
        );
        let faults = join(
            self.faults
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect(),
        );
        format!(
            "| {name} | {} | {} | {dups} | {faults} | {} | {:.1} MiB | {:.0} s |",
            self.messages,
            self.replied,
            self.host_kills,
            self.max_rss_kib as f64 / 1024.0,
            self.seconds
        )
    }
}

/// The emulator, the served workspace, the peer that sends, and the host's site.
struct Rig {
    emu: Emulator,
    main: CreatedWorkspace,
    peer: CreatedWorkspace,
    site: Site,
    tag: String,
    disk: Option<Disk>,
    /// The log lines of the hosts killed so far, for the report of a failed run.
    past: std::sync::Mutex<Vec<String>>,
}

impl Rig {
    async fn start(s: &Scenario) -> Rig {
        let Emu {
            emu, main, peer, ..
        } = Emu::start().await;
        let site = Site::new();
        super::connect_host::write_private(&site.token_file(), &main.token);
        let disk = s.disk.then(|| Disk::mount(site.dir.path())).flatten();
        let tag = uuid::Uuid::new_v4().to_string();
        Rig {
            emu,
            main,
            peer,
            site,
            tag,
            disk,
            past: Default::default(),
        }
    }

    /// The reply posts the emulator has seen.
    fn posts(&self) -> u64 {
        self.emu.stats().requests_to(Endpoint::A2a)
    }

    /// Polls `step` with the reply posts so far, every `every`, until it gives a value; `Err`
    /// with the posts when none was added for [`STALL`]. The suite's one polling loop.
    async fn until_progress<T>(
        &self,
        every: Duration,
        mut step: impl FnMut(u64) -> Option<T>,
    ) -> Result<T, u64> {
        let (mut last, mut since) = (self.posts(), Instant::now());
        loop {
            let now = self.posts();
            if let Some(v) = step(now) {
                return Ok(v);
            }
            if now != last {
                (last, since) = (now, Instant::now());
            }
            if since.elapsed() > STALL {
                return Err(now);
            }
            tokio::time::sleep(every).await;
        }
    }

    fn state_dir(&self) -> PathBuf {
        match &self.disk {
            Some(d) => d.path().join("state"),
            None => self.site.state_dir(),
        }
    }

    fn host(&self, s: &Scenario) -> Host {
        let mut args = self.site.args(self.emu.base_url(), TEST_BACKEND);
        args[3] = self.main.id.to_string();
        let state = self.state_dir().display().to_string();
        let mut extra = vec![
            "--state-dir",
            &state,
            "--request-timeout",
            "400ms",
            "--max-attempts",
            "3",
            "--max-wait",
            "300ms",
            "--max-response-bytes",
            "1048576",
            "--backend-breaker-cooldown",
            "100ms",
            "--http-timeout",
            "2s",
            "--no-event-stream",
        ];
        let tag = format!("MOLECULE_FAULT_TAG={}", self.tag);
        // Several requests in flight: a crash then hits calls at every stage of their life.
        extra.extend([
            "--backend-env",
            &tag,
            "--backend-env",
            "MOLECULE_TEST_MAX_CONCURRENCY=4",
        ]);
        let fault = s.process_fault.map(|f| format!("MOLECULE_TEST_FAULT={f}"));
        let pid_file = format!(
            "MOLECULE_TEST_PID_FILE={}",
            self.site.dir.path().join("escaped").display()
        );
        if let Some(f) = &fault {
            extra.extend(["--backend-env", f, "--backend-env", &pid_file]);
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        Host::start_with(&args, &[("RUST_LOG", "info")])
    }

    /// Sends message `n` from the peer; its text names the backend fault it carries, if any.
    async fn send(&self, text: String) {
        let msg = DevMessage {
            text,
            ..DevMessage::default()
        };
        self.emu
            .send(self.main.id, SendAs::Workspace(self.peer.id), msg)
            .await
            .unwrap();
    }

    /// The inbound message rows of main, as (row id, text).
    fn inbound(&self) -> Vec<(String, String)> {
        let feed = self.emu.feed(self.main.id).unwrap();
        feed.iter()
            .filter(|r| r["activity_type"] == "a2a_receive" && r["method"] == "message/send")
            .filter(|r| r["source_id"] == self.peer.id.to_string())
            .map(|r| {
                let text = r.pointer("/request_body/params/message/parts/0/text");
                let text = text.and_then(Value::as_str).unwrap_or_default();
                (r["id"].as_str().unwrap().to_owned(), text.to_owned())
            })
            .collect()
    }

    /// The messageIds of the replies in the peer's feed, with how often each arrived.
    fn replies(&self) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for r in self.emu.feed(self.peer.id).unwrap() {
            if let Some(id) = r
                .pointer("/request_body/params/message/messageId")
                .and_then(Value::as_str)
            {
                *seen.entry(id.to_owned()).or_default() += 1;
            }
        }
        seen
    }

    /// Every inbound row's expected reply id that has not arrived yet.
    fn missing(&self) -> Vec<(String, String)> {
        let replies = self.replies();
        self.inbound()
            .into_iter()
            .filter(|(row, _)| !replies.contains_key(&reply_message_id(&self.main.id, row)))
            .collect()
    }

    /// Processes still running with this run's tag in their environment.
    fn survivors(&self) -> Vec<u32> {
        let needle = format!("MOLECULE_FAULT_TAG={}", self.tag);
        let me = std::process::id();
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| *pid != me && !super::connect_host::gone(*pid))
            .filter(|pid| {
                std::fs::read(format!("/proc/{pid}/environ"))
                    .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
            })
            .collect()
    }
}

/// The host's peak RSS so far, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    proc_kib(pid, "VmHWM:")
}

/// A `kB` line of `/proc/<pid>/status`.
fn proc_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Fails the run if the host exited on its own: it must ride out every transient fault.
fn assert_running(host: &mut Host, s: &Scenario) {
    if let Some(status) = host.child.try_wait().unwrap() {
        let tail: Vec<String> = host.lines().into_iter().rev().take(40).collect();
        panic!(
            "{}: the host exited on its own ({status}); last lines, newest first:\n{}",
            s.name,
            tail.join("\n")
        );
    }
}

/// Messages sent but not yet answered before the driver waits: keeps the faults interleaved
/// with traffic instead of landing on an idle host.
const WINDOW: u64 = 16;

/// How long the driver waits for any reply post before it calls the host stalled.
const STALL: Duration = Duration::from_secs(20);

/// Runs `s` to the end and checks what always holds; returns the summary.
pub async fn run(s: Scenario) -> Summary {
    let started = Instant::now();
    let rig = Rig::start(&s).await;
    let mut d = Driver {
        host: Some(rig.host(&s)),
        rng: fastrand::Rng::with_seed(s.seed),
        summary: Summary {
            messages: s.messages,
            ..Summary::default()
        },
        read_only: false,
        rig,
        s,
    };
    d.set_faults(FaultConfig::default());
    d.drive().await;
    let Driver {
        rig,
        s,
        mut summary,
        host,
        ..
    } = d;
    let mut host = host.unwrap_or_else(|| rig.host(&s));
    wait_all_replied(&rig, &mut host, &s).await;
    summary.max_rss_kib = summary.max_rss_kib.max(peak_rss_kib(host.pid()));
    let lines = host.stop().await;
    check_after(&rig, &s, &lines).await;
    tally(&rig, &mut summary);
    summary.seconds = started.elapsed().as_secs_f64();
    summary
}

/// Sends the messages and injects the scenario's faults on the way.
struct Driver {
    rig: Rig,
    s: Scenario,
    /// `None` while the state directory is read-only after a kill (a host cannot start then).
    host: Option<Host>,
    rng: fastrand::Rng,
    summary: Summary,
    read_only: bool,
}

impl Driver {
    async fn drive(&mut self) {
        let n_all = self.s.messages;
        let mut kill_at = BTreeSet::new();
        while kill_at.len() < (self.s.kills as usize).min(n_all.saturating_sub(1)) {
            kill_at.insert(self.rng.usize(1..n_all));
        }
        let hostile_every = n_all / (self.s.hostile.len() + 1);
        let disk_at = [n_all / 4, n_all / 2, n_all * 3 / 4];
        for n in 0..n_all {
            let fault = (self.rng.f64() < self.s.backend_faults)
                .then(|| BACKEND_FAULTS[self.rng.usize(..BACKEND_FAULTS.len())]);
            self.rig
                .send(fault.map_or(format!("m{n}"), |f| format!("{f} m{n}")))
                .await;
            if hostile_every > 0 && n > 0 && n % hostile_every == 0 {
                let h = self.s.hostile.get(n / hostile_every - 1).cloned();
                self.set_faults(h.unwrap_or_default());
            }
            if self.rig.disk.is_some() && disk_at.contains(&n) {
                self.disk_step(disk_at.iter().position(|a| *a == n).unwrap_or(0))
                    .await;
            }
            if kill_at.contains(&n) {
                self.kill().await;
            }
            self.pace(n as u64 + 1).await;
            if self.s.rss_every > 0 && (n + 1) % self.s.rss_every == 0 {
                let pid = self.host.as_ref().map(Host::pid);
                let rss = pid.map_or(0, |p| proc_kib(p, "VmRSS:"));
                self.summary.rss.push((n + 1, rss));
            }
        }
    }

    /// Sets the scenario's standing faults plus `extra`'s hostile answers, keeping the rows
    /// not yet corrupted.
    fn set_faults(&mut self, extra: FaultConfig) {
        let spent = self.rig.emu.stats().corrupted_rows.len();
        let rows = self.s.platform.rows.iter().skip(spent).cloned().collect();
        self.rig.emu.set_faults(FaultConfig {
            seed: self.s.seed + spent as u64,
            hostile: extra.hostile,
            rows,
            ..self.s.platform.clone()
        });
    }

    /// Waits while more than [`WINDOW`] of the `sent` messages wait for their reply POST. No
    /// reply posted for [`STALL`] is a stalled host: the run fails there, with its log.
    async fn pace(&mut self, sent: u64) {
        if self.host.is_none() {
            // No host until the disk is writable again: the messages queue on the platform.
            return;
        }
        let host = &mut self.host;
        let s = &self.s;
        let progress = self.rig.until_progress(Duration::from_millis(5), |posts| {
            if let Some(h) = host.as_mut() {
                assert_running(h, s);
            }
            (sent <= posts + WINDOW).then_some(())
        });
        if let Err(posts) = progress.await {
            let lines = self.host.as_ref().map(Host::lines).unwrap_or_default();
            let tail: Vec<&String> = lines.iter().rev().take(30).collect();
            panic!(
                "{}: delivery stalled: {sent} sent, {posts} reply posts, none for {STALL:?}; last lines, newest first:\n{tail:#?}",
                self.s.name
            );
        }
    }

    /// The disk's steps: full, then read-only as well, then writable and empty again (when a
    /// host waits for that, it starts now).
    async fn disk_step(&mut self, step: usize) {
        let Some(disk) = &self.rig.disk else { return };
        match step {
            0 => disk.fill(),
            1 => {
                // A host still starting would find the disk read-only before it holds its lock
                // and refuse to start (tested in `kill`): let it get that far first.
                if let Some(h) = &self.host {
                    h.wait_log("registered as a poll-mode workspace", |_| true)
                        .await;
                }
                disk.read_only(true);
                self.read_only = true;
            }
            _ => {
                disk.read_only(false);
                disk.empty();
                self.read_only = false;
                if self.host.is_none() {
                    self.host = Some(self.rig.host(&self.s));
                }
            }
        }
        *self
            .summary
            .faults
            .entry(["disk full", "read-only state dir", "disk back"][step.min(2)].into())
            .or_default() += 1;
    }

    /// SIGKILLs the host somewhere in the middle of its work and starts another. While the
    /// state directory is read-only the new host must refuse to start, with an error and a
    /// non-zero exit (a service manager restarts it); it is started again once writable.
    async fn kill(&mut self) {
        let Some(mut host) = self.host.take() else {
            return;
        };
        // A random moment of the host's work to cut: the fault itself, not a wait for an event.
        tokio::time::sleep(Duration::from_millis(self.rng.u64(0..120))).await;
        assert_running(&mut host, &self.s);
        self.summary.max_rss_kib = self.summary.max_rss_kib.max(peak_rss_kib(host.pid()));
        host.signal(Signal::SIGKILL);
        let _ = host.wait_exit().await;
        self.rig.past.lock().unwrap().extend(host.lines());
        self.summary.host_kills += 1;
        let mut next = self.rig.host(&self.s);
        if self.read_only {
            let code = next.wait_exit().await;
            let said = next
                .lines()
                .iter()
                .any(|l| l.contains("Read-only file system"));
            assert!(
                code.is_some_and(|c| c != 0) && said,
                "{}: a host on a read-only state directory: {code:?}\n{}",
                self.s.name,
                next.lines().join("\n")
            );
            return;
        }
        self.host = Some(next);
    }
}

/// Waits until every message has its reply, the host staying up all along. Reading the feeds
/// holds the emulator's store, so they are read only once the reply posts could be complete;
/// no reply post for [`STALL`] fails the run.
async fn wait_all_replied(rig: &Rig, host: &mut Host, s: &Scenario) {
    let progress = rig.until_progress(Duration::from_millis(100), |posts| {
        assert_running(host, s);
        let complete = posts >= s.messages as u64
            && rig.inbound().len() == s.messages
            && rig.missing().is_empty();
        complete.then_some(())
    });
    if let Err(posts) = progress.await {
        panic!("{}", stalled(rig, host, s, posts, &rig.missing()));
    }
}

/// The report of a stalled run: what is missing, the log lines that name the first missing
/// row, and where every host's log was written.
fn stalled(
    rig: &Rig,
    host: &Host,
    s: &Scenario,
    posts: u64,
    missing: &[(String, String)],
) -> String {
    let mut all = rig.past.lock().unwrap().clone();
    all.extend(host.lines());
    let file = std::env::temp_dir().join(format!("fault-suite-{}.log", rig.tag));
    std::fs::write(&file, all.join("\n")).unwrap();
    let first = missing.first().map(|m| m.0.clone()).unwrap_or_default();
    let about: Vec<&String> = all
        .iter()
        .filter(|l| !first.is_empty() && l.contains(&first))
        .collect();
    format!(
        "{}: stalled with {posts} reply posts for {} messages; {} missing: {:?}; lines naming {first}: {about:#?}; every host's log: {}",
        s.name,
        s.messages,
        missing.len(),
        missing.iter().take(10).collect::<Vec<_>>(),
        file.display()
    )
}

/// After the host stopped: no backend process left, and every reply to a message carries the
/// one id derived from its row (so duplicates are recognisable).
async fn check_after(rig: &Rig, s: &Scenario, lines: &[String]) {
    super::support::wait::until("the backends to be gone", || rig.survivors().is_empty()).await;
    let expected: BTreeSet<String> = rig
        .inbound()
        .iter()
        .map(|(row, _)| reply_message_id(&rig.main.id, row))
        .collect();
    let stray: Vec<String> = rig
        .replies()
        .into_keys()
        .filter(|id| !expected.contains(id))
        .collect();
    assert!(
        stray.is_empty(),
        "{}: replies with an id no row derives: {stray:?}\n{}",
        s.name,
        lines.join("\n")
    );
}

fn tally(rig: &Rig, summary: &mut Summary) {
    let replies = rig.replies();
    for (row, text) in rig.inbound() {
        let n = replies
            .get(&reply_message_id(&rig.main.id, &row))
            .copied()
            .unwrap_or(0);
        if n > 0 {
            summary.replied += 1;
        }
        let word = text.split_whitespace().next().unwrap_or_default();
        if let Some(f) = BACKEND_FAULTS.iter().find(|f| **f == word) {
            let kind = format!("backend {}", f.split(':').next().unwrap_or(f));
            *summary.faults.entry(kind).or_default() += 1;
        }
        if n > 1 {
            let kind = if BACKEND_FAULTS.contains(&word) {
                word.split(':').next().unwrap_or(word)
            } else {
                "plain"
            };
            *summary.duplicates.entry(kind.to_owned()).or_default() += n - 1;
        }
    }
    let st = rig.emu.stats();
    if st.a2a_deduplicated > 0 {
        summary.duplicates.insert(
            "deduplicated by the platform".into(),
            st.a2a_deduplicated as usize,
        );
    }
    for (k, v) in [
        ("5xx/drop before", st.faults_before),
        ("5xx/drop after", st.faults_after),
        ("latency", st.delayed),
        ("hostile answers", st.hostile),
        ("hostile rows", st.corrupted_rows.len() as u64),
    ] {
        if v > 0 {
            summary.faults.insert(k.to_owned(), v);
        }
    }
}
