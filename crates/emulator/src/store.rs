//! The emulator's state: workspaces, tokens, activity feeds and staged uploads, kept in memory
//! and, when a data file is configured, written through to SQLite before a request is answered.
//!
//! Every row written (and every write the newer platform deduplicates, which still commits)
//! is followed by an `ACTIVITY_LOGGED` event on the workspace's event streams.
//!
//! Each feed is a deque in insert order. `created_at` is strictly increasing and `seq` is a
//! global counter, so insert order is also `(created_at, seq)` order, and retention always
//! prunes a prefix.

use super::config::Compat;
use super::db::{Db, DbError};
use super::events::Hub;
use super::model::{NewRow, Row, Status, Token, TokenKind, Upload, Workspace};
use super::tokens::{hash_token, mint_token};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// Why a state change failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data file could not be written.
    #[error("data file: {0}")]
    Db(#[from] DbError),
    /// The workspace does not exist.
    #[error("workspace not found")]
    NoSuchWorkspace,
    /// The workspace id is already taken.
    #[error("workspace already exists")]
    Exists,
}

/// One workspace's activity rows.
#[derive(Debug, Default)]
pub struct Feed {
    /// Rows in insert order.
    pub rows: VecDeque<Row>,
    /// messageId → row id (newer platform's unique index).
    by_message_id: HashMap<String, Uuid>,
}

impl Feed {
    /// The position of the row with `seq`.
    pub fn position(&self, seq: i64) -> Option<usize> {
        let i = self.rows.partition_point(|r| r.seq < seq);
        (self.rows.get(i)?.seq == seq).then_some(i)
    }
}

/// The outcome of writing a row.
#[derive(Clone, Copy, Debug)]
pub struct Inserted {
    /// The row's id (the existing one when deduplicated).
    pub id: Uuid,
    /// `true` when a row with the same messageId already existed and was kept.
    pub deduplicated: bool,
}

/// All state; guarded by one mutex in the server.
#[derive(Debug)]
pub struct Store {
    /// The generation imitated.
    pub compat: Compat,
    /// Workspaces by id.
    pub workspaces: HashMap<Uuid, Workspace>,
    tokens: HashMap<[u8; 32], Token>,
    /// Feeds by workspace id.
    pub feeds: HashMap<Uuid, Feed>,
    /// Row id → (workspace, seq), for cursor lookups.
    pub row_index: HashMap<Uuid, (Uuid, i64)>,
    uploads: HashMap<Uuid, Upload>,
    /// Workspaces whose next cursor read answers 410 once.
    pub gone_once: HashSet<Uuid>,
    next_seq: i64,
    last_created: SystemTime,
    db: Option<Db>,
    events: Arc<Hub>,
}

impl Store {
    /// An empty store, or the contents of `db`, announcing new rows on `events`.
    pub fn open(compat: Compat, db: Option<Db>, events: Arc<Hub>) -> Result<Store, StoreError> {
        let mut store = Store {
            compat,
            workspaces: HashMap::new(),
            tokens: HashMap::new(),
            feeds: HashMap::new(),
            row_index: HashMap::new(),
            uploads: HashMap::new(),
            gone_once: HashSet::new(),
            next_seq: 1,
            last_created: SystemTime::UNIX_EPOCH,
            db: None,
            events,
        };
        if let Some(db) = &db {
            let loaded = db.load()?;
            for ws in loaded.workspaces {
                store.workspaces.insert(ws.id, ws);
            }
            for t in loaded.tokens {
                store.tokens.insert(t.hash, t);
            }
            for u in loaded.uploads {
                store.uploads.insert(u.file_id, u);
            }
            for row in loaded.rows {
                store.index_row(row);
            }
        }
        store.db = db;
        Ok(store)
    }

