//! What can go wrong talking to the platform, classified once so every caller retries (or
//! gives up) the same way.
//!
//! Transient errors (5xx, timeouts, connection failures) are retried with backoff; rate-limited
//! ones wait for `Retry-After`; permanent ones (other 4xx, undecodable bodies) are not retried.
//! A few answers have their own meaning and variant: a gone cursor, an unknown or removed
//! workspace, a rejected token. Messages name the call, the status and a short excerpt of the
//! body, never the token.

use super::token::TokenError;
use std::fmt;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// The platform calls, named in errors, logs and rate-limiter decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    /// `GET /buildinfo`.
    BuildInfo,
    /// `GET /workspaces/<id>`.
    GetWorkspace,
    /// `POST /registry/register`.
    Register,
    /// `POST /registry/heartbeat`.
    Heartbeat,
    /// `GET /workspaces/<id>/activity`.
    Activity,
    /// `POST /workspaces/<id>/activity/ack`.
    AckActivity,
    /// `POST /workspaces/<target>/a2a`.
    PostA2a,
    /// `POST /workspaces/<id>/notify`.
    Notify,
    /// `GET /workspaces/<id>/pending-uploads/<file>/content`.
    UploadContent,
    /// `POST /workspaces/<id>/pending-uploads/<file>/ack`.
    AckUpload,
    /// `GET /registry/<id>/peers`.
    ListPeers,
    /// `GET /registry/discover/<id>`.
    Discover,
    /// `GET /workspaces/<id>/events/stream`.
    EventStream,
}

impl Call {
    /// The call's method and path pattern, as logged.
    pub fn name(self) -> &'static str {
        match self {
            Call::BuildInfo => "GET /buildinfo",
            Call::GetWorkspace => "GET /workspaces/<id>",
            Call::Register => "POST /registry/register",
            Call::Heartbeat => "POST /registry/heartbeat",
            Call::Activity => "GET /workspaces/<id>/activity",
            Call::AckActivity => "POST /workspaces/<id>/activity/ack",
            Call::PostA2a => "POST /workspaces/<target>/a2a",
            Call::Notify => "POST /workspaces/<id>/notify",
            Call::UploadContent => "GET /workspaces/<id>/pending-uploads/<file>/content",
            Call::AckUpload => "POST /workspaces/<id>/pending-uploads/<file>/ack",
            Call::ListPeers => "GET /registry/<id>/peers",
            Call::Discover => "GET /registry/discover/<id>",
            Call::EventStream => "GET /workspaces/<id>/events/stream",
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a transient failure happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// The server answered with this 5xx status.
    Status(u16),
    /// No connection could be made (refused, DNS, TLS).
    Connect,
    /// The request or its response took longer than the timeout.
    Timeout,
    /// The connection broke while sending or receiving.
    Io,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::Status(s) => write!(f, "HTTP {s}"),
            Transport::Connect => f.write_str("connection failed"),
            Transport::Timeout => f.write_str("timed out"),
            Transport::Io => f.write_str("connection broken"),
        }
    }
}

/// The broad classes a caller's retry decision rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// Worth retrying with backoff.
    Transient,
    /// Retry after the platform's `Retry-After`.
    RateLimited,
    /// Retrying the same request cannot help.
    Permanent,
}

