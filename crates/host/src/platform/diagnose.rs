//! Why a first contact with the platform failed, in words an operator can act on: each
//! [`Fault`] is one line that names the cause and the remedy (nothing listens at the address,
//! the host does not resolve, the certificate is not trusted, the URL redirects, the URL is not
//! a Molecule platform at all). `molecule connect`, `--dry-run`, `molecule send` and
//! `molecule doctor` print the same lines, and `docs/troubleshooting.md` is keyed by them.
//!
//! Transport failures are told apart by the text of reqwest's error chain (the client keeps
//! only that text): the OS error for a refused connection, hyper's "dns error" for a name that
//! does not resolve, rustls' "invalid peer certificate" for an untrusted one. The tests provoke
//! each cause through the real binary, so a dependency that rewords its errors fails them.

use std::fmt;

use reqwest::Url;

use super::config::PlatformConfig;
use super::error::{PlatformError, Transport};

/// What stands between this host and the platform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The connection was refused: no server listens at the address (or the proxy's).
    Refused {
        /// `host:port` connected to.
        authority: String,
        /// The proxy the connection went through, when one is configured.
        proxy: Option<Proxy>,
    },
    /// The host name does not resolve.
    Unresolved {
        /// The host.
        host: String,
        /// The proxy, when one is configured.
        proxy: Option<Proxy>,
    },
    /// The TLS handshake failed on the server's certificate.
    Untrusted {
        /// `host:port`.
        authority: String,
        /// What rustls said about the certificate (`UnknownIssuer`, `Expired`, …).
        detail: String,
    },
    /// No connection or no answer within the timeout.
    TimedOut {
        /// `host:port`.
        authority: String,
        /// The proxy, when one is configured.
        proxy: Option<Proxy>,
    },
    /// Another failure below HTTP.
    Unreachable {
        /// The API URL.
        url: String,
        /// The error chain.
        detail: String,
    },
    /// The URL answers with a redirect: the host never follows one (a POST replayed elsewhere
    /// could act twice), so the flag must name the final URL.
    Redirected {
        /// The API URL.
        url: String,
        /// Where it points.
        location: String,
    },
    /// Something answers at the URL, but neither `/buildinfo` nor the workspace routes are a
    /// platform's.
    NotAPlatform {
        /// The API URL.
        url: String,
    },
}

/// A proxy that requests to the platform go through, as the environment configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proxy {
    /// `scheme://host:port`, without credentials.
    pub address: String,
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (from HTTPS_PROXY, HTTP_PROXY or ALL_PROXY)",
            self.address
        )
    }
}

/// The proxy reqwest uses for `url`, read from the environment the same way
/// (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`, `NO_PROXY`); `None` when the connection is direct.
pub fn proxy_for(url: &Url) -> Option<Proxy> {
    let uri: http::Uri = url.as_str().parse().ok()?;
    let hit = hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri)?;
    let proxy = hit.uri();
    let address = match (proxy.scheme_str(), proxy.host(), proxy.port_u16()) {
        (Some(s), Some(h), Some(p)) => format!("{s}://{h}:{p}"),
        (Some(s), Some(h), None) => format!("{s}://{h}"),
        _ => "a proxy".to_owned(),
    };
    Some(Proxy { address })
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Refused { authority, proxy } => {
                write!(f, "nothing listens at {authority}: check --api-url")?;
                through(f, proxy)
            }
            Fault::Unresolved { host, proxy } => {
                write!(
                    f,
                    "cannot resolve host {host}: check --api-url and this machine's DNS"
                )?;
                through(f, proxy)
            }
            Fault::Untrusted { authority, detail } => write!(
                f,
                "the certificate of {authority} is not trusted ({detail}): set SSL_CERT_FILE to \
                 your CA bundle"
            ),
            Fault::TimedOut { authority, proxy } => {
                write!(
                    f,
                    "no answer from {authority} in time: check --api-url, the network and any \
                     firewall"
                )?;
                through(f, proxy)
            }
            Fault::Unreachable { url, detail } => write!(f, "cannot reach {url}: {detail}"),
            Fault::Redirected { url, location } => write!(
                f,
                "{url} redirected to {location}: use the final URL as --api-url"
            ),
            Fault::NotAPlatform { url } => write!(
                f,
                "{url} answers but is not a Molecule platform (no /buildinfo, 404 on workspace \
                 routes): check --api-url"
            ),
        }
    }
}

