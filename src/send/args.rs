//! The command line of `molecule send`.

use std::path::PathBuf;

/// What `molecule send --help` prints after the options.
pub const AFTER_HELP: &str = "\
Who sends:
  against `molecule dev` no token is needed: the local platform hands one out. The default
  sender is a person in the canvas; --as <id> sends as that workspace (the peer, say).
  against a real platform a token is needed (--token-file PATH or MOLECULE_WORKSPACE_TOKEN):
  a workspace token sends as that workspace, but the platform has no way to ask whose token
  it is, so name the workspace: --as <id> or MOLECULE_WORKSPACE_ID=<id> (without either, send
  stops with exit 2 and says so). With --canvas the token must be an org or admin token.

With --wait the reply is printed when it arrives: for a workspace sender it is the message in
the sender's own feed whose metadata.molecule.inReplyTo is the sent messageId; for the canvas it
is the first message the agent posts to its chat after this one (the platform does not link the
two, so with several people typing at once it may be another's answer). The feed is read when
the platform's event stream says a row was written to it, and every few seconds besides
(several times a second when the platform has no stream). A message is retried on
transient errors with the same messageId: newer platforms deliver it once to a polling agent.

Exit codes:
  0  sent (and, with --wait, answered)
  2  usage or configuration error (the message names the flag)
  4  the platform rejected the token
  5  no such workspace
  6  the workspace was removed
  8  --wait: no reply in time (the message was sent)
  10 the platform refused the message or could not be reached";

/// `molecule send <workspace-id> "text"`.
#[derive(Clone, Debug, clap::Args)]
#[command(after_help = AFTER_HELP, args_override_self = true)]
pub struct SendArgs {
    /// The workspace to send to.
    #[arg(value_name = "WORKSPACE_ID")]
    pub workspace_id: String,
    /// The message text.
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Send as this workspace (its token: from the local platform, or --token-file /
    /// MOLECULE_WORKSPACE_TOKEN). With a given workspace token, this or MOLECULE_WORKSPACE_ID
    /// is required: the platform cannot say whose token it is.
    #[arg(long = "as", value_name = "WORKSPACE_ID", conflicts_with = "canvas")]
    pub as_workspace: Option<String>,
    /// Send as a person in the canvas (on a real platform: needs an org or admin token).
    #[arg(long)]
    pub canvas: bool,
    /// Wait up to this many seconds for the reply and print it.
    #[arg(long, value_name = "SECS")]
    pub wait: Option<f64>,
    /// Print JSON: the reply message (with --wait) or the platform's answer.
    #[arg(long)]
    pub json: bool,
    /// The platform's API URL (`molecule dev` prints it).
    #[arg(long, value_name = "URL", env = "MOLECULE_API_URL")]
    pub api_url: Option<String>,
    /// A file holding the token.
    #[arg(long, value_name = "PATH", env = "MOLECULE_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
    /// The Origin header [default: the API URL's origin].
    #[arg(long, value_name = "ORIGIN", env = "MOLECULE_ORIGIN")]
    pub origin: Option<String>,
    /// The organisation id, sent as X-Molecule-Org-Id.
    #[arg(long, value_name = "ID", env = "MOLECULE_ORG_ID")]
    pub org_id: Option<String>,
    /// How often the feed is read while waiting and the event stream is not live, in
    /// milliseconds.
    #[arg(long, hide = true, value_name = "MS", default_value_t = 200)]
    pub poll_interval_ms: u64,
    /// How often the feed is read while waiting and the event stream is live, in milliseconds.
    #[arg(long, hide = true, value_name = "MS", default_value_t = 5000)]
    pub safety_poll_ms: u64,
    /// Wait without the event stream.
    #[arg(long, hide = true)]
    pub no_event_stream: bool,
    /// First retry delay of a failed call, in milliseconds.
    #[arg(long, hide = true, value_name = "MS", default_value_t = 500)]
    pub retry_base_ms: u64,
}
