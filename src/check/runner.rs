//! Runs the checks one after the other, each in a fresh backend process that is always torn
//! down afterwards, and gathers the evidence of each failure.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use molecule_protocol::{BackendCapabilities, InitializeResult, PROTOCOL_VERSION};
use tokio::time::Instant;

use super::catalog::CheckId;
use super::checks;
use super::outcome::{Pass, Problem, Verdict, problem};
use super::plan::Plan;
use super::record::Record;
use super::report::{CheckResult, Report};
use super::session::{Finished, Session};

/// How many stderr lines a failure report quotes.
const EVIDENCE_STDERR: usize = 10;
/// How many transcript lines a failure report quotes.
const EVIDENCE_LINES: usize = 16;

/// What a check works with: the plan, what the handshake learned, and its session.
pub struct Ctx<'a> {
    /// The run's plan.
    pub plan: &'a Plan,
    /// The backend's answer to the first handshake.
    pub backend: Option<InitializeResult>,
    /// Spawn → `initialize` answer, for every session of the run.
    pub startups: Vec<Duration>,
    session: Option<Session>,
    record: Arc<Mutex<Record>>,
}

impl<'a> Ctx<'a> {
    fn new(plan: &'a Plan) -> Self {
        Ctx {
            plan,
            backend: None,
            startups: Vec::new(),
            session: None,
            record: Arc::default(),
        }
    }

    /// Starts a fresh backend process for the check (ending any earlier one).
    pub async fn spawn(&mut self) -> Result<&mut Session, Problem> {
        self.finish().await;
        self.record = Arc::default();
        let session = Session::spawn(self.plan, self.record.clone()).await?;
        Ok(self.session.insert(session))
    }

    /// Starts a fresh backend process and completes the handshake.
    pub async fn start(&mut self) -> Result<&mut Session, Problem> {
        let session = self.spawn().await?;
        let answer = session.initialize(PROTOCOL_VERSION).await?;
        let startup = session.startup;
        if let Err(error) = answer {
            return Err(problem(
                format!("this check's process answered initialize with an error: {error}"),
                "answer initialize with a result every time the backend starts",
            ));
        }
        self.startups.extend(startup);
        self.session
            .as_mut()
            .ok_or_else(|| problem("the session ended", "report this as a molecule bug"))
    }

    /// The current session (after [`spawn`](Self::spawn) or [`start`](Self::start)).
    pub fn session(&mut self) -> Result<&mut Session, Problem> {
        self.session
            .as_mut()
            .ok_or_else(|| problem("no backend is running", "report this as a molecule bug"))
    }

    /// Ends the current session: stdin closed, the exit watched, descendants noted and killed.
    pub async fn finish(&mut self) -> Option<Finished> {
        let session = self.session.take()?;
        Some(session.finish().await)
    }

    /// The record of the current (or last) session.
    pub fn record(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What the backend advertised in the handshake.
    pub fn caps(&self) -> BackendCapabilities {
        self.backend
            .as_ref()
            .map(|b| b.capabilities.clone())
            .unwrap_or_default()
    }
}

/// Runs the checks (`only` empty: all of them; the handshake always runs, as the others need
/// what it learns).
pub async fn run(plan: &Plan, only: &[CheckId]) -> Report {
    let started = Instant::now();
    plan.serve_socket();
    let mut ctx = Ctx::new(plan);
    let mut results = Vec::new();
    let mut handshake_failed = false;
    for &id in CheckId::ALL {
        if !(only.is_empty() || id == CheckId::Handshake || only.contains(&id)) {
            continue;
        }
        let begun = Instant::now();
        let verdict: Verdict = if handshake_failed {
            Ok(Pass::Skipped("not run: the handshake failed".into()))
        } else {
            checks::run(id, &mut ctx).await
        };
        ctx.finish().await;
        handshake_failed |= id == CheckId::Handshake && verdict.is_err();
        let (stderr, transcript) = match &verdict {
            Err(_) => {
                let record = ctx.record();
                (
                    record.stderr_tail(EVIDENCE_STDERR),
                    record.excerpt(EVIDENCE_LINES),
                )
            }
            Ok(_) => (Vec::new(), Vec::new()),
        };
        results.push(CheckResult {
            id,
            verdict,
            duration: begun.elapsed(),
            stderr,
            transcript,
        });
    }
    Report {
        command: plan.command.display.clone(),
        backend: ctx.backend,
        results,
        duration: started.elapsed(),
    }
}
