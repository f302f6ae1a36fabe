//! The backend's two output streams: stdout read line by line into the record, stderr
//! drained to its end (a full stderr pipe would stall the backend), its end kept.

use std::sync::{Arc, Mutex, MutexGuard};

use molecule_protocol::codec::{Frame, FrameReader};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{ChildStderr, ChildStdout};
use tokio::time::{Instant, sleep_until, timeout_at};

use crate::check::record::Record;

/// What the next read produced.
pub(super) enum Next {
    /// A line, recorded at this index.
    Entry(usize),
    /// Stdout ended.
    Eof,
    /// The deadline passed.
    Elapsed,
}

/// The backend's stdout, read into the record.
pub(super) struct Reader {
    pub(super) frames: FrameReader<BufReader<ChildStdout>>,
    pub(super) done: bool,
}

impl Reader {
    /// Reads and records the next line. Once stdout has ended it only waits for the deadline,
    /// so that a `select!` over it and the process's exit does not spin.
    pub(super) async fn next(&mut self, record: &Mutex<Record>, deadline: Instant) -> Next {
        if self.done {
            sleep_until(deadline).await;
            return Next::Elapsed;
        }
        let frame = match timeout_at(deadline, self.frames.next_frame()).await {
            Err(_) => return Next::Elapsed,
            Ok(Ok(Some(frame))) => frame,
            Ok(Ok(None) | Err(_)) => {
                self.done = true;
                return Next::Eof;
            }
        };
        let mut record = lock(record);
        Next::Entry(match frame {
            Frame::Line(line) => record.backend(&line),
            Frame::Oversize { len, id } => record.oversize(len, id),
        })
    }
}

/// Locks the record; a panic elsewhere does not make it unreadable.
pub(super) fn lock(record: &Mutex<Record>) -> MutexGuard<'_, Record> {
    record.lock().unwrap_or_else(|e| e.into_inner())
}

/// The longest stderr line kept whole; the rest of a longer line is dropped.
const STDERR_LINE_CAP: usize = 64 * 1024;

/// Reads stderr to its end, line by line, into the record.
pub(super) async fn drain_stderr(stderr: ChildStderr, record: Arc<Mutex<Record>>) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    while let Ok(buf) = reader.fill_buf().await {
        if buf.is_empty() {
            if !line.is_empty() {
                lock(&record).stderr_line(&line);
            }
            return;
        }
        let newline = buf.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(buf.len());
        let room = STDERR_LINE_CAP.saturating_sub(line.len());
        line.extend_from_slice(&buf[..take.min(room)]);
        reader.consume(take + usize::from(newline.is_some()));
        if newline.is_some() {
            lock(&record).stderr_line(&line);
            line.clear();
        }
    }
}
