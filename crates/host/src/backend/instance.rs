//! One backend process from spawn to cleanup: started and handshaken, watched until it ends
//! (on its own, hung, or stopped), then cleaned up: late answers read, requests still in flight
//! failed with the crash report, descendants swept.

use std::sync::Arc;
use std::time::Duration;

use molecule_protocol::InitializeResult;
use tokio::sync::{Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, interval, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use super::config::{SupervisorConfig, Timeouts};
use super::env::{HostVars, backend_env};
use super::error::{CallError, CrashReport, ExitCause, StartError};
use super::handshake::{Failure, handshake};
use super::process::{BackendProcess, Ladder, StopReport, StopStep};
use super::request::{CancelTracker, Ctx};
use super::rpc::{ConnConfig, ConnEvent, ConnTasks, Connection};
use super::stats::Counters;
use super::stderr::{self, Source, StderrTail};

/// How a backend process ended, once it is fully cleaned up.
#[derive(Debug)]
pub(crate) struct ExitReport {
    pub(crate) crash: Arc<CrashReport>,
    pub(crate) stop: StopReport,
}

enum Control {
    Stop(Ladder, ExitCause),
    /// Remember the backend's descendants now, and say when done.
    Scan(Option<oneshot::Sender<()>>),
}

/// A started backend process.
pub(crate) struct Instance {
    pub(crate) pid: u32,
    pub(crate) conn: Connection,
    pub(crate) info: Arc<InitializeResult>,
    /// One permit per request the backend may run at once.
    pub(crate) slots: Arc<Semaphore>,
    /// Requests in flight (`handle_a2a` and generic calls).
    pub(crate) inflight: watch::Sender<usize>,
    /// Cancels every in-flight request with reason `host_shutdown`.
    pub(crate) shutdown: CancellationToken,
    /// Cancelled as soon as the backend is known to be ending, before the cleanup.
    pub(crate) ended: CancellationToken,
    pub(crate) cancels: Arc<CancelTracker>,
    pub(crate) tail: Arc<StderrTail>,
    pub(crate) started: Instant,
    grace: Duration,
    control: mpsc::UnboundedSender<Control>,
    exit: watch::Receiver<Option<Arc<ExitReport>>>,
}

/// A spawned backend whose monitor runs, before the handshake.
struct Launched {
    pid: u32,
    conn: Connection,
    tail: Arc<StderrTail>,
    cancels: Arc<CancelTracker>,
    ended: CancellationToken,
    control: mpsc::UnboundedSender<Control>,
    exit: watch::Receiver<Option<Arc<ExitReport>>>,
}

/// Spawns the backend with its environment and starts its stderr drain, its connection and
/// its monitor.
async fn launch(
    config: &SupervisorConfig,
    counters: &Arc<Counters>,
) -> Result<Launched, StartError> {
    create_state_dir(config)?;
    let vars = HostVars {
        workspace_id: config.workspace_id.clone(),
        state_dir: config.state_dir.clone(),
    };
    let env = backend_env(&config.env, &vars);
    let (process, pipes) = BackendProcess::spawn(&config.command, env)
        .await
        .map_err(|source| StartError::Spawn {
            program: config.command.program.clone(),
            source,
        })?;
    let pid = process.pid();
    let source = Source {
        name: config.display_name().into(),
        pid,
    };
    let tail = Arc::new(StderrTail::new(config.stderr.tail_bytes));
    let stderr = stderr::spawn_drain(
        pipes.stderr,
        source.clone(),
        config.stderr,
        tail.clone(),
        counters.clone(),
    );
    let conn_config = ConnConfig {
        max_message_bytes: config.max_message_bytes,
        write_timeout: config.timeouts.write,
        counters: counters.clone(),
        handlers: config.handlers.clone(),
        host_calls_in_flight: config.host_calls_in_flight,
        workspace_id: config.workspace_id.clone(),
        source,
    };
    let (conn, tasks) = Connection::start(pipes.stdin, pipes.stdout, conn_config);
    let cancels = Arc::new(CancelTracker::new(config.restart.unanswered_cancels));
    let (control, control_rx) = mpsc::unbounded_channel();
    let (exit_tx, exit) = watch::channel(None);
    let ended = CancellationToken::new();
    let monitor = Monitor {
        ended: ended.clone(),
        process,
        tasks,
        stderr,
        conn: conn.clone(),
        tail: tail.clone(),
        control: control_rx,
        cancels: cancels.clone(),
        timeouts: config.timeouts,
    };
    tokio::spawn(async move {
        let report = monitor.run().await;
        let _ = exit_tx.send(Some(Arc::new(report)));
    });
    Ok(Launched {
        pid,
        conn,
        tail,
        cancels,
        ended,
        control,
        exit,
    })
}

impl Instance {
    /// Spawns the backend and completes the handshake within the startup timeout.
    pub(crate) async fn start(
        config: &SupervisorConfig,
        counters: &Arc<Counters>,
        abort: &CancellationToken,
    ) -> Result<Arc<Instance>, StartError> {
        let deadline = Instant::now() + config.timeouts.startup;
        let l = launch(config, counters).await?;
        let info = match handshake(&l.conn, config, deadline, abort).await {
            Ok(info) => info,
            Err(failure) => {
                let _ = l
                    .control
                    .send(Control::Stop(config.timeouts.ladder(), ExitCause::Stopped));
                let report = wait_exit(l.exit).await;
                return Err(failure.into_start_error(report, l.conn.first_junk(), &l.tail));
            }
        };
        // Remember the descendants it started while getting ready, before any request can
        // make it exit: once it has exited, a descendant in a session of its own belongs to
        // init (unless this process is a subreaper) and no scan finds it any more.
        let (scanned, done) = oneshot::channel();
        if l.control.send(Control::Scan(Some(scanned))).is_ok() {
            let _ = done.await;
        }
        l.conn.routes().set_many(info.capabilities.workspaces() > 1);
        let concurrency = info.capabilities.concurrency() as usize;
        Ok(Arc::new(Instance {
            pid: l.pid,
            conn: l.conn,
            info: Arc::new(info),
            slots: Arc::new(Semaphore::new(concurrency)),
            inflight: watch::channel(0).0,
            shutdown: CancellationToken::new(),
            ended: l.ended,
            cancels: l.cancels,
            tail: l.tail,
            started: Instant::now(),
            grace: config.timeouts.cancel_grace,
            control: l.control,
            exit: l.exit,
        }))
    }

    /// The context requests on this backend run in.
    pub(crate) fn ctx(&self) -> Ctx<'_> {
        Ctx {
            conn: &self.conn,
            grace: self.grace,
            shutdown: &self.shutdown,
            cancels: &self.cancels,
        }
    }

    /// Asks the monitor to stop the backend by `ladder` (stdin is closed first).
    pub(crate) fn stop(&self, ladder: Ladder) {
        let _ = self.control.send(Control::Stop(ladder, ExitCause::Stopped));
    }

    /// Waits until the backend has ended and been cleaned up.
    pub(crate) async fn exited(&self) -> Option<Arc<ExitReport>> {
        wait_exit(self.exit.clone()).await
    }
}

