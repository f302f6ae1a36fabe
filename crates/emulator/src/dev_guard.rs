//! Who may use the `/_dev` admin path and the chat page. They need no token, so without a
//! guard any web page the developer visits could drive them: a cross-origin `text/plain` POST
//! (which a browser sends without asking) could mint tokens or send messages, and a page whose
//! domain is made to resolve to 127.0.0.1 (DNS rebinding) could read the answers too.
//!
//! - The `Host` must be a loopback name (`localhost`, `127.0.0.1`, `[::1]`), with the port the
//!   emulator listens on when one is given: a rebinding page's requests carry its own domain.
//! - Every `/_dev` request must carry [`HEADER`]: a browser sends a custom header cross-origin
//!   only after a CORS preflight, which the emulator never grants. With a key configured
//!   ([`EmulatorConfig::dev_key`](crate::EmulatorConfig::dev_key), as `molecule dev` does), the
//!   header must hold that key, which keeps other local users out as well.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::app::App;
use super::http::error::ApiError;

/// The header every `/_dev` request carries: the run's key, or any value when there is none.
pub const HEADER: &str = "x-molecule-dev";

/// The middleware on the `/_dev` routes and the page.
pub async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    if let Err(e) = check(&app, &req) {
        return e.into_response();
    }
    next.run(req).await
}

fn check(app: &App, req: &Request) -> Result<(), ApiError> {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !loopback_host(host, app.port) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "the admin path and the chat page answer only to a loopback name \
                 (http://127.0.0.1:{port}, http://localhost:{port}), not Host {host:?}",
                port = app.port
            ),
        ));
    }
    if !req.uri().path().starts_with("/_dev/") {
        return Ok(());
    }
    let given = req.headers().get(HEADER).and_then(|v| v.to_str().ok());
    let ok = match (&app.config.dev_key, given) {
        (_, None) => false,
        (None, Some(v)) => !v.is_empty(),
        (Some(key), Some(v)) => constant_time_eq(key.as_bytes(), v.as_bytes()),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the admin path needs the X-Molecule-Dev header with this run's key: molecule send \
             reads it from the key file molecule dev writes for its user, and the chat page URL \
             that molecule dev prints carries it",
        ))
    }
}

/// Whether `host` (a `Host` header) names this machine's loopback, on `port` if it has one.
fn loopback_host(host: &str, port: u16) -> bool {
    let (name, given_port) = match host.rsplit_once(':') {
        // `[::1]` alone has colons inside the brackets only.
        Some((name, p)) if !p.contains(']') => (name, Some(p)),
        _ => (host, None),
    };
    let name = name.to_ascii_lowercase();
    let loopback = matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    loopback && given_port.is_none_or(|p| p.parse::<u16>().ok() == Some(port))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_names_on_our_port_pass() {
        for ok in [
            "127.0.0.1:7357",
            "localhost:7357",
            "[::1]:7357",
            "LOCALHOST",
            "127.0.0.1",
        ] {
            assert!(loopback_host(ok, 7357), "{ok}");
        }
        for bad in [
            "evil.example:7357",
            "127.0.0.1:80",
            "127.0.0.1.evil.example:7357",
            "localhost.:7357",
            "[::1]:1",
            "",
        ] {
            assert!(!loopback_host(bad, 7357), "{bad}");
        }
    }
}
