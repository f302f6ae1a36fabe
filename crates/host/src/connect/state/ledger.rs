//! The ledger: which fetched rows are settled, kept so that a crash at any moment re-delivers
//! every unsettled row and answers no settled one again.
//!
//! Rows are ordered by [`RowKey`]. The *cursor* is the newest row such that it and every row
//! before it is settled (the contiguous settled prefix); the *window* holds the rows after it
//! that were fetched, settled or not. The state file keeps the cursor, the settled rows of the
//! window (`settled_above`), and the unsettled rows that turned up *below* the cursor because
//! the platform made them visible late (`late`). Unsettled window rows are not saved: after a
//! restart the feed returns them again from the cursor.
//!
//! The prefix only moves over rows the poll has fetched past in this run, so a settled row
//! restored from the file never lets it jump over an unsettled row the platform still holds.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};

use uuid::Uuid;

use super::file::{StateFile, UploadRecord, VERSION};
use super::key::RowKey;

/// How many recently settled keys below the cursor are remembered for the overlap re-reads
/// (a page of those is at most 500 rows).
const SEEN_CAP: usize = 4096;

/// What to do with a fetched row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Not seen before: handle it.
    New,
    /// Settled already, or being handled.
    Known,
}

/// The settled state of the feed; pure bookkeeping, no I/O.
#[derive(Debug)]
pub struct Ledger {
    workspace: Uuid,
    cursor: Option<RowKey>,
    startup_cursor: Option<RowKey>,
    fetch_head: Option<RowKey>,
    window: BTreeMap<RowKey, bool>,
    late: BTreeMap<RowKey, bool>,
    seen: BTreeSet<RowKey>,
    seen_horizon: Option<RowKey>,
    attempts: BTreeMap<String, u32>,
    uploads: BTreeMap<String, UploadRecord>,
    dirty: bool,
}

impl Ledger {
    /// An empty ledger (first start).
    pub fn new(workspace: Uuid) -> Self {
        Ledger::from_state(StateFile::new(workspace), workspace)
    }

    /// The ledger a saved state describes (validated by [`super::file::load`]).
    pub fn from_state(state: StateFile, workspace: Uuid) -> Self {
        let cursor = state.cursor.as_ref().and_then(|k| k.key());
        Ledger {
            workspace,
            startup_cursor: cursor.clone(),
            cursor,
            fetch_head: None,
            window: state
                .settled_above
                .iter()
                .filter_map(|k| k.key())
                .map(|k| (k, true))
                .collect(),
            late: state
                .late
                .iter()
                .filter_map(|k| k.key())
                .map(|k| (k, false))
                .collect(),
            seen: BTreeSet::new(),
            seen_horizon: None,
            attempts: state.attempts,
            uploads: state.uploads,
            dirty: false,
        }
    }

    /// The contiguous settled prefix.
    pub fn cursor(&self) -> Option<&RowKey> {
        self.cursor.as_ref()
    }

    /// Rows held in memory: fetched and unsettled, or settled after an unsettled one.
    pub fn span(&self) -> usize {
        self.window.len() + self.late.len()
    }

    /// A row of the normal poll (or of a read-back): new unless settled or being handled.
    pub fn admit(&mut self, key: &RowKey) -> Admit {
        if let Some(claimed) = self.late.get_mut(key) {
            return claim(claimed);
        }
        if self.cursor.as_ref().is_some_and(|c| key <= c) {
            return Admit::Known;
        }
        match self.window.entry(key.clone()) {
            Entry::Occupied(_) => Admit::Known,
            Entry::Vacant(v) => {
                v.insert(false);
                Admit::New
            }
        }
    }

    /// A row of an overlap re-read. It is new only when the normal poll passed it without
    /// seeing it (the platform made it visible late), it is newer than the cursor this run
    /// started from (older rows may have been answered before), and it is not settled.
    pub fn admit_late(&mut self, key: &RowKey) -> Admit {
        if let Some(claimed) = self.late.get_mut(key) {
            return claim(claimed);
        }
        let Some(head) = &self.fetch_head else {
            return Admit::Known;
        };
        if is_ahead(key, head) {
            return Admit::Known;
        }
        if self.cursor.as_ref().is_some_and(|c| key <= c) {
            let before_start = self.startup_cursor.as_ref().is_some_and(|s| key <= s);
            if before_start || self.seen_knows(key) {
                return Admit::Known;
            }
            self.late.insert(key.clone(), true);
            self.dirty = true;
            return Admit::New;
        }
        self.admit(key)
    }

