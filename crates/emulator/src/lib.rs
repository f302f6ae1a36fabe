//! A faithful local Molecule platform: the server that `molecule dev`, the end-to-end tests and
//! the benchmarks run against.
//!
//! It implements the endpoints a bridge uses, with the status codes, bodies and orderings of
//! `docs/platform-api.md`, for the newer platform by default or the older one
//! ([`Compat::Old`]). State lives in memory, or in a SQLite file that survives restarts. On top
//! of the platform it serves a chat page at `/` and a small admin API under `/_dev` (a path no
//! real platform has) that creates workspaces, hands out tokens and injects faults.
//!
//! ```no_run
//! # async fn demo() -> Result<(), molecule_emulator::EmulatorError> {
//! use molecule_emulator::{Emulator, EmulatorConfig, WorkspaceSpec};
//! let emu = Emulator::start(EmulatorConfig::default()).await?;
//! let ws = emu.create_workspace(WorkspaceSpec::default())?;
//! println!("{} {}", emu.base_url(), ws.id); // ws.token is the bearer for it
//! emu.shutdown().await;
//! # Ok(()) }
//! ```

pub mod admin;
pub mod app;
pub mod armed;
pub mod chat;
pub mod config;
pub mod db;
pub mod dev_api;
pub mod dev_guard;
pub mod events;
pub mod faults;
pub mod hostile;
pub mod hostile_rows;
pub mod http;
pub mod limiter;
pub mod model;
pub mod query;
pub mod server;
pub mod stats;
pub mod store;
pub mod tokens;

pub use admin::{CreatedWorkspace, DevMessage, SendAs, WorkspaceSpec};
pub use config::{ArmedFaults, Compat, EmulatorConfig, Limits, TenantGuard, Timers};
pub use faults::{Endpoint, FaultConfig, FaultRule, StreamFaults};
pub use hostile::HostileRule;
pub use hostile_rows::RowFault;
pub use model::DeliveryMode;
pub use stats::StatsSnapshot;

use app::App;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use store::{Store, StoreError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Why the emulator could not start or an admin call failed.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The data file could not be opened or read.
    #[error("cannot open the data file {path}: {source}")]
    Data {
        /// The file.
        path: String,
        /// The cause.
        source: db::DbError,
    },
    /// A state change failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dev message was refused (the body carries the platform's answer).
    #[error("message refused with {status}: {body}")]
    Refused {
        /// The HTTP status the proxy answered.
        status: u16,
        /// Its body.
        body: Value,
    },
}

/// A running emulator. Dropping it stops the server; [`Emulator::shutdown`] also waits for it.
#[derive(Debug)]
pub struct Emulator {
    app: Arc<App>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Emulator {
    /// Binds, opens the data file (if any) and starts serving on the current tokio runtime.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let addr = listener
            .local_addr()
            .map_err(|source| EmulatorError::Bind {
                addr: config.listen,
                source,
            })?;
        let db = match &config.data_file {
            None => None,
            Some(p) => Some(db::Db::open(p).map_err(|source| EmulatorError::Data {
                path: p.display().to_string(),
                source,
            })?),
        };
        let stats = Arc::new(stats::Stats::default());
        let events = Arc::new(events::Hub::new(stats.clone()));
        let store = Store::open(config.compat, db, events.clone())?;
        let admin_token = match (&config.admin_token, store.meta("admin_token")?) {
            (Some(t), _) => t.clone(),
            (None, Some(t)) => t,
            (None, None) => {
                let t = tokens::mint_token();
                store.set_meta("admin_token", &t)?;
                t
            }
        };
        let app = Arc::new(App {
            base_url: format!("http://{addr}"),
            port: addr.port(),
            admin_token,
            store: std::sync::Mutex::new(store),
            faults: faults::Injector::new(config.faults.clone()),
            limiter: config.rate_limit_per_minute.map(limiter::RateLimiter::new),
            chat: chat::ChatLog::default(),
            http: reqwest::Client::new(),
            stats,
            events,
            config,
        });
        let router = http::platform_routes(&app)
            .merge(
                dev_api::routes().route_layer(axum::middleware::from_fn_with_state(
                    app.clone(),
                    dev_guard::guard,
                )),
            )
            .fallback(|| async { http::error::route_not_found() })
            .with_state(app.clone());
        let (stop, stopped) = watch::channel(false);
        let mut tasks = vec![tokio::spawn(server::serve(
            listener,
            router,
            stopped.clone(),
        ))];
        if let Some(every) = app.config.timers.prune_every {
            tasks.push(tokio::spawn(prune_loop(
                app.clone(),
                every,
                stopped.clone(),
            )));
        }
        tasks.extend(armed::arm(&app, &stopped));
        tracing::info!(url = %app.base_url, compat = ?app.config.compat, "emulator: ready");
        Ok(Emulator {
            app,
            addr,
            stop,
            tasks,
        })
    }

    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.app.base_url
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The canvas-class bearer (what an admin or org token is on the platform).
    pub fn admin_token(&self) -> &str {
        &self.app.admin_token
    }

