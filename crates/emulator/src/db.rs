//! The optional SQLite data file: rows, tokens, workspaces and uploads survive a restart, so
//! cursors and tokens handed out before it stay valid.
//!
//! The in-memory [`Store`](super::store::Store) stays the source of answers; this file is
//! written through before a request is answered and read once at start.

use super::model::{Row, Token, TokenKind, Upload, Workspace};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};
use uuid::Uuid;

/// A data-file failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite failed.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored workspace could not be read back.
    #[error("corrupt workspace record: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// A stored id is not a UUID.
    #[error("corrupt id in the data file: {0}")]
    BadId(#[from] uuid::Error),
    /// The data file's directory could not be created or secured.
    #[error("data file directory: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything read back at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Workspaces.
    pub workspaces: Vec<Workspace>,
    /// Tokens (hashes only).
    pub tokens: Vec<Token>,
    /// Rows in seq order.
    pub rows: Vec<Row>,
    /// Staged uploads.
    pub uploads: Vec<Upload>,
}

/// An open data file.
#[derive(Debug)]
pub struct Db {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS workspaces (id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (hash BLOB PRIMARY KEY, prefix TEXT NOT NULL,
    workspace_id TEXT NOT NULL, kind TEXT NOT NULL, revoked INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS activity (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL, activity_type TEXT NOT NULL, source_id TEXT, target_id TEXT,
    method TEXT, created_at_ns INTEGER NOT NULL, message_id TEXT, json_head TEXT NOT NULL,
    attachments TEXT);
CREATE TABLE IF NOT EXISTS uploads (file_id TEXT PRIMARY KEY, workspace_id TEXT NOT NULL,
    name TEXT NOT NULL, mime_type TEXT NOT NULL, bytes BLOB NOT NULL);
";

impl Db {
    /// Opens (or creates) the data file. The file holds token hashes and messages, so it is made
    /// 0600; a directory the emulator creates for it is 0700.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.exists()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        let conn = Connection::open(path)?;
        // WAL with NORMAL sync: a committed row survives a crash of the emulator process, which
        // is what a restart test exercises; fsync per row would only slow benchmarks down.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Db { conn })
    }

    /// Reads everything back.
    pub fn load(&self) -> Result<Loaded, DbError> {
        let mut out = Loaded::default();
        let mut st = self.conn.prepare("SELECT record FROM workspaces")?;
        for rec in st.query_map([], |r| r.get::<_, String>(0))? {
            out.workspaces.push(serde_json::from_str(&rec?)?);
        }
        let mut st = self
            .conn
            .prepare("SELECT hash, prefix, workspace_id, kind, revoked FROM tokens")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let hash: Vec<u8> = r.get(0)?;
            let Ok(hash) = <[u8; 32]>::try_from(hash.as_slice()) else {
                continue;
            };
            let kind: String = r.get(3)?;
            out.tokens.push(Token {
                hash,
                prefix: r.get(1)?,
                workspace_id: Uuid::parse_str(&r.get::<_, String>(2)?)?,
                kind: if kind == "instance" {
                    TokenKind::Instance
                } else {
                    TokenKind::Api
                },
                revoked: r.get(4)?,
            });
        }
        out.rows = self.load_rows()?;
        let mut st = self
            .conn
            .prepare("SELECT file_id, workspace_id, name, mime_type, bytes FROM uploads")?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            out.uploads.push(Upload {
                file_id: Uuid::parse_str(&r.get::<_, String>(0)?)?,
                workspace_id: Uuid::parse_str(&r.get::<_, String>(1)?)?,
                name: r.get(2)?,
                mime_type: r.get(3)?,
                bytes: r.get(4)?,
            });
        }
        Ok(out)
    }

    fn load_rows(&self) -> Result<Vec<Row>, DbError> {
        let mut st = self.conn.prepare(
            "SELECT seq, id, workspace_id, activity_type, source_id, target_id, method,
                    created_at_ns, message_id, json_head, attachments FROM activity ORDER BY seq",
        )?;
        let mut rows = st.query([])?;
        let mut out = Vec::new();
        let opt_id = |s: Option<String>| s.map(|s| Uuid::parse_str(&s)).transpose();
        while let Some(r) = rows.next()? {
            let ns: i64 = r.get(7)?;
            out.push(Row {
                seq: r.get(0)?,
                id: Uuid::parse_str(&r.get::<_, String>(1)?)?,
                workspace_id: Uuid::parse_str(&r.get::<_, String>(2)?)?,
                activity_type: r.get(3)?,
                source_id: opt_id(r.get(4)?)?,
                target_id: opt_id(r.get(5)?)?,
                method: r.get(6)?,
                created_at: UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64),
                message_id: r.get(8)?,
                json_head: r.get(9)?,
                attachments: r.get(10)?,
            });
        }
        Ok(out)
    }

    /// Writes a row.
    pub fn put_row(&self, row: &Row) -> Result<(), DbError> {
        let ns = row
            .created_at
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos() as i64;
        self.conn
            .prepare_cached(
                "INSERT INTO activity (seq, id, workspace_id, activity_type, source_id, target_id,
                 method, created_at_ns, message_id, json_head, attachments)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?
            .execute(params![
                row.seq,
                row.id.to_string(),
                row.workspace_id.to_string(),
                row.activity_type,
                row.source_id.map(|u| u.to_string()),
                row.target_id.map(|u| u.to_string()),
                row.method,
                ns,
                row.message_id,
                row.json_head,
                row.attachments,
            ])?;
        Ok(())
    }

    /// Deletes pruned rows.
    pub fn delete_rows(&self, seqs: impl Iterator<Item = i64>) -> Result<(), DbError> {
        let mut st = self
            .conn
            .prepare_cached("DELETE FROM activity WHERE seq = ?1")?;
        for seq in seqs {
            st.execute([seq])?;
        }
        Ok(())
    }

    /// Writes a workspace.
    pub fn put_workspace(&self, ws: &Workspace) -> Result<(), DbError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO workspaces (id, record) VALUES (?1, ?2)")?
            .execute(params![ws.id.to_string(), serde_json::to_string(ws)?])?;
        Ok(())
    }

    /// Writes a token.
    pub fn put_token(&self, t: &Token) -> Result<(), DbError> {
        let kind = match t.kind {
            TokenKind::Instance => "instance",
            TokenKind::Api => "api",
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO tokens (hash, prefix, workspace_id, kind, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                t.hash.as_slice(),
                t.prefix,
                t.workspace_id.to_string(),
                kind,
                t.revoked
            ])?;
        Ok(())
    }

    /// Writes a staged upload.
    pub fn put_upload(&self, u: &Upload) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO uploads (file_id, workspace_id, name, mime_type, bytes)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                u.file_id.to_string(),
                u.workspace_id.to_string(),
                u.name,
                u.mime_type,
                u.bytes
            ])?;
        Ok(())
    }

    /// Forgets an acked upload.
    pub fn delete_upload(&self, file_id: Uuid) -> Result<(), DbError> {
        self.conn
            .prepare_cached("DELETE FROM uploads WHERE file_id = ?1")?
            .execute([file_id.to_string()])?;
        Ok(())
    }

    /// Reads a setting.
    pub fn get_meta(&self, key: &str) -> Result<Option<String>, DbError> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a setting.
    pub fn put_meta(&self, key: &str, value: &str) -> Result<(), DbError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            [key, value],
        )?;
        Ok(())
    }
}
