//! The one table of the keys a `molecule.toml` may hold: each is one of `molecule connect`'s
//! long flags with underscores, and sets that flag's field of a [`ConnectArgs`], so a value is
//! checked by connect's own validation (`crate::connect::config::from_args`), never by a
//! second parser. The JSON Schema of the file (`schema.rs`) is generated from this table.

use std::path::PathBuf;

use crate::connect::ConnectArgs;

/// Where a key may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// At the top (a default for every workspace) and in a `[[workspace]]` (an override).
    Both,
    /// Only in a `[[workspace]]`: it names one workspace's own things.
    Workspace,
}

/// The TOML type of a key's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A string (a URL, a command, an id).
    Text,
    /// A whole number, or a string of one.
    Number,
    /// A duration: `"250ms"`, `"30s"`, `"10m"`.
    Duration,
    /// A path; a relative one is read from the file's directory.
    Path,
    /// `true` or `false`.
    Flag,
    /// A table of strings (`backend_env`).
    Env,
}

/// Where a key's value goes in a [`ConnectArgs`].
pub enum Slot<'a> {
    /// A text setting.
    Text(&'a mut Option<String>),
    /// A path setting.
    Path(&'a mut Option<PathBuf>),
    /// A switch.
    Flag(&'a mut bool),
    /// `KEY=VALUE` pairs.
    Pairs(&'a mut Vec<String>),
}

/// One key of the file.
pub struct Key {
    /// Its name in the file (connect's flag with underscores).
    pub name: &'static str,
    /// Where it may appear.
    pub scope: Scope,
    /// Its value's type.
    pub kind: Kind,
    /// What it is, for the schema.
    pub doc: &'static str,
    /// The field it sets.
    pub slot: fn(&mut ConnectArgs) -> Slot<'_>,
}

/// Keys that are not connect flags: the workspace's id and its token variable.
pub const ID: &str = "id";
/// The name of the environment variable holding a workspace's token.
pub const TOKEN_ENV: &str = "token_env";
/// Refused everywhere: a token is never written into the file.
pub const TOKEN: &str = "token";
/// The array of workspaces.
pub const WORKSPACE: &str = "workspace";

macro_rules! key {
    ($name:ident, $scope:ident, $kind:ident, $slot:ident, $doc:literal) => {
        Key {
            name: stringify!($name),
            scope: Scope::$scope,
            kind: Kind::$kind,
            doc: $doc,
            slot: |a| Slot::$slot(&mut a.$name),
        }
    };
    ($name:ident, $scope:ident, $kind:ident, $slot:ident, $field:ident . $sub:ident, $doc:literal) => {
        Key {
            name: stringify!($sub),
            scope: Scope::$scope,
            kind: Kind::$kind,
            doc: $doc,
            slot: |a| Slot::$slot(&mut a.$field.$sub),
        }
    };
}

/// Every key but `id`, `token_env` and `workspace`, in the order of `molecule connect --help`.
#[rustfmt::skip]
pub const KEYS: &[Key] = &[
    key!(api_url, Both, Text, Text, "The platform's API URL, e.g. https://acme.moleculesai.app."),
    key!(token_file, Workspace, Path, Path, "A file holding the workspace token (re-read after a 401)."),
    key!(backend_cmd, Both, Text, Text, "The backend to run, as a command line (split like a shell would, never run by one)."),
    key!(backend_env, Both, Env, Pairs, "Extra variables for the backend's environment; a workspace's table adds to the top one."),
    key!(state_dir, Workspace, Path, Path, "Where the cursor, the answered rows and uploads are kept [default: the one molecule connect uses for this id]."),
    key!(poll_interval, Both, Duration, Text, "How often the feed is polled while the event stream is not live [default: 1s]."),
    key!(safety_poll_interval, Both, Duration, Text, "While the event stream is live, how often the feed is read anyway [default: 30s]."),
    key!(no_event_stream, Both, Flag, Flag, "Do not use the platform's event stream."),
    key!(heartbeat_interval, Both, Duration, Text, "How often the host heartbeats; under 90s [default: 20s]."),
    key!(batch_size, Both, Number, Text, "Rows fetched per poll, 1 to 500 [default: 100]."),
    key!(since, Both, Duration, Text, "On a first start, how far back to look for messages [default: 10m]."),
    key!(request_timeout, Both, Duration, Text, "How long the backend may take to answer one message [default: 10m]."),
    key!(concurrency, Both, Number, Text, "Conversations handled at once [default: 4]."),
    key!(origin, Both, Text, Text, "The Origin header [default: the API URL's origin]."),
    key!(org_id, Both, Text, Text, "The organisation id, sent as X-Molecule-Org-Id."),
    key!(hop_limit, Both, Number, Text, "Automatic replies this many hops deep are not answered [default: 4]."),
    key!(foreign_reply_limit, Both, Number, Text, "Replies to an agent without molecule metadata before a pause (0: no limit) [default: 10]."),
    key!(max_attempts, Both, Number, Text, "Deliveries of one message before it gets an error reply [default: 5]."),
    key!(drain_timeout, Both, Duration, Text, "On shutdown or removal, how long messages in flight may take [default: 30s]."),
    key!(backend_startup_timeout, Both, Duration, Text, "How long the backend may take to start [default: 30s]."),
    key!(backend_idle_timeout, Both, Duration, Text, "How long a reporting backend may go without progress [default: 120s]."),
    key!(ack, Both, Flag, Flag, "Acknowledge handled rows (newer platforms)."),
    key!(tuning, Both, Number, Text, tuning.window, "Most rows fetched and not yet answered."),
    key!(tuning, Both, Number, Text, tuning.reply_concurrency, "Canvas replies posted at once."),
    key!(tuning, Both, Duration, Text, tuning.retry_base, "First delay of every retry."),
    key!(tuning, Both, Duration, Text, tuning.retry_max, "Longest delay of every retry."),
    key!(tuning, Both, Duration, Text, tuning.overlap_interval, "How often the recent feed is read again."),
    key!(tuning, Both, Duration, Text, tuning.overlap_window, "How far back that read looks."),
    key!(tuning, Both, Duration, Text, tuning.event_stream_idle_timeout, "Reopen an event stream silent this long."),
    key!(tuning, Both, Duration, Text, tuning.event_stream_retry, "How often a platform without an event stream is asked again."),
    key!(tuning, Both, Duration, Text, tuning.reregister_interval, "How often the workspace registers again."),
    key!(tuning, Both, Duration, Text, tuning.flush_interval, "How often the state file is written when something changed."),
    key!(tuning, Both, Duration, Text, tuning.summary_interval, "How often the summary line is logged."),
    key!(tuning, Both, Duration, Text, tuning.cursor_skew, "Clock-skew margin when reading back after a lost cursor."),
    key!(tuning, Both, Number, Text, tuning.since_max_rows, "Most rows a first start reads back."),
    key!(tuning, Both, Duration, Text, tuning.upload_retention, "How long downloaded canvas uploads are kept."),
    key!(tuning, Both, Duration, Text, tuning.error_window, "The window of the heartbeat's error rate."),
    key!(tuning, Both, Duration, Text, tuning.http_timeout, "Timeout of each platform call."),
    key!(tuning, Both, Duration, Text, tuning.reply_timeout, "Timeout of a reply to an agent."),
    key!(tuning, Both, Duration, Text, tuning.max_wait, "The longest wait the platform can impose (Retry-After) [default: 60s]."),
    key!(tuning, Both, Duration, Text, tuning.foreign_reply_cooldown, "How long an agent past foreign_reply_limit is not answered."),
    key!(tuning, Both, Number, Text, tuning.max_response_bytes, "The most bytes read of a JSON answer or a page."),
    key!(tuning, Both, Duration, Text, tuning.backend_cancel_grace, "How long a cancelled request may take to end."),
    key!(tuning, Both, Duration, Text, tuning.backend_restart_base, "First delay before restarting a crashed backend."),
    key!(tuning, Both, Duration, Text, tuning.backend_restart_max, "Longest delay before restarting a crashed backend."),
    key!(tuning, Both, Number, Text, tuning.backend_breaker_crashes, "Crashes within the window that open the breaker."),
    key!(tuning, Both, Duration, Text, tuning.backend_breaker_window, "The breaker's window."),
    key!(tuning, Both, Duration, Text, tuning.backend_breaker_cooldown, "How long the breaker stays open."),
    key!(tuning, Both, Duration, Text, tuning.backend_eof_wait, "Wait after closing the backend's stdin."),
    key!(tuning, Both, Duration, Text, tuning.backend_term_wait, "Wait after SIGTERM before SIGKILL."),
    key!(peers, Both, Number, Text, peers.peer_calls_per_minute, "Peer calls and user/notify calls the backend may start per minute [default: 60]."),
    key!(peers, Both, Flag, Flag, peers.no_host_socket, "Do not serve the host methods on a Unix socket."),
];

/// The key named `name`.
pub fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// The key behind a connect flag (`--poll-interval` → `poll_interval`), to place an error.
pub fn of_flag(flag: &str) -> Option<&'static str> {
    let name = flag.trim_start_matches('-').replace('-', "_");
    find(&name).map(|k| k.name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every key is a long flag of `molecule connect` (with underscores), so the file and the
    /// command line cannot drift apart in their names.
    #[test]
    fn every_key_is_a_connect_flag() {
        let cli = crate::cli::Cli::command();
        let connect = cli.find_subcommand("connect").unwrap();
        let flags: Vec<String> = connect
            .get_arguments()
            .filter_map(|a| a.get_long())
            .map(|l| l.replace('-', "_"))
            .collect();
        for key in KEYS {
            assert!(
                flags.contains(&key.name.to_owned()),
                "{} is no flag",
                key.name
            );
        }
        let mut names: Vec<_> = KEYS.iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), KEYS.len(), "a key is listed twice");
    }
}
