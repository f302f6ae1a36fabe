//! The end of a session: stdin closed, the exit watched (answers written after end of file
//! still count), the stop ladder when the backend does not go, and the descendants it leaves.

use std::process::ExitStatus;
use std::time::Duration;

use tokio::time::{Instant, sleep, timeout};

use super::Session;
use super::streams::Next;
use molecule_host::backend::{Ladder, ProcInfo, StopStep};

/// How the backend ended when the session finished.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status, when it could be read.
    pub status: Option<ExitStatus>,
    /// What ended it.
    pub step: StopStep,
    /// How long after stdin was closed it exited by itself.
    pub exit_after_eof: Option<Duration>,
    /// Descendants still alive after it exited (and the exit grace): they were then killed.
    pub survivors: Vec<ProcInfo>,
}

impl Session {
    /// Remembers the backend's descendants now, so that the end of the session still finds
    /// the ones that leave its process group.
    pub fn scan(&mut self) -> Vec<ProcInfo> {
        self.process.scan()
    }

    /// Sends SIGTERM to the backend's group with stdin still open, and waits up to `wait`
    /// (then SIGKILL). Returns what ended it and how long it took.
    pub async fn terminate(&mut self, wait: Duration) -> (StopStep, Duration) {
        let start = Instant::now();
        let ladder = Ladder {
            eof_wait: Duration::ZERO,
            term_wait: wait,
        };
        let step = self.process.stop_leader(ladder).await;
        (step, start.elapsed())
    }

    /// Closes stdin and watches the backend go: reads stdout until it exits (answers written
    /// after end of file still count), stops it by the ladder when it does not exit within the
    /// EOF wait, notes descendants that outlive it, and kills whatever is left.
    pub async fn finish(mut self) -> Finished {
        // Remember the tree while its parent links still lead to the backend.
        self.process.scan();
        // Looked at before stdin closes: a quick backend is gone a moment after.
        let already = self.process.try_status().is_some();
        self.stdin = None;
        let closed = Instant::now();
        let t = self.timers;
        let mut exited = already;
        while !exited {
            tokio::select! {
                _ = self.process.wait() => exited = true,
                next = self.reader.next(&self.record, closed + t.eof) => {
                    if let Next::Elapsed = next { break }
                }
            }
        }
        let exit_after_eof = (exited && !already).then(|| closed.elapsed());
        let step = if already {
            StopStep::AlreadyExited
        } else if exited {
            StopStep::ExitedAfterEof
        } else {
            let ladder = Ladder {
                eof_wait: Duration::ZERO,
                term_wait: t.term,
            };
            self.process.stop_leader(ladder).await
        };
        self.drain_stdout(Instant::now() + t.exit_grace).await;
        let survivors = self.survivors(t.exit_grace).await;
        self.process.sweep(None).await;
        // Nothing of the backend is left to hold the pipes: both reach end of file as soon as
        // what is buffered is read (the bound only guards against a process that escaped).
        self.drain_stdout(Instant::now() + t.answer).await;
        if let Some(task) = self.stderr.take() {
            let _ = timeout(t.answer, task).await;
        }
        Finished {
            status: self.process.try_status(),
            step,
            exit_after_eof,
            survivors,
        }
    }

    async fn drain_stdout(&mut self, deadline: Instant) {
        while !self.reader.done {
            if let Next::Elapsed = self.reader.next(&self.record, deadline).await {
                return;
            }
        }
    }

    /// Descendants still running once `grace` has passed (zombies do not count).
    async fn survivors(&mut self, grace: Duration) -> Vec<ProcInfo> {
        let end = Instant::now() + grace;
        loop {
            let live: Vec<ProcInfo> = self
                .process
                .scan()
                .into_iter()
                .filter(|p| !p.is_zombie())
                .collect();
            if live.is_empty() || Instant::now() >= end {
                return live;
            }
            // Nothing announces a process's end to a non-parent: look again shortly.
            sleep(Duration::from_millis(10)).await;
        }
    }
}
