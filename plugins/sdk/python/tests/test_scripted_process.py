"""The SDK's behaviours through a scripted backend run as a real process."""
import json

from backend_process import SCRIPTED, BackendProcess, a2a


def start(**env):
    backend = BackendProcess(SCRIPTED, env=env)
    return backend


def test_cancel_answers_32800_once_and_the_backend_stays_usable():
    b = start()
    b.initialize()
    b.request(1, "handle_a2a", a2a("ignore-cancel"))
    b.request(2, "ping")
    assert b.recv() == {"jsonrpc": "2.0", "id": 2, "result": {}}, "ping answered while busy"
    b.notify("$/cancelRequest", {"id": 1, "reason": "deadline"})
    answer = b.recv()
    assert (answer["id"], answer["error"]["code"]) == (1, -32800)
    b.notify("$/cancelRequest", {"id": 1, "reason": "deadline"})
    b.notify("$/cancelRequest", {"id": "unknown", "reason": "deadline"})
    b.request(3, "handle_a2a", a2a("echo next"))
    assert b.recv()["result"]["parts"][0]["text"] == "next"
    b.close_stdin()
    assert b.rest() == [], "no second answer for the cancelled request"


def test_a_handler_that_watches_the_flag_stops_and_is_answered_once():
    b = start()
    b.initialize()
    b.request(1, "handle_a2a", a2a("wait-cancel"))
    b.notify("$/cancelRequest", {"id": 1, "reason": "superseded"})
    answer = b.recv()
    assert answer["error"]["code"] == -32800
    b.close_stdin()
    assert b.rest() == []
    assert b.wait_exit() == 0


def test_with_a_cancel_grace_the_handler_answers_by_itself():
    b = start(SCRIPTED_CANCEL_GRACE="10")
    b.initialize()
    b.request(1, "handle_a2a", a2a("wind-down"))
    b.notify("$/cancelRequest", {"id": 1, "reason": "deadline"})
    assert b.recv()["result"]["parts"][0]["text"] == "partial answer"
    b.close_stdin()
    assert b.rest() == []


def test_requests_run_concurrently():
    b = start(SCRIPTED_BARRIER="4")
    b.initialize()
    for i in range(4):
        b.request(i + 1, "handle_a2a", a2a("barrier"))
    ids = sorted(b.recv()["id"] for _ in range(4))
    assert ids == [1, 2, 3, 4]
    b.close_stdin()
    assert b.wait_exit() == 0


def test_progress_comes_before_the_answer():
    b = start()
    init = b.initialize()
    assert init["capabilities"]["progress"] is True
    b.request(9, "handle_a2a", a2a("progress 3"))
    got = [b.recv() for _ in range(4)]
    assert [m.get("method") for m in got] == ["$/progress"] * 3 + [None]
    assert [m["params"]["message"] for m in got[:3]] == ["step 0", "step 1", "step 2"]
    assert all(m["params"]["id"] == 9 for m in got[:3])
    b.close_stdin()
    assert b.rest() == []


def test_host_calls_carry_the_request_id_and_get_their_answer():
    b = start()
    b.initialize(host_methods=["peers/list"])
    b.request(5, "handle_a2a", a2a("call peers/list"))
    call = b.recv()
    assert call["method"] == "peers/list" and call["id"] == "backend-1"
    assert call["params"] == {"q": 1, "_meta": {"requestId": 5}}
    b.send({"jsonrpc": "2.0", "id": call["id"], "result": {"peers": ["a"]}})
    assert b.recv()["result"]["parts"][0]["data"] == {"result": {"peers": ["a"]}}
    b.request(6, "handle_a2a", a2a("call peers/list"))
    call = b.recv()
    b.send({"jsonrpc": "2.0", "id": call["id"], "error": {"code": 1003, "message": "down"}})
    assert "down (code 1003)" in b.recv()["result"]["parts"][0]["text"]
    b.request(7, "handle_a2a", a2a("call user/notify"))
    assert "does not offer 'user/notify'" in b.recv()["result"]["parts"][0]["text"]
    b.close_stdin()
    assert b.wait_exit() == 0


def test_a_call_pending_at_end_of_input_fails_and_the_request_is_answered():
    b = start()
    b.initialize(host_methods=["peers/discover"])
    b.request(1, "handle_a2a", a2a("call peers/discover"))
    assert b.recv()["method"] == "peers/discover"
    b.close_stdin()
    answer = b.recv()
    assert "closed before it answered" in answer["result"]["parts"][0]["text"]
    assert b.wait_exit() == 0


def test_errors_are_typed_and_failures_are_answered():
    b = start()
    b.initialize()
    b.request(1, "handle_a2a", a2a("busy"))
    err = b.recv()["error"]
    assert err == {"code": 1001, "message": "queue full",
                   "data": {"retryable": True, "retryAfterMs": 250, "userMessage": "Busy."}}
    b.request(2, "handle_a2a", a2a("crash"))
    err = b.recv()["error"]
    assert err["code"] == -32603 and "scripted failure" in err["message"]
    b.request(3, "handle_a2a", a2a("none"))
    err = b.recv()["error"]
    assert err["code"] == -32603 and "no_reply()" in err["message"]
    b.close_stdin()
    assert b.wait_exit() == 0


def test_a_reply_over_the_hosts_limit_becomes_1007():
    b = start()
    b.initialize(max_bytes=2000)
    b.request(1, "handle_a2a", a2a("echo " + "x" * 5000))
    assert b.recv()["error"]["code"] == 1007
    b.close_stdin()
    assert b.wait_exit() == 0


def test_prints_and_children_go_to_stderr_and_never_read_the_hosts_input():
    b = start()
    b.initialize()
    b.request(1, "handle_a2a", a2a("print"))
    assert b.recv()["result"]["parts"][0]["text"] == "printed"
    b.request(2, "ping")
    assert b.recv()["id"] == 2
    b.close_stdin()
    assert b.rest() == []
    stderr = b.stderr()
    assert "stray print from the handler" in stderr and "child-stdout" in stderr
    assert "cat-exit:0" in stderr, stderr


def test_a_hung_handler_is_cancelled_at_shutdown_after_the_grace():
    b = start(MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS="50")
    b.initialize()
    b.request(1, "handle_a2a", a2a("ignore-cancel"))
    b.close_stdin()
    answer = b.recv()
    assert (answer["id"], answer["error"]["code"]) == (1, -32800)
    assert b.wait_exit() == 0


def test_an_over_long_request_is_refused_and_reading_goes_on():
    b = start()
    b.initialize()
    line = json.dumps({"jsonrpc": "2.0", "id": 77, "method": "handle_a2a",
                       "params": a2a("y" * (8 * 1024 * 1024 + 10))}).encode()
    b.write(line + b"\n")
    answer = b.recv()
    assert (answer["id"], answer["error"]["code"]) == (77, -32600)
    assert "too large" in answer["error"]["message"]
    b.request(78, "ping")
    assert b.recv()["id"] == 78
    b.close_stdin()
    assert b.wait_exit() == 0
