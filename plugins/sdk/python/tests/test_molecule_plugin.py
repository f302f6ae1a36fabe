"""Unit tests of the SDK: framing, errors, helpers, and whole sessions over in-memory
streams."""
import io
import json

import molecule_plugin as mp
from backend_process import a2a, initialize_params


def frames(data, max_bytes=100):
    return list(mp.read_frames(io.BytesIO(data), max_bytes))


def test_framing_strips_bom_cr_and_blank_lines():
    got = frames(b'\xef\xbb\xbf{"a":1}\r\n\n  \r\n{"b":2}\n{"c":3}')
    assert got == [("line", b'{"a":1}'), ("line", b'{"b":2}'), ("line", b'{"c":3}')]


def test_a_bom_after_the_first_line_is_kept():
    assert frames(b"x\n\xef\xbb\xbfy\n")[1] == ("line", b"\xef\xbb\xbfy")


def test_over_long_lines_are_skipped_with_their_id():
    long_line = b'{"jsonrpc":"2.0","id":42,"method":"x","params":"' + b"z" * 500 + b'"}'
    got = frames(long_line + b'\n{"ok":1}\n')
    assert got == [("oversize", len(long_line), 42), ("line", b'{"ok":1}')]
    got = frames(b'{"id":"s-1","p":"' + b"z" * 500 + b'"}\n')
    assert got[0][2] == "s-1"
    assert frames(b'{"params":{"id":3},"x":"' + b"z" * 500 + b'"}\n')[0][2] is None


def test_a_line_exactly_at_the_cap_is_kept():
    line = b"a" * 100
    assert frames(line + b"\nb\n") == [("line", line), ("line", b"b")]


def test_backend_errors_carry_data_and_default_retryability():
    assert mp.BackendError.busy("b").to_error() == {"code": 1001, "message": "b",
                                                     "data": {"retryable": True}}
    err = mp.BackendError.refused("no", user_message="Can't help.", details={"rule": 1})
    assert err.to_error()["data"] == {"retryable": False, "userMessage": "Can't help.",
                                      "details": {"rule": 1}}
    assert mp.BackendError.rate_limited("r", retry_after_ms=5).data["retryAfterMs"] == 5
    assert mp.BackendError(-32603, "x").to_error() == {"code": -32603, "message": "x"}


def test_reply_helpers():
    assert mp.reply("hi") == {"parts": [{"kind": "text", "text": "hi"}]}
    assert mp.reply(mp.data_part({"a": 1}), metadata={"u": 1}) == {
        "parts": [{"kind": "data", "data": {"a": 1}}], "metadata": {"u": 1}}
    assert mp.no_reply() == {"parts": []}
    assert mp.message_text(a2a("a", {"kind": "data", "data": {}}, "b")) == "a\nb"


class Upper(mp.Backend):
    name, version = "upper", "1"

    def handle_a2a(self, params, ctx):
        return mp.message_text(params).upper()


def session(*messages, raw=b""):
    data = b"".join(json.dumps(m).encode() + b"\n" for m in messages) + raw
    out = io.BytesIO()
    assert mp.serve(Upper(), io.BytesIO(data), out) == 0
    return [json.loads(line) for line in out.getvalue().splitlines()]


def req(rid, method, params=None):
    return {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}}


def test_a_whole_session_in_memory():
    out = session(req(1, "ping"), req(0, "initialize", initialize_params()),
                  req("a", "handle_a2a", a2a("hi")), req(2, "initialize", initialize_params()))
    assert out[0]["error"]["code"] == -32002
    assert out[1]["result"]["backend"] == {"name": "upper", "version": "1"}
    assert out[1]["result"]["capabilities"] == {"maxConcurrency": 1, "cancel": True,
                                                "progress": False}
    assert {m["id"]: m for m in out[2:]}["a"]["result"]["parts"][0]["text"] == "HI"
    assert {m["id"]: m for m in out[2:]}[2]["error"]["code"] == -32600


def test_invalid_envelopes_are_answered_but_junk_and_responses_are_not():
    out = session(req(0, "initialize", initialize_params()),
                  {"id": 5, "method": "ping"},
                  {"jsonrpc": "2.0", "id": 1.5, "method": "ping"},
                  {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "x"}},
                  {"jsonrpc": "2.0", "id": "backend-9", "result": {}},
                  raw=b"junk\n[1,2]\n")
    assert out[1:] == [
        {"jsonrpc": "2.0", "id": 5, "error": out[1]["error"]},
        {"jsonrpc": "2.0", "id": None, "error": out[2]["error"]},
    ]
    assert out[1]["error"]["code"] == -32600 and "jsonrpc" in out[1]["error"]["message"]


def test_initialize_needs_a_protocol_version():
    out = session(req(0, "initialize", {"host": {}}))
    assert out[0]["error"]["code"] == -32602
