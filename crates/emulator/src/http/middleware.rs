//! Cross-cutting layers of the platform routes: the rate limiter, TenantGuard and fault
//! injection.

use super::error::{ApiError, route_not_found};
use crate::app::App;
use crate::faults::{Endpoint, Fault};
use crate::server::ConnHandle;
use crate::tokens::hash_token;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Paths TenantGuard lets through without a routing header.
const TENANT_EXEMPT: &[&str] = &[
    "/health",
    "/buildinfo",
    "/metrics",
    "/registry/register",
    "/registry/heartbeat",
];

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The rate limiter: `X-RateLimit-*` on every answer, 429 + `Retry-After` when empty.
pub async fn rate_limit(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(limiter) = &app.limiter else {
        return next.run(req).await;
    };
    let ip = req
        .extensions()
        .get::<ConnHandle>()
        .map(|c| c.peer.ip().to_string())
        .unwrap_or_default();
    let key = if app.config.compat.is_new() {
        let org = req
            .headers()
            .get("x-molecule-org-id")
            .and_then(|v| v.to_str().ok());
        match (org, bearer(req.headers())) {
            (Some(org), _) => format!("org:{org}"),
            (None, Some(t)) => format!("tok:{:x?}", &hash_token(t)[..8]),
            (None, None) => format!("ip:{ip}"),
        }
    } else {
        format!("ip:{ip}")
    };
    let d = limiter.check(&key);
    let mut resp = if d.allowed {
        next.run(req).await
    } else {
        let mut r = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate limit exceeded")
            .with("retry_after", d.retry_after)
            .into_response();
        r.headers_mut()
            .insert("retry-after", HeaderValue::from(d.retry_after));
        r
    };
    let h = resp.headers_mut();
    h.insert("x-ratelimit-limit", HeaderValue::from(d.limit));
    h.insert("x-ratelimit-remaining", HeaderValue::from(d.remaining));
    h.insert("x-ratelimit-reset", HeaderValue::from(d.reset_unix));
    resp
}

/// TenantGuard: without `X-Molecule-Org-Id` equal to the org id or an allowed `Origin`, the
/// older platform answers an empty 404 and the newer one a 400 that names the header.
pub async fn tenant_guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let Some(guard) = &app.config.tenant else {
        return next.run(req).await;
    };
    if TENANT_EXEMPT.contains(&req.uri().path()) {
        return next.run(req).await;
    }
    let h = req.headers();
    let org_ok = h
        .get("x-molecule-org-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == guard.org_id);
    let origin_ok = h
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(|o| o.trim_end_matches('/'))
        .is_some_and(|o| {
            o == app.base_url
                || guard
                    .allowed_origins
                    .iter()
                    .any(|a| a.trim_end_matches('/') == o)
        });
    if org_ok || origin_ok {
        return next.run(req).await;
    }
    if app.config.compat.is_new() {
        ApiError::bad_request("missing tenant routing header")
            .with("code", "TENANT_ORG_HEADER_REQUIRED")
            .with("required_header", "X-Molecule-Org-Id")
            .with(
                "hint",
                "send X-Molecule-Org-Id or an Origin equal to the platform URL",
            )
            .into_response()
    } else {
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::NOT_FOUND;
        r
    }
}

/// Fault injection for one endpoint (and the count of its requests).
pub async fn faults(
    State((app, endpoint)): State<(Arc<App>, Endpoint)>,
    req: Request,
    next: Next,
) -> Response {
    app.stats.request(endpoint);
    if let Some(rule) = app.faults.hostile(endpoint) {
        tracing::debug!(?endpoint, status = ?rule.status, "emulator: a hostile answer");
        app.stats.hostile();
        return crate::hostile::answer(rule, req, next).await;
    }
    let plan = app.faults.plan(endpoint);
    if let Some(d) = plan.delay {
        app.stats.delayed();
        tokio::time::sleep(d).await;
    }
    let conn = req.extensions().get::<ConnHandle>().cloned();
    let Some(fault) = plan.fault else {
        return next.run(req).await;
    };
    tracing::debug!(?endpoint, ?fault, "emulator: injecting a fault");
    app.stats.fault(fault);
    if fault.after_processing() {
        // The request takes effect; only its answer is lost.
        let _ = next.run(req).await;
    }
    match fault {
        Fault::ErrorBefore => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "injected fault: request not processed",
        )
        .into_response(),
        Fault::ErrorAfter => {
            ApiError::new(StatusCode::BAD_GATEWAY, "injected fault: response lost").into_response()
        }
        Fault::DropBefore | Fault::DropAfter => match conn {
            Some(c) => c.drop_connection().await,
            None => route_not_found(),
        },
    }
}
