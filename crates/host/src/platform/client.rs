//! The request pipeline every platform call goes through: the rate limiter, the headers, one
//! HTTP exchange with a capped body (or, for the event stream, a body left open), the token
//! re-read after a 401; what came back is read and classified in `reply.rs`. The typed calls
//! built on it are in `calls.rs` and `events.rs`.

use super::config::PlatformConfig;
use super::error::{Call, PlatformError, Transport, excerpt};
use super::failures::{self, Failures};
use super::limiter::{CallClass, RateLimitHeaders, RateLimiter};
use super::reply::{Reply, read_rows};
use super::rowscan::{PageLimits, PageScanner};
use super::token::{Secret, TokenError, TokenSource, store_token};
use super::transport::{SharedTransport, read_capped, transport_error};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Url};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The platform's HTTP client: the only code in the host that speaks HTTP to the platform.
///
/// Cheap to clone; clones share the connection pool, the token and the rate limiter.
#[derive(Clone, Debug)]
pub struct PlatformClient {
    inner: Arc<Inner>,
    class: Option<CallClass>,
}

#[derive(Debug)]
struct Inner {
    cfg: PlatformConfig,
    http: reqwest::Client,
    token: TokenSource,
    /// The budget this client spends: shared with the other workspaces of its platform, until
    /// the platform says it counts per token ([`PlatformClient::count_per_token`]).
    limiter: std::sync::Mutex<(Arc<RateLimiter>, bool)>,
    failures: Failures,
}

/// One request, before it is sent.
pub(super) struct Request {
    pub call: Call,
    pub method: Method,
    pub url: Url,
    pub body: Option<Vec<u8>>,
    pub timeout: Duration,
    pub max_body: u64,
    /// A 2xx answer is a page of rows, scanned as it arrives within these limits (the body
    /// cap is then the page's byte budget, not a reason to fail it), past these known ids.
    pub rows: Option<(PageLimits, Vec<String>)>,
    /// A 2xx answer's body is left open to be read as a stream; `timeout` then bounds only the
    /// wait for the response head.
    pub stream: bool,
}

/// What an exchange produced.
pub(super) enum Answer {
    /// A response whose body has been read (every non-2xx, and 2xx unless streaming).
    Read(Reply),
    /// A 2xx response to a streaming request, its body unread.
    Stream(reqwest::Response),
}

impl PlatformClient {
    /// A client for `cfg`, authenticating with `token`.
    pub fn new(cfg: PlatformConfig, token: TokenSource) -> Result<Self, PlatformError> {
        let shared = SharedTransport::new(&cfg)?;
        Ok(PlatformClient::build(cfg, token, &shared, false))
    }

    /// A client for `cfg` whose connection pool and rate limiter are `shared`'s: the
    /// workspaces of one platform in one `molecule run` spend one budget.
    pub fn with_transport(
        cfg: PlatformConfig,
        token: TokenSource,
        shared: &SharedTransport,
    ) -> Self {
        PlatformClient::build(cfg, token, shared, true)
    }

    fn build(cfg: PlatformConfig, token: TokenSource, t: &SharedTransport, shared: bool) -> Self {
        PlatformClient {
            inner: Arc::new(Inner {
                cfg,
                http: t.http.clone(),
                token,
                limiter: std::sync::Mutex::new((t.limiter.clone(), shared)),
                failures: Failures::default(),
            }),
            class: None,
        }
    }

    /// The platform counts requests per token (a newer platform, and no org id sent, which
    /// [`PlatformClient::may_count_per_token`] checks first): a client that shared its
    /// platform's rate limiter takes one of its own, since the other workspaces' requests no
    /// longer spend its budget.
    pub(super) fn count_per_token(&self) {
        let mut limiter = self.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
        if limiter.1 {
            *limiter = (
                Arc::new(RateLimiter::new(self.inner.cfg.rate_limit.clone())),
                false,
            );
            tracing::info!(
                "the platform counts requests per token: this workspace spends a rate-limit budget of its own"
            );
        }
    }

    /// A handle whose calls all count as `class` in the rate limiter (the peer calls use
    /// `CallClass::Peer` for their `a2a` and `get_workspace` calls).
    pub fn with_class(&self, class: CallClass) -> Self {
        PlatformClient {
            inner: self.inner.clone(),
            class: Some(class),
        }
    }

    /// The settings.
    pub fn config(&self) -> &PlatformConfig {
        &self.inner.cfg
    }

