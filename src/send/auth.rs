//! Who sends and with which token: a token given by the user, or, against `molecule dev`,
//! one that the local platform hands out on its `/_dev` admin path (so that no token is ever
//! copied onto a command line). A platform whose `/buildinfo` is not the emulator's is a real one.

use std::time::Duration;

use serde_json::Value;
use uuid::Uuid;

use molecule_host::platform::diagnose;
use molecule_host::platform::{
    Call, ErrorClass, PlatformClient, PlatformConfig, RetryPolicy, TokenSource, retry,
};
use tokio_util::sync::CancellationToken;

use super::args::SendArgs;
use super::error::SendError;

/// The sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sender {
    /// A person in the canvas (an org or admin token): no `X-Workspace-ID`, and the reply is
    /// the agent's next message to its chat.
    Canvas,
    /// A workspace: the reply comes to its own feed.
    Workspace(Uuid),
}

/// The sender and its token.
#[derive(Debug)]
pub struct Identity {
    /// Who.
    pub sender: Sender,
    /// The token.
    pub token: TokenSource,
    /// Whether the token came from `molecule dev`.
    pub from_dev: bool,
}

/// Resolves the sender: from the flags and the user's token, else from the local platform.
pub async fn resolve(
    args: &SendArgs,
    api_url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Identity, SendError> {
    let as_id = args.as_workspace.as_deref().map(parse_id).transpose()?;
    if let Some(token) = user_token(args, &env)? {
        let sender = if args.canvas {
            Sender::Canvas
        } else if let Some(id) = as_id {
            Sender::Workspace(id)
        } else {
            // The platform has no endpoint that says whose token this is: the user must.
            let id = env("MOLECULE_WORKSPACE_ID").filter(|v| !v.trim().is_empty());
            let id = id.ok_or_else(|| SendError::Usage(whose_token(&token)))?;
            Sender::Workspace(parse_id(&id)?)
        };
        return Ok(Identity {
            sender,
            token,
            from_dev: false,
        });
    }
    let dev = DevPath::new(api_url)?;
    dev.is_molecule_dev(args.canvas, Duration::from_millis(args.retry_base_ms))
        .await?;
    let (sender, token) = match as_id {
        Some(id) => (Sender::Workspace(id), dev.workspace_token(id).await?),
        None => (Sender::Canvas, dev.admin_token(args.canvas).await?),
    };
    Ok(Identity {
        sender,
        token: TokenSource::from_value(&token, "molecule dev")?,
        from_dev: true,
    })
}

/// The error for a token given with no word on whose it is.
fn whose_token(token: &TokenSource) -> String {
    format!(
        "the platform cannot tell whose token this is ({}): pass --as <workspace-id> or set \
         MOLECULE_WORKSPACE_ID=<workspace-id> to send as the workspace it belongs to, or \
         --canvas if it is an org or admin token",
        token.origin()
    )
}

fn parse_id(s: &str) -> Result<Uuid, SendError> {
    Uuid::parse_str(s.trim())
        .map_err(|_| SendError::Usage(format!("invalid --as {s:?}: expected a workspace UUID")))
}

fn user_token(
    args: &SendArgs,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<TokenSource>, SendError> {
    if let Some(path) = &args.token_file {
        return Ok(Some(TokenSource::from_file(path)?));
    }
    match env(molecule_host::connect::TOKEN_ENV).filter(|v| !v.trim().is_empty()) {
        Some(v) => Ok(Some(TokenSource::from_value(
            &v,
            molecule_host::connect::TOKEN_ENV,
        )?)),
        None => Ok(None),
    }
}

/// The `/_dev` admin path of `molecule dev`.
struct DevPath {
    http: reqwest::Client,
    base: String,
    port: u16,
    /// The run's key from the file `molecule dev` saved for this port, when this user has one.
    key: Option<String>,
}

impl DevPath {
    fn new(api_url: &str) -> Result<DevPath, SendError> {
        // Validates the URL the same way as every platform call.
        let cfg = PlatformConfig::new(api_url, &Uuid::nil().to_string())?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SendError::Usage(format!("cannot set up the HTTP client: {e}")))?;
        let port = cfg.api_url().port_or_known_default().unwrap_or(0);
        Ok(DevPath {
            http,
            base: cfg.api_url().as_str().trim_end_matches('/').to_owned(),
            port,
            key: crate::dev::key::read(port),
        })
    }

    /// Whether the platform is `molecule dev`'s, whose `/buildinfo` says `"emulator": true`:
    /// any other answer is a real platform, which needs a token; no answer is said as the
    /// fault it is, never blamed on `molecule dev`. A busy answer (5xx, 429) is asked again.
    async fn is_molecule_dev(&self, canvas: bool, base: Duration) -> Result<(), SendError> {
        let cfg = PlatformConfig::new(&self.base, &Uuid::nil().to_string())?;
        let client = PlatformClient::new(cfg.clone(), TokenSource::none())?;
        let policy = RetryPolicy {
            max_attempts: Some(8),
            budget: Some(Duration::from_secs(60)),
            ..RetryPolicy::forever(base, Duration::from_secs(5))
        };
        // A fault (nothing listens, no such host, …) is said at once; only a busy platform is
        // asked again.
        let answer = match client.buildinfo().await {
            Err(e)
                if e.class() != ErrorClass::Permanent && diagnose::fault_of(&e, &cfg).is_none() =>
            {
                let cancel = CancellationToken::new();
                retry(Call::BuildInfo, &policy, &cancel, || client.buildinfo()).await
            }
            answer => answer,
        };
        match answer {
            Ok(info) if info.raw["emulator"] == true => Ok(()),
            Ok(_) => Err(self.need_token(canvas)),
            Err(e) => match diagnose::fault_of(&e, &cfg) {
                Some(fault) => Err(SendError::Unreachable(fault)),
                None if e.class() == ErrorClass::Permanent => Err(self.need_token(canvas)),
                None => Err(SendError::Platform(e)),
            },
        }
    }

    async fn post(&self, path: &str) -> Result<(u16, Value), SendError> {
        let url = format!("{}{path}", self.base);
        // Without a key (`molecule emulator` needs none) any value passes the header check.
        let key = self.key.as_deref().unwrap_or("1");
        let resp = self
            .http
            .post(&url)
            .header(crate::dev::key::HEADER, key)
            .send()
            .await
            .map_err(|e| SendError::Dev {
                url: self.base.clone(),
                what: format!("nothing on its admin path: {e}"),
            })?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    fn need_token(&self, canvas: bool) -> SendError {
        SendError::NeedToken {
            url: self.base.clone(),
            which: if canvas {
                "--canvas: an org or admin token"
            } else {
                "the sending workspace's token, with --as <its id>"
            },
        }
    }

    async fn admin_token(&self, canvas: bool) -> Result<String, SendError> {
        let (status, body) = self.post("/_dev/admin-token").await?;
        match (status, body["admin_token"].as_str()) {
            (200, Some(t)) => Ok(t.to_owned()),
            (404 | 405, _) => Err(self.need_token(canvas)),
            (403, _) => Err(self.refused()),
            _ => Err(self.unexpected(status)),
        }
    }

    async fn workspace_token(&self, id: Uuid) -> Result<String, SendError> {
        // Ask the admin path first: a 404 there means a real platform, not an unknown id.
        self.admin_token(false).await?;
        let (status, body) = self.post(&format!("/_dev/workspaces/{id}/tokens")).await?;
        match (status, body["auth_token"].as_str()) {
            (200 | 201, Some(t)) => Ok(t.to_owned()),
            (404, _) => Err(SendError::NoSuchSender(id.to_string())),
            _ => Err(self.unexpected(status)),
        }
    }

    fn refused(&self) -> SendError {
        let port = self.port;
        let why = if self.key.is_some() {
            format!("its key file for port {port} holds another run's key")
        } else {
            format!(
                "there is no key file for port {port}: only the user who started molecule dev \
                 can use its admin path (run molecule send as that user, or give a token)"
            )
        };
        SendError::Dev {
            url: self.base.clone(),
            what: format!("a refusal on its admin path (HTTP 403): {why}"),
        }
    }

    fn unexpected(&self, status: u16) -> SendError {
        SendError::Dev {
            url: self.base.clone(),
            what: format!("HTTP {status} on its admin path"),
        }
    }
}