async fn wait_exit(mut exit: watch::Receiver<Option<Arc<ExitReport>>>) -> Option<Arc<ExitReport>> {
    loop {
        if let Some(report) = exit.borrow_and_update().clone() {
            return Some(report);
        }
        if exit.changed().await.is_err() {
            return exit.borrow().clone();
        }
    }
}

fn create_state_dir(config: &SupervisorConfig) -> Result<(), StartError> {
    // A link planted in its place is refused, not followed (and its target never chmodded).
    crate::private_dir::ensure(&config.state_dir).map_err(|source| StartError::StateDir {
        path: config.state_dir.clone(),
        source,
    })
}

impl Failure {
    fn into_start_error(
        self,
        report: Option<Arc<ExitReport>>,
        junk: Option<String>,
        tail: &StderrTail,
    ) -> StartError {
        let evidence = super::error::Evidence {
            stderr: tail.last_lines(8),
            junk,
        };
        self.into_error(report.map(|r| r.crash.clone()), evidence)
    }
}

/// Watches one backend process until it ends, then cleans up after it.
struct Monitor {
    process: BackendProcess,
    tasks: ConnTasks,
    stderr: JoinHandle<()>,
    conn: Connection,
    tail: Arc<StderrTail>,
    control: mpsc::UnboundedReceiver<Control>,
    cancels: Arc<CancelTracker>,
    timeouts: Timeouts,
    ended: CancellationToken,
}

