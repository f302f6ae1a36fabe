"""Write a Molecule backend in Python: one file, standard library only.

Copy this file next to your backend. Subclass ``Backend``, implement ``handle_a2a``, and call
``run``::

    import molecule_plugin as mp

    class Hello(mp.Backend):
        name, version = "hello", "1.0.0"

        def handle_a2a(self, params, ctx):
            return mp.reply(mp.text_part("hello, " + mp.message_text(params)))

    if __name__ == "__main__":
        mp.run(Hello())

The host (``molecule connect … --backend-cmd``, ``molecule dev --backend-cmd``) starts the
program and talks JSON-RPC 2.0 to it, one JSON object per line on stdin/stdout. This module
does the protocol: the handshake, a thread per request (so ``ping`` and ``$/cancelRequest`` are
answered while handlers run), cancellation, progress, calls to the host, typed errors, and the
shutdown when stdin closes. Handlers call other workspaces with ``ctx.list_peers()``,
``ctx.send_to_peer(id, text=...)`` and friends (``PeerError`` says why one failed). ``run`` also
moves stdout out of reach: ``print`` (and any child
process) writes to stderr, which the host logs, so nothing can corrupt the protocol stream.
"""

import json
import os
import queue
import re
import sys
import threading
import time
import uuid

PROTOCOL_VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024

PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = -32700, -32600, -32601
INVALID_PARAMS, INTERNAL_ERROR = -32602, -32603
NOT_INITIALIZED, REQUEST_CANCELLED = -32002, -32800
BUSY, RATE_LIMITED, UPSTREAM_UNAVAILABLE, UNSUPPORTED_CONTENT = 1001, 1002, 1003, 1004
DEADLINE_EXCEEDED, REFUSED, REPLY_TOO_LARGE = 1005, 1006, 1007
_RETRYABLE_BY_DEFAULT = (BUSY, RATE_LIMITED, UPSTREAM_UNAVAILABLE)
# Errors of the peer calls (host methods peers/*, workspace/info, user/notify).
UNAUTHORIZED, NOT_FOUND, REMOVED, PLATFORM_UNAVAILABLE = 1010, 1011, 1012, 1013
REJECTED, WAIT_TIMEOUT, BUDGET_EXHAUSTED = 1014, 1015, 1016
PEER_CALLS_NAMESPACE = uuid.UUID("6f0c5e2a-6d7b-4c1e-9a43-2f1d5b8e7c90")


class BackendError(Exception):
    """An error answer. Use the application codes 1001-1007 so the host knows what to do:
    retry later (busy, rate limited, upstream unavailable) or tell the sender (``user_message``)."""

    def __init__(self, code, message, retryable=None, retry_after_ms=None,
                 user_message=None, details=None):
        super().__init__(message)
        self.code, self.message = code, message
        if retryable is None and 1000 <= code < 1100:
            retryable = code in _RETRYABLE_BY_DEFAULT
        self.data = {k: v for k, v in (("retryable", retryable), ("retryAfterMs", retry_after_ms),
                                       ("userMessage", user_message), ("details", details))
                     if v is not None}

    def to_error(self):
        error = {"code": self.code, "message": self.message}
        if self.data:
            error["data"] = self.data
        return error


def _error_factory(code):
    return classmethod(lambda cls, message, **kw: cls(code, message, **kw))


for _name, _code in (("busy", BUSY), ("rate_limited", RATE_LIMITED),
                     ("upstream_unavailable", UPSTREAM_UNAVAILABLE),
                     ("unsupported_content", UNSUPPORTED_CONTENT),
                     ("deadline_exceeded", DEADLINE_EXCEEDED), ("refused", REFUSED),
                     ("reply_too_large", REPLY_TOO_LARGE)):
    setattr(BackendError, _name, _error_factory(_code))


class Cancelled(Exception):
    """Raised by ``RequestContext.check_cancelled``; the request is answered -32800."""


class HostCallError(Exception):
    """A call to the host failed: not offered, connection closed, timed out, or an error answer
    (then ``code`` and ``data`` are the host's)."""

    def __init__(self, message, code=None, data=None):
        super().__init__(message)
        self.code, self.data = code, data


