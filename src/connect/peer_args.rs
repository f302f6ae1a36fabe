//! The peer-call flags of `molecule connect` (flattened into its command line), validated into
//! the host's [`PeerSettings`].

use std::time::Duration;

use molecule_host::connect::ConfigError;
use molecule_host::peers::PeerSettings;

use super::config::{duration, number};

/// The command-line flags (flattened into `molecule connect`).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct PeerArgs {
    /// Peer calls (peers/list, peers/discover, peers/send) and user/notify calls the backend may
    /// start per minute; the platform's rate limit is shared with polling and heartbeats
    /// [default: 60].
    #[arg(long, value_name = "N", env = "MOLECULE_PEER_CALLS_PER_MINUTE")]
    pub peer_calls_per_minute: Option<String>,
    /// Do not serve the host methods on a Unix socket (MOLECULE_HOST_SOCKET).
    #[arg(long, env = "MOLECULE_NO_HOST_SOCKET")]
    pub no_host_socket: bool,
    /// First delay between peers/send attempts.
    #[arg(long, hide = true, env = "MOLECULE_PEER_RETRY_BASE")]
    pub peer_retry_base: Option<String>,
    /// Longest delay between peers/send attempts.
    #[arg(long, hide = true, env = "MOLECULE_PEER_RETRY_MAX")]
    pub peer_retry_max: Option<String>,
    /// The total time one peers/send may take, retries included.
    #[arg(long, hide = true, env = "MOLECULE_PEER_SEND_BUDGET")]
    pub peer_send_budget: Option<String>,
    /// How long a sender lookup (and a failed one) is remembered.
    #[arg(long, hide = true, env = "MOLECULE_PEER_CACHE_TTL")]
    pub peer_cache_ttl: Option<String>,
    /// How long dispatch waits for a sender lookup.
    #[arg(long, hide = true, env = "MOLECULE_PEER_LOOKUP_TIMEOUT")]
    pub peer_lookup_timeout: Option<String>,
}

/// The defaults with the flags given applied; a bad value names its flag and variable.
pub fn settings(args: &PeerArgs) -> Result<PeerSettings, ConfigError> {
    let mut s = PeerSettings::default();
    if let Some(n) = number(
        &args.peer_calls_per_minute,
        "--peer-calls-per-minute",
        1,
        100_000,
    )? {
        s.calls_per_minute = n as u32;
    }
    s.socket = !args.no_host_socket;
    let table: [(&Option<String>, &'static str, &mut Duration); 5] = [
        (
            &args.peer_retry_base,
            "--peer-retry-base",
            &mut s.retry_base,
        ),
        (&args.peer_retry_max, "--peer-retry-max", &mut s.retry_max),
        (
            &args.peer_send_budget,
            "--peer-send-budget",
            &mut s.send_budget,
        ),
        (&args.peer_cache_ttl, "--peer-cache-ttl", &mut s.cache_ttl),
        (
            &args.peer_lookup_timeout,
            "--peer-lookup-timeout",
            &mut s.lookup_timeout,
        ),
    ];
    for (value, flag, field) in table {
        if let Some(d) = duration(value, flag)? {
            *field = d;
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_defaults_and_bad_values_name_the_flag() {
        let args = PeerArgs {
            peer_calls_per_minute: Some("3".into()),
            peer_retry_base: Some("5ms".into()),
            ..PeerArgs::default()
        };
        let s = settings(&args).expect("valid");
        assert_eq!(s.calls_per_minute, 3);
        assert_eq!(s.retry_base, Duration::from_millis(5));
        assert_eq!(s.send_budget, Duration::from_secs(600));
        let bad = PeerArgs {
            peer_calls_per_minute: Some("0".into()),
            ..PeerArgs::default()
        };
        let e = settings(&bad).expect_err("zero").to_string();
        assert!(
            e.contains("--peer-calls-per-minute") && e.contains("MOLECULE_PEER_CALLS_PER_MINUTE"),
            "{e}"
        );
    }
}
