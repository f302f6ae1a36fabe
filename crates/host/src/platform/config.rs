//! Where the platform is and how to talk to it: the validated settings of a [`super::PlatformClient`].
//!
//! Every value is checked here, once, before any URL is built: the API URL (http or https, a
//! host, no query), the `Origin` (derived from the API URL unless given), the org id and the
//! workspace id (a hyphenated UUID, so it can never smuggle a path into a URL). Error messages
//! name the command-line flag and the environment variable that set the value.

use molecule_protocol::keys::parse_workspace_id;
use reqwest::Url;
use std::time::Duration;
use uuid::Uuid;

/// A setting that cannot be used; each message names the flag and env var to fix.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The API URL does not parse or is not an http(s) URL with a host.
    #[error("invalid platform API URL {value:?} (--api-url / MOLECULE_API_URL): {reason}")]
    ApiUrl {
        /// What was given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The `Origin` override is not `scheme://host[:port]`.
    #[error("invalid origin {value:?} (--origin / MOLECULE_ORIGIN): {reason}")]
    Origin {
        /// What was given.
        value: String,
        /// Why it was refused.
        reason: String,
    },
    /// The org id is empty or contains characters an HTTP header cannot carry.
    #[error(
        "invalid org id {value:?} (--org-id / MOLECULE_ORG_ID): expected the organisation's id, \
         printable ASCII without spaces"
    )]
    OrgId {
        /// What was given.
        value: String,
    },
    /// The workspace id is not a hyphenated UUID.
    #[error(
        "invalid workspace id {value:?}: expected a UUID such as \
         3f0c1d7e-1b2a-4c5d-8e9f-0a1b2c3d4e5f (copy it from the canvas)"
    )]
    WorkspaceId {
        /// What was given.
        value: String,
    },
}

impl crate::exit::HasExitCode for ConfigError {
    fn exit_code(&self) -> u8 {
        crate::exit::CONFIG
    }
}

/// How long each kind of request may take.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing a connection.
    pub connect: Duration,
    /// Every call except the two below.
    pub request: Duration,
    /// `POST /workspaces/<id>/a2a`: a push-mode target answers with its agent's whole turn,
    /// which can take minutes.
    pub a2a: Duration,
    /// Downloading a staged canvas upload.
    pub upload: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(30),
            a2a: Duration::from_secs(300),
            upload: Duration::from_secs(300),
        }
    }
}

/// Size caps on what the client reads, so a misbehaving server cannot exhaust memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest response body read for a JSON call (the platform proxies A2A answers of up
    /// to 64 MiB).
    pub max_response_bytes: u64,
    /// The largest staged upload downloaded (the canvas caps a chat upload at 50 MB).
    pub max_upload_bytes: u64,
    /// The largest event kept from the event stream; a larger one (a message with a big
    /// inline file in its `request_body`) is only counted as "something happened".
    pub max_event_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_response_bytes: 64 << 20,
            max_upload_bytes: 50_000_000,
            max_event_bytes: 1 << 20,
        }
    }
}

/// The validated settings of a platform client.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    api_url: Url,
    origin: String,
    org_id: Option<String>,
    workspace_id: Uuid,
    workspace_header: bool,
    user_agent: String,
    /// Request timeouts.
    pub timeouts: Timeouts,
    /// Body size caps.
    pub limits: Limits,
    /// The client-side rate limiter's settings.
    pub rate_limit: super::limiter::RateLimitConfig,
}

impl PlatformConfig {
    /// Settings for workspace `workspace_id` on the platform at `api_url`, with defaults for
    /// everything else. A trailing slash on the URL is tolerated; a path prefix is kept.
    pub fn new(api_url: &str, workspace_id: &str) -> Result<Self, ConfigError> {
        let api_url = parse_api_url(api_url)?;
        let workspace_id =
            parse_workspace_id(workspace_id).ok_or_else(|| ConfigError::WorkspaceId {
                value: workspace_id.to_owned(),
            })?;
        Ok(PlatformConfig {
            origin: api_url.origin().ascii_serialization(),
            api_url,
            org_id: None,
            workspace_id,
            workspace_header: true,
            user_agent: format!("molecule/{}", env!("CARGO_PKG_VERSION")),
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            rate_limit: Default::default(),
        })
    }

    /// Overrides the `Origin` header (hosted tenants route on it); `scheme://host[:port]`.
    pub fn with_origin(mut self, origin: &str) -> Result<Self, ConfigError> {
        self.origin = parse_origin(origin)?;
        Ok(self)
    }

    /// Sends `X-Molecule-Org-Id` on every call (the alternative to `Origin` on hosted tenants).
    pub fn with_org_id(mut self, org_id: &str) -> Result<Self, ConfigError> {
        let trimmed = org_id.trim();
        let printable = trimmed.bytes().all(|b| b.is_ascii_graphic());
        if trimmed.is_empty() || !printable {
            return Err(ConfigError::OrgId {
                value: org_id.to_owned(),
            });
        }
        self.org_id = Some(trimmed.to_owned());
        Ok(self)
    }