/// An error from a platform call.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// 5xx, a timeout or a connection failure.
    #[error("{call}: {cause}{}{}", fmt_after(.retry_after), fmt_excerpt(.excerpt))]
    Transient {
        /// The call.
        call: Call,
        /// What failed.
        cause: Transport,
        /// A `Retry-After` header or `retry_after` body field (503 busy answers carry one).
        retry_after: Option<Duration>,
        /// The start of the body or the transport error's text.
        excerpt: String,
    },
    /// 429: the platform's rate limit.
    #[error("{call}: HTTP 429 rate limited{}{}", fmt_after(.retry_after), fmt_excerpt(.excerpt))]
    RateLimited {
        /// The call.
        call: Call,
        /// How long the platform asked us to wait.
        retry_after: Option<Duration>,
        /// The start of the body.
        excerpt: String,
    },
    /// 401: the token is missing, invalid, revoked or rotated (after re-reading the token file).
    #[error("{call}: HTTP 401: the platform rejected the token ({origin}){}", fmt_excerpt(.excerpt))]
    Unauthorized {
        /// The call.
        call: Call,
        /// Where the rejected token came from.
        origin: String,
        /// The start of the body.
        excerpt: String,
    },
    /// Another 4xx (400, 403, 404, 409, 413, …): the request itself is wrong.
    #[error("{call}: HTTP {status}{}", fmt_excerpt(.excerpt))]
    Permanent {
        /// The call.
        call: Call,
        /// The status.
        status: u16,
        /// The start of the body.
        excerpt: String,
    },
    /// A 3xx answer: the host follows no redirect, so the API URL must be the final one.
    #[error("{call}: HTTP {status}: redirected to {location}; use the final URL as --api-url")]
    Redirected {
        /// The call.
        call: Call,
        /// The status.
        status: u16,
        /// The `Location` header.
        location: String,
    },
    /// 410 on the activity feed: the `since_id` cursor row no longer exists.
    #[error("{call}: HTTP 410: the activity cursor row is gone (pruned or foreign){}", fmt_excerpt(.excerpt))]
    CursorGone {
        /// The call.
        call: Call,
        /// The start of the body.
        excerpt: String,
    },
    /// 404 on `GET /workspaces/<id>`.
    #[error("no such workspace {id} on the platform (HTTP 404); check the id in the canvas")]
    NoSuchWorkspace {
        /// The id asked for.
        id: Uuid,
    },
    /// 410 on `GET /workspaces/<id>`.
    #[error("workspace {id} was removed on the platform{}{}", fmt_removed_at(.removed_at), fmt_hint(.hint))]
    Removed {
        /// The id asked for.
        id: Uuid,
        /// When, as the platform wrote it.
        removed_at: Option<String>,
        /// What to do about it, from the platform.
        hint: Option<String>,
    },
    /// A 2xx answer whose body is not what the call returns.
    #[error("{call}: HTTP {status}: unexpected response body: {reason}{}", fmt_excerpt(.excerpt))]
    Decode {
        /// The call.
        call: Call,
        /// The status.
        status: u16,
        /// What was wrong.
        reason: String,
        /// The start of the body (empty when the body may hold a secret).
        excerpt: String,
    },
    /// A response body over the configured cap.
    #[error("{call}: the response is larger than the {limit}-byte limit")]
    TooLarge {
        /// The call.
        call: Call,
        /// The cap.
        limit: u64,
    },
    /// The caller's arguments were refused before anything was sent.
    #[error("{call}: {reason}")]
    InvalidArgument {
        /// The call.
        call: Call,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be set up (TLS roots, resolver).
    #[error("cannot set up the HTTP client: {reason}")]
    Client {
        /// Why.
        reason: String,
    },
    /// The token could not be (re-)read.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// A retry loop was cancelled (shutdown) before the call succeeded.
    #[error("{call}: cancelled")]
    Cancelled {
        /// The call.
        call: Call,
    },
}

impl PlatformError {
    /// The retry class of this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            PlatformError::Transient { .. } => ErrorClass::Transient,
            PlatformError::RateLimited { .. } => ErrorClass::RateLimited,
            _ => ErrorClass::Permanent,
        }
    }

    /// How long the platform asked the caller to wait, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PlatformError::Transient { retry_after, .. }
            | PlatformError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// True when the platform certainly did not act on the request: it was never delivered,
    /// or refused as rate-limited or busy (429, or 503 with a retry hint). A non-idempotent
    /// call (a message to a push-mode peer) may only be retried then — and after a timeout or a
    /// broken connection, as the platform's own runtime does, since the peer dedups on
    /// `messageId` where it can.
    pub fn not_processed(&self) -> bool {
        match self {
            PlatformError::RateLimited { .. } => true,
            PlatformError::Transient {
                cause, retry_after, ..
            } => match cause {
                Transport::Status(503) => retry_after.is_some(),
                Transport::Status(_) => false,
                Transport::Connect | Transport::Timeout | Transport::Io => true,
            },
            _ => false,
        }
    }

    /// The HTTP status the platform answered with, when it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            PlatformError::Transient {
                cause: Transport::Status(s),
                ..
            } => Some(*s),
            PlatformError::RateLimited { .. } => Some(429),
            PlatformError::Unauthorized { .. } => Some(401),
            PlatformError::Permanent { status, .. }
            | PlatformError::Decode { status, .. }
            | PlatformError::Redirected { status, .. } => Some(*status),
            PlatformError::CursorGone { .. } | PlatformError::Removed { .. } => Some(410),
            PlatformError::NoSuchWorkspace { .. } => Some(404),
            _ => None,
        }
    }
}

