//! [`ClaudeCode`], the [`Backend`]: one Claude turn per `handle_a2a`, in the Claude session of
//! the message's conversation, with the recovery and limits of the crate docs.

use crate::command::{Session, Turn, turn_command, turn_env};
use crate::config::Config;
use crate::failure::{self, Signals};
use crate::outcome::{self, Verdict};
use crate::places::{Place, Places};
use crate::process::Registry;
use crate::prompt;
use crate::sessions::{SessionStore, now_ms};
use crate::turn::{self, TurnEnd, TurnSetup};
use molecule_plugin::protocol::methods::{AgentCard, BackendInfo, InitializeParams, Skill};
use molecule_plugin::protocol::{
    BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError, code,
};
use molecule_plugin::{AppError, Backend, RequestContext, Workspace};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The host's idle timeout when it announces none (SPEC §13).
const DEFAULT_IDLE: Duration = Duration::from_secs(120);
/// How far ahead of the host's deadline the backend gives up, so its 1005 arrives first.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);

/// The claude-code backend.
#[derive(Clone)]
pub struct ClaudeCode {
    shared: Arc<Shared>,
}

struct Shared {
    config: Config,
    registry: Registry,
    /// Each workspace's sessions, attachments, environment and peer tools.
    places: Places,
    /// The conversations with a turn running, by workspace and conversation key.
    busy: Mutex<HashSet<(String, String)>>,
    slots: Semaphore,
    limits: Mutex<Option<HostLimits>>,
}

#[derive(Clone, Copy)]
struct HostLimits {
    idle: Option<Duration>,
    request: Duration,
}

impl ClaudeCode {
    /// A backend with `config`, keeping its turns in `registry`, and the given session map.
    pub fn new(config: Config, registry: Registry, sessions: SessionStore) -> ClaudeCode {
        let places = Places::new(&config, sessions, turn_env(std::env::vars_os()));
        ClaudeCode {
            shared: Arc::new(Shared {
                slots: Semaphore::new(config.max_concurrency as usize),
                config,
                registry,
                places,
                busy: Mutex::new(HashSet::new()),
                limits: Mutex::new(None),
            }),
        }
    }

    /// The registry of live turns.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }
}

impl Backend for ClaudeCode {
    fn info(&self) -> BackendInfo {
        molecule_plugin::package_info!()
    }

    fn capabilities(&self) -> BackendCapabilities {
        let caps = BackendCapabilities::default()
            .with_max_concurrency(self.shared.config.max_concurrency)
            .with_cancel(true)
            .with_progress(true);
        match self.shared.config.max_workspaces {
            1 => caps,
            n => caps.with_max_workspaces(n),
        }
    }

    async fn open_workspace(&self, workspace: &Workspace) -> Result<Option<AgentCard>, RpcError> {
        let config = &self.shared.config;
        self.shared.places.open(config, workspace).map_err(|e| {
            RpcError::from(AppError::new(
                code::INTERNAL_ERROR,
                format!("cannot open the workspace's session map: {e}"),
            ))
        })?;
        Ok(None)
    }

    async fn close_workspace(&self, workspace: &Workspace) {
        self.shared.places.close(&workspace.id);
    }

    fn agent_card(&self) -> Option<AgentCard> {
        let skill = Skill::new("Claude Code")
            .with_id("claude-code")
            .with_description("Answers questions and works on the files of its project directory.")
            .with_tags(vec!["claude".into(), "coding".into()]);
        let card = AgentCard::default()
            .with_description(
                "Claude Code, answering each correspondent in a conversation of its own.",
            )
            .with_skills(vec![skill]);
        Some(card)
    }

    async fn initialize(&self, params: &InitializeParams) -> Result<(), RpcError> {
        let limits = HostLimits {
            idle: params.limits.idle_timeout_ms.map(Duration::from_millis),
            request: Duration::from_millis(params.limits.request_timeout_ms),
        };
        *lock(&self.shared.limits) = Some(limits);
        Ok(())
    }

    fn cancel_grace(&self) -> Duration {
        // Long enough to stop the turn's processes by the ladder and answer -32800 ourselves.
        self.shared.config.timers.kill_grace + Duration::from_secs(2)
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        let key = params.context.conversation_key.clone();
        let place = self.shared.places.of(&cx.workspace().id);
        let _busy = self.shared.claim(&cx.workspace().id, &key)?;
        let _slot = self.shared.slots.try_acquire().map_err(|_| {
            RpcError::from(
                AppError::busy("every turn slot is taken").retry_after(Duration::from_secs(5)),
            )
        })?;
        let prompt = prompt::build(&params.message, &place.attachments).map_err(|e| {
            RpcError::from(AppError::unsupported_content(e.clone()).user_message(e))
        })?;
        if prompt.trim().is_empty() {
            // The CLI refuses an empty prompt without a `result` (or, in older versions, says
            // nothing at all): neither may cost the conversation its session.
            return Err(AppError::unsupported_content("the message is empty")
                .user_message(
                    "Your message was empty, so there is nothing to answer. Please send it again \
                     with some text.",
                )
                .into());
        }
        let preamble = prompt::preamble(&params.sender, &params.context);
        let idempotency_key = &params.context.idempotency_key;
        self.shared
            .converse(&place, &key, prompt, (&preamble, idempotency_key), &cx)
            .await
    }
}

