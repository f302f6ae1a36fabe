//! Which workspace a backend → host call is for, and what serves it there (SPEC §17.1).
//!
//! A backend process serves the workspace named in `initialize`, and more once it advertised
//! `maxWorkspaces` above 1 and the host opened them (`workspace/open`). Each open workspace has
//! its own handlers (its own platform client, peers and budget) and its own bound of calls in
//! flight, so that one workspace's calls never use up another's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use molecule_protocol::RpcError;
use serde_json::Value;
use tokio::sync::Semaphore;

use super::handlers::{HostHandlers, RequestScope};

/// What serves the calls of one open workspace.
#[derive(Clone, Debug)]
pub(crate) struct Route {
    /// The workspace's id, as the host knows it.
    pub(crate) workspace: String,
    /// Its backend → host methods.
    pub(crate) handlers: HostHandlers,
    /// One permit per call of this workspace in flight (from read to answer queued).
    pub(crate) calls: Arc<Semaphore>,
}

/// The workspaces open on one connection.
pub(crate) struct Routes {
    open: Mutex<HashMap<String, Route>>,
    /// Routes whose `workspace/open` (by request id) is not answered yet: the reader opens
    /// one as it reads the answer, before it reads the backend's next line.
    awaiting: Mutex<HashMap<i64, (String, HostHandlers)>>,
    /// The workspace of `initialize`.
    first: String,
    bound: usize,
    /// The backend advertised `maxWorkspaces` above 1: calls outside a request must name
    /// their workspace.
    many: AtomicBool,
}

impl Routes {
    /// The routes of a process started for `first`, served by `handlers`, with at most `bound`
    /// calls in flight per workspace.
    pub(crate) fn new(first: String, handlers: HostHandlers, bound: usize) -> Self {
        let routes = Routes {
            open: Mutex::new(HashMap::new()),
            awaiting: Mutex::new(HashMap::new()),
            first: first.clone(),
            bound: bound.max(1),
            many: AtomicBool::new(false),
        };
        routes.open(&first, handlers);
        routes
    }

    /// Serves the calls of `workspace` with `handlers` from now on.
    pub(crate) fn open(&self, workspace: &str, handlers: HostHandlers) {
        let route = Route {
            workspace: workspace.to_owned(),
            handlers,
            calls: Arc::new(Semaphore::new(self.bound)),
        };
        self.lock().insert(workspace.to_ascii_lowercase(), route);
    }

    /// Refuses the calls of `workspace` from now on (`-32602`), and forgets an open of it
    /// still waiting for its answer.
    pub(crate) fn close(&self, workspace: &str) {
        self.lock().remove(&workspace.to_ascii_lowercase());
        lock(&self.awaiting).retain(|_, (ws, _)| !ws.eq_ignore_ascii_case(workspace));
    }

    /// Opens `workspace` once request `id` (its `workspace/open`) is answered with a result.
    pub(crate) fn open_on_answer(&self, id: i64, workspace: &str, handlers: HostHandlers) {
        lock(&self.awaiting).insert(id, (workspace.to_owned(), handlers));
    }

    /// Request `id` was answered (`ok`: with a result): opens the workspace it was opening.
    pub(crate) fn answered(&self, id: i64, ok: bool) {
        let opening = lock(&self.awaiting).remove(&id);
        if let Some((workspace, handlers)) = opening.filter(|_| ok) {
            self.open(&workspace, handlers);
        }
    }

    /// Records whether the backend serves several workspaces (its handshake said so).
    pub(crate) fn set_many(&self, many: bool) {
        self.many.store(many, Ordering::Relaxed);
    }

    /// How many calls of one workspace may be in flight at once.
    pub(crate) fn bound(&self) -> usize {
        self.bound
    }