impl crate::exit::HasExitCode for PlatformError {
    fn exit_code(&self) -> u8 {
        match self {
            PlatformError::Unauthorized { .. } => crate::exit::AUTH,
            PlatformError::NoSuchWorkspace { .. } => crate::exit::NO_SUCH_WORKSPACE,
            PlatformError::Removed { .. } => crate::exit::WORKSPACE_REMOVED,
            // A redirect is the --api-url's fault, not the platform's.
            PlatformError::Token(_) | PlatformError::Redirected { .. } => crate::exit::CONFIG,
            _ => crate::exit::INTERNAL,
        }
    }
}

/// Parses a `Retry-After` value: delay seconds or an HTTP date (relative to `now`).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// A one-line excerpt of `body` for messages: at most 200 characters, `secret` masked.
pub fn excerpt(body: &[u8], secret: Option<&str>) -> String {
    const MAX: usize = 200;
    let text = String::from_utf8_lossy(body);
    let mut text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if let Some(s) = secret.filter(|s| !s.is_empty()) {
        text = text.replace(s, "[redacted]");
    }
    if text.chars().count() > MAX {
        let cut: String = text.chars().take(MAX).collect();
        return format!("{cut}…");
    }
    text
}

fn fmt_excerpt(excerpt: &str) -> String {
    if excerpt.is_empty() {
        String::new()
    } else {
        format!(": {excerpt}")
    }
}

fn fmt_after(after: &Option<Duration>) -> String {
    after.map_or_else(String::new, |d| {
        format!(" (retry after {} ms)", d.as_millis())
    })
}

fn fmt_removed_at(at: &Option<String>) -> String {
    at.as_ref().map_or_else(String::new, |t| format!(" at {t}"))
}

fn fmt_hint(hint: &Option<String>) -> String {
    hint.as_ref().map_or_else(String::new, |h| format!(": {h}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_takes_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(parse_retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        let date = "Sun, 06 Nov 1994 08:49:47 GMT"; // now + 10 s
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(10)));
        let past = "Sun, 06 Nov 1994 08:49:00 GMT";
        assert_eq!(parse_retry_after(past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn excerpts_are_short_single_lines_without_the_secret() {
        let body = format!("{{\"error\":\n\"bad tok-123\"}}{}", "x".repeat(500));
        let e = excerpt(body.as_bytes(), Some("tok-123"));
        assert!(e.starts_with("{\"error\": \"bad [redacted]\"}"), "{e}");
        assert!(!e.contains('\n') && e.chars().count() == 201);
    }

    #[test]
    fn classes_and_processing() {
        let t = |cause, retry_after| PlatformError::Transient {
            call: Call::PostA2a,
            cause,
            retry_after,
            excerpt: String::new(),
        };
        assert!(t(Transport::Connect, None).not_processed());
        assert!(t(Transport::Status(503), Some(Duration::from_secs(30))).not_processed());
        assert!(!t(Transport::Status(503), None).not_processed());
        assert!(!t(Transport::Status(502), None).not_processed());
        assert_eq!(
            t(Transport::Status(500), None).class(),
            ErrorClass::Transient
        );
        let gone = PlatformError::CursorGone {
            call: Call::Activity,
            excerpt: String::new(),
        };
        assert_eq!(gone.class(), ErrorClass::Permanent);
        assert_eq!(gone.status(), Some(410));
        let msg = t(Transport::Status(503), Some(Duration::from_millis(1500))).to_string();
        assert_eq!(
            msg,
            "POST /workspaces/<target>/a2a: HTTP 503 (retry after 1500 ms)"
        );
    }
}
