//! The one-shot faults of [`super::ArmedFaults`]: a lost cursor for every workspace, and
//! token revocation or workspace removal on a timer, each applied to every workspace there is
//! when it fires.

use super::app::App;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// Arms what the config asks for: marks the workspaces already in the store (from a data file)
/// for a 410 (those created later are marked as they are created), and starts the timers.
pub fn arm(app: &Arc<App>, stopped: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let armed = app.config.armed.clone();
    if armed.gone_once {
        let mut store = app.store();
        let ids: Vec<Uuid> = store.workspaces.keys().copied().collect();
        store.gone_once.extend(ids);
    }
    let mut tasks = Vec::new();
    if let Some(after) = armed.revoke_tokens_after {
        tasks.push(tokio::spawn(after_delay(
            app.clone(),
            after,
            stopped.clone(),
            revoke_all,
        )));
    }
    if let Some(after) = armed.remove_after {
        tasks.push(tokio::spawn(after_delay(
            app.clone(),
            after,
            stopped.clone(),
            remove_all,
        )));
    }
    tasks
}

/// Runs `act` once `after` has passed, unless the emulator stops first.
async fn after_delay(
    app: Arc<App>,
    after: Duration,
    mut stop: watch::Receiver<bool>,
    act: fn(&App),
) {
    tokio::select! {
        _ = stop.wait_for(|s| *s) => {}
        _ = tokio::time::sleep(after) => act(&app),
    }
}

fn ids(app: &App) -> Vec<Uuid> {
    app.store().workspaces.keys().copied().collect()
}

fn revoke_all(app: &App) {
    for id in ids(app) {
        match app.store().revoke_tokens(id) {
            Ok(n) => {
                tracing::info!(workspace = %id, revoked = n, "emulator: armed fault: tokens revoked")
            }
            Err(e) => tracing::warn!(workspace = %id, "emulator: armed revocation failed: {e}"),
        }
    }
}

fn remove_all(app: &App) {
    for id in ids(app) {
        match app.store().remove_workspace(id) {
            Ok(()) => tracing::info!(workspace = %id, "emulator: armed fault: workspace removed"),
            Err(e) => tracing::warn!(workspace = %id, "emulator: armed removal failed: {e}"),
        }
    }
    app.chat.touch();
}