    /// The token source.
    pub fn token(&self) -> &TokenSource {
        &self.inner.token
    }

    /// Whether a heartbeat answer could still make this client take a limiter of its own:
    /// it shares its platform's and sends no org id.
    pub(super) fn may_count_per_token(&self) -> bool {
        let limiter = self.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
        limiter.1 && self.inner.cfg.org_id().is_none()
    }

    /// The rate limiter.
    pub fn limiter(&self) -> Arc<RateLimiter> {
        let limiter = self.inner.limiter.lock().unwrap_or_else(|e| e.into_inner());
        limiter.0.clone()
    }

    /// Saves a token the platform minted at registration to `path` (atomically, mode 0600)
    /// and, when the client had no token, uses it from now on. Returns whether it was adopted,
    /// and whether it was saved: the token is adopted even when it cannot be saved (a full or
    /// read-only disk), since the platform mints it once and dropping it would lose it for good.
    pub fn store_minted_token(
        &self,
        token: &Secret,
        path: &Path,
    ) -> (bool, Result<(), TokenError>) {
        let adopted = self.inner.token.adopt_if_unset(token);
        (adopted, store_token(path, token))
    }

    pub(super) fn class_for(&self, call: Call) -> CallClass {
        self.class.unwrap_or(match call {
            Call::Heartbeat | Call::Register => CallClass::Heartbeat,
            // The stream is a way to poll sooner: opening it waits with the polls.
            Call::Activity | Call::AckActivity | Call::EventStream => CallClass::Poll,
            Call::ListPeers | Call::Discover => CallClass::Peer,
            _ => CallClass::Reply,
        })
    }

    /// A request for `call` with the default timeout and body cap.
    pub(super) fn request(&self, call: Call, method: Method, url: Url) -> Request {
        Request {
            call,
            method,
            url,
            body: None,
            timeout: self.inner.cfg.timeouts.request,
            max_body: self.inner.cfg.limits.max_response_bytes,
            rows: None,
            stream: false,
        }
    }

    /// Sends `req` and reads the whole answer (see [`PlatformClient::exchange`]).
    pub(super) async fn execute(&self, req: Request) -> Result<Reply, PlatformError> {
        match self.exchange(&req).await? {
            Answer::Read(reply) => Ok(reply),
            Answer::Stream(_) => Err(PlatformError::InvalidArgument {
                call: req.call,
                reason: "a streaming answer where a body was expected".into(),
            }),
        }
    }

    /// Sends `req`; after a 401 re-reads the token file once and, if the token now differs
    /// from the one that was refused (this call's re-read or a concurrent one changed it),
    /// sends it again. A 401 that stands becomes [`PlatformError::Unauthorized`].
    pub(super) async fn exchange(&self, req: &Request) -> Result<Answer, PlatformError> {
        let mut reread = false;
        loop {
            let sent = self.inner.token.current();
            let reply = match self.send_once(req, sent.as_ref()).await? {
                Answer::Read(reply) if reply.status == 401 => reply,
                answer => return Ok(answer),
            };
            if !reread {
                reread = true;
                self.inner.token.reload()?;
                if self.inner.token.current() != sent {
                    tracing::info!(
                        call = %req.call,
                        "the token changed after a 401; retrying with the new token"
                    );
                    continue;
                }
            }
            return Err(PlatformError::Unauthorized {
                call: req.call,
                origin: self.inner.token.origin().to_string(),
                excerpt: self.excerpt(&reply.body),
            });
        }
    }

