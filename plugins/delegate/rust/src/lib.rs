//! The delegate backend: a small example of peer calls with the Rust SDK.
//!
//! On each message it lists the workspace's peers, sends the text to one of them (the first,
//! or the one named at the start of the message as `@<peer id> text`), waits for the answer,
//! and replies `<peer name> says: <answer>`. A queued message, a wait that timed out and every
//! other failure become a reply that says what happened. A message that is itself an
//! automatic reply (`context.inReplyTo`) gets no reply, so two delegates never ping-pong.
//!
//! The Python and Node delegates (`plugins/delegate/{python,node}`) behave the same.

use molecule_plugin::peers::{Peer, PeerError, PeerErrorClass, PeerMessage, SendResult};
use molecule_plugin::protocol::methods::BackendInfo;
use molecule_plugin::protocol::{BackendCapabilities, HandleA2aParams, HandleA2aResult, RpcError};
use molecule_plugin::{Backend, RequestContext, reply};
use std::time::Duration;

/// How long the delegate waits for a peer's answer by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(30);

/// The environment variable that overrides [`DEFAULT_WAIT`], in milliseconds.
pub const WAIT_ENV: &str = "MOLECULE_DELEGATE_WAIT_MS";

/// The delegate backend.
#[derive(Clone, Debug)]
pub struct Delegate {
    wait: Duration,
}

impl Delegate {
    /// A delegate that waits `wait` for each answer.
    pub fn new(wait: Duration) -> Delegate {
        Delegate { wait }
    }

    /// A delegate whose wait comes from `MOLECULE_DELEGATE_WAIT_MS`, or the default.
    pub fn from_env() -> Delegate {
        let wait = std::env::var(WAIT_ENV)
            .ok()
            .and_then(|ms| ms.trim().parse().ok())
            .map_or(DEFAULT_WAIT, Duration::from_millis);
        Delegate::new(wait)
    }

    async fn delegate(&self, text: &str, cx: &RequestContext) -> String {
        let (named, text) = split_target(text);
        if text.is_empty() {
            return "Send me a task (optionally as \"@<peer id> task\") and I will pass it on."
                .to_owned();
        }
        let peers = match cx.peers().list_peers().await {
            Ok(peers) => peers,
            Err(e) => return format!("I could not list my peers: {e}"),
        };
        let Some(peer) = choose(&peers, named) else {
            return match named {
                Some(id) => format!("{id} is not one of my peers."),
                None => "I have no peers to delegate to.".to_owned(),
            };
        };
        let message = PeerMessage::text(text).wait(self.wait);
        let sent = cx.peers().send_to_peer(&peer.id, message).await;
        answer_text(peer, sent)
    }
}

/// `@<id> rest` → (Some(id), rest); anything else → (None, the text).
fn split_target(text: &str) -> (Option<&str>, &str) {
    let text = text.trim();
    match text.strip_prefix('@') {
        Some(rest) => {
            let (id, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            (Some(id), rest.trim())
        }
        None => (None, text),
    }
}

/// The peer named by id, or the first one.
fn choose<'p>(peers: &'p [Peer], named: Option<&str>) -> Option<&'p Peer> {
    match named {
        Some(id) => peers.iter().find(|p| p.id.eq_ignore_ascii_case(id)),
        None => peers.first(),
    }
}

/// The reply to the sender for what the peer did.
fn answer_text(peer: &Peer, sent: Result<SendResult, PeerError>) -> String {
    let name = peer.display_name();
    match sent {
        Ok(r) if r.queued => format!(
            "{name} has queued the message and will answer later (message {}).",
            r.message_id
        ),
        Ok(r) if r.text().is_empty() => format!("{name} answered without any text."),
        Ok(r) => format!("{name} says: {}", r.text()),
        Err(e) if *e.class() == PeerErrorClass::WaitTimeout => format!(
            "{name} did not answer in time; the message was delivered and the answer may \
             still come later."
        ),
        Err(e) => format!("I could not reach {name}: {e}"),
    }
}

impl Backend for Delegate {
    fn info(&self) -> BackendInfo {
        molecule_plugin::package_info!()
    }

    fn capabilities(&self) -> BackendCapabilities {
        BackendCapabilities::default()
            .with_max_concurrency(4)
            .with_cancel(true)
    }

    async fn handle_a2a(
        &self,
        params: HandleA2aParams,
        cx: RequestContext,
    ) -> Result<HandleA2aResult, RpcError> {
        if params.context.in_reply_to.is_some() {
            return Ok(reply::none());
        }
        Ok(reply::text(
            self.delegate(&params.message.text(), &cx).await,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leading_at_names_the_peer() {
        assert_eq!(split_target(" @abc do it "), (Some("abc"), "do it"));
        assert_eq!(split_target("@abc"), (Some("abc"), ""));
        assert_eq!(split_target("mail a@b.c"), (None, "mail a@b.c"));
    }
}
