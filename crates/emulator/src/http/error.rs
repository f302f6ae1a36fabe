//! Error answers in the platform's shape (`{"error": "..."}` plus extra keys), and body reading
//! with explicit size caps.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// The JSON body.
    pub body: Map<String, Value>,
}

impl ApiError {
    /// `{"error": msg}` with `status`.
    pub fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        let mut body = Map::new();
        body.insert("error".into(), Value::String(msg.into()));
        ApiError { status, body }
    }

    /// Adds a key to the body.
    pub fn with(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.body.insert(key.into(), value.into());
        self
    }

    /// 400 with `msg`.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, msg)
    }

    /// 401 with `msg`.
    pub fn unauthorized(msg: &str) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, msg)
    }

    /// 404 `workspace not found`.
    pub fn workspace_not_found() -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "workspace not found")
    }

    /// 500 for a data-file failure; the request did not take effect.
    pub fn internal(msg: impl std::fmt::Display) -> Self {
        tracing::error!("emulator: {msg}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "platform datastore unavailable — retry shortly",
        )
        .with("code", "platform_unavailable")
    }
}

impl From<super::super::store::StoreError> for ApiError {
    fn from(e: super::super::store::StoreError) -> Self {
        use super::super::store::StoreError;
        match e {
            StoreError::NoSuchWorkspace => ApiError::workspace_not_found(),
            StoreError::Exists => ApiError::new(StatusCode::CONFLICT, "workspace already exists"),
            StoreError::Db(e) => ApiError::internal(e),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &Value::Object(self.body))
    }
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &Value) -> Response {
    raw_json(status, body.to_string().into_bytes())
}

/// A JSON answer from bytes already rendered.
pub fn raw_json(status: StatusCode, body: Vec<u8>) -> Response {
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

/// 200 with a JSON body.
pub fn ok(body: Value) -> Response {
    json_response(StatusCode::OK, &body)
}

/// Reads a body of at most `limit` bytes; above it, 413 with the newer platform's body.
pub async fn read_body(body: Body, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large(limit))
}

/// 413 `{"error":..., "truncated": true, "max_bytes": N}`.
pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
        .with("truncated", true)
        .with("max_bytes", limit as u64)
}

/// Parses a JSON object body; anything else is 400 with `msg`.
pub fn parse_object(bytes: &[u8], msg: &str) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(m)) => Ok(m),
        _ => Err(ApiError::bad_request(msg)),
    }
}

/// The gin router's answer for a route it does not have.
pub fn route_not_found() -> Response {
    let mut r = Response::new(Body::from("404 page not found"));
    *r.status_mut() = StatusCode::NOT_FOUND;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    r
}

/// `{"status": ...}` convenience for tests and handlers.
pub fn status_body(s: &str) -> Value {
    json!({ "status": s })
}
