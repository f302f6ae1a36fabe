"""The typed peer calls: message-id derivation against protocol/examples/key-vectors.json, the
params each call sends, and PeerError's code and class."""
import json
import os

import pytest

import molecule_plugin as mp
from backend_process import a2a

VECTORS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                       "protocol", "examples", "key-vectors.json")
METHODS = ["peers/list", "peers/discover", "peers/send", "workspace/info", "user/notify"]


def test_call_message_ids_match_the_shared_vectors():
    with open(VECTORS) as f:
        vectors = json.load(f)
    assert vectors["namespaces"]["peerCalls"] == str(mp.PEER_CALLS_NAMESPACE)
    for v in vectors["callMessageId"]:
        assert mp.call_message_id(v["idempotencyKey"], v["index"]) == v["expected"]


class FakeConn:
    """Stands in for the connection: records each host call and answers from a table."""

    def __init__(self, answers, host_methods=METHODS):
        self.answers, self.host_methods, self.calls = answers, host_methods, []

    def call_host(self, method, params, timeout, origin=None):
        self.calls.append((method, params, origin))
        answer = self.answers[method]
        if isinstance(answer, Exception):
            raise answer
        return answer


def ctx_with(answers, **kw):
    conn = FakeConn(answers, **kw)
    return mp.RequestContext(conn, "req-1", a2a("hi")), conn


def test_sends_get_the_ith_derived_id_unless_one_is_given():
    ctx, conn = ctx_with({"peers/send": {"messageId": "m", "contextId": "c", "queued": True}})
    ctx.send_to_peer("p", text="one")
    ctx.send_to_peer("p", parts=[mp.data_part({"n": 1})], context_id="c", wait=0.25)
    ctx.send_to_peer("p", text="three", message_id="mine")
    sent = [params for _, params, _ in conn.calls]
    assert sent[0] == {"id": "p", "text": "one", "messageId": mp.call_message_id("k-1", 0)}
    assert sent[1] == {"id": "p", "parts": [{"kind": "data", "data": {"n": 1}}], "contextId": "c",
                       "messageId": mp.call_message_id("k-1", 1), "waitMs": 250}
    assert sent[2]["messageId"] == "mine"
    assert all(origin == "req-1" for _, _, origin in conn.calls)


def test_list_discover_info_and_notify_unwrap_their_results():
    ctx, conn = ctx_with({"peers/list": {"peers": [{"id": "a"}]}, "peers/discover": {"peer": None},
                          "workspace/info": {"workspace": {"name": "me"}},
                          "user/notify": {"delivered": True}})
    assert ctx.list_peers() == [{"id": "a"}]
    assert ctx.discover("zz") is None
    assert ctx.workspace_info() == {"name": "me"}
    ctx.notify_user("done", attachments=[{"uri": "workspace:/r.pdf"}])
    assert conn.calls[1][1] == {"id": "zz"}
    assert conn.calls[3][1] == {"text": "done", "attachments": [{"uri": "workspace:/r.pdf"}]}


def test_a_host_error_becomes_a_peer_error_with_code_and_class():
    error = mp.HostCallError("the host answered with an error: ...", 1016,
                             {"class": "budget", "retryable": True, "retryAfterMs": 900})
    error.host_message = "peers/list: budget of 30 calls per minute spent"
    ctx, _ = ctx_with({"peers/list": error})
    with pytest.raises(mp.PeerError) as e:
        ctx.list_peers()
    assert (e.value.code, e.value.cls, e.value.retryable, e.value.retry_after_ms) == \
        (mp.BUDGET_EXHAUSTED, "budget", True, 900)
    assert str(e.value) == "peers/list: budget of 30 calls per minute spent"


def test_bad_calls_fail_before_reaching_the_host():
    ctx, conn = ctx_with({}, host_methods=["peers/list"])
    with pytest.raises(mp.PeerError) as e:
        ctx.send_to_peer("p", text="x")
    assert e.value.cls == "not_offered" and "does not offer 'peers/send'" in str(e.value)
    ctx, conn = ctx_with({})
    for kw in ({"text": "  "}, {}, {"text": "a", "parts": []}):
        with pytest.raises(mp.PeerError) as e:
            ctx.send_to_peer("p", **kw)
        assert e.value.cls == "invalid_params"
    assert conn.calls == []
