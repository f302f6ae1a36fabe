"""A backend that serves several workspaces in one process (SPEC §17), over in-memory streams:
workspace/open and workspace/close reach its hooks and each request knows its workspace; and a
host error a handler lets escape is passed on with its code."""
import io
import json

import molecule_plugin as mp
from backend_process import a2a, initialize_params

FIRST = "00000000-0000-4000-8000-000000000001"
SECOND = "5b8e2d4f-6a1c-4e3b-9d7f-2c4a6e8b0d13"


class Where(mp.Backend):
    name, version = "where", "1"
    max_workspaces = 8

    def __init__(self):
        self.closed = []

    def open_workspace(self, workspace):
        return {"description": "serves " + workspace.id}

    def close_workspace(self, workspace):
        self.closed.append(workspace.id)

    def handle_a2a(self, params, ctx):
        return json.dumps({"id": ctx.workspace.id, "stateDir": ctx.workspace.state_dir})


def req(rid, method, params):
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}


def run(backend, *messages):
    data = b"".join(json.dumps(m).encode() + b"\n" for m in messages)
    out = io.BytesIO()
    assert mp.serve(backend, io.BytesIO(data), out) == 0
    return {m["id"]: m for m in (json.loads(line) for line in out.getvalue().splitlines())}


def named(workspace_id):
    return dict(a2a("hi"), workspace={"id": workspace_id})


def test_each_request_knows_its_workspace_from_open_to_close():
    backend = Where()
    out = run(backend,
              req(0, "initialize", initialize_params()),
              req(1, "workspace/open", {"workspace": {"id": SECOND, "name": "support"},
                                        "stateDir": "/var/lib/m/support"}),
              req(2, "handle_a2a", named(SECOND)),
              req(3, "handle_a2a", a2a("hi")),
              req(4, "workspace/close", {"workspace": {"id": SECOND}}),
              req(5, "handle_a2a", named(SECOND)))
    assert out[0]["result"]["capabilities"]["maxWorkspaces"] == 8
    assert out[1]["result"] == {"agentCard": {"description": "serves " + SECOND}}
    assert json.loads(out[2]["result"]["parts"][0]["text"]) == {
        "id": SECOND, "stateDir": "/var/lib/m/support"}
    assert json.loads(out[3]["result"]["parts"][0]["text"])["id"] == FIRST
    assert out[4]["result"] == {}
    assert backend.closed == [SECOND]
    assert out[5]["error"]["code"] == -32602


def test_a_backend_that_serves_one_workspace_refuses_another():
    class One(Where):
        max_workspaces = 1

    out = run(One(), req(0, "initialize", initialize_params()),
              req(1, "workspace/open", {"workspace": {"id": SECOND}, "stateDir": "/tmp/x"}))
    assert "maxWorkspaces" not in out[0]["result"]["capabilities"]
    assert out[1]["error"]["code"] == -32601


class Careless(mp.Backend):
    name, version = "careless", "1"

    def handle_a2a(self, params, ctx):
        return "peers: %s" % ctx.list_peers()  # a PeerError escapes


class RefusingHost:
    """A host link that answers every call with one error."""
    host_methods = ["peers/list"]

    def __init__(self, error):
        self.error = error

    def write(self, message):
        pass

    def call_host(self, method, params=None, timeout=None, origin=None):
        raise self.error


def test_a_host_error_a_handler_lets_escape_is_passed_on():
    conn = mp.Connection(Careless(), io.BytesIO(), io.BytesIO())
    data = {"class": "unreachable", "retryable": True}
    error = mp.HostCallError("peers/list: platform unavailable", 1013, data)
    ctx = mp.RequestContext(RefusingHost(error), 1, a2a("hi"))
    answer = conn._handle(ctx, a2a("hi"))
    assert answer["error"]["code"] == 1013, answer
    assert answer["error"]["data"] == data
    # A failure that is not the host's stays an internal error.
    ctx = mp.RequestContext(RefusingHost(mp.HostCallError("connection closed")), 2, a2a("hi"))
    assert conn._handle(ctx, a2a("hi"))["error"]["code"] == -32603