    /// A stored setting of the data file (the admin token lives there).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(match &self.db {
            Some(db) => db.get_meta(key)?,
            None => None,
        })
    }

    /// Stores a setting in the data file (no-op in memory).
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            db.put_meta(key, value)?;
        }
        Ok(())
    }

    fn index_row(&mut self, row: Row) {
        self.next_seq = self.next_seq.max(row.seq + 1);
        self.last_created = self.last_created.max(row.created_at);
        self.row_index.insert(row.id, (row.workspace_id, row.seq));
        let feed = self.feeds.entry(row.workspace_id).or_default();
        if let Some(mid) = &row.message_id {
            feed.by_message_id.insert(mid.clone(), row.id);
        }
        feed.rows.push_back(row);
    }

    /// A time strictly after every row written so far (the wall clock when it moves forward).
    fn next_time(&mut self) -> SystemTime {
        let now = SystemTime::now();
        let t = if now > self.last_created {
            now
        } else {
            self.last_created + Duration::from_nanos(1)
        };
        self.last_created = t;
        t
    }

    /// Writes a row into its workspace's feed. On the newer platform a row whose messageId is
    /// already in that feed is not written again: the existing row is kept as it was. Either
    /// way the write is announced on the event streams (the platform's upsert commits too).
    pub fn insert_row(&mut self, new: NewRow) -> Result<Inserted, StoreError> {
        if self.compat.is_new()
            && let Some(mid) = &new.message_id
            && let Some(id) = self
                .feeds
                .get(&new.workspace_id)
                .and_then(|f| f.by_message_id.get(mid))
        {
            let id = *id;
            self.events.activity_logged(&new);
            return Ok(Inserted {
                id,
                deduplicated: true,
            });
        }
        let id = Uuid::new_v4();
        let created_at = self.next_time();
        let row = Row {
            id,
            workspace_id: new.workspace_id,
            activity_type: new.activity_type.clone(),
            source_id: new.source_id,
            target_id: new.target_id,
            method: new.method.clone(),
            created_at,
            seq: self.next_seq,
            message_id: new.message_id.clone(),
            json_head: new.render_head(id, created_at),
            attachments: new.render_attachments(),
        };
        if let Some(db) = &self.db {
            db.put_row(&row)?;
        }
        self.index_row(row);
        // Sent under the store's lock: a reader woken by it reads a feed that has the row.
        self.events.activity_logged(&new);
        Ok(Inserted {
            id,
            deduplicated: false,
        })
    }

    /// Drops rows past retention; returns how many. The older platform prunes by age alone;
    /// the newer one prunes acked rows past `retention` and every row past `hard_retention`.
    pub fn prune(
        &mut self,
        now: SystemTime,
        retention: Duration,
        hard_retention: Duration,
    ) -> Result<usize, StoreError> {
        let soft = now.checked_sub(retention).unwrap_or(SystemTime::UNIX_EPOCH);
        let hard = now
            .checked_sub(hard_retention)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        let mut removed = Vec::new();
        for (ws_id, feed) in &mut self.feeds {
            let acked = self.workspaces.get(ws_id).map_or(0, |w| w.last_acked_seq);
            while let Some(front) = feed.rows.front() {
                let expired = if self.compat.is_new() {
                    front.created_at < hard || (front.created_at < soft && front.seq <= acked)
                } else {
                    front.created_at < soft
                };
                if !expired {
                    break;
                }
                let row = feed.rows.pop_front().expect("front exists");
                if let Some(mid) = &row.message_id {
                    feed.by_message_id.remove(mid);
                }
                removed.push((row.id, row.seq));
            }
        }
        if let Some(db) = &self.db {
            db.delete_rows(removed.iter().map(|(_, seq)| *seq))?;
        }
        for (id, _) in &removed {
            self.row_index.remove(id);
        }
        Ok(removed.len())
    }

    /// Saves a changed workspace.
    pub fn save_workspace(&mut self, ws: Workspace) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            db.put_workspace(&ws)?;
        }
        self.workspaces.insert(ws.id, ws);
        Ok(())
    }

    /// Applies `f` to a workspace and saves it; `None` when it does not exist.
    pub fn update_workspace<R>(
        &mut self,
        id: Uuid,
        f: impl FnOnce(&mut Workspace) -> R,
    ) -> Result<Option<R>, StoreError> {
        let Some(mut ws) = self.workspaces.get(&id).cloned() else {
            return Ok(None);
        };
        let r = f(&mut ws);
        self.save_workspace(ws)?;
        Ok(Some(r))
    }

    /// Mints a token for `workspace_id` and returns its plaintext (the only time it exists).
    pub fn mint_token(
        &mut self,
        workspace_id: Uuid,
        kind: TokenKind,
    ) -> Result<String, StoreError> {
        let plain = mint_token();
        let token = Token {
            hash: hash_token(&plain),
            prefix: plain[..8].to_owned(),
            workspace_id,
            kind,
            revoked: false,
        };
        if let Some(db) = &self.db {
            db.put_token(&token)?;
        }
        self.tokens.insert(token.hash, token);
        Ok(plain)
    }

    /// The workspace a bearer token validates for: live, and its workspace not removed.
    pub fn token_owner(&self, bearer: &str) -> Option<Uuid> {
        let t = self.tokens.get(&hash_token(bearer))?;
        let ws = self.workspaces.get(&t.workspace_id)?;
        (!t.revoked && ws.status != Status::Removed).then_some(t.workspace_id)
    }

    /// Whether the workspace holds a live token (of `kind` when given).
    pub fn has_live_token(&self, workspace_id: Uuid, kind: Option<TokenKind>) -> bool {
        self.tokens.values().any(|t| {
            t.workspace_id == workspace_id && !t.revoked && kind.is_none_or(|k| t.kind == k)
        })
    }

    /// Revokes every token of a workspace; returns how many were live.
    pub fn revoke_tokens(&mut self, workspace_id: Uuid) -> Result<usize, StoreError> {
        let mut n = 0;
        for t in self.tokens.values_mut() {
            if t.workspace_id == workspace_id && !t.revoked {
                t.revoked = true;
                n += 1;
                if let Some(db) = &self.db {
                    db.put_token(t)?;
                }
            }
        }
        Ok(n)
    }

    /// Removes a workspace as the platform's Delete does: status `removed`, tokens revoked.
    pub fn remove_workspace(&mut self, id: Uuid) -> Result<(), StoreError> {
        let now = SystemTime::now();
        self.update_workspace(id, |ws| {
            ws.status = Status::Removed;
            ws.removed_at = Some(now);
        })?
        .ok_or(StoreError::NoSuchWorkspace)?;
        self.revoke_tokens(id)?;
        Ok(())
    }

    /// Stages an uploaded file.
    pub fn stage_upload(&mut self, upload: Upload) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            db.put_upload(&upload)?;
        }
        self.uploads.insert(upload.file_id, upload);
        Ok(())
    }

    /// A staged upload of `workspace_id` (acked ones are forgotten).
    pub fn upload(&self, workspace_id: Uuid, file_id: Uuid) -> Option<&Upload> {
        self.uploads
            .get(&file_id)
            .filter(|u| u.workspace_id == workspace_id)
    }

    /// Acks (and forgets the bytes of) an upload; `false` when there is no such upload.
    pub fn ack_upload(&mut self, workspace_id: Uuid, file_id: Uuid) -> Result<bool, StoreError> {
        if self.upload(workspace_id, file_id).is_none() {
            return Ok(false);
        }
        if let Some(db) = &self.db {
            db.delete_upload(file_id)?;
        }
        self.uploads.remove(&file_id);
        Ok(true)
    }
}
