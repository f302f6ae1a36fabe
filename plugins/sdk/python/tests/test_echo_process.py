"""The Python echo as a real process: a real NDJSON exchange."""
import json
import os
import pty
import subprocess
import sys

from backend_process import ECHO, BackendProcess, a2a, sdk_env


def test_handshake_advertises_the_echo():
    echo = BackendProcess(ECHO)
    init = echo.initialize()
    assert init["protocolVersion"] == 1
    assert init["backend"] == {"name": "molecule-echo-python", "version": "0.1.0",
                               "description": 'Replies with whatever it is sent, text prefixed "echo: ".'}
    assert init["capabilities"] == {"maxConcurrency": 16, "cancel": True, "progress": False,
                                    "maxWorkspaces": 1024}
    assert len(init["agentCard"]["skills"]) == 1
    echo.close_stdin()
    assert echo.wait_exit() == 0


def test_requests_before_initialize_get_32002():
    echo = BackendProcess(ECHO)
    echo.request(4, "ping")
    answer = echo.recv()
    assert (answer["id"], answer["error"]["code"]) == (4, -32002)
    echo.initialize()
    echo.request(5, "ping")
    assert echo.recv() == {"jsonrpc": "2.0", "id": 5, "result": {}}
    echo.close_stdin()
    assert echo.wait_exit() == 0


def test_echo_behaviour_and_exact_ids():
    echo = BackendProcess(ECHO)
    echo.initialize()
    data = {"kind": "data", "data": {"n": 1, "deep": {"a": [1, 2]}}}
    file = {"kind": "file", "file": {"uri": "https://example.com/a.png", "mimeType": "image/png"}}
    echo.request("req-α", "handle_a2a", a2a("héllo 👋", data, file))
    answer = echo.recv()
    assert answer["id"] == "req-α"
    assert answer["result"]["parts"] == [{"kind": "text", "text": "echo: héllo 👋"}, data, file]
    echo.request(2**53 - 1, "handle_a2a", a2a("x"))
    assert echo.recv()["id"] == 2**53 - 1
    echo.request(7, "handle_a2a", a2a("echo: hi", in_reply_to="m-0"))
    assert echo.recv()["result"] == {"parts": []}
    echo.close_stdin()
    assert echo.wait_exit() == 0


def test_junk_is_ignored_and_unknown_methods_get_32601():
    echo = BackendProcess(ECHO)
    echo.initialize()
    echo.write(b"Loading...\n\n[1]\n" + json.dumps({"jsonrpc": "2.0", "method": "x/note"}).encode() + b"\n")
    echo.request(1, "x/unknown")
    answer = echo.recv()
    assert (answer["id"], answer["error"]["code"]) == (1, -32601)
    echo.request(2, "handle_a2a", {"message": 3})
    answer = echo.recv()
    assert (answer["id"], answer["error"]["code"]) == (2, -32602)
    echo.close_stdin()
    assert echo.rest() == [], "nothing else was answered"
    assert "not JSON" in echo.stderr()


def test_a_burst_with_cancels_gets_exactly_one_answer_per_request():
    echo = BackendProcess(ECHO)
    echo.initialize()
    burst = b""
    for i in range(100):
        burst += json.dumps({"jsonrpc": "2.0", "id": i, "method": "handle_a2a",
                             "params": a2a("n%d" % i)}).encode() + b"\n"
        if i % 3 == 0:
            burst += json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest",
                                 "params": {"id": i, "reason": "deadline"}}).encode() + b"\n"
    echo.write(burst)
    answers = {}
    for _ in range(100):
        answer = echo.recv()
        assert answer["id"] not in answers, "answered twice: %r" % answer
        answers[answer["id"]] = answer
    for i, answer in answers.items():
        if "error" in answer:
            assert answer["error"]["code"] == -32800 and i % 3 == 0
        else:
            assert answer["result"]["parts"][0]["text"] == "echo: n%d" % i
    echo.close_stdin()
    assert echo.rest() == []
    assert echo.wait_exit() == 0


def test_end_of_input_exits_0_after_answering():
    echo = BackendProcess(ECHO)
    echo.initialize()
    echo.request(1, "handle_a2a", a2a("last"))
    echo.close_stdin()
    assert echo.recv()["result"]["parts"][0]["text"] == "echo: last"
    assert echo.wait_exit() == 0


def test_run_by_hand_on_a_terminal_explains_and_exits_2():
    primary, secondary = pty.openpty()
    env = sdk_env({k: v for k, v in os.environ.items() if k != "MOLECULE_BACKEND"})
    proc = subprocess.run([sys.executable, ECHO], stdin=secondary, capture_output=True,
                          env=env, timeout=10)
    os.close(primary)
    os.close(secondary)
    assert proc.returncode == 2
    assert b"is a Molecule backend" in proc.stderr
    assert b"molecule dev --backend-cmd" in proc.stderr
    assert proc.stdout == b""
