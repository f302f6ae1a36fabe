"""The Python delegate as a real process: this test plays the host over its stdio and answers
its peer calls (peers/list, peers/send) per the agreed shapes."""
import json
import os

import molecule_plugin as mp
from backend_process import BackendProcess, a2a

HERE = os.path.dirname(os.path.abspath(__file__))

DELEGATE = os.path.join(HERE, "delegate.py")
FIRST, SECOND = "5b2c3d4e-0000-4000-8000-000000000001", "5b2c3d4e-0000-4000-8000-000000000002"
PEERS = {"peers": [{"id": FIRST, "name": "researcher"}, {"id": SECOND, "name": "writer"}]}


def start():
    b = BackendProcess(DELEGATE, env={"MOLECULE_DELEGATE_WAIT_MS": "2500"})
    b.initialize(host_methods=["peers/list", "peers/send"])
    return b


def expect_call(b, method):
    call = b.recv()
    assert call["method"] == method, call
    return call


def answer(b, call, result=None, error=None):
    b.send({"jsonrpc": "2.0", "id": call["id"], **({"error": error} if error else {"result": result})})


def delegate(b, rid, text, send_answer):
    """Sends one message, answers peers/list and peers/send; returns (send params, reply)."""
    b.request(rid, "handle_a2a", a2a(text))
    answer(b, expect_call(b, "peers/list"), PEERS)
    send = expect_call(b, "peers/send")
    result, error = send_answer(send["params"])
    answer(b, send, result, error)
    reply = b.recv()
    assert reply["id"] == rid, reply
    return send["params"], reply["result"]["parts"][0]["text"]


def test_it_sends_to_the_first_peer_with_the_derived_message_id_and_relays_the_answer():
    b = start()
    def ok(p):
        return {"messageId": p["messageId"], "contextId": "c", "queued": False,
                "parts": [{"kind": "text", "text": "42"}]}, None
    params, text = delegate(b, 1, "what is 6 x 7?", ok)
    assert text == "researcher says: 42"
    assert params["id"] == FIRST and params["text"] == "what is 6 x 7?"
    assert params["waitMs"] == 2500
    assert params["messageId"] == mp.call_message_id("k-1", 0)
    assert params["_meta"] == {"requestId": 1}
    # A redelivery of the same message (same idempotency key) sends the same messageId.
    again, _ = delegate(b, 2, "what is 6 x 7?", ok)
    assert again["messageId"] == params["messageId"]
    b.close_stdin()
    assert b.wait_exit() == 0


def test_an_at_id_picks_that_peer_and_failures_become_clear_replies():
    b = start()
    params, text = delegate(b, 1, "@%s draft a haiku" % SECOND, lambda p: (
        {"messageId": "m", "contextId": "c", "queued": True}, None))
    assert params["id"] == SECOND and params["text"] == "draft a haiku"
    assert text == "writer has queued the message and will answer later (message m)."
    _, text = delegate(b, 2, "slow", lambda p: (None, {
        "code": 1015, "message": "peers/send: no reply within 2500 ms",
        "data": {"class": "wait_timeout", "retryable": False, "messageId": p["messageId"]}}))
    assert text.startswith("researcher did not answer in time")
    _, text = delegate(b, 3, "down", lambda p: (None, {
        "code": 1013, "message": "peers/send to %s: platform unavailable after 5 attempts" % FIRST,
        "data": {"class": "unreachable", "retryable": True}}))
    assert text == "I could not reach researcher: peers/send to %s: platform unavailable after 5 attempts" % FIRST
    b.close_stdin()
    assert b.wait_exit() == 0


def test_no_peers_and_automatic_replies():
    b = start()
    b.request(1, "handle_a2a", a2a("hello"))
    answer(b, expect_call(b, "peers/list"), {"peers": []})
    assert b.recv()["result"]["parts"][0]["text"] == "I have no peers to delegate to."
    b.request(2, "handle_a2a", a2a("researcher says: done", in_reply_to="m-1"))
    reply = b.recv()  # answered at once, without any peer call
    assert reply["id"] == 2 and reply["result"] == {"parts": []}
    b.close_stdin()
    assert b.rest() == []
