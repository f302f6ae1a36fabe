//! `workspaces.many`, for backends that advertise `maxWorkspaces` above 1 (SPEC §17): the
//! checker opens a second workspace, sends a request to each (at once when the backend handles
//! two), checks that the calls made for the second are for it, closes it, and sees the first
//! still served.

use molecule_protocol::methods::{
    WorkspaceCloseParams, WorkspaceOpenParams, WorkspaceOpenResult, WorkspaceRef, name,
};
use molecule_protocol::{RequestId, RpcError};
use serde_json::Value;
use uuid::Uuid;

use super::judge_a2a;
use crate::check::outcome::{Problem, Verdict, pass, problem, skip};
use crate::check::plan::Plan;
use crate::check::probe;
use crate::check::runner::Ctx;
use crate::check::session::Session;

/// The second workspace the checker opens.
const SECOND: &str = "2f6b9d3e-8c1a-4f5e-b7d2-4a9c1e6f3b80";

const HINT: &str = "a backend that advertises maxWorkspaces answers workspace/open and \
                    workspace/close (SPEC §17.2), and serves each request under the workspace \
                    it names";

/// `workspaces.many`.
pub async fn many(ctx: &mut Ctx<'_>) -> Verdict {
    let n = ctx.caps().workspaces();
    if n <= 1 {
        return skip("the backend does not advertise maxWorkspaces above 1");
    }
    let plan = ctx.plan;
    let second = Uuid::parse_str(SECOND).unwrap_or_else(|_| Uuid::nil());
    let open = open_params(plan, &second)?;
    let parallel = ctx.caps().concurrency() > 1;
    let session = ctx.start().await?;
    let opened = session.call(name::WORKSPACE_OPEN, Some(open)).await?;
    expect_result::<WorkspaceOpenResult>(opened, "workspace/open")?;
    let both = [
        (second, "the second workspace"),
        (plan.workspace, "the first workspace"),
    ];
    let mut ids = Vec::new();
    for (ws, _) in &both {
        let params = probe::params_for(plan, vec![probe_text(plan)], ws, Some(ws));
        ids.push(session.request(name::HANDLE_A2A, Some(params)).await?);
        if !parallel {
            answered(session, ids.last(), "a request for the second workspace").await?;
        }
    }
    for (id, (_, what)) in ids.iter().zip(&both) {
        answered(session, Some(id), &format!("a request for {what}")).await?;
    }
    calls_named(session, plan, &ids[0], &second)?;
    let close = serde_json::to_value(WorkspaceCloseParams::new(SECOND)).unwrap_or(Value::Null);
    let closed = session.call(name::WORKSPACE_CLOSE, Some(close)).await?;
    expect_result::<Value>(closed, "workspace/close")?;
    let first = &plan.workspace;
    let params = probe::params_for(plan, vec![probe_text(plan)], first, Some(first));
    let after = session.call(name::HANDLE_A2A, Some(params)).await?;
    judge_a2a(
        after,
        "after workspace/close, a request for the first workspace",
    )?;
    pass(format!(
        "opened a second workspace (maxWorkspaces {n}), answered a request for each{}, closed \
         it, and kept serving the first",
        if parallel { " at once" } else { "" }
    ))
}

fn probe_text(plan: &Plan) -> molecule_protocol::a2a::Part {
    molecule_protocol::a2a::Part::text(plan.host_call_message.as_deref().unwrap_or(probe::HELLO))
}

/// `workspace/open` params for `workspace`: a directory of its own and the host socket.
fn open_params(plan: &Plan, workspace: &Uuid) -> Result<Value, Problem> {
    let dir = plan.workspace_dir(workspace).map_err(|e| {
        problem(
            format!("cannot create a state directory for the second workspace: {e}"),
            "",
        )
    })?;
    let reference = WorkspaceRef::new(workspace.to_string()).with_name("backend-check-second");
    let mut open = WorkspaceOpenParams::new(reference, dir.display().to_string());
    if let Some(socket) = plan.socket_path() {
        open = open.with_host_socket(socket.to_string_lossy());
    }
    Ok(serde_json::to_value(open).unwrap_or(Value::Null))
}

/// The answer to `workspace/open` or `close` must be a result of `T`'s shape.
fn expect_result<T: serde::de::DeserializeOwned>(
    answer: Result<Value, RpcError>,
    method: &str,
) -> Result<(), Problem> {
    match answer {
        Ok(v) => serde_json::from_value::<T>(v.clone())
            .map(|_| ())
            .map_err(|e| {
                problem(
                    format!("answered {method} with a result that does not fit ({e}): {v}"),
                    HINT,
                )
            }),
        Err(e) => Err(problem(
            format!("advertises maxWorkspaces but answered {method} with {e}"),
            HINT,
        )),
    }
}

async fn answered(
    session: &mut Session,
    id: Option<&RequestId>,
    what: &str,
) -> Result<(), Problem> {
    let Some(id) = id else { return Ok(()) };
    let answer = session
        .answer(id)
        .await
        .map_err(|e| Problem::from(e).context(what))?;
    judge_a2a(answer, what).map(|_| ())
}

/// Every call names its workspace: the request it is made for, or `_meta.workspaceId`, which
/// must be an open workspace, and the second one's for a call made for the second one's
/// request `id`.
fn calls_named(
    session: &Session,
    plan: &Plan,
    id: &RequestId,
    second: &Uuid,
) -> Result<(), Problem> {
    let record = session.record();
    let open = [second.to_string(), plan.workspace.to_string()];
    for call in record.host_calls(0) {
        let named = call
            .params
            .and_then(|p| p.pointer("/_meta/workspaceId"))
            .and_then(Value::as_str);
        let why = match (call.request_id(), named) {
            (None, None) => "names no workspace: a call made outside any request names its \
                             workspace in _meta.workspaceId"
                .to_owned(),
            (Some(r), Some(ws)) if r == *id && !ws.eq_ignore_ascii_case(&open[0]) => format!(
                "was made for request {id}, of workspace {second}, but names workspace {ws}"
            ),
            (_, Some(ws)) if !open.iter().any(|o| o.eq_ignore_ascii_case(ws)) => {
                format!("names workspace {ws}, which is not open in this process")
            }
            _ => continue,
        };
        let line = call.entry.line;
        return Err(problem(
            format!("its call {} (stdout line {line}) {why}", call.method),
            HINT,
        ));
    }
    Ok(())
}