    /// The platform generation imitated.
    pub fn compat(&self) -> Compat {
        self.app.config.compat
    }

    /// Creates a workspace and returns it with a fresh api token.
    pub fn create_workspace(&self, spec: WorkspaceSpec) -> Result<CreatedWorkspace, EmulatorError> {
        Ok(admin::create_workspace(&self.app, spec)?)
    }

    /// Mints another token for a workspace.
    pub fn mint_token(&self, id: Uuid) -> Result<String, EmulatorError> {
        Ok(admin::mint_token(&self.app, id)?)
    }

    /// Sends a message to `target` as the canvas or a workspace; returns the proxy's answer
    /// (`{"status":"queued",...}` for a poll-mode target).
    pub async fn send(
        &self,
        target: Uuid,
        from: SendAs,
        msg: DevMessage,
    ) -> Result<Value, EmulatorError> {
        match admin::send(&self.app, target, from, msg).await {
            Ok((s, body)) if s.is_success() => Ok(body),
            Ok((s, body)) => Err(EmulatorError::Refused {
                status: s.as_u16(),
                body,
            }),
            Err(e) => Err(EmulatorError::Refused {
                status: e.status.as_u16(),
                body: Value::Object(e.body),
            }),
        }
    }

    /// A workspace's whole feed, oldest first.
    pub fn feed(&self, id: Uuid) -> Option<Vec<Value>> {
        admin::feed(&self.app, id)
    }

    /// A workspace's state (registration, heartbeat, backlog, last error).
    pub fn workspace_state(&self, id: Uuid) -> Option<Value> {
        admin::workspace_state(&self.app, id)
    }

    /// Removes a workspace: status `removed`, every token revoked.
    pub fn remove_workspace(&self, id: Uuid) -> Result<(), EmulatorError> {
        self.app.store().remove_workspace(id)?;
        self.app.chat.touch();
        Ok(())
    }

    /// Revokes every token of a workspace; returns how many were live.
    pub fn revoke_tokens(&self, id: Uuid) -> Result<usize, EmulatorError> {
        Ok(self.app.store().revoke_tokens(id)?)
    }

    /// Makes the workspace's next activity read with a cursor answer 410 once.
    pub fn gone_once(&self, id: Uuid) {
        self.app.store().gone_once.insert(id);
    }

    /// Runs the retention job now; returns how many rows were pruned.
    pub fn prune_now(&self) -> Result<usize, EmulatorError> {
        Ok(admin::prune_now(&self.app)?)
    }

    /// Closes every open event stream of a workspace now; returns how many there were.
    pub fn cut_streams(&self, id: Uuid) -> usize {
        admin::cut_streams(&self.app, id)
    }

    /// Replaces the fault settings (and reseeds).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.app.faults.set(faults);
    }

    /// What the emulator counted: injected faults and deduplicated `/a2a` posts.
    pub fn stats(&self) -> StatsSnapshot {
        self.app.stats.snapshot()
    }

    /// A value kept with the emulator's state (in the data file when there is one); callers
    /// such as `molecule dev` use their own key prefix.
    pub fn meta(&self, key: &str) -> Result<Option<String>, EmulatorError> {
        Ok(self.app.store().meta(key)?)
    }

    /// Sets such a value.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), EmulatorError> {
        Ok(self.app.store().set_meta(key, value)?)
    }

    /// Stops serving, closes open connections and waits for the tasks; the data file is
    /// closed when this returns.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn prune_loop(app: Arc<App>, every: std::time::Duration, mut stop: watch::Receiver<bool>) {
    let stopped = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            _ = tokio::time::sleep(every) => {
                if let Err(e) = admin::prune_now(&app) {
                    tracing::warn!("emulator: retention job failed: {e}");
                }
            }
        }
    }
}