    /// The poll has fetched every row up to `head`.
    pub fn fetched_through(&mut self, head: &RowKey) {
        if self.fetch_head.as_ref().is_none_or(|h| head > h) {
            self.fetch_head = Some(head.clone());
        }
        self.advance();
    }

    /// `key` is settled: answered, or failed for good, or not to be handled.
    pub fn settle(&mut self, key: &RowKey) {
        if self.attempts.remove(&key.id).is_some() {
            self.dirty = true;
        }
        if self.late.remove(key).is_some() {
            self.remember(key.clone());
            self.dirty = true;
        } else if let Some(settled) = self.window.get_mut(key) {
            *settled = true;
            self.dirty = true;
            self.advance();
        }
    }

    /// Late rows saved by an earlier run, still to be fetched again.
    pub fn pending_late(&self) -> Vec<RowKey> {
        self.late
            .iter()
            .filter(|(_, c)| !**c)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A saved late row that the platform no longer has.
    pub fn drop_late(&mut self, key: &RowKey) {
        if self.late.remove(key).is_some() {
            self.dirty = true;
        }
    }

    /// Failed deliveries of row `id` so far.
    pub fn attempts(&self, id: &str) -> u32 {
        self.attempts.get(id).copied().unwrap_or(0)
    }

    /// Records the failed deliveries of an unsettled row.
    pub fn set_attempts(&mut self, id: &str, n: u32) {
        self.attempts.insert(id.to_owned(), n);
        self.dirty = true;
    }

    /// The local copy of a downloaded upload.
    pub fn upload(&self, uri: &str) -> Option<&UploadRecord> {
        self.uploads.get(uri)
    }

    /// Records a downloaded upload.
    pub fn record_upload(&mut self, uri: String, record: UploadRecord) {
        self.uploads.insert(uri, record);
        self.dirty = true;
    }

    /// Forgets uploads saved before `cutoff` (seconds since the epoch); returns them.
    pub fn expire_uploads(&mut self, cutoff: u64) -> Vec<UploadRecord> {
        let old: Vec<String> = self
            .uploads
            .iter()
            .filter(|(_, r)| r.saved_at < cutoff)
            .map(|(k, _)| k.clone())
            .collect();
        self.dirty |= !old.is_empty();
        old.iter().filter_map(|k| self.uploads.remove(k)).collect()
    }

    /// The state to save, when it changed since the last call.
    pub fn snapshot(&mut self) -> Option<StateFile> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        Some(StateFile {
            version: VERSION,
            workspace_id: self.workspace.to_string(),
            cursor: self.cursor.as_ref().map(RowKey::record),
            settled_above: self
                .window
                .iter()
                .filter(|(_, s)| **s)
                .map(|(k, _)| k.record())
                .collect(),
            late: self.late.keys().map(RowKey::record).collect(),
            attempts: self.attempts.clone(),
            uploads: self.uploads.clone(),
        })
    }

    fn advance(&mut self) {
        while let Some(entry) = self.window.first_entry() {
            let fetched = self.fetch_head.as_ref().is_some_and(|h| entry.key() <= h);
            if !*entry.get() || !fetched {
                break;
            }
            let key = entry.remove_entry().0;
            self.cursor = Some(key.clone());
            self.remember(key);
            self.dirty = true;
        }
    }

    fn remember(&mut self, key: RowKey) {
        self.seen.insert(key);
        while self.seen.len() > SEEN_CAP {
            if let Some(old) = self.seen.pop_first() {
                self.seen_horizon = Some(old);
            }
        }
    }

    fn seen_knows(&self, key: &RowKey) -> bool {
        self.seen.contains(key) || self.seen_horizon.as_ref().is_some_and(|h| key <= h)
    }
}

fn claim(claimed: &mut bool) -> Admit {
    if std::mem::replace(claimed, true) {
        Admit::Known
    } else {
        Admit::New
    }
}

/// Whether the normal poll will still return `key` after `head`: it is later, or at the same
/// time with a later `seq`. Without `seq` (older platforms) a row at the head's exact time is
/// never returned after it, so it counts as passed.
fn is_ahead(key: &RowKey, head: &RowKey) -> bool {
    key.at > head.at || (key.at == head.at && key.seq.is_some() && key > head)
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
