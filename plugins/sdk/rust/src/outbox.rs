//! The one writer of the protocol stream, and the size cap of the responses it writes.
//!
//! Every message the backend sends goes through one bounded queue to one task that owns the
//! output, so lines never interleave and a slow reader (the host) pushes back on the handlers
//! instead of growing a buffer without end. The lines themselves are encoded by
//! [`molecule_protocol::encode`], as the host encodes its own.

use molecule_protocol::{ErrorData, RequestId, RpcError, code, encode};
use serde::Serialize;
use std::io;
use tokio::io::{AsyncWrite, AsyncWriteExt, BufWriter};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How many lines one flush may gather when several are already queued.
const COALESCE: usize = 64;

enum Outgoing {
    Line(Vec<u8>),
    Finish,
}

/// The protocol stream is gone (the writer stopped or failed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Closed;

/// A handle to the writer; cheap to clone.
#[derive(Clone)]
pub(crate) struct Outbox {
    tx: mpsc::Sender<Outgoing>,
}

impl Outbox {
    /// Queues one encoded line (ending in `\n`).
    pub(crate) async fn send(&self, line: Vec<u8>) -> Result<(), Closed> {
        self.tx.send(Outgoing::Line(line)).await.map_err(|_| Closed)
    }

    /// Asks the writer to flush what is queued and stop.
    pub(crate) async fn finish(&self) {
        let _ = self.tx.send(Outgoing::Finish).await;
    }
}

/// Starts the writer task over `out`.
pub(crate) fn spawn_writer<W>(out: W, capacity: usize) -> (Outbox, JoinHandle<io::Result<()>>)
where
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Outbox { tx }, tokio::spawn(write_loop(rx, out)))
}

async fn write_loop<W: AsyncWrite + Unpin>(
    mut rx: mpsc::Receiver<Outgoing>,
    out: W,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    while let Some(first) = rx.recv().await {
        let Outgoing::Line(line) = first else { break };
        out.write_all(&line).await?;
        // Lines that are already waiting go out with the same flush: each message is still
        // flushed as soon as the writer reaches it, with fewer system calls under load.
        let mut finish = false;
        for _ in 0..COALESCE {
            match rx.try_recv() {
                Ok(Outgoing::Line(line)) => out.write_all(&line).await?,
                Ok(Outgoing::Finish) => {
                    finish = true;
                    break;
                }
                Err(_) => break,
            }
        }
        out.flush().await?;
        if finish {
            break;
        }
    }
    out.flush().await?;
    out.shutdown().await
}

/// A response to `id`. A result that cannot be encoded, or whose line would exceed
/// `max_line` bytes, becomes an error response instead, so the request is still answered.
pub(crate) fn response_line<T: Serialize>(
    id: &RequestId,
    outcome: Result<&T, &RpcError>,
    max_line: usize,
) -> Vec<u8> {
    let result = match outcome {
        Ok(result) => result,
        Err(error) => return encode::error(Some(id), error),
    };
    match encode::result(id, result) {
        Ok(line) if line.len() - 1 <= max_line => line,
        Ok(line) => encode::error(Some(id), &reply_too_large(line.len() - 1, max_line)),
        Err(e) => encode::error(
            Some(id),
            &RpcError::internal(format!("could not encode the result: {e}")),
        ),
    }
}

fn reply_too_large(len: usize, max: usize) -> RpcError {
    RpcError::with_data(
        code::REPLY_TOO_LARGE,
        format!("reply too large: {len} bytes, over the host's limit of {max} bytes"),
        ErrorData::default()
            .with_retryable(false)
            .with_details(serde_json::json!({ "bytes": len, "limit": max })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use molecule_protocol::{Message, Response};
    use serde_json::{Value, json};

    #[test]
    fn lines_match_the_protocol_encoding() {
        let id = RequestId::from("a");
        let result = json!({"parts":[]});
        let ours = response_line(&id, Ok(&result), 1000);
        let theirs = Message::Response(Response::ok(id.clone(), result)).to_line();
        assert_eq!(ours, format!("{theirs}\n").into_bytes());
        let err = RpcError::cancelled();
        let ours = response_line::<Value>(&id, Err(&err), 1000);
        let theirs = Message::Response(Response::err(id, err)).to_line();
        assert_eq!(ours, format!("{theirs}\n").into_bytes());
    }

    #[test]
    fn an_oversized_result_becomes_error_1007() {
        let id = RequestId::Number(3);
        let line = response_line(&id, Ok(&json!({"text": "x".repeat(200)})), 100);
        let Message::Response(r) = Message::parse(line.trim_ascii_end()).unwrap() else {
            panic!("not a response")
        };
        let err = r.result.unwrap_err();
        assert_eq!(err.code, code::REPLY_TOO_LARGE);
        assert_eq!(err.error_data().retryable, Some(false));
        assert_eq!(r.id, Some(id));
    }

    #[tokio::test]
    async fn the_writer_flushes_each_line_and_stops_on_finish() {
        let (ours, mut theirs) = tokio::io::duplex(1024);
        let (outbox, task) = spawn_writer(ours, 8);
        outbox.send(b"one\n".to_vec()).await.unwrap();
        let mut buf = [0u8; 4];
        tokio::io::AsyncReadExt::read_exact(&mut theirs, &mut buf)
            .await
            .unwrap();
        assert_eq!(
            &buf, b"one\n",
            "the first line is flushed before any other is queued"
        );
        outbox.send(b"two\n".to_vec()).await.unwrap();
        outbox.finish().await;
        task.await.unwrap().unwrap();
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut rest)
            .await
            .unwrap();
        assert_eq!(rest, b"two\n");
        assert!(outbox.send(b"late\n".to_vec()).await.is_err());
    }
}