class PeerError(HostCallError):
    """A peer call failed. ``cls`` is the host's ``data.class`` (``unauthorized``,
    ``not_found``, ``removed``, ``unreachable``, ``server_error``, ``rejected``,
    ``bad_response``, ``wait_timeout``, ``budget``), or ``invalid_params``, ``not_offered``,
    ``connection``; ``retryable``, ``retry_after_ms``, ``message_id`` (set when a wait timed out
    after the message was sent), ``target`` and ``status`` come from the host's data."""

    def __init__(self, message, code=None, data=None, cls=None):
        super().__init__(message, code, data)
        data = data if isinstance(data, dict) else {}
        self.cls = cls or data.get("class") or (
            "invalid_params" if code == INVALID_PARAMS else "other")
        self.retryable = bool(data.get("retryable", False))
        self.retry_after_ms, self.message_id = data.get("retryAfterMs"), data.get("messageId")
        self.target, self.status = data.get("target"), data.get("status")


def call_message_id(idempotency_key, index):
    """The messageId of the index-th peer send while handling a delivery (SPEC 12.4)."""
    return str(uuid.uuid5(PEER_CALLS_NAMESPACE, "peer-send:%s:%d" % (idempotency_key, index)))


def parts_text(parts):
    """The text parts of a list of parts (a peer's reply, say), joined by newlines."""
    return "\n".join(p["text"] for p in parts or () if p.get("kind") == "text" and "text" in p)


def text_part(text):
    return {"kind": "text", "text": text}


def data_part(data):
    return {"kind": "data", "data": data}


def reply(*parts, metadata=None):
    """A ``handle_a2a`` result with these parts (strings become text parts)."""
    result = {"parts": [text_part(p) if isinstance(p, str) else p for p in parts]}
    if metadata:
        result["metadata"] = metadata
    return result


def no_reply():
    """A result with no parts: the host posts nothing."""
    return {"parts": []}


def message_text(params):
    """The message's text parts, joined by newlines."""
    parts = params.get("message", {}).get("parts", [])
    return "\n".join(p["text"] for p in parts if p.get("kind") == "text" and "text" in p)


class Backend:
    """Subclass and implement ``handle_a2a(params, ctx)``. It runs in a thread of its own, so
    several may run at once (up to ``max_concurrency``, which the host respects)."""

    name = "python-backend"
    version = "0.0.0"
    description = None
    agent_card = None
    max_concurrency = 1
    cancel = True
    progress = False
    # Seconds a cancelled handler may take to return by itself (watching ctx.cancelled);
    # after that the request is answered -32800 and whatever the handler returns is dropped.
    cancel_grace = 0.0

    def initialize(self, params):
        """Called with the host's initialize params before answering; raise to refuse."""

    def handle_a2a(self, params, ctx):
        raise BackendError(METHOD_NOT_FOUND, "handle_a2a is not implemented")


def _parse_deadline(text):
    try:
        from datetime import datetime
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return None


