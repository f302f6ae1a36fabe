//! The platform's checks: the API URL answers (directly or through a proxy, TLS verified), what
//! answers is a platform (`/buildinfo`), the workspace exists and its delivery mode, the token
//! is accepted, and whether the platform serves the event stream (its route asked for its head:
//! the body of a live stream never ends). They use `molecule connect`'s own first contact
//! ([`first_contact`]), so both say a fault in the same words.

use std::future::Future;
use std::path::Path;

use molecule_host::connect::contact::{Contact, Patience, first_contact};
use molecule_host::connect::{Config, ConnectError};
use molecule_host::platform::diagnose::{self, Fault, StreamRoute};
use molecule_host::platform::{
    ActivityQuery, BuildInfo, PlatformClient, PlatformError, RetryPolicy, TokenSource,
};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::report::{Line, Report};

/// Why a check has no answer: the run's `--timeout` passed first.
const LATE: &str = "no answer within --timeout";

/// Runs the platform's checks into `report`.
pub async fn check(
    config: &Config,
    state_dir: Option<&Path>,
    deadline: Instant,
    report: &mut Report,
) {
    let token = state_dir
        .map(|dir| config.token.source(dir))
        .unwrap_or_else(|| Err(molecule_host::connect::ConfigError::NoStateDir.into()));
    // `/buildinfo` and the workspace's record are open routes: a missing token only fails
    // its own line.
    let (source, token_error) = match token {
        Ok(source) => (source, None),
        Err(e) => (TokenSource::none(), Some(e)),
    };
    let client = match PlatformClient::new(config.platform.clone(), source) {
        Ok(c) => c,
        Err(e) => {
            report.push(Line::fail("api", e.to_string()));
            return skip_rest(report, "the HTTP client cannot be set up");
        }
    };
    let Some(buildinfo) = reach(&client, deadline, report).await else {
        return skip_rest(report, "the platform cannot be reached");
    };
    if !workspace(&client, config, buildinfo, deadline, report).await {
        return;
    }
    match token_error {
        None => report.push(token_line(&client, deadline).await),
        Some(e) => report.push(Line::fail("token", e.to_string())),
    }
    report.push(events_line(&client, config, deadline).await);
}

/// The `events` line: whether the platform serves the event stream, asked for its head only.
async fn events_line(client: &PlatformClient, config: &Config, deadline: Instant) -> Line {
    let wait = config.platform.timeouts.request;
    let polled = format!(
        "messages are found by reading the feed every {:?}",
        config.settings.poll.interval
    );
    let Some(answer) = bounded(deadline, diagnose::event_stream_route(client, wait)).await else {
        return Line::warn("events", LATE);
    };
    match answer {
        Ok(StreamRoute::Open) => Line::ok("events", "the event stream answers (text/event-stream)"),
        Ok(StreamRoute::Status(s @ (404 | 405))) => Line::warn(
            "events",
            format!("no event stream on this platform (HTTP {s}): {polled}"),
        ),
        Ok(StreamRoute::Status(s)) => Line::warn(
            "events",
            format!("the event stream answers HTTP {s}: {polled}"),
        ),
        Ok(StreamRoute::NotAStream { content_type }) => Line::warn(
            "events",
            format!(
                "the event stream answers {content_type}, not text/event-stream: something in \
                 front of the platform does not pass it through; {polled}"
            ),
        ),
        Err(e) => Line::warn(
            "events",
            format!("cannot open the event stream: {e}; {polled}"),
        ),
    }
}

/// The `api` line; `None` when the platform cannot be reached at all.
async fn reach(
    client: &PlatformClient,
    deadline: Instant,
    report: &mut Report,
) -> Option<Result<BuildInfo, PlatformError>> {
    let cfg = client.config();
    let Some(buildinfo) = bounded(deadline, client.buildinfo()).await else {
        report.push(Line::fail("api", LATE));
        return None;
    };
    if let Err(e) = &buildinfo
        && let Some(fault) = diagnose::fault_of(e, cfg)
    {
        report.push(Line::fail("api", fault.to_string()));
        return None;
    }
    let url = cfg.api_url().as_str().trim_end_matches('/');
    let route = match diagnose::proxy_for(cfg.api_url()) {
        Some(p) => format!("through the proxy {p}"),
        None => "directly".to_owned(),
    };
    let tls = match cfg.api_url().scheme() {
        "https" => match std::env::var("SSL_CERT_FILE")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(file) => format!(", TLS verified with SSL_CERT_FILE={file}"),
            None => ", TLS verified".to_owned(),
        },
        _ => ", plain HTTP (no TLS)".to_owned(),
    };
    report.push(Line::ok("api", format!("{url} answers {route}{tls}")));
    Some(buildinfo)
}