    /// The failed exchanges so far, by class (every clone's).
    pub fn failures(&self) -> BTreeMap<&'static str, u64> {
        self.inner.failures.snapshot()
    }

    /// One exchange, its failure counted.
    async fn send_once(
        &self,
        req: &Request,
        token: Option<&Secret>,
    ) -> Result<Answer, PlatformError> {
        let answer = self.send_counted(req, token).await;
        let class = match &answer {
            Ok(Answer::Read(reply)) => failures::class_of_status(reply.status),
            Ok(Answer::Stream(_)) => None,
            Err(e) => failures::class_of_error(e),
        };
        if let Some(class) = class {
            self.inner.failures.count(class);
        }
        answer
    }

    async fn send_counted(
        &self,
        req: &Request,
        token: Option<&Secret>,
    ) -> Result<Answer, PlatformError> {
        let class = self.class_for(req.call);
        let limiter = self.limiter();
        limiter.acquire(class, req.call).await;
        let started = Instant::now();
        let mut resp = self.send_head(req, token).await?;
        let status = resp.status().as_u16();
        if req.stream && resp.status().is_success() {
            limiter.observe(
                &RateLimitHeaders::parse(resp.headers(), SystemTime::now()),
                req.call,
            );
            tracing::debug!(call = %req.call, status, "platform stream opened");
            return Ok(Answer::Stream(resp));
        }
        let headers = std::mem::take(resp.headers_mut());
        let body = match &req.rows {
            Some((limits, known)) if (200..300).contains(&status) => {
                let scanner = PageScanner::new(*limits).with_known(known.iter().cloned());
                read_rows(req.call, resp, scanner)
                    .await
                    .map(|page| (Vec::new(), Some(page)))
            }
            _ => read_capped(req.call, resp, req.max_body)
                .await
                .map(|body| (body, None)),
        };
        let rate = RateLimitHeaders::parse(&headers, SystemTime::now());
        let (body, page) = body.inspect_err(|_| limiter.observe(&rate, req.call))?;
        let mut reply = Reply {
            call: req.call,
            status,
            headers,
            body,
            retry_after: None,
            page,
        };
        reply.retry_after = reply
            .asked_wait()
            .map(|(d, what)| limiter.cap_wait(d, what, req.call));
        if status == 429 {
            limiter.observe_429(&rate, reply.retry_after, req.call);
        } else {
            limiter.observe(&rate, req.call);
        }
        tracing::debug!(
            call = %req.call,
            status,
            elapsed_ms = started.elapsed().as_millis() as u64,
            bytes = reply.body.len(),
            "platform call"
        );
        Ok(Answer::Read(reply))
    }

    /// Sends the request and waits for the response head.
    async fn send_head(
        &self,
        req: &Request,
        token: Option<&Secret>,
    ) -> Result<reqwest::Response, PlatformError> {
        let mut headers = self.headers(token);
        if req.stream {
            headers.insert(
                header::ACCEPT,
                HeaderValue::from_static("text/event-stream"),
            );
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        }
        let mut builder = self
            .inner
            .http
            .request(req.method.clone(), req.url.clone())
            .headers(headers);
        if let Some(body) = &req.body {
            builder = builder
                .header(header::CONTENT_TYPE, "application/json")
                .body(body.clone());
        }
        if !req.stream {
            let sent = builder.timeout(req.timeout).send().await;
            return sent.map_err(|e| transport_error(req.call, &e));
        }
        // reqwest's timeout would also cut the body: a stream's head alone is bounded.
        match tokio::time::timeout(req.timeout, builder.send()).await {
            Ok(sent) => sent.map_err(|e| transport_error(req.call, &e)),
            Err(_) => Err(PlatformError::Transient {
                call: req.call,
                cause: Transport::Timeout,
                retry_after: None,
                excerpt: "no response head in time".into(),
            }),
        }
    }

    /// Sends `req` and returns the answer's status and headers, leaving its body unread: a
    /// probe of a route whose body never ends (the event stream).
    pub(super) async fn head_only(&self, req: &Request) -> Result<(u16, HeaderMap), PlatformError> {
        let token = self.inner.token.current();
        let resp = self.send_head(req, token.as_ref()).await?;
        Ok((resp.status().as_u16(), resp.headers().clone()))
    }

    fn headers(&self, token: Option<&Secret>) -> HeaderMap {
        let cfg = &self.inner.cfg;
        let mut h = HeaderMap::new();
        if let Some(token) = token
            && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
        {
            v.set_sensitive(true);
            h.insert(header::AUTHORIZATION, v);
        }
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(cfg.origin()) {
            h.insert(header::ORIGIN, v);
        }
        if let Some(v) = cfg.org_id().and_then(|o| HeaderValue::from_str(o).ok()) {
            h.insert("x-molecule-org-id", v);
        }
        if cfg.sends_workspace_header()
            && let Ok(v) = HeaderValue::from_str(&cfg.workspace_id().to_string())
        {
            h.insert("x-workspace-id", v);
        }
        h
    }

    /// An excerpt of `body` with the current token masked.
    pub(super) fn excerpt(&self, body: &[u8]) -> String {
        let token = self.inner.token.current();
        excerpt(body, token.as_ref().map(Secret::expose))
    }
}
