//! Sender enrichment: when an activity row carries no sender name or role (older platforms),
//! `handle_a2a`'s sender gets them from the registry (`GET /registry/discover/<id>`).
//!
//! Answers, failures included, are cached for a TTL (5 minutes), so a peer with a flaky record
//! costs one lookup per TTL rather than one per message; a lookup is bounded by a short timeout
//! (2 s) so a slow registry never holds a dispatch for long (a timeout is cached as a failure).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use molecule_protocol::{Sender, SenderKind};
use uuid::Uuid;

use crate::connect::hooks::SenderEnricher;

use super::Peers;

/// What a lookup found: the name and role, or nothing (a failure, or an unknown peer).
type Found = Option<(Option<String>, Option<String>)>;

/// The cache of lookups, by lowercase workspace id.
#[derive(Default)]
pub struct SenderCache {
    entries: Mutex<HashMap<String, (Instant, Found)>>,
    /// One lookup per id at a time: messages from one sender in several conversations arrive
    /// together, and the ones after the first wait for its answer instead of asking again.
    lookups: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl SenderCache {
    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut lookups = self.lookups.lock().unwrap_or_else(|e| e.into_inner());
        lookups.retain(|_, l| Arc::strong_count(l) > 1);
        lookups.entry(id.to_owned()).or_default().clone()
    }

    fn get(&self, id: &str, ttl: Duration, now: Instant) -> Option<Found> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(id)
            .filter(|(at, _)| now.duration_since(*at) < ttl)
            .map(|(_, found)| found.clone())
    }

    fn put(&self, id: String, found: Found, now: Instant, ttl: Duration) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the map small: expired entries go whenever a new one comes in.
        entries.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        entries.insert(id, (now, found));
    }
}

impl Peers {
    /// Looks `id` up in the registry, through the cache.
    async fn lookup(&self, id: &str) -> Found {
        let ttl = self.settings.cache_ttl;
        if let Some(found) = self.cache.get(id, ttl, Instant::now()) {
            return found;
        }
        let lock = self.cache.lock_for(id);
        let _turn = lock.lock().await;
        if let Some(found) = self.cache.get(id, ttl, Instant::now()) {
            return found;
        }
        let found = match (Uuid::try_parse(id), self.client.get()) {
            (Ok(uuid), Some(client)) => {
                let timeout = self.settings.lookup_timeout;
                match tokio::time::timeout(timeout, client.discover(uuid)).await {
                    Ok(Ok(Some(peer))) => Some((peer.name, peer.role)),
                    Ok(Ok(None)) => None,
                    Ok(Err(e)) => {
                        tracing::info!(peer = %id, "cannot look the sender up: {e}");
                        None
                    }
                    Err(_) => {
                        tracing::info!(peer = %id, "the sender lookup took longer than {} ms", timeout.as_millis());
                        None
                    }
                }
            }
            _ => None,
        };
        tracing::debug!(peer = %id, found = found.is_some(), "sender lookup");
        self.cache
            .put(id.to_owned(), found.clone(), Instant::now(), ttl);
        found
    }
}

/// The enricher `molecule connect` runs before each dispatch.
pub struct Enricher(pub Arc<Peers>);

impl SenderEnricher for Enricher {
    fn enrich<'a>(
        &'a self,
        sender: &'a mut Sender,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if sender.kind != SenderKind::Agent || sender.name.is_some() || sender.role.is_some() {
                return;
            }
            let Some(id) = sender.workspace_id.clone() else {
                return;
            };
            if let Some((name, role)) = self.0.lookup(&id.to_ascii_lowercase()).await {
                sender.name = name;
                sender.role = role;
            }
        })
    }
}
