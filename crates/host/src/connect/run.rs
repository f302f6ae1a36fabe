//! [`serve`]: one `molecule connect`, from start-up to shutdown.
//!
//! Start-up order: lock the state directory and load the state (a bad file stops here, before
//! the platform is touched) → the first contact: `/buildinfo`, `GET /workspaces/<id>` (404 and
//! 410 end the host before anything else touches the platform; a platform that cannot be reached
//! is said at once, `contact`) → start the backend (its `agentCard` fills
//! the registration) → register as poll → heartbeat task → poll.
//!
//! Shutdown (first SIGINT/SIGTERM, or a fatal error): polling stops, nothing new is delivered,
//! the deliveries in flight finish within the drain timeout (the supervisor's drain), their
//! replies are posted, the state is saved, the backend is stopped, and the heartbeat ends last.
//! A second signal skips the drain.
//!
//! A panic in any task (recorded by [`crate::panics`], or seen as the poller's or the engine's
//! `JoinError`) is a fatal error: the host stops as above without the drain, the engine saves
//! the state on its way out, and the exit code is 1, never 0.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
// The tasks of one workspace log in the span of its caller (`molecule run` names the
// workspace in it).
use tracing::Instrument;

use crate::backend::{Supervisor, SupervisorConfig};
use crate::backoff::Backoff;
use crate::observe::{Vitals, status_file};
use crate::platform::{PlatformClient, RetryPolicy, TokenSource};
use crate::signal::Shutdown;

use super::config::{Config, TokenSetting};
use super::contact::{Contact, Patience, first_contact};
use super::engine::{Core, Engine, Inputs, Rules, Wiring, backend_of};
use super::error::ConnectError;
use super::feed::{Intake, Link, Poller, wakes_the_poller};
use super::health::Health;
use super::hooks::Hooks;
use super::settings::Settings;
use super::state::{Ledger, RowKey, StateWriter, file};
use super::statedir::StateDir;
use super::{dry_run, heartbeat, startup};

/// Runs `molecule connect` until `shutdown` fires (`Ok`) or a permanent failure (`Err`, whose
/// exit code says which).
pub async fn serve(config: Config, shutdown: Shutdown, hooks: Hooks) -> Result<(), ConnectError> {
    let own = config.platform.workspace_id();
    let dir = StateDir::open(config.state_dir.as_deref(), own)?;
    // The lock is ours: whatever a SIGKILLed host of this directory left detached goes now.
    crate::backend::leftovers::sweep(&dir.backend_dir());
    let vitals = vitals_of(&config);
    if let Some(metrics) = &hooks.metrics {
        metrics.add(&vitals);
        if let Some(addr) = &hooks.metrics_addr {
            vitals.set_metrics_addr(addr.clone());
        }
    }
    let stop = CancellationToken::new();
    let keeper = status_file::keep(dir.path().to_owned(), vitals.clone(), stop.clone());
    let keeper = tokio::spawn(keeper.in_current_span());
    let result = start(config, dir, shutdown, hooks, vitals).await;
    // The lock is released by now: another connect may write the file; this one stops.
    stop.cancel();
    let _ = keeper.await;
    result
}

/// The record of this connect, for the status file and the metrics.
fn vitals_of(config: &Config) -> Arc<Vitals> {
    let (poll, t) = (&config.settings.poll, &config.settings.timers);
    // The poller rests for the safety interval while the stream is live, the poll interval
    // otherwise; two of those and a request's timeout without a successful read is news.
    let rest = poll.interval.max(poll.stream.safety_interval);
    let stale = rest * 2 + t.http_timeout;
    let url = config.platform.api_url().to_string();
    Vitals::new(config.platform.workspace_id(), url, stale, t.status)
}