/// The `platform` and `workspace` lines; false when the rest cannot be checked.
async fn workspace(
    client: &PlatformClient,
    config: &Config,
    buildinfo: Result<BuildInfo, PlatformError>,
    deadline: Instant,
    report: &mut Report,
) -> bool {
    let t = &config.settings.timers;
    let policy = RetryPolicy::forever(t.retry_base, t.retry_max);
    let cancel = CancellationToken::new();
    let contact = tokio::select! {
        r = first_contact(client, &policy, Patience::Bounded(2), &cancel) => r,
        () = tokio::time::sleep_until(deadline) => Ok(None),
    };
    let workspace = match contact {
        Ok(Some(Contact { workspace, .. })) => workspace,
        Ok(None) => return fail_workspace(report, &buildinfo, LATE.to_owned()),
        Err(ConnectError::Contact(fault @ Fault::NotAPlatform { .. })) => {
            report.push(Line::fail("platform", fault.to_string()));
            skip_rest(report, "no platform answers at --api-url");
            return false;
        }
        Err(e) => return fail_workspace(report, &buildinfo, e.to_string()),
    };
    report.push(platform_line(&buildinfo));
    let id = client.config().workspace_id();
    let name = workspace.name.as_deref().unwrap_or("unnamed");
    let status = workspace.status.as_deref().unwrap_or("unknown");
    let about = format!("{id} ({name}): status {status}");
    report.push(match workspace.delivery_mode.as_deref() {
        Some("poll") => Line::ok("workspace", format!("{about}, delivery_mode poll")),
        Some(mode) => Line::warn(
            "workspace",
            format!(
                "{about}, delivery_mode {mode}: molecule connect registers it as poll, after \
                 which the platform queues its messages instead of pushing them"
            ),
        ),
        None => Line::ok("workspace", format!("{about}; not registered yet")),
    });
    true
}

fn fail_workspace(
    report: &mut Report,
    buildinfo: &Result<BuildInfo, PlatformError>,
    why: String,
) -> bool {
    report.push(platform_line(buildinfo));
    report.push(Line::fail("workspace", why));
    report.push(Line::skip("token", "the workspace cannot be read"));
    report.push(Line::skip("events", "the workspace cannot be read"));
    false
}

fn platform_line(buildinfo: &Result<BuildInfo, PlatformError>) -> Line {
    match buildinfo {
        Ok(info) => {
            let sha = info.git_sha.as_deref().unwrap_or("unknown");
            let local = if info.raw["emulator"] == true {
                " (the local emulator)"
            } else {
                ""
            };
            Line::ok("platform", format!("build {sha}{local}"))
        }
        Err(e) => Line::warn(
            "platform",
            format!("no version: {e}; an older platform, or something in front of it"),
        ),
    }
}

/// The `token` line: one authenticated read of the activity feed, as `--dry-run` does.
async fn token_line(client: &PlatformClient, deadline: Instant) -> Line {
    let probe = ActivityQuery {
        activity_type: Some("a2a_receive".into()),
        limit: Some(1),
        ..ActivityQuery::default()
    };
    let origin = client.token().origin().to_string();
    match bounded(deadline, client.activity(&probe)).await {
        None => Line::fail("token", LATE),
        Some(Ok(_)) => Line::ok("token", format!("accepted ({origin})")),
        Some(Err(PlatformError::Unauthorized { .. })) => Line::fail(
            "token",
            format!(
                "the platform rejected the token ({origin}): give this workspace's current \
                 token with --token-file or MOLECULE_WORKSPACE_TOKEN"
            ),
        ),
        Some(Err(e)) => Line::fail("token", format!("cannot read the activity feed: {e}")),
    }
}

/// Marks the platform checks not yet reported as skipped.
fn skip_rest(report: &mut Report, why: &str) {
    for check in ["platform", "workspace", "token", "events"] {
        if !report.lines.iter().any(|l| l.check == check) {
            report.push(Line::skip(check, why));
        }
    }
}

/// `fut`, or `None` once `deadline` has passed.
pub async fn bounded<T>(deadline: Instant, fut: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}
