//! Canvas chat uploads to a poll-mode workspace: staged on the platform, announced by one
//! `chat_upload_receive` row per file (written before the chat message that references them),
//! fetched with `pending-uploads/<file_id>/content` and confirmed with `.../ack`.

use super::auth::workspace_auth;
use super::error::{ApiError, ok, too_large};
use crate::app::App;
use crate::model::{DeliveryMode, NewRow, Status, Upload};
use axum::body::Body;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::Arc;
use uuid::Uuid;

/// One received file.
#[derive(Debug)]
pub struct IncomingFile {
    /// File name.
    pub name: String,
    /// Content type.
    pub mime_type: String,
    /// Contents.
    pub bytes: Vec<u8>,
}

/// `POST /workspaces/<id>/chat/uploads` (multipart; every part with a file name is a file).
pub async fn upload(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    multipart: Multipart,
) -> Result<Response, ApiError> {
    let ws = Uuid::parse_str(&id).ok();
    {
        let store = app.store();
        workspace_auth(&app, &store, &headers, ws)?;
    }
    let ws = ws.ok_or_else(ApiError::workspace_not_found)?;
    let files = read_files(&app, multipart).await?;
    Ok(ok(stage(&app, ws, files)?))
}

/// Reads the file parts of a multipart body, enforcing the per-file cap.
pub async fn read_files(
    app: &App,
    mut multipart: Multipart,
) -> Result<Vec<IncomingFile>, ApiError> {
    let mut files = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(too_large(app.config.limits.upload_total));
            }
            Err(e) => {
                return Err(ApiError::bad_request(format!(
                    "invalid multipart body: {e}"
                )));
            }
        };
        let Some(name) = field.file_name().map(str::to_owned) else {
            continue;
        };
        let mime_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = field.bytes().await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                too_large(app.config.limits.upload_total)
            } else {
                ApiError::bad_request(format!("invalid multipart body: {e}"))
            }
        })?;
        if bytes.len() > app.config.limits.upload_file {
            return Err(too_large(app.config.limits.upload_file));
        }
        files.push(IncomingFile {
            name,
            mime_type,
            bytes: bytes.to_vec(),
        });
    }
    if files.is_empty() {
        return Err(ApiError::bad_request("no files in upload"));
    }
    Ok(files)
}

/// Stages files for a poll-mode workspace and writes their rows; returns `{"files": [...]}`.
pub fn stage(app: &App, ws: Uuid, files: Vec<IncomingFile>) -> Result<Value, ApiError> {
    let mut store = app.store();
    let w = store
        .workspaces
        .get(&ws)
        .filter(|w| w.status != Status::Removed)
        .ok_or_else(ApiError::workspace_not_found)?;
    if w.delivery_mode != DeliveryMode::Poll {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            "chat uploads to push-mode workspaces are not emulated",
        ));
    }
    let mut out = Vec::new();
    for f in files {
        let upload = Upload {
            file_id: Uuid::new_v4(),
            workspace_id: ws,
            name: f.name,
            mime_type: f.mime_type,
            bytes: f.bytes,
        };
        let entry = json!({
            "uri": upload.uri(), "name": upload.name,
            "mimeType": upload.mime_type, "size": upload.bytes.len(),
        });
        let mut request_body = entry.clone();
        request_body["file_id"] = json!(upload.file_id);
        let summary = format!("Chat upload: {}", upload.name);
        store.stage_upload(upload)?;
        store.insert_row(NewRow {
            workspace_id: ws,
            activity_type: "a2a_receive".into(),
            target_id: Some(ws),
            method: Some("chat_upload_receive".into()),
            summary: Some(summary),
            request_body: Some(request_body),
            status: "ok".into(),
            ..NewRow::default()
        })?;
        out.push(entry);
    }
    Ok(json!({ "files": out }))
}

fn ids(ws: &str, file: &str) -> (Option<Uuid>, Option<Uuid>) {
    (Uuid::parse_str(ws).ok(), Uuid::parse_str(file).ok())
}

/// `GET /workspaces/<id>/pending-uploads/<file_id>/content`
pub async fn content(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ws, file) = ids(&id, &file);
    let store = app.store();
    workspace_auth(&app, &store, &headers, ws)?;
    let up = ws
        .zip(file)
        .and_then(|(w, f)| store.upload(w, f))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "upload not found"))?;
    let mut r = Response::new(Body::from(up.bytes.clone()));
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&up.mime_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let name = up.name.replace(['"', '\\', '\r', '\n'], "_");
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

/// `POST /workspaces/<id>/pending-uploads/<file_id>/ack`
pub async fn ack(
    State(app): State<Arc<App>>,
    Path((id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (ws, file) = ids(&id, &file);
    let mut store = app.store();
    workspace_auth(&app, &store, &headers, ws)?;
    let acked = match ws.zip(file) {
        Some((w, f)) => store.ack_upload(w, f)?,
        None => false,
    };
    if !acked {
        return Err(ApiError::new(StatusCode::NOT_FOUND, "upload not found"));
    }
    Ok(ok(json!({ "status": "acked" })))
}