async fn start(
    config: Config,
    dir: StateDir,
    shutdown: Shutdown,
    hooks: Hooks,
    vitals: Arc<Vitals>,
) -> Result<(), ConnectError> {
    let own = config.platform.workspace_id();
    let saved = file::load(&dir.state_file(), own)?;
    let token = token_source(&config.token, &dir)?;
    let client = match &hooks.transport {
        Some(shared) => PlatformClient::with_transport(config.platform.clone(), token, shared),
        None => PlatformClient::new(config.platform.clone(), token)?,
    };
    vitals.attach_client(&client);
    let t = &config.settings.timers;
    let policy = RetryPolicy::forever(t.retry_base, t.retry_max);
    let patience = match config.dry_run {
        true => Patience::Bounded(3),
        false => Patience::Daemon,
    };
    let Some(Contact { workspace, .. }) =
        first_contact(&client, &policy, patience, &shutdown.graceful).await?
    else {
        return Ok(());
    };
    let backend = supervisor_config(&config, &dir, &hooks, &client);
    let sup = match &hooks.backends {
        Some(pool) => pool.start(backend).await?,
        None => Supervisor::start(backend).await?,
    };
    vitals.attach_backend(&sup);
    if config.dry_run {
        let result = dry_run::run(&client, &sup, &workspace, &dir, saved.is_some(), &config).await;
        sup.shutdown(true).await;
        return result;
    }
    let card = startup::agent_card(&workspace, &sup.backend_info());
    match startup::register(
        &client,
        &card,
        &dir.token_file(),
        &policy,
        &shutdown.graceful,
    )
    .await
    {
        Ok(true) => vitals.registered(),
        Ok(false) => {
            sup.shutdown(true).await;
            return Ok(());
        }
        Err(e) => {
            sup.shutdown(false).await;
            return Err(e);
        }
    }
    let ledger = match saved {
        Some(state) => Ledger::from_state(state, own),
        None => Ledger::new(own),
    };
    let running = Running {
        config,
        dir,
        client,
        sup,
        hooks,
        card,
        vitals,
    };
    running.serve(ledger, shutdown).await
}

struct Running {
    config: Config,
    dir: StateDir,
    client: PlatformClient,
    sup: Supervisor,
    hooks: Hooks,
    card: crate::platform::AgentCard,
    vitals: Arc<Vitals>,
}

/// The tasks of a serving host.
struct Tasks {
    heartbeat: JoinHandle<()>,
    beats: CancellationToken,
    rereg: JoinHandle<()>,
    engine: JoinHandle<()>,
    poller: JoinHandle<Result<(), ConnectError>>,
    stream: Option<JoinHandle<()>>,
    stopping: CancellationToken,
    abandon: CancellationToken,
    /// Holds the state directory's lock until the host has stopped.
    _dir: StateDir,
}

impl Running {
    async fn serve(self, ledger: Ledger, shutdown: Shutdown) -> Result<(), ConnectError> {
        let (sup, vitals) = (self.sup.clone(), self.vitals.clone());
        let mut tasks = self.start(ledger, &shutdown);
        let panicked = crate::panics::signal();
        let (mut fatal, poller_done) = tokio::select! {
            r = &mut tasks.poller => (r.unwrap_or_else(|e| Err(panic_of("poller", &e))).err(), true),
            () = tasks.stopping.cancelled() => (None, false),
            () = panicked.cancelled() => (Some(ConnectError::Panicked { task: "some task" }), false),
        };
        vitals.stopping();
        if let Some(e) = &fatal {
            vitals.error(e.to_string());
            tracing::error!("stopping: {e}");
            tasks.abandon.cancel();
        }
        tasks.stopping.cancel();
        // The supervisor drains the deliveries in flight while the engine posts their replies;
        // a second signal makes a second shutdown call, which skips the drain.
        let drain = fatal.is_none() && !shutdown.immediate.is_cancelled();
        let first = tokio::spawn({
            let sup = sup.clone();
            async move { sup.shutdown(drain).await }
        });
        let skip = tokio::spawn({
            let (sup, immediate) = (sup.clone(), shutdown.immediate.clone());
            async move {
                immediate.cancelled().await;
                sup.shutdown(false).await;
            }
        });
        let mut joined = vec![("engine", tasks.engine.await)];
        let report = first.await.unwrap_or_default();
        skip.abort();
        if !poller_done {
            joined.push(("poller", tasks.poller.await.map(|_| ())));
        }
        if let Some(stream) = tasks.stream {
            joined.push(("event stream", stream.await));
        }
        joined.push(("re-registration", tasks.rereg.await));
        tasks.beats.cancel();
        joined.push(("heartbeat", tasks.heartbeat.await));
        tracing::info!(
            finished = report.finished,
            cancelled = report.cancelled,
            "stopped"
        );
        for (task, result) in joined {
            if let Err(e) = result {
                fatal.get_or_insert_with(|| panic_of(task, &e));
            }
        }
        if crate::panics::occurred() {
            fatal.get_or_insert(ConnectError::Panicked { task: "some task" });
        }
        fatal.map_or(Ok(()), Err)
    }