class RequestContext:
    """What a handler knows about its request: id, cancellation, deadline, progress, host calls."""

    def __init__(self, conn, request_id, params):
        self.id, self._conn = request_id, conn
        self.cancelled = threading.Event()  # set on cancel, and once the request is answered
        self.deadline = _parse_deadline((params.get("context") or {}).get("deadline"))
        self._lock = threading.Lock()
        self._idempotency_key = (params.get("context") or {}).get("idempotencyKey")
        self._sends = 0  # peer sends so far, for their derived message ids
        self._answered = False
        self._done = threading.Event()  # the handler returned

    def is_cancelled(self):
        return self.cancelled.is_set()

    def check_cancelled(self):
        """Raises ``Cancelled`` if the host cancelled the request."""
        if self.cancelled.is_set():
            raise Cancelled()

    def remaining(self):
        """Seconds until the host's deadline (never negative), or None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    def progress(self, message=None, percent=None):
        """Tells the host the request is still being worked on (resets its idle timer)."""
        params = {"id": self.id}
        if message is not None:
            params["message"] = message
        if percent is not None:
            params["percent"] = percent
        with self._lock:
            if not self._answered and not self.cancelled.is_set():
                self._conn.write({"jsonrpc": "2.0", "method": "$/progress", "params": params})

    def call_host(self, method, params=None, timeout=None):
        """Calls a method the host offers; ``params._meta.requestId`` names this request."""
        return self._conn.call_host(method, params, timeout, origin=self.id)

    def _peer_call(self, method, params, timeout=None):
        if method not in self._conn.host_methods:
            raise PeerError("the host does not offer %r (it offers: %s)"
                            % (method, ", ".join(self._conn.host_methods)), cls="not_offered")
        try:
            return self.call_host(method, params, timeout)
        except HostCallError as e:
            if e.code is None:
                raise PeerError(str(e), cls="connection")
            raise PeerError(getattr(e, "host_message", None) or str(e), e.code, e.data)

    def list_peers(self, timeout=None):
        """The workspace's peers: dicts with ``id`` and maybe ``name``, ``role``, ``status``."""
        return self._peer_call("peers/list", {}, timeout).get("peers", [])

    def discover(self, peer_id, timeout=None):
        """One peer by id, or None when the platform does not know it."""
        return self._peer_call("peers/discover", {"id": peer_id}, timeout).get("peer")

    def send_to_peer(self, peer_id, text=None, parts=None, context_id=None, message_id=None,
                     wait=None, timeout=None):
        """Sends text (or parts) to a peer; returns ``{messageId, contextId, queued, parts?,
        state?}``. ``wait`` (seconds) waits for the reply of a peer that does not answer at once.
        The i-th send of a request gets the messageId ``call_message_id(idempotencyKey, i)``, so
        a redelivered message does not delegate the same work twice."""
        with self._lock:
            index, self._sends = self._sends, self._sends + 1
        if (text is None) == (parts is None) or (text is not None and not text.strip()):
            raise PeerError("peers/send to %s: give a non-empty text or parts, not both"
                            % peer_id, cls="invalid_params")
        params = {"id": peer_id}
        params.update({"text": text} if text is not None else {"parts": parts})
        if message_id is None and self._idempotency_key:
            message_id = call_message_id(self._idempotency_key, index)
        for key, value in (("contextId", context_id), ("messageId", message_id),
                           ("waitMs", None if wait is None else int(round(wait * 1000)))):
            if value is not None:
                params[key] = value
        return self._peer_call("peers/send", params, timeout)

    def workspace_info(self, timeout=None):
        """This workspace's record on the platform."""
        return self._peer_call("workspace/info", {}, timeout).get("workspace")

    def notify_user(self, text, attachments=None, timeout=None):
        """Writes to the person in the canvas, at any time."""
        params = {"text": text}
        if attachments:
            params["attachments"] = attachments
        self._peer_call("user/notify", params, timeout)

    def _answer(self, message):
        with self._lock:
            if self._answered:
                return
            self._answered = True
            self._conn.write(message)
        self.cancelled.set()


_ID_AT_START = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*'
                          rb'(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]')


def _valid_id(value):
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def read_frames(stream, max_bytes=DEFAULT_MAX_MESSAGE_BYTES):
    """Yields ("line", bytes) per non-blank line (trailing \\r and a leading BOM stripped) and
    ("oversize", length, id or None) per line over ``max_bytes``, which is skipped."""
    first = True
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            length, head = len(line), line[:65536]
            while True:
                chunk = stream.readline(65536)
                length += len(chunk)
                if not chunk or chunk.endswith(b"\n"):
                    break
            length -= 1 if chunk.endswith(b"\n") else 0
            match = _ID_AT_START.match(head)
            yield ("oversize", length, json.loads(match.group(1)) if match else None)
            first = False
            continue
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        line = line.rstrip(b"\n").rstrip(b"\r")
        if line.strip():
            first = False
            yield ("line", line)


