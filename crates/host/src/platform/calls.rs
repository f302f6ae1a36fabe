//! The typed platform calls: one method per endpoint, each mapping the statuses that mean
//! something for it (404 and 410 on the workspace, 410 on the cursor, 404 on ack) and leaving
//! the rest to the shared classification.

use super::client::PlatformClient;
use super::error::{Call, PlatformError};
use super::rows;
use super::rowscan::{Ending, NotAnArray, PageLimits};
use super::types::{
    A2aAnswer, A2aReply, AckOutcome, ActivityPage, ActivityQuery, AgentCard, BuildInfo,
    DeliveryMode, Heartbeat, NotifyAttachment, NotifyRequest, PeerRecord, RegisterRequest,
    RegisterResponse, UploadContent, WorkspaceInfo,
};
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

impl PlatformClient {
    /// `GET /buildinfo`: which platform version answers.
    pub async fn buildinfo(&self) -> Result<BuildInfo, PlatformError> {
        let url = self.config().endpoint(&["buildinfo"]);
        let reply = self
            .execute(self.request(Call::BuildInfo, Method::GET, url))
            .await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        let raw: Value = self.decode(&reply, false)?;
        let git_sha = raw
            .get("git_sha")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(BuildInfo { git_sha, raw })
    }

    /// `GET /workspaces/<id>`: 404 is [`PlatformError::NoSuchWorkspace`], 410
    /// [`PlatformError::Removed`] with the platform's hint.
    pub async fn get_workspace(&self, id: Uuid) -> Result<WorkspaceInfo, PlatformError> {
        let url = self.config().endpoint(&["workspaces", &id.to_string()]);
        let reply = self
            .execute(self.request(Call::GetWorkspace, Method::GET, url))
            .await?;
        match reply.status {
            200..=299 => Ok(WorkspaceInfo::from_value(self.decode(&reply, false)?)),
            404 => Err(PlatformError::NoSuchWorkspace { id }),
            410 => {
                let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                let field = |k: &str| {
                    let v = body.get(k).and_then(Value::as_str);
                    v.map(|v| crate::logsafe::clean(v, 200))
                };
                Err(PlatformError::Removed {
                    id,
                    removed_at: field("removed_at"),
                    hint: field("hint"),
                })
            }
            _ => Err(self.classify(&reply)),
        }
    }

    /// `POST /registry/register` as a poll-mode workspace. The answer may carry a freshly
    /// minted token: it is never logged, not even in a decode error.
    pub async fn register(&self, agent_card: AgentCard) -> Result<RegisterResponse, PlatformError> {
        let body = RegisterRequest {
            id: self.config().workspace_id().to_string(),
            url: String::new(),
            agent_card,
            delivery_mode: DeliveryMode::Poll,
        };
        let url = self.config().endpoint(&["registry", "register"]);
        let reply = self.post(Call::Register, url, &body).await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        self.decode(&reply, true)
    }