    /// The route of a call to `method`: the workspace of its request (`scope`) or the one its
    /// `_meta.workspaceId` names, which must be open here and agree with each other. A backend
    /// that serves one workspace may leave the name out everywhere.
    pub(crate) fn resolve(
        &self,
        method: &str,
        params: Option<&Value>,
        scope: Option<&RequestScope>,
    ) -> Result<Route, RpcError> {
        let named = params.and_then(|p| p.get("_meta")?.get("workspaceId"));
        let wanted = match (named, scope) {
            (Some(Value::String(id)), Some(scope))
                if !id.eq_ignore_ascii_case(&scope.workspace) =>
            {
                return Err(RpcError::invalid_params(format!(
                    "{method}: _meta.workspaceId {id} is not the workspace of request {} ({}); \
                     nothing was done",
                    scope.id, scope.workspace
                )));
            }
            (Some(Value::String(id)), _) => id.clone(),
            (Some(other), _) => return Err(self.not_open(method, &other.to_string())),
            (None, Some(scope)) => scope.workspace.clone(),
            (None, None) if self.many.load(Ordering::Relaxed) => {
                return Err(RpcError::invalid_params(format!(
                    "{method}: a backend that serves several workspaces names the workspace of \
                     a call made outside any request in _meta.workspaceId (SPEC §17); nothing \
                     was done"
                )));
            }
            (None, None) => self.first.clone(),
        };
        let found = self.lock().get(&wanted.to_ascii_lowercase()).cloned();
        found.ok_or_else(|| self.not_open(method, &wanted))
    }

    fn not_open(&self, method: &str, named: &str) -> RpcError {
        let open = self
            .lock()
            .values()
            .map(|r| r.workspace.clone())
            .collect::<Vec<_>>();
        RpcError::invalid_params(format!(
            "{method}: _meta.workspaceId {named} names no workspace open in this process (it \
             serves {}); nothing was done",
            open.join(", ")
        ))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Route>> {
        lock(&self.open)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Instant;
    use tokio_util::sync::CancellationToken;

    fn scope(workspace: &str) -> RequestScope {
        RequestScope {
            id: 7,
            deadline: Instant::now(),
            cancel: CancellationToken::new(),
            workspace: workspace.into(),
        }
    }

    fn meta(id: &str) -> Value {
        json!({"_meta": {"workspaceId": id}})
    }

    #[test]
    fn a_single_workspace_process_may_leave_the_name_out() {
        let routes = Routes::new("A".into(), HostHandlers::new(), 4);
        assert_eq!(routes.resolve("m", None, None).unwrap().workspace, "A");
        assert_eq!(
            routes
                .resolve("m", Some(&meta("a")), None)
                .unwrap()
                .workspace,
            "A"
        );
        let err = routes.resolve("m", Some(&meta("B")), None).unwrap_err();
        assert!(
            err.message.contains("names no workspace open"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_shared_process_names_the_workspace_or_its_request() {
        let routes = Routes::new("A".into(), HostHandlers::new(), 4);
        routes.set_many(true);
        routes.open("B", HostHandlers::new());
        assert!(routes.resolve("m", None, None).is_err());
        assert_eq!(
            routes
                .resolve("m", None, Some(&scope("B")))
                .unwrap()
                .workspace,
            "B"
        );
        assert_eq!(
            routes
                .resolve("m", Some(&meta("B")), None)
                .unwrap()
                .workspace,
            "B"
        );
        let err = routes
            .resolve("m", Some(&meta("A")), Some(&scope("B")))
            .unwrap_err();
        assert!(
            err.message.contains("is not the workspace of request 7"),
            "{}",
            err.message
        );
        routes.close("B");
        assert!(routes.resolve("m", Some(&meta("B")), None).is_err());
        assert!(routes.resolve("m", None, Some(&scope("B"))).is_err());
    }

    #[test]
    fn an_open_takes_effect_with_its_answer() {
        let routes = Routes::new("A".into(), HostHandlers::new(), 4);
        routes.set_many(true);
        routes.open_on_answer(3, "B", HostHandlers::new());
        assert!(
            routes.resolve("m", Some(&meta("B")), None).is_err(),
            "not before the answer"
        );
        routes.answered(3, true);
        assert!(routes.resolve("m", Some(&meta("B")), None).is_ok());
        routes.open_on_answer(4, "C", HostHandlers::new());
        routes.answered(4, false);
        assert!(
            routes.resolve("m", Some(&meta("C")), None).is_err(),
            "refused"
        );
    }

    #[test]
    fn each_workspace_has_its_own_bound() {
        let routes = Routes::new("A".into(), HostHandlers::new(), 1);
        routes.open("B", HostHandlers::new());
        let a = routes.resolve("m", Some(&meta("A")), None).unwrap();
        let _held = a.calls.clone().try_acquire_owned().unwrap();
        assert!(a.calls.clone().try_acquire_owned().is_err());
        let b = routes.resolve("m", Some(&meta("B")), None).unwrap();
        assert!(b.calls.try_acquire_owned().is_ok());
    }
}