impl Shared {
    /// Marks the workspace's conversation busy; a second turn on it meanwhile is answered 1001.
    fn claim(&self, workspace: &str, key: &str) -> Result<BusyGuard<'_>, RpcError> {
        let key = (workspace.to_ascii_lowercase(), key.to_owned());
        if !lock(&self.busy).insert(key.clone()) {
            let e = AppError::busy("a turn of this conversation is already running")
                .retry_after(Duration::from_secs(5));
            return Err(e.into());
        }
        Ok(BusyGuard {
            busy: &self.busy,
            key,
        })
    }

    /// Runs the turn in the conversation's session, and once more in a fresh session when
    /// that one turns out to be broken; `(preamble, idempotency key)` are the same for both.
    async fn converse(
        &self,
        place: &Place,
        key: &str,
        prompt: String,
        (preamble, idempotency_key): (&str, &str),
        cx: &RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        let cwd = &self.config.cwd;
        let mut session = match lock(&place.sessions).lookup(key, cwd, now_ms()) {
            Some(id) => Session::Resume(id),
            None => Session::Fresh(uuid::Uuid::new_v4().to_string()),
        };
        let setup = self.setup(cx);
        for retry in [false, true] {
            if let Session::Fresh(id) = &session {
                // Recorded before the run, so that the next turn resumes even if this one is cut.
                self.remember(place, key, id);
            }
            let turn = Turn {
                session: &session,
                preamble,
                idempotency_key,
                tools: place.tools.as_ref(),
            };
            let cmd = turn_command(&self.config, &turn, &place.env);
            let end = turn::run(&cmd, prompt.clone(), &setup, cx).await;
            match self.settle(place, key, &session, end, retry) {
                Some(answer) => return answer,
                None => {
                    crate::log::info(
                        "the conversation's Claude session could not be used; starting a fresh one",
                    );
                    self.forget(place, key);
                    session = Session::Fresh(uuid::Uuid::new_v4().to_string());
                }
            }
        }
        Err(RpcError::new(
            code::INTERNAL_ERROR,
            "no fresh session could be started",
        ))
    }

    /// The answer a turn's end gives, or `None` to retry in a fresh session. A session is
    /// given up only when the CLI says it cannot be used ("No conversation found", "already
    /// in use"): any other failure keeps it, so the conversation's history is never lost to a
    /// crash or a kill.
    fn settle(
        &self,
        place: &Place,
        key: &str,
        session: &Session,
        end: TurnEnd,
        retried: bool,
    ) -> Option<Result<HandleA2aResult, RpcError>> {
        let answer = match end {
            TurnEnd::Cancelled => Err(RpcError::cancelled()),
            TurnEnd::TimedOut { retrying } => Err(failure::timed_out(retrying.as_ref())),
            TurnEnd::AuthFailed { status } => Err(failure::auth_failed(status)),
            TurnEnd::SpawnFailed(e) => Err(AppError::new(
                code::INTERNAL_ERROR,
                format!("cannot start claude: {e}"),
            )
            .user_message("This agent could not start Claude; its operator has been told.")
            .into()),
            TurnEnd::Result {
                result,
                init_session,
                rate_limit,
                assistant,
                assistant_error,
            } => {
                let signals = Signals {
                    limit: rate_limit.as_ref(),
                    assistant_error: assistant_error.as_deref(),
                };
                let verdict = outcome::from_result(&result, signals, &assistant);
                let Verdict::Answer(answer) = verdict else {
                    return if retried {
                        Some(Err(broken_twice()))
                    } else {
                        None
                    };
                };
                let adopted = result.session_id.as_deref().or(init_session.as_deref());
                self.remember(place, key, adopted.unwrap_or(session.id()));
                answer
            }
            TurnEnd::NoResult { exit, stderr_tail } => {
                if outcome::session_broken(&stderr_tail.join("\n")) {
                    return if retried {
                        Some(Err(broken_twice()))
                    } else {
                        None
                    };
                }
                Err(failure::no_result(exit.status, &stderr_tail))
            }
        };
        Some(answer)
    }

    fn setup(&self, cx: &RequestContext) -> TurnSetup<'_> {
        let limits = *lock(&self.limits);
        let idle = limits.and_then(|l| l.idle).unwrap_or(DEFAULT_IDLE);
        let progress_every = self
            .config
            .timers
            .progress_interval
            .unwrap_or_else(|| (idle / 4).max(Duration::from_secs(1)));
        let from_host = limits.map(|l| l.request.saturating_sub(DEADLINE_MARGIN));
        let before_deadline = cx
            .remaining()
            .map(|r| r.saturating_sub(DEADLINE_MARGIN + self.config.timers.kill_grace));
        let timeout = [self.config.turn_timeout.or(from_host), before_deadline]
            .into_iter()
            .flatten()
            .min();
        TurnSetup {
            registry: &self.registry,
            timers: self.config.timers,
            progress_every,
            timeout,
        }
    }

    fn remember(&self, place: &Place, key: &str, session_id: &str) {
        if let Err(e) = lock(&place.sessions).put(key, session_id, &self.config.cwd, now_ms()) {
            crate::log::warn(&format!("the session map was not saved: {e}"));
        }
    }

    fn forget(&self, place: &Place, key: &str) {
        if let Err(e) = lock(&place.sessions).remove(key) {
            crate::log::warn(&format!("the session map was not saved: {e}"));
        }
    }
}

fn broken_twice() -> RpcError {
    AppError::new(
        code::INTERNAL_ERROR,
        "a fresh Claude session failed as well",
    )
    .into()
}

/// Releases a conversation's busy mark when its turn ends, however it ends.
struct BusyGuard<'a> {
    busy: &'a Mutex<HashSet<(String, String)>>,
    key: (String, String),
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        lock(self.busy).remove(&self.key);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
