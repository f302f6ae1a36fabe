//! `backend-check` on a backend that advertises `maxWorkspaces` (SPEC §17): it opens a second
//! workspace, sends each a request, checks whose calls are whose, and closes it.

use super::check_support::check_fault;

const MANY: &str = "--env=MOLECULE_TEST_MAX_WORKSPACES=4";
const ONLY: &str = "--only=workspaces.many";

#[test]
fn a_backend_that_serves_several_workspaces_passes() {
    let run = check_fault("", &[MANY, ONLY, "--env=MOLECULE_TEST_MAX_CONCURRENCY=2"]);
    assert_eq!(run.code, 0, "{:#}", run.report);
    assert_eq!(
        run.message("workspaces.many"),
        "opened a second workspace (maxWorkspaces 4), answered a request for each at once, \
         closed it, and kept serving the first"
    );
    assert_eq!(run.report["backend"]["capabilities"]["maxWorkspaces"], 4);
}

#[test]
fn a_backend_that_advertises_workspaces_it_cannot_open_fails() {
    let run = check_fault("no-workspace-open", &[MANY, ONLY]);
    assert_eq!(run.code, 9, "{:#}", run.report);
    run.assert_fails(
        "workspaces.many",
        "advertises maxWorkspaces but answered workspace/open with method not found",
    );
}

#[test]
fn a_call_that_names_no_workspace_fails() {
    // `unscoped`: its calls carry no _meta.requestId, and no workspace either.
    let run = check_fault(
        "unscoped",
        &[MANY, ONLY, "--host-call-message=call-host:peers/list"],
    );
    run.assert_fails(
        "workspaces.many",
        "its call peers/list (stdout line 3) names no workspace",
    );
    let run = check_fault(
        "unscoped",
        &[
            MANY,
            ONLY,
            "--host-call-message=call-host:peers/list",
            "--env=MOLECULE_TEST_CALL_WORKSPACE=9a9a9a9a-0000-4000-8000-000000000000",
        ],
    );
    run.assert_fails(
        "workspaces.many",
        "names workspace 9a9a9a9a-0000-4000-8000-000000000000, which is not open in this process",
    );
}

#[test]
fn a_backend_that_serves_one_workspace_is_not_asked() {
    let run = check_fault("", &[ONLY]);
    assert_eq!(run.outcome("workspaces.many"), "skip");
}