    /// `POST /registry/heartbeat`.
    pub async fn heartbeat(&self, beat: &Heartbeat) -> Result<(), PlatformError> {
        #[derive(Serialize)]
        struct Wire<'a> {
            workspace_id: String,
            #[serde(flatten)]
            beat: &'a Heartbeat,
        }
        let body = Wire {
            workspace_id: self.config().workspace_id().to_string(),
            beat,
        };
        let url = self.config().endpoint(&["registry", "heartbeat"]);
        let reply = self.post(Call::Heartbeat, url, &body).await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        // Newer platforms answer with a `generation`, and count requests per org, else per
        // token (platform-api.md §1.3, §4.2). Read only while it can still change something.
        if self.may_count_per_token() {
            let answer: serde_json::Value = serde_json::from_slice(&reply.body).unwrap_or_default();
            if answer.get("generation").is_some() {
                self.count_per_token();
            }
        }
        Ok(())
    }

    /// `GET /workspaces/<own id>/activity`: one page, in the platform's order (oldest first
    /// after a cursor, newest first without one). 410 is [`PlatformError::CursorGone`]; a body
    /// that is not a list is a decode error. The page is read row by row as it arrives
    /// ([`super::rowscan`]): a row that cannot be read is returned as unreadable instead of
    /// failing the page, the page stops at the `limit` asked for and at the byte cap (then
    /// [`ActivityPage::more`] is set), and a row over the cap alone is read through unkept.
    pub async fn activity(&self, query: &ActivityQuery) -> Result<ActivityPage, PlatformError> {
        let id = self.config().workspace_id().to_string();
        let mut url = self.config().endpoint(&["workspaces", &id, "activity"]);
        url.query_pairs_mut().extend_pairs(query.pairs());
        let mut req = self.request(Call::Activity, Method::GET, url);
        let limits = PageLimits {
            max_rows: query.limit.map_or(100, |l| l.clamp(1, 500)) as usize,
            max_bytes: usize::try_from(req.max_body).unwrap_or(usize::MAX),
        };
        req.rows = Some((limits, query.known.clone()));
        let reply = self.execute(req).await?;
        match reply.status {
            200..=299 => {}
            410 => {
                return Err(PlatformError::CursorGone {
                    call: Call::Activity,
                    excerpt: self.excerpt(&reply.body),
                });
            }
            _ => return Err(self.classify(&reply)),
        }
        let scanned = match reply.page {
            Some(Ok(page)) => page,
            Some(Err(NotAnArray { head })) => {
                return Err(PlatformError::Decode {
                    call: Call::Activity,
                    status: reply.status,
                    reason: "expected a JSON list of activity rows".into(),
                    excerpt: self.excerpt(&head),
                });
            }
            None => return Err(self.not_a_list(&reply, "activity rows")),
        };
        if scanned.ending == Ending::Cut && scanned.rows.is_empty() && scanned.known == 0 {
            return Err(PlatformError::Decode {
                call: Call::Activity,
                status: reply.status,
                reason: "the list of activity rows is malformed or cut short before its first \
                         whole row"
                    .into(),
                excerpt: String::new(),
            });
        }
        rows::log_ending(scanned.ending, scanned.rows.len(), limits);
        Ok(rows::read_page(scanned, limits.max_bytes))
    }

    /// `POST /workspaces/<own id>/activity/ack`: lets the platform prune rows up to `seq`.
    /// An older platform answers 404: [`AckOutcome::Unsupported`], not an error.
    pub async fn ack_activity(&self, seq: i64) -> Result<AckOutcome, PlatformError> {
        let id = self.config().workspace_id().to_string();
        let url = self
            .config()
            .endpoint(&["workspaces", &id, "activity", "ack"]);
        let reply = self
            .post(Call::AckActivity, url, &json!({ "acked_seq": seq }))
            .await?;
        match reply.status {
            200..=299 => {
                let body: Value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
                Ok(AckOutcome::Acked(
                    body.get("last_acked_seq").and_then(Value::as_i64),
                ))
            }
            404 => Ok(AckOutcome::Unsupported),
            _ => Err(self.classify(&reply)),
        }
    }

    /// `POST /workspaces/<target>/a2a` with a JSON-RPC body. Any 2xx comes back parsed (queued,
    /// push-async, busy-queued, a message, a task or a JSON-RPC error): the caller decides. A
    /// 2xx body that is not JSON is a decode error: it did not come from the platform.
    /// Uses the separate, longer a2a timeout: a push-mode target answers with a whole turn.
    pub async fn post_a2a(
        &self,
        target: Uuid,
        body: &impl Serialize,
    ) -> Result<A2aReply, PlatformError> {
        let url = self
            .config()
            .endpoint(&["workspaces", &target.to_string(), "a2a"]);
        let mut req = self.request(Call::PostA2a, Method::POST, url);
        req.timeout = self.config().timeouts.a2a;
        req.body = Some(self.encode(Call::PostA2a, body)?);
        let reply = self.execute(req).await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        let value = if reply.body.iter().all(u8::is_ascii_whitespace) {
            Value::Null
        } else {
            self.decode(&reply, false)?
        };
        Ok(A2aReply {
            status: reply.status,
            answer: A2aAnswer::from_value(reply.status, value),
        })
    }

    /// `POST /workspaces/<own id>/notify`: a message to the person in the canvas. The
    /// platform refuses an empty message and attachments without a URI or a name, so those
    /// are refused here before anything is sent. A 2xx whose body is not a JSON object is a
    /// decode error: it did not come from the platform.
    pub async fn notify(
        &self,
        message: &str,
        attachments: &[NotifyAttachment],
    ) -> Result<(), PlatformError> {
        let invalid = |reason: String| PlatformError::InvalidArgument {
            call: Call::Notify,
            reason,
        };
        if message.trim().is_empty() {
            return Err(invalid("the message is empty".into()));
        }
        if let Some(i) = attachments
            .iter()
            .position(|a| a.uri.is_empty() || a.name.is_empty())
        {
            return Err(invalid(format!("attachment {i} needs a uri and a name")));
        }
        let id = self.config().workspace_id().to_string();
        let url = self.config().endpoint(&["workspaces", &id, "notify"]);
        let body = NotifyRequest {
            message,
            attachments,
        };
        let reply = self.post(Call::Notify, url, &body).await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        // The platform answers `{"status":"sent"}`: anything that is not a JSON object came
        // from something else (a proxy's or a portal's page).
        let _: serde_json::Map<String, Value> = self.decode(&reply, false)?;
        Ok(())
    }

    /// `GET /workspaces/<own id>/pending-uploads/<file_id>/content`: a staged canvas upload,
    /// at most `limits.max_upload_bytes` long.
    pub async fn pending_upload_content(
        &self,
        file_id: &str,
    ) -> Result<UploadContent, PlatformError> {
        let url = self.upload_url(Call::UploadContent, file_id, "content")?;
        let mut req = self.request(Call::UploadContent, Method::GET, url);
        req.timeout = self.config().timeouts.upload;
        req.max_body = self.config().limits.max_upload_bytes;
        let reply = self.execute(req).await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        let content_type = reply
            .headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(UploadContent {
            bytes: reply.body,
            content_type,
        })
    }

    /// `POST /workspaces/<own id>/pending-uploads/<file_id>/ack`: the upload was fetched.
    pub async fn ack_upload(&self, file_id: &str) -> Result<(), PlatformError> {
        let url = self.upload_url(Call::AckUpload, file_id, "ack")?;
        let reply = self
            .execute(self.request(Call::AckUpload, Method::POST, url))
            .await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        Ok(())
    }

    /// `GET /registry/<own id>/peers`: the workspaces this one may talk to. A 200 whose body
    /// is not a JSON list is a decode error.
    pub async fn list_peers(&self) -> Result<Vec<PeerRecord>, PlatformError> {
        let id = self.config().workspace_id().to_string();
        let url = self.config().endpoint(&["registry", &id, "peers"]);
        let reply = self
            .execute(self.request(Call::ListPeers, Method::GET, url))
            .await?;
        if !reply.is_success() {
            return Err(self.classify(&reply));
        }
        match self.decode(&reply, false)? {
            Value::Array(items) => Ok(items.into_iter().map(PeerRecord::from_value).collect()),
            _ => Err(self.not_a_list(&reply, "peers")),
        }
    }

    /// `GET /registry/discover/<id>`: a workspace's registry record; `None` when unknown (404).
    pub async fn discover(&self, id: Uuid) -> Result<Option<PeerRecord>, PlatformError> {
        let url = self
            .config()
            .endpoint(&["registry", "discover", &id.to_string()]);
        let reply = self
            .execute(self.request(Call::Discover, Method::GET, url))
            .await?;
        match reply.status {
            200..=299 => Ok(Some(PeerRecord::from_value(self.decode(&reply, false)?))),
            404 => Ok(None),
            _ => Err(self.classify(&reply)),
        }
    }

    async fn post(
        &self,
        call: Call,
        url: reqwest::Url,
        body: &impl Serialize,
    ) -> Result<super::reply::Reply, PlatformError> {
        let mut req = self.request(call, Method::POST, url);
        req.body = Some(self.encode(call, body)?);
        self.execute(req).await
    }

    fn encode(&self, call: Call, body: &impl Serialize) -> Result<Vec<u8>, PlatformError> {
        serde_json::to_vec(body).map_err(|e| PlatformError::InvalidArgument {
            call,
            reason: format!("the body cannot be encoded as JSON: {e}"),
        })
    }

    fn upload_url(
        &self,
        call: Call,
        file_id: &str,
        leaf: &str,
    ) -> Result<reqwest::Url, PlatformError> {
        let ok = !file_id.is_empty()
            && file_id.len() <= 128
            && !file_id.bytes().all(|b| b == b'.')
            && file_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !ok {
            return Err(PlatformError::InvalidArgument {
                call,
                reason: format!("invalid upload file id {file_id:?}"),
            });
        }
        let id = self.config().workspace_id().to_string();
        Ok(self
            .config()
            .endpoint(&["workspaces", &id, "pending-uploads", file_id, leaf]))
    }

    fn not_a_list(&self, reply: &super::reply::Reply, what: &str) -> PlatformError {
        PlatformError::Decode {
            call: reply.call,
            status: reply.status,
            reason: format!("expected a JSON list of {what}"),
            excerpt: self.excerpt(&reply.body),
        }
    }
}
