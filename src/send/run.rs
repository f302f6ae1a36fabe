//! One `molecule send`: check the arguments, resolve the sender, post the message (retried with
//! the same `messageId`), and wait for the reply when asked.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use molecule_host::backoff::Backoff;
use molecule_host::platform::diagnose;
use molecule_host::platform::{
    A2aAnswer, Call, PlatformClient, PlatformConfig, PlatformError, RetryPolicy, TokenSource, retry,
};

use molecule_host::wake::StreamSettings;

use super::args::SendArgs;
use super::auth::{self, Identity, Sender};
use super::error::SendError;
use super::wait::{Waiter, text_of};

/// Sends the message; returns what to print.
pub async fn run(
    args: &SendArgs,
    env: impl Fn(&str) -> Option<String>,
) -> Result<String, SendError> {
    let started = Instant::now();
    let (api_url, target, wait) = validate(args)?;
    let id = auth::resolve(args, &api_url, env).await?;
    let s = Session::new(args, &api_url, target, id)?;
    // A clean "no such workspace" or "removed" before anything is sent.
    retry(Call::GetWorkspace, &s.policy, &s.cancel, || {
        s.client.get_workspace(target)
    })
    .await
    .map_err(|e| s.refused(e))?;
    let message_id = Uuid::new_v4().to_string();
    let waiter = match wait {
        Some(_) => Some(
            retry(Call::Activity, &s.policy, &s.cancel, || {
                Waiter::before_sending(s.client.clone(), s.sender, &message_id, stream(args))
            })
            .await
            .map_err(|e| s.refused(e))?,
        ),
        None => None,
    };
    // metadata.molecule marks a molecule client's message: a host counts it with the hop
    // limit, not with the budget of agents on other runtimes.
    let body = json!({"jsonrpc": "2.0", "id": message_id, "method": "message/send",
        "params": {"message": {"kind": "message", "role": "user", "messageId": message_id,
            "parts": [{"kind": "text", "text": args.text}],
            "metadata": {"molecule": {"hops": 0}}}}});
    let sent = retry(Call::PostA2a, &s.policy, &s.cancel, || {
        s.client.post_a2a(target, &body)
    })
    .await
    .map_err(|e| s.refused(e))?;
    let reply = match (sent.answer, waiter, wait) {
        // A push-mode agent answers in the response.
        (A2aAnswer::Message(m), _, _) => m,
        (_, Some(waiter), Some(secs)) => {
            let deadline = started + Duration::from_secs_f64(secs);
            let interval = Duration::from_millis(args.poll_interval_ms);
            let retry = Backoff::new(
                Duration::from_millis(args.retry_base_ms),
                Duration::from_secs(5),
            );
            match waiter.wait(deadline, interval, retry).await {
                Ok(Some(m)) => m,
                Ok(None) => return Err(SendError::Timeout { secs, message_id }),
                Err(e) => return Err(s.refused(e)),
            }
        }
        (answer, _, _) => return Ok(sent_line(args.json, &message_id, &answer)),
    };
    Ok(if args.json {
        reply.to_string()
    } else {
        text_of(&reply)
    })
}

/// How the wait uses the event stream: read every few seconds while it is live, reconnect on
/// the retry schedule of the other calls.
fn stream(args: &SendArgs) -> StreamSettings {
    StreamSettings {
        enabled: !args.no_event_stream,
        safety_interval: Duration::from_millis(args.safety_poll_ms),
        reconnect_base: Duration::from_millis(args.retry_base_ms),
        reconnect_max: Duration::from_secs(5),
        ..StreamSettings::default()
    }
}

/// The client and how its calls are retried and their errors named.
struct Session {
    client: PlatformClient,
    policy: RetryPolicy,
    cancel: CancellationToken,
    sender: Sender,
    from_dev: bool,
}

impl Session {
    fn new(
        args: &SendArgs,
        api_url: &str,
        target: Uuid,
        id: Identity,
    ) -> Result<Session, SendError> {
        let policy = RetryPolicy {
            max_attempts: Some(8),
            budget: Some(Duration::from_secs(60)),
            ..RetryPolicy::forever(
                Duration::from_millis(args.retry_base_ms),
                Duration::from_secs(5),
            )
        };
        Ok(Session {
            client: client_for(args, api_url, target, id.sender, id.token)?,
            policy,
            cancel: CancellationToken::new(),
            sender: id.sender,
            from_dev: id.from_dev,
        })
    }

    /// Names a refused canvas token as such, and a platform that cannot be reached as the
    /// fault it is.
    fn refused(&self, e: PlatformError) -> SendError {
        if let Some(fault) = diagnose::fault_of(&e, self.client.config()) {
            return SendError::Unreachable(fault);
        }
        match (&e, self.sender, self.from_dev) {
            (PlatformError::Unauthorized { .. }, Sender::Canvas, false) => {
                SendError::CanvasToken { status: 401 }
            }
            (PlatformError::Permanent { status: 403, .. }, Sender::Canvas, false) => {
                SendError::CanvasToken { status: 403 }
            }
            _ => SendError::Platform(e),
        }
    }
}

fn validate(args: &SendArgs) -> Result<(String, Uuid, Option<f64>), SendError> {
    let api_url = args
        .api_url
        .clone()
        .filter(|u| !u.trim().is_empty())
        .ok_or_else(|| {
            SendError::Usage(
                "missing platform API URL: give --api-url or set MOLECULE_API_URL \
                 (molecule dev prints it)"
                    .into(),
            )
        })?;
    let target = Uuid::parse_str(args.workspace_id.trim()).map_err(|_| {
        SendError::Usage(format!(
            "invalid WORKSPACE_ID {:?}: expected a workspace UUID",
            args.workspace_id
        ))
    })?;
    if args.text.trim().is_empty() {
        return Err(SendError::Usage("the message TEXT is empty".into()));
    }
    if let Some(w) = args.wait
        && !(w.is_finite() && w > 0.0 && w < 1e9)
    {
        return Err(SendError::Usage(format!(
            "invalid --wait {w}: expected a number of seconds above 0"
        )));
    }
    Ok((api_url, target, args.wait))
}

/// The client: as the sending workspace (whose feed holds the reply), or as the canvas, which
/// reads the target's feed and sends no `X-Workspace-ID`.
fn client_for(
    args: &SendArgs,
    api_url: &str,
    target: Uuid,
    sender: Sender,
    token: TokenSource,
) -> Result<PlatformClient, SendError> {
    let mut cfg = match sender {
        Sender::Workspace(w) => PlatformConfig::new(api_url, &w.to_string())?,
        Sender::Canvas => {
            PlatformConfig::new(api_url, &target.to_string())?.without_workspace_header()
        }
    };
    if let Some(o) = &args.origin {
        cfg = cfg.with_origin(o)?;
    }
    if let Some(o) = &args.org_id {
        cfg = cfg.with_org_id(o)?;
    }
    Ok(PlatformClient::new(cfg, token)?)
}

fn sent_line(json: bool, message_id: &str, answer: &A2aAnswer) -> String {
    let status = match answer {
        A2aAnswer::Queued => "queued",
        A2aAnswer::PushAsync => "queued (push-async)",
        A2aAnswer::BusyQueued { .. } => "queued by a busy agent",
        _ => "accepted",
    };
    if json {
        json!({"messageId": message_id, "status": status}).to_string()
    } else {
        format!("sent: message {message_id} {status}")
    }
}