    /// Leaves `X-Workspace-ID` off every call: a person in the canvas (an admin or org token)
    /// is no workspace, and the older platform takes that header as the caller's identity.
    /// The workspace id is then only the one whose feed `activity` reads.
    pub fn without_workspace_header(mut self) -> Self {
        self.workspace_header = false;
        self
    }

    /// Whether calls carry `X-Workspace-ID`.
    pub fn sends_workspace_header(&self) -> bool {
        self.workspace_header
    }

    /// The API base URL, without a trailing slash.
    pub fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The `Origin` header value: `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The org id sent as `X-Molecule-Org-Id`, when set.
    pub fn org_id(&self) -> Option<&str> {
        self.org_id.as_deref()
    }

    /// This host's own workspace.
    pub fn workspace_id(&self) -> Uuid {
        self.workspace_id
    }

    /// The `User-Agent`: `molecule/<version>`.
    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    /// The URL of `segments` under the API base; each segment is percent-encoded.
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        let mut url = self.api_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }
}

fn parse_api_url(value: &str) -> Result<Url, ConfigError> {
    let err = |reason: &str| ConfigError::ApiUrl {
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(err(
            "it is empty; set it to the platform's URL, e.g. https://acme.moleculesai.app",
        ));
    }
    let mut url = Url::parse(trimmed).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(err("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(err("it has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(err("it must not have a query or a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(err("it must not carry credentials; use --token-file"));
    }
    let path = url.path().trim_end_matches('/').to_owned();
    url.set_path(&path);
    Ok(url)
}

fn parse_origin(value: &str) -> Result<String, ConfigError> {
    let err = |reason: &str| ConfigError::Origin {
        value: value.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(value.trim()).map_err(|e| err(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(err("expected scheme://host[:port] with http or https"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(err("an origin has no path, query or fragment"));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WS: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn origin_is_derived_from_the_api_url() {
        let cases = [
            (
                "https://acme.moleculesai.app",
                "https://acme.moleculesai.app",
            ),
            (
                "https://acme.moleculesai.app/",
                "https://acme.moleculesai.app",
            ),
            ("http://127.0.0.1:8080/api/", "http://127.0.0.1:8080"),
            ("https://acme.example:443/x", "https://acme.example"),
        ];
        for (api, origin) in cases {
            let cfg = PlatformConfig::new(api, WS).unwrap();
            assert_eq!(cfg.origin(), origin, "{api}");
            assert!(!cfg.api_url().as_str().ends_with('/') || cfg.api_url().path() == "/");
        }
    }

    #[test]
    fn endpoints_keep_the_path_prefix_and_drop_trailing_slashes() {
        let cfg = PlatformConfig::new("http://127.0.0.1:8080/api/", WS).unwrap();
        let id = cfg.workspace_id().to_string();
        assert_eq!(
            cfg.endpoint(&["workspaces", &id, "activity"]).as_str(),
            format!("http://127.0.0.1:8080/api/workspaces/{WS}/activity")
        );
        let bare = PlatformConfig::new("http://h", WS).unwrap();
        assert_eq!(bare.endpoint(&["buildinfo"]).as_str(), "http://h/buildinfo");
        // A segment cannot escape its place.
        assert_eq!(bare.endpoint(&["a/b?c"]).as_str(), "http://h/a%2Fb%3Fc");
    }

    #[test]
    fn bad_settings_name_their_flag() {
        for bad in [
            "",
            "acme.moleculesai.app",
            "ftp://h",
            "http://h/?x=1",
            "http://u:p@h",
        ] {
            let e = PlatformConfig::new(bad, WS).unwrap_err();
            assert!(
                e.to_string().contains("--api-url / MOLECULE_API_URL"),
                "{e}"
            );
        }
        let e = PlatformConfig::new("http://h", "ws-1").unwrap_err();
        assert!(matches!(e, ConfigError::WorkspaceId { .. }));
        let cfg = PlatformConfig::new("http://h", WS).unwrap();
        let e = cfg.clone().with_origin("https://x/y").unwrap_err();
        assert!(e.to_string().contains("--origin"), "{e}");
        assert!(cfg.clone().with_org_id("a b").is_err());
        assert!(cfg.clone().with_org_id("").is_err());
    }

    #[test]
    fn overrides_are_normalised() {
        let cfg = PlatformConfig::new("http://h", &WS.to_uppercase())
            .unwrap()
            .with_origin("https://tenant.example/")
            .unwrap()
            .with_org_id(" org-1 ")
            .unwrap();
        assert_eq!(cfg.origin(), "https://tenant.example");
        assert_eq!(cfg.org_id(), Some("org-1"));
        assert_eq!(cfg.workspace_id().to_string(), WS);
        assert!(cfg.user_agent().starts_with("molecule/"));
    }
}