fn through(f: &mut fmt::Formatter<'_>, proxy: &Option<Proxy>) -> fmt::Result {
    match proxy {
        Some(p) => write!(f, " (through the proxy {p})"),
        None => Ok(()),
    }
}

impl Fault {
    /// Whether only a changed setting can cure it (a redirect, not a platform): a daemon stops
    /// rather than retry.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Fault::Redirected { .. } | Fault::NotAPlatform { .. })
    }

    /// A short name for scripts (`molecule doctor --json`).
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Refused { .. } => "refused",
            Fault::Unresolved { .. } => "dns",
            Fault::Untrusted { .. } => "tls",
            Fault::TimedOut { .. } => "timeout",
            Fault::Unreachable { .. } => "unreachable",
            Fault::Redirected { .. } => "redirect",
            Fault::NotAPlatform { .. } => "not-a-platform",
        }
    }
}

/// The fault behind `err`, when it is one of reaching the platform (a transport failure or a
/// redirect); `None` for an answer that is the platform's own (a 401, a 404, a 5xx, …).
pub fn fault_of(err: &PlatformError, cfg: &PlatformConfig) -> Option<Fault> {
    let url = cfg.api_url();
    match err {
        PlatformError::Transient {
            cause: cause @ (Transport::Connect | Transport::Timeout),
            excerpt,
            ..
        } => Some(transport_fault(*cause, excerpt, url)),
        PlatformError::Redirected { location, .. } => Some(Fault::Redirected {
            url: shown(url),
            location: base_of(location),
        }),
        _ => None,
    }
}

/// The base URL a redirect of a platform route points at: `https://acme.example/buildinfo`
/// is `https://acme.example`.
fn base_of(location: &str) -> String {
    let cut = location
        .strip_suffix("/buildinfo")
        .or_else(|| location.find("/workspaces/").map(|i| &location[..i]))
        .or_else(|| location.find("/registry/").map(|i| &location[..i]))
        .unwrap_or(location);
    cut.trim_end_matches('/').to_owned()
}