def _log(message):
    sys.stderr.write("molecule_plugin: warning: %s\n" % message)
    sys.stderr.flush()


class Connection:
    """One conversation with the host over a pair of binary streams."""

    def __init__(self, backend, stdin, stdout, max_message_bytes=DEFAULT_MAX_MESSAGE_BYTES,
                 shutdown_grace=3.0):
        self.backend, self._in, self._out = backend, stdin, stdout
        self._max_in, self._max_out = max_message_bytes, max_message_bytes
        self._grace = shutdown_grace
        self._write_lock, self._lock = threading.Lock(), threading.Lock()
        self._ready = False
        self._inflight = {}  # request id -> RequestContext
        # Idle handler threads wait on this queue, so a thread is started only when none is
        # free: no per-request thread start, and a hung handler never blocks the next request.
        self._work, self._idle = queue.SimpleQueue(), 0
        self._calls = {}  # our call id -> [Event, answer]
        self._call_seq = 0
        self._closed = False
        self.host_methods = []

    def write(self, message):
        try:
            data = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as e:
            if "id" not in message:
                return _log("dropped an unencodable message: %s" % e)
            data = json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": {
                "code": INTERNAL_ERROR, "message": "could not encode the result: %s" % e}}).encode()
        if len(data) > self._max_out and "id" in message and "method" not in message:
            data = json.dumps({"jsonrpc": "2.0", "id": message["id"], "error": BackendError(
                REPLY_TOO_LARGE, "reply too large: %d bytes, over the host's limit of %d bytes"
                % (len(data), self._max_out), retryable=False).to_error()}).encode()
        with self._write_lock:
            try:
                self._out.write(data + b"\n")
                self._out.flush()
            except (BrokenPipeError, ValueError, OSError) as e:
                _log("could not write to the host: %s" % e)

    def _respond(self, request_id, result=None, error=None):
        message = {"jsonrpc": "2.0", "id": request_id}
        message["error" if error is not None else "result"] = error if error is not None else result
        self.write(message)

    def serve(self):
        """Reads until end of input, then shuts down in order. Returns the exit status (0)."""
        for frame in read_frames(self._in, self._max_in):
            if frame[0] == "oversize":
                self._on_oversize(frame[1], frame[2])
                continue
            try:
                message = json.loads(frame[1])
            except ValueError:
                _log("ignored a line that is not JSON: %r" % frame[1][:160])
                continue
            if not isinstance(message, dict):
                _log("ignored a JSON line that is not an object: %r" % frame[1][:160])
                continue
            self._on_message(message)
        self._shutdown()
        return 0

    def _on_oversize(self, length, request_id):
        _log("discarded a %d-byte line from the host, over the %d-byte cap" % (length, self._max_in))
        if request_id is None:
            return
        if self._deliver(request_id, HostCallError("the host's answer was too large (%d bytes)" % length)):
            return
        self._respond(request_id, error={"code": INVALID_REQUEST, "message":
                      "request too large: %d bytes, over the backend's line cap of %d bytes"
                      % (length, self._max_in)})

    def _on_message(self, msg):
        rid, method = msg.get("id"), msg.get("method")
        if msg.get("jsonrpc") == "2.0" and "method" not in msg and ("result" in msg or "error" in msg):
            return self._on_response(rid, msg)  # never answered, whatever it holds
        if msg.get("jsonrpc") != "2.0" or not isinstance(method, str) or \
                ("id" in msg and not _valid_id(rid)):
            return self._respond(rid if _valid_id(rid) else None, error={
                "code": INVALID_REQUEST, "message": "invalid request: not a JSON-RPC 2.0 request "
                "(needs \"jsonrpc\": \"2.0\", a string method, an integer or string id)"})
        if "id" not in msg:
            self._on_notification(method, msg.get("params"))
        else:
            self._on_request(rid, method, msg.get("params"))

    def _on_response(self, rid, msg):
        if "error" in msg:
            err = msg["error"] if isinstance(msg["error"], dict) else {}
            answer = HostCallError("the host answered with an error: %s (code %s)"
                                   % (err.get("message"), err.get("code")),
                                   err.get("code"), err.get("data"))
            answer.host_message = err.get("message")
        else:
            answer = msg["result"]
        if not self._deliver(rid, answer):
            _log("ignored an answer to %r, which no call awaits: %r" % (rid, msg.get("error")))

    def _on_request(self, rid, method, params):
        if not self._ready and method != "initialize":
            return self._respond(rid, error={"code": NOT_INITIALIZED,
                                             "message": "not initialized: send initialize first"})
        if method == "initialize":
            return self._initialize(rid, params)
        if method == "ping":
            return self._respond(rid, {})
        if method != "handle_a2a":
            return self._respond(rid, error={"code": METHOD_NOT_FOUND,
                                             "message": "method not found: %s" % method})
        if not (isinstance(params, dict) and isinstance(params.get("message"), dict)
                and isinstance(params["message"].get("parts"), list)
                and isinstance(params.get("context"), dict)):
            return self._respond(rid, error={"code": INVALID_PARAMS, "message":
                                 "invalid params: handle_a2a needs message.parts and context"})
        with self._lock:
            if rid in self._inflight:
                return self._respond(rid, error={"code": INVALID_REQUEST,
                                                 "message": "request id %r is already in flight" % (rid,)})
            ctx = RequestContext(self, rid, params)
            self._inflight[rid] = ctx
            reuse = self._idle > 0
            self._idle -= 1 if reuse else 0
        if reuse:
            self._work.put((ctx, params))
        else:
            threading.Thread(target=self._worker, args=((ctx, params),), daemon=True).start()

    def _worker(self, job):
        while True:
            self._run_handler(*job)
            with self._lock:
                self._idle += 1
            job = self._work.get()

    def _initialize(self, rid, params):
        if self._ready:
            return self._respond(rid, error={"code": INVALID_REQUEST, "message": "already initialized"})
        if not isinstance(params, dict) or not isinstance(params.get("protocolVersion"), int):
            return self._respond(rid, error={"code": INVALID_PARAMS,
                                             "message": "invalid params: protocolVersion is required"})
        try:
            self.backend.initialize(params)
        except Exception as e:  # the backend refused to start
            err = e if isinstance(e, BackendError) else BackendError(INTERNAL_ERROR, str(e))
            return self._respond(rid, error=err.to_error())
        caps = params.get("capabilities") or {}
        self.host_methods = list(caps.get("hostMethods") or [])
        limit = (params.get("limits") or {}).get("maxMessageBytes")
        if isinstance(limit, int) and limit > 0:
            self._max_out = limit
        b = self.backend
        result = {"protocolVersion": PROTOCOL_VERSION,
                  "backend": {"name": b.name, "version": b.version},
                  "capabilities": {"maxConcurrency": b.max_concurrency, "cancel": b.cancel,
                                   "progress": b.progress}}
        if b.description:
            result["backend"]["description"] = b.description
        if b.agent_card:
            result["agentCard"] = b.agent_card
        self._ready = True
        self._respond(rid, result)

    def _on_notification(self, method, params):
        if not self._ready or method != "$/cancelRequest" or not isinstance(params, dict):
            return  # unknown notifications are ignored
        with self._lock:
            ctx = self._inflight.get(params.get("id"))
        if ctx:
            self._cancel(ctx, self.backend.cancel_grace)

    def _cancel(self, ctx, grace):
        ctx.cancelled.set()
        cancelled = {"jsonrpc": "2.0", "id": ctx.id,
                     "error": {"code": REQUEST_CANCELLED, "message": "request cancelled by the host"}}
        if grace <= 0:
            ctx._answer(cancelled)
        else:
            timer = threading.Timer(grace, ctx._answer, args=(cancelled,))
            timer.daemon = True
            timer.start()

    def _run_handler(self, ctx, params):
        try:
            result = self.backend.handle_a2a(params, ctx)
            if isinstance(result, str):
                result = reply(result)
            elif isinstance(result, list):
                result = reply(*result)
            if not isinstance(result, dict) or not isinstance(result.get("parts"), list):
                raise TypeError("handle_a2a returned %r; return reply(...) or no_reply()" % (result,))
            answer = {"jsonrpc": "2.0", "id": ctx.id, "result": result}
        except Cancelled:
            answer = {"jsonrpc": "2.0", "id": ctx.id,
                      "error": {"code": REQUEST_CANCELLED, "message": "request cancelled by the host"}}
        except BackendError as e:
            answer = {"jsonrpc": "2.0", "id": ctx.id, "error": e.to_error()}
        except Exception as e:  # any other failure is the backend's bug: say so, keep serving
            _log("handle_a2a failed: %r" % e)
            answer = {"jsonrpc": "2.0", "id": ctx.id,
                      "error": {"code": INTERNAL_ERROR, "message": "handler failed: %s" % e}}
        ctx._answer(answer)
        with self._lock:
            self._inflight.pop(ctx.id, None)
        ctx._done.set()

    def call_host(self, method, params=None, timeout=None, origin=None):
        """Calls a host method listed in the host's ``capabilities.hostMethods``."""
        if method not in self.host_methods:
            raise HostCallError("the host does not offer %r (it offers: %s)"
                                % (method, ", ".join(self.host_methods)))
        params = dict(params or {})
        if origin is not None:
            params["_meta"] = dict(params.get("_meta") or {}, requestId=origin)
        slot = [threading.Event(), None]
        with self._lock:
            if self._closed:
                raise HostCallError("the connection to the host is closed")
            self._call_seq += 1
            call_id = "backend-%d" % self._call_seq
            self._calls[call_id] = slot
        self.write({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params})
        if not slot[0].wait(timeout):
            with self._lock:
                self._calls.pop(call_id, None)
            raise HostCallError("the host did not answer %r within %ss" % (method, timeout))
        if isinstance(slot[1], HostCallError):
            raise slot[1]
        return slot[1]

    def _deliver(self, call_id, answer):
        with self._lock:
            slot = self._calls.pop(call_id, None) if isinstance(call_id, str) else None
        if slot:
            slot[1] = answer
            slot[0].set()
        return slot is not None

    def _shutdown(self):
        with self._lock:
            self._closed = True
            calls, self._calls = self._calls, {}
            running = [c for c in self._inflight.values() if not c._answered]
        for slot in calls.values():
            slot[1] = HostCallError("the connection to the host closed before it answered")
            slot[0].set()
        end = time.monotonic() + self._grace
        for ctx in running:
            ctx._done.wait(max(0.0, end - time.monotonic()))
        for ctx in running:
            if not ctx._done.is_set():
                self._cancel(ctx, 0)


