"""Test helper: a backend process driven line by line, with a deadline on every wait. The
process imports ``molecule_plugin`` from this repository (PYTHONPATH), not an installed copy."""
import json
import os
import queue
import subprocess
import sys
import threading

DEADLINE = 10.0
HERE = os.path.dirname(os.path.abspath(__file__))
SDK = os.path.dirname(HERE)  # the directory holding the molecule_plugin package
ECHO = os.path.join(SDK, "..", "..", "echo", "python", "echo.py")
SCRIPTED = os.path.join(HERE, "scripted_backend.py")


def initialize_params(host_methods=(), max_bytes=8 * 1024 * 1024):
    return {"protocolVersion": 1, "host": {"name": "test", "version": "0", "pid": os.getpid()},
            "workspace": {"id": "00000000-0000-4000-8000-000000000001"},
            "limits": {"maxMessageBytes": max_bytes, "requestTimeoutMs": 60000},
            "capabilities": {"cancel": True, "progress": True, "hostMethods": list(host_methods)}}


def a2a(*parts, in_reply_to=None):
    ctx = {"activityId": "act-1", "attempt": 1, "deadline": "2099-01-01T00:00:00.000Z",
           "idempotencyKey": "k-1", "conversationKey": "canvas"}
    if in_reply_to:
        ctx.update(inReplyTo=in_reply_to, hops=1)
    parts = [{"kind": "text", "text": p} if isinstance(p, str) else p for p in parts]
    return {"message": {"kind": "message", "role": "user", "messageId": "m-1", "parts": parts},
            "sender": {"kind": "canvas", "workspaceId": None}, "context": ctx}


def sdk_env(base):
    """``base`` with this repository's SDK first on PYTHONPATH, for a backend process."""
    path = os.pathsep.join(p for p in (SDK, base.get("PYTHONPATH")) if p)
    return dict(base, PYTHONPATH=path)


class BackendProcess:
    def __init__(self, script=ECHO, env=None, stdin=subprocess.PIPE):
        full_env = sdk_env(dict(os.environ, MOLECULE_BACKEND="1"))
        full_env.update(env or {})
        self.proc = subprocess.Popen([sys.executable, script], stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env)
        self.lines = queue.Queue()
        self.stderr_text, self.stderr_done = [], threading.Event()
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_text.append,
                                                  self.stderr_done), daemon=True).start()

    @staticmethod
    def _pump(stream, sink, done=None):
        for line in stream:
            sink(line)
        sink(None)
        if done:
            done.set()

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def send(self, message):
        self.write(json.dumps(message).encode() + b"\n")

    def request(self, rid, method, params=None):
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}})

    def notify(self, method, params):
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def recv(self):
        line = self.lines.get(timeout=DEADLINE)
        assert line is not None, "the backend's stdout ended"
        message = json.loads(line)  # any non-JSON stdout line fails the test here
        assert message.get("jsonrpc") == "2.0", line
        return message

    def initialize(self, **kw):
        self.request(0, "initialize", initialize_params(**kw))
        answer = self.recv()
        assert answer["id"] == 0, answer
        return answer["result"]

    def close_stdin(self):
        self.proc.stdin.close()

    def wait_exit(self):
        return self.proc.wait(timeout=DEADLINE)

    def rest(self):
        """Every stdout line left once the process exited."""
        self.wait_exit()
        out = []
        while True:
            line = self.lines.get(timeout=DEADLINE)
            if line is None:
                return out
            out.append(json.loads(line))

    def stderr(self):
        self.wait_exit()
        assert self.stderr_done.wait(DEADLINE), "stderr did not end"
        return b"".join(x for x in self.stderr_text if x).decode("utf-8", "replace")