impl Monitor {
    async fn run(mut self) -> ExitReport {
        let (cause, ladder) = self.watch().await;
        self.ended.cancel();
        self.conn.close_stdin();
        let step = match ladder {
            Some(ladder) => self.process.stop_leader(ladder).await,
            None => StopStep::AlreadyExited,
        };
        // Answers written before the exit are still in the pipe: read them, and the last
        // stderr lines, unless a descendant holds the pipes open.
        let grace = Instant::now() + self.timeouts.pipe_grace;
        settle(&mut self.tasks.reader, grace).await;
        settle(&mut self.stderr, grace).await;
        let crash = Arc::new(CrashReport {
            pid: self.process.pid(),
            status: self.process.try_status(),
            cause,
            stderr_tail: self.tail.text(),
        });
        self.conn.fail_all(CallError::Crashed(crash.clone()));
        let swept = self.process.sweep(Some(self.timeouts.term_wait)).await;
        let grace = Instant::now() + self.timeouts.pipe_grace;
        for task in [
            &mut self.tasks.reader,
            &mut self.stderr,
            &mut self.tasks.writer,
        ] {
            settle(task, grace).await;
            task.abort();
        }
        let stop = StopReport {
            step,
            status: self.process.try_status(),
            swept,
        };
        ExitReport { crash, stop }
    }

    /// Waits for the reason the backend ends, and how to stop it if it is still running.
    async fn watch(&mut self) -> (ExitCause, Option<Ladder>) {
        let mut scan = interval(self.timeouts.descendant_scan.max(Duration::from_millis(10)));
        scan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.process.wait() => return (ExitCause::Exited, None),
                event = self.tasks.events.recv() => {
                    let cause = match event {
                        Some(ConnEvent::StdinClosed) => ExitCause::StdinClosed,
                        Some(ConnEvent::WriteStalled(d)) => ExitCause::WriteStalled(d),
                        Some(ConnEvent::StdoutClosed) | None => ExitCause::StdoutClosed,
                    };
                    // A backend that is exiting closes its pipes first.
                    if timeout(self.timeouts.pipe_grace, self.process.wait()).await.is_ok() {
                        return (ExitCause::Exited, None);
                    }
                    let ladder = match cause {
                        ExitCause::WriteStalled(_) => Ladder { eof_wait: Duration::ZERO, term_wait: self.timeouts.term_wait },
                        _ => self.timeouts.ladder(),
                    };
                    return (cause, Some(ladder));
                }
                control = self.control.recv() => match control {
                    Some(Control::Scan(done)) => {
                        self.process.scan();
                        if let Some(done) = done {
                            let _ = done.send(());
                        }
                    }
                    Some(Control::Stop(ladder, cause)) => return (cause, Some(ladder)),
                    // Nobody holds the instance any more.
                    None => return (ExitCause::Stopped, Some(Ladder { eof_wait: Duration::ZERO, term_wait: Duration::ZERO })),
                },
                _ = self.cancels.tripped.cancelled() => {
                    return (ExitCause::UnansweredCancels(self.cancels.count()), Some(self.timeouts.ladder()));
                }
                _ = scan.tick() => { self.process.scan_recent(); }
            }
        }
    }
}

/// Waits for `task` until `deadline`; it keeps running if it did not finish.
async fn settle(task: &mut JoinHandle<()>, deadline: Instant) {
    if !task.is_finished() {
        let _ = timeout_at(deadline, task).await;
    }
}