def serve(backend, stdin, stdout, **options):
    """Serves ``backend`` over binary streams until ``stdin`` ends; returns the exit status."""
    return Connection(backend, stdin, stdout, **options).serve()


def run(backend):
    """The whole ``main`` of a backend: checks it was started by the host, protects stdout,
    serves stdin/stdout, and exits (0 after a clean shutdown, 2 when run by hand)."""
    if os.environ.get("MOLECULE_BACKEND") != "1" and sys.stdin.isatty():
        program = " ".join(sys.argv) or "this backend"
        sys.stderr.write(
            "%s is a Molecule backend: it speaks JSON-RPC on stdin/stdout and is started by the "
            "molecule host, not by hand. Run it with\n  molecule dev --backend-cmd '%s'\nor\n  "
            "molecule connect <workspace-id> --backend-cmd '%s'\n" % (program, program, program))
        sys.exit(2)
    # Private, non-inheritable copies for the protocol; fd 1 becomes stderr (print, children,
    # C extensions) and fd 0 /dev/null, so nothing else can write to or read from the host.
    sys.stdout.flush()
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = sys.stderr
    grace = os.environ.get("MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS")
    options = {"shutdown_grace": int(grace) / 1000.0} if grace and grace.isdigit() else {}
    code = serve(backend, proto_in, proto_out, **options)
    proto_out.flush()
    sys.exit(code)
