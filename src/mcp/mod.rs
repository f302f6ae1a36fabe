//! `molecule mcp`: an MCP server over stdio that gives an agent (Claude Code, say) the peer
//! calls of the workspace it runs in.
//!
//! The host serves the peer calls on a per-backend Unix socket whose path is in the backend's
//! environment as `MOLECULE_HOST_SOCKET`; a backend hands this server to its agent (the
//! claude-code backend passes it with `--mcp-config`), and the server turns each tool call
//! into one call on that socket. It starts and lists its tools whether or not the socket is
//! set or reachable, and fails each call with a message that says why. With
//! `MOLECULE_IDEMPOTENCY_KEY` (the turn's `handle_a2a` key) its peer sends carry derived
//! `messageId`s, so a redelivered message does not delegate the same work twice.
//!
//! - [`client`]: the socket, one connection per call;
//! - [`tools`]: the four tools and how their calls map to host methods;
//! - [`server`]: the rmcp handler.

pub mod client;
pub mod server;
pub mod tools;

use clap::Args;
use molecule_host::exit;
use rmcp::ServiceExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `molecule mcp`'s arguments.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// The host's socket [default: MOLECULE_HOST_SOCKET, set by the host for its backend].
    #[arg(long, value_name = "PATH", env = client::SOCKET_ENV)]
    pub socket: Option<PathBuf>,
    /// How long one tool call may take before it fails (a peer call the host retries, plus
    /// the longest wait a caller may ask for).
    #[arg(long, hide = true, value_name = "DURATION", default_value = "70m",
          value_parser = molecule_protocol::duration::parse_duration)]
    pub call_timeout: Duration,
    /// The idempotency key of the `handle_a2a` this server serves a turn of: the i-th peer
    /// send gets the `messageId` derived from it and i (set by the backend that starts us).
    #[arg(long, hide = true, value_name = "KEY", env = tools::IDEMPOTENCY_ENV)]
    pub idempotency_key: Option<String>,
}

/// Runs `molecule mcp` until its client closes stdin.
pub fn main(args: McpArgs) -> ExitCode {
    let socket = args.socket.filter(|p| !p.as_os_str().is_empty());
    let tools = server::PeerTools::new(
        client::SocketClient::new(socket, args.call_timeout),
        tools::SendIds::new(args.idempotency_key),
    );
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("molecule: error: cannot start the runtime: {e}");
            return ExitCode::from(exit::INTERNAL);
        }
    };
    let served = runtime.block_on(async {
        let service = tools.serve(rmcp::transport::stdio()).await?;
        service.waiting().await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("molecule: error: mcp: {e}");
            ExitCode::from(exit::INTERNAL)
        }
    }
}