    /// Starts the heartbeat, re-registration, the engine and the poller.
    fn start(self, ledger: Ledger, shutdown: &Shutdown) -> Tasks {
        let health = Arc::new(Health::new(self.config.settings.timers.error_window));
        let (pending_late, cursor) = (ledger.pending_late(), ledger.cursor().cloned());
        let (engine, intake, inputs) = self.engine(ledger, health.clone());
        let Running {
            config,
            dir,
            client,
            sup,
            hooks,
            card,
            vitals,
        } = self;
        let settings = config.settings.clone();
        let t = &settings.timers;
        let stopping = shutdown.graceful.child_token();
        let abandon = shutdown.immediate.child_token();
        let beats = CancellationToken::new();
        let rereg = startup::reregister(
            client.clone(),
            card,
            dir.token_file(),
            t.reregister,
            stopping.clone(),
        );
        let (batches, batches_rx) = mpsc::channel(1);
        let engine = engine.run(batches_rx, inputs, stopping.clone(), abandon.clone());
        let link = Link {
            batches,
            intake,
            vitals: vitals.clone(),
        };
        let (poller, stream) = feed(client.clone(), &settings, link, cursor, &stopping);
        let heartbeat = heartbeat::run(
            heartbeat::Beating {
                client,
                health: health.clone(),
                status: sup.status(),
                vitals: vitals.clone(),
                refused: poller.nudge(),
            },
            t.heartbeat,
            beats.clone(),
        );
        vitals.attach_stream(poller.stream_states());
        let tasks = Tasks {
            heartbeat: tokio::spawn(heartbeat.in_current_span()),
            beats,
            rereg: tokio::spawn(rereg.in_current_span()),
            engine: tokio::spawn(engine.in_current_span()),
            poller: tokio::spawn(poller.run(pending_late).in_current_span()),
            stream,
            stopping,
            abandon,
            _dir: dir,
        };
        tracing::info!(workspace = %config.platform.workspace_id(), state_dir = %tasks._dir.path().display(), "serving");
        if let Some(ready) = &hooks.on_ready {
            ready();
        }
        tasks
    }

    /// The engine: its core over the loaded ledger, wired to the backend, the platform and
    /// the state file.
    fn engine(
        &self,
        ledger: Ledger,
        health: Arc<Health>,
    ) -> (Engine, watch::Receiver<Intake>, Inputs) {
        let settings = &self.config.settings;
        let own = self.config.platform.workspace_id();
        let rules = Rules::new(own, settings, self.config.backend.timeouts.drain);
        let backend = backend_of(&self.sup, &self.sup.status().borrow());
        let core = Core::new(rules, ledger, backend, std::time::Instant::now());
        let ack = settings.poll.ack.then(|| self.client.clone());
        let wiring = Wiring {
            writer: StateWriter::spawn(self.dir.state_file(), ack),
            health,
            sup: self.sup.clone(),
            client: self.client.clone(),
            hooks: self.hooks.clone(),
            vitals: self.vitals.clone(),
            window: settings.poll.window,
            timers: settings.timers.clone(),
            uploads_dir: self.dir.uploads_dir(),
        };
        Engine::new(core, wiring)
    }
}

/// The error for a task that ended with `e` (a panic: the tasks are never aborted).
fn panic_of(task: &'static str, e: &tokio::task::JoinError) -> ConnectError {
    tracing::error!("the {task} task failed: {e}");
    ConnectError::Panicked { task }
}

/// The poll loop, resting on the event stream's follower (also returned, when it runs).
fn feed(
    client: PlatformClient,
    settings: &Settings,
    link: Link,
    cursor: Option<RowKey>,
    stopping: &CancellationToken,
) -> (Poller, Option<JoinHandle<()>>) {
    let own = client.config().workspace_id();
    let (wake, stream) = crate::wake::follow(
        client.clone(),
        settings.poll.stream.clone(),
        wakes_the_poller(own),
        stopping.clone(),
    );
    let t = &settings.timers;
    let backoff = Backoff::new(t.retry_base, t.retry_max);
    let poller = Poller::new(
        client,
        settings.poll.clone(),
        backoff,
        stopping.clone(),
        link,
        cursor,
        wake,
    );
    (poller, stream)
}

fn token_source(setting: &TokenSetting, dir: &StateDir) -> Result<TokenSource, ConnectError> {
    setting.source(dir.path())
}

fn supervisor_config(
    config: &Config,
    dir: &StateDir,
    hooks: &Hooks,
    client: &PlatformClient,
) -> SupervisorConfig {
    let b = &config.backend;
    let mut sc = SupervisorConfig::new(
        b.command.clone(),
        config.platform.workspace_id().to_string(),
        dir.backend_dir(),
    );
    sc.env.extra = b.env.clone();
    sc.env.secrets = b.secrets.clone();
    sc.env.host_socket = hooks.host_socket.clone();
    sc.timeouts = b.timeouts;
    sc.restart = b.restart;
    if let Some(factory) = &hooks.host_handlers {
        sc.handlers = factory(client);
    }
    sc
}
