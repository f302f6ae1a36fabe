//! The platform's HTTP surface, route by route, with the platform's status codes and bodies.

pub mod a2a;
pub mod activity;
pub mod auth;
pub mod error;
pub mod events;
pub mod middleware;
pub mod normalize;
pub mod registry;
pub mod uploads;
pub mod workspace;

use super::app::App;
use super::faults::Endpoint;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, get, post};
use std::sync::Arc;

/// The platform routes with their layers (rate limit outermost, then TenantGuard, then the
/// per-endpoint fault injector).
pub fn platform_routes(app: &Arc<App>) -> Router<Arc<App>> {
    let f = |endpoint: Endpoint, route: MethodRouter<Arc<App>>| {
        route.layer(axum::middleware::from_fn_with_state(
            (app.clone(), endpoint),
            middleware::faults,
        ))
    };
    let upload_cap = DefaultBodyLimit::max(app.config.limits.upload_total);
    let mut r = Router::new()
        .route(
            "/buildinfo",
            f(Endpoint::Buildinfo, get(workspace::buildinfo)),
        )
        .route(
            "/registry/register",
            f(Endpoint::Register, post(registry::register)),
        )
        .route(
            "/registry/heartbeat",
            f(Endpoint::Heartbeat, post(registry::heartbeat)),
        )
        .route(
            "/registry/discover/{id}",
            f(Endpoint::Peers, get(registry::discover)),
        )
        .route(
            "/registry/{id}/peers",
            f(Endpoint::Peers, get(registry::peers)),
        )
        .route(
            "/workspaces/{id}",
            f(Endpoint::Workspace, get(workspace::get)),
        )
        .route(
            "/workspaces/{id}/state",
            f(Endpoint::Workspace, get(workspace::state)),
        )
        .route(
            "/workspaces/{id}/activity",
            f(Endpoint::Activity, get(activity::list)),
        )
        .route("/workspaces/{id}/a2a", f(Endpoint::A2a, post(a2a::proxy)))
        .route(
            "/workspaces/{id}/events/stream",
            f(Endpoint::Events, get(events::stream)),
        )
        .route(
            "/workspaces/{id}/notify",
            f(Endpoint::Notify, post(workspace::notify)),
        )
        .route(
            "/workspaces/{id}/chat/uploads",
            f(Endpoint::Uploads, post(uploads::upload).layer(upload_cap)),
        )
        .route(
            "/workspaces/{id}/pending-uploads/{file_id}/content",
            f(Endpoint::Uploads, get(uploads::content)),
        )
        .route(
            "/workspaces/{id}/pending-uploads/{file_id}/ack",
            f(Endpoint::Uploads, post(uploads::ack)),
        );
    if app.config.compat.is_new() {
        r = r.route(
            "/workspaces/{id}/activity/ack",
            f(Endpoint::Ack, post(activity::ack)),
        );
    }
    r.layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::tenant_guard,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::rate_limit,
        ))
}