/// The API URL as an operator typed it (without the trailing slash the parser adds).
fn shown(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn transport_fault(cause: Transport, text: &str, url: &Url) -> Fault {
    let host = url.host_str().unwrap_or_default().to_owned();
    let authority = match url.port_or_known_default() {
        Some(port) if host.contains(':') => format!("[{host}]:{port}"),
        Some(port) => format!("{host}:{port}"),
        None => host.clone(),
    };
    let proxy = proxy_for(url);
    let lower = text.to_ascii_lowercase();
    if let Some(detail) = certificate_detail(text) {
        Fault::Untrusted { authority, detail }
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        Fault::Unresolved { host, proxy }
    } else if lower.contains("connection refused") {
        Fault::Refused { authority, proxy }
    } else if cause == Transport::Timeout || lower.contains("timed out") {
        Fault::TimedOut { authority, proxy }
    } else {
        Fault::Unreachable {
            url: shown(url),
            detail: text.to_owned(),
        }
    }
}

/// What rustls said about the certificate: the words after "invalid peer certificate: ".
fn certificate_detail(text: &str) -> Option<String> {
    const MARK: &str = "invalid peer certificate: ";
    let at = text.find(MARK)? + MARK.len();
    let rest = &text[at..];
    let end = rest.find(": ").unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

/// Whether a failed `GET /buildinfo` and a failed `GET /workspaces/<id>` together say that the
/// URL is not a platform: `/buildinfo` (open on every platform, exempt from the tenant guard)
/// answered but not with its JSON, and the workspace route answered 404 or not JSON. An older
/// tenant guard's empty 404 on workspace routes comes with a working `/buildinfo`, so it is not
/// taken for one.
pub fn not_a_platform(buildinfo: &PlatformError, workspace: &PlatformError) -> bool {
    let foreign = |e: &PlatformError| match e {
        PlatformError::Permanent { status, .. } => matches!(status, 404 | 405),
        PlatformError::Decode { .. } => true,
        _ => false,
    };
    let no_workspace =
        matches!(workspace, PlatformError::NoSuchWorkspace { .. }) || foreign(workspace);
    foreign(buildinfo) && no_workspace
}

/// The fault for [`not_a_platform`].
pub fn not_a_platform_fault(cfg: &PlatformConfig) -> Fault {
    Fault::NotAPlatform {
        url: shown(cfg.api_url()),
    }
}

/// What `GET /workspaces/<id>/events/stream` answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StreamRoute {
    /// 2xx `text/event-stream`.
    Open,
    /// 2xx with another content type (a proxy's page, a buffering front).
    NotAStream {
        /// Its content type.
        content_type: String,
    },
    /// Another status (404 or 405 from a platform without the route, 401, …).
    Status(u16),
}

/// Asks the event stream's route for its head (the body is never read), within `wait`.
pub async fn event_stream_route(
    client: &super::PlatformClient,
    wait: std::time::Duration,
) -> Result<StreamRoute, PlatformError> {
    let own = client.config().workspace_id().to_string();
    let url = client
        .config()
        .endpoint(&["workspaces", &own, "events", "stream"]);
    let mut req = client.request(super::Call::EventStream, reqwest::Method::GET, url);
    req.timeout = wait;
    req.stream = true;
    let (status, headers) = client.head_only(&req).await?;
    if !(200..300).contains(&status) {
        return Ok(StreamRoute::Status(status));
    }
    let content_type = headers
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type")
        .to_owned();
    Ok(if content_type.starts_with("text/event-stream") {
        StreamRoute::Open
    } else {
        StreamRoute::NotAStream { content_type }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::Call;

    fn connect(text: &str) -> PlatformError {
        PlatformError::Transient {
            call: Call::BuildInfo,
            cause: Transport::Connect,
            retry_after: None,
            excerpt: text.to_owned(),
        }
    }

    fn cfg(url: &str) -> PlatformConfig {
        PlatformConfig::new(url, "11111111-2222-3333-4444-555555555555").unwrap_or_else(|e| {
            panic!("{e}");
        })
    }

    #[test]
    fn transport_texts_become_faults() {
        let c = cfg("http://127.0.0.1:9");
        let refused = "error sending request for url (http://127.0.0.1:9/buildinfo): client \
                       error (Connect): tcp connect error: Connection refused (os error 111)";
        assert_eq!(
            fault_of(&connect(refused), &c).map(|f| f.to_string()),
            Some("nothing listens at 127.0.0.1:9: check --api-url".to_owned())
        );
        let c = cfg("https://nohost.invalid");
        let dns = "client error (Connect): dns error: failed to lookup address information: \
                   Name or service not known";
        assert_eq!(
            fault_of(&connect(dns), &c).map(|f| f.kind()),
            Some("dns"),
            "{c:?}"
        );
        let tls = "client error (Connect): invalid peer certificate: UnknownIssuer";
        assert_eq!(
            fault_of(&connect(tls), &c),
            Some(Fault::Untrusted {
                authority: "nohost.invalid:443".into(),
                detail: "UnknownIssuer".into()
            })
        );
        assert_eq!(
            fault_of(&connect("something else"), &c).map(|f| f.kind()),
            Some("unreachable")
        );
    }

    #[test]
    fn platform_answers_are_not_faults_and_not_a_platform_needs_both() {
        let c = cfg("http://127.0.0.1:9");
        let unauthorized = PlatformError::Unauthorized {
            call: Call::Activity,
            origin: "x".into(),
            excerpt: String::new(),
        };
        assert_eq!(fault_of(&unauthorized, &c), None);
        let missing = |call| PlatformError::Permanent {
            call,
            status: 404,
            excerpt: String::new(),
        };
        let no_ws = PlatformError::NoSuchWorkspace {
            id: c.workspace_id(),
        };
        assert!(not_a_platform(&missing(Call::BuildInfo), &no_ws));
        let five = PlatformError::Transient {
            call: Call::BuildInfo,
            cause: Transport::Status(503),
            retry_after: None,
            excerpt: String::new(),
        };
        assert!(!not_a_platform(&five, &no_ws), "a platform that is down");
    }
}
