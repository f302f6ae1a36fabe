//! The scripted host on a Unix socket: what tools the backend starts reach through
//! `MOLECULE_HOST_SOCKET` (SPEC §14.4). NDJSON JSON-RPC with no handshake; every request is
//! answered from the [`ScriptedHost`] and recorded there.

use std::sync::Arc;

use molecule_protocol::codec::{DEFAULT_MAX_MESSAGE_BYTES, Frame, FrameReader, write_line};
use molecule_protocol::{Message, RpcError, code, encode};
use tokio::io::BufReader;
use tokio::net::{UnixListener, UnixStream};

use super::ScriptedHost;

/// Serves `listener` until the task is dropped (the run ends).
pub async fn serve(listener: UnixListener, host: Arc<ScriptedHost>) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(client(stream, host.clone()));
    }
}

async fn client(stream: UnixStream, host: Arc<ScriptedHost>) {
    let (read, mut write) = stream.into_split();
    let mut frames = FrameReader::new(BufReader::new(read), DEFAULT_MAX_MESSAGE_BYTES);
    while let Ok(Some(frame)) = frames.next_frame().await {
        let line = match frame {
            Frame::Line(line) => match Message::parse(&line) {
                Ok(Message::Request(r)) => {
                    let answer = host.answer_socket(&r.method, r.params.as_ref());
                    match answer {
                        Ok(result) => encode::result(&r.id, &result).unwrap_or_default(),
                        Err(e) => encode::error(Some(&r.id), &e),
                    }
                }
                _ => continue,
            },
            Frame::Oversize { id, .. } => {
                let e = RpcError::new(code::INVALID_REQUEST, "the line is too long");
                encode::error(id.as_ref(), &e)
            }
        };
        if write_line(&mut write, &line).await.is_err() {
            return;
        }
    }
}
