"""``Connection``: one conversation with the host — the handshake, dispatching requests to
handler threads, cancellation, the backend's calls to the host and their answers, and the
orderly shutdown when the host closes stdin."""

import json
import queue
import sys
import threading
import time
from typing import IO, Any, Dict, List, Optional, Tuple, Union

from .backend import Backend
from .codes import (BUDGET_EXHAUSTED, DEFAULT_MAX_MESSAGE_BYTES, INTERNAL_ERROR, INVALID_PARAMS,
                    INVALID_REQUEST, METHOD_NOT_FOUND, NOT_INITIALIZED, PROTOCOL_VERSION,
                    REPLY_TOO_LARGE, REQUEST_CANCELLED, UNAUTHORIZED)
from .context import RequestContext
from .errors import BackendError, Cancelled, HostCallError
from .framing import Oversize, read_frames
from .parts import reply
from .wire import JsonObject, RequestId
from .workspace import Workspace, Workspaces

Job = Tuple[RequestContext, JsonObject]


class _Call:
    """A call to the host waiting for its answer."""

    def __init__(self) -> None:
        self.answered = threading.Event()
        self.answer: Any = None


def _valid_id(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _log(message: str) -> None:
    sys.stderr.write("molecule_plugin: warning: %s\n" % message)
    sys.stderr.flush()


def _passed_on(ctx: RequestContext, e: HostCallError) -> Optional[JsonObject]:
    """The answer to a request whose handler let a host's error escape: the host's own code
    (1010–1016, retryable ones stay retryable), or -32800 when the request was cancelled."""
    if e.code == REQUEST_CANCELLED and ctx.cancelled.is_set():
        return _cancelled_answer(ctx.id)
    if isinstance(e.code, int) and UNAUTHORIZED <= e.code <= BUDGET_EXHAUSTED:
        error: JsonObject = {"code": e.code, "message": str(e)}
        if isinstance(e.data, dict):
            error["data"] = e.data
        return {"jsonrpc": "2.0", "id": ctx.id, "error": error}
    return None


def _cancelled_answer(request_id: RequestId) -> JsonObject:
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": REQUEST_CANCELLED, "message": "request cancelled by the host"}}


class Connection:
    """One conversation with the host over a pair of binary streams."""

    def __init__(self, backend: Backend, stdin: IO[bytes], stdout: IO[bytes],
                 max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
                 shutdown_grace: float = 3.0) -> None:
        self.backend, self._in, self._out = backend, stdin, stdout
        self._max_in, self._max_out = max_message_bytes, max_message_bytes
        self._grace = shutdown_grace
        self._write_lock, self._lock = threading.Lock(), threading.Lock()
        self._ready = False
        self._inflight: Dict[RequestId, RequestContext] = {}
        # Idle handler threads wait on this queue, so a thread is started only when none is
        # free: no per-request thread start, and a hung handler never blocks the next request.
        self._work: "queue.SimpleQueue[Job]" = queue.SimpleQueue()
        self._idle = 0
        self._calls: Dict[str, _Call] = {}  # by our call id
        self._call_seq = 0
        self._closed = False
        self.host_methods: List[str] = []
        self.workspaces = Workspaces()

    def write(self, message: JsonObject) -> None:
        """Writes one message as a line; an answer over the host's limit becomes error 1007."""
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

    def _respond(self, request_id: Optional[RequestId], result: Any = None,
                 error: Optional[JsonObject] = None) -> None:
        message: JsonObject = {"jsonrpc": "2.0", "id": request_id}
        message["error" if error is not None else "result"] = error if error is not None else result
        self.write(message)

    def serve(self) -> int:
        """Reads until end of input, then shuts down in order. Returns the exit status (0)."""
        for frame in read_frames(self._in, self._max_in):
            if isinstance(frame, Oversize):
                self._on_oversize(frame.length, frame.id)
                continue
            try:
                message = json.loads(frame.data)
            except ValueError:
                _log("ignored a line that is not JSON: %r" % frame.data[:160])
                continue
            if not isinstance(message, dict):
                _log("ignored a JSON line that is not an object: %r" % frame.data[:160])
                continue
            self._on_message(message)
        self._shutdown()
        return 0

    def _on_oversize(self, length: int, request_id: Optional[RequestId]) -> None:
        _log("discarded a %d-byte line from the host, over the %d-byte cap" % (length, self._max_in))
        if request_id is None:
            return
        too_large = HostCallError("the host's answer was too large (%d bytes)" % length)
        if isinstance(request_id, str) and self._deliver(request_id, too_large):
            return
        self._respond(request_id, error={"code": INVALID_REQUEST, "message":
                      "request too large: %d bytes, over the backend's line cap of %d bytes"
                      % (length, self._max_in)})

    def _on_message(self, msg: JsonObject) -> None:
        rid: Any = msg.get("id")
        method = msg.get("method")
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

    def _on_response(self, rid: Any, msg: JsonObject) -> None:
        answer: Any
        if "error" in msg:
            err = msg["error"] if isinstance(msg["error"], dict) else {}
            answer = HostCallError("the host answered with an error: %s (code %s)"
                                   % (err.get("message"), err.get("code")),
                                   err.get("code"), err.get("data"), err.get("message"))
        else:
            answer = msg["result"]
        if not (isinstance(rid, str) and self._deliver(rid, answer)):
            _log("ignored an answer to %r, which no call awaits: %r" % (rid, msg.get("error")))

    def _on_request(self, rid: RequestId, method: str, params: Any) -> None:
        if not self._ready and method != "initialize":
            return self._respond(rid, error={"code": NOT_INITIALIZED,
                                             "message": "not initialized: send initialize first"})
        if method == "initialize":
            return self._initialize(rid, params)
        if method == "ping":
            return self._respond(rid, {})
        if method in ("workspace/open", "workspace/close") and self.backend.max_workspaces > 1:
            return self._workspace_request(rid, method, params)
        if method != "handle_a2a":
            return self._respond(rid, error={"code": METHOD_NOT_FOUND,
                                             "message": "method not found: %s" % method})
        if not (isinstance(params, dict) and isinstance(params.get("message"), dict)
                and isinstance(params["message"].get("parts"), list)
                and isinstance(params.get("context"), dict)):
            return self._respond(rid, error={"code": INVALID_PARAMS, "message":
                                 "invalid params: handle_a2a needs message.parts and context"})
        self._start_handler(rid, params)

    def _workspace_request(self, rid: RequestId, method: str, params: Any) -> None:
        """``workspace/open`` and ``workspace/close`` (SPEC §17)."""
        try:
            if method == "workspace/open":
                ws = Workspace.opened(params)
                card = self.backend.open_workspace(ws)
                if not self.workspaces.open(ws):
                    raise BackendError(INVALID_REQUEST, "workspace %s is open already" % ws.id)
                return self._respond(rid, {"agentCard": card} if card else {})
            closed = self.workspaces.close(str(params["workspace"]["id"]))
            if closed is None:
                raise BackendError(INVALID_PARAMS, "workspace %s is not open in this process"
                                   % params["workspace"]["id"])
            self.backend.close_workspace(closed)
            self._respond(rid, {})
        except BackendError as e:
            self._respond(rid, error=e.to_error())
        except (KeyError, TypeError) as e:
            self._respond(rid, error={"code": INVALID_PARAMS, "message": "invalid params: %r" % e})

    def _start_handler(self, rid: RequestId, params: JsonObject) -> None:
        workspace = self.workspaces.of_request(params)
        if workspace is None:
            return self._respond(rid, error={"code": INVALID_PARAMS, "message":
                                 "workspace %s is not open in this process" % params["workspace"]})
        with self._lock:
            if rid in self._inflight:
                return self._respond(rid, error={"code": INVALID_REQUEST,
                                                 "message": "request id %r is already in flight" % (rid,)})
            ctx = RequestContext(self, rid, params, workspace)
            self._inflight[rid] = ctx
            reuse = self._idle > 0
            self._idle -= 1 if reuse else 0
        if reuse:
            self._work.put((ctx, params))
        else:
            threading.Thread(target=self._worker, args=((ctx, params),), daemon=True).start()

    def _worker(self, job: Job) -> None:
        while True:
            self._run_handler(*job)
            with self._lock:
                self._idle += 1
            job = self._work.get()

    def _initialize(self, rid: RequestId, params: Any) -> None:
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
        self.workspaces.start(Workspace.first(params))
        limit = (params.get("limits") or {}).get("maxMessageBytes")
        if isinstance(limit, int) and limit > 0:
            self._max_out = limit
        self._ready = True
        self._respond(rid, self._initialize_result())

    def _initialize_result(self) -> JsonObject:
        b = self.backend
        result: JsonObject = {
            "protocolVersion": PROTOCOL_VERSION,
            "backend": {"name": b.name, "version": b.version},
            "capabilities": {"maxConcurrency": b.max_concurrency, "cancel": b.cancel,
                             "progress": b.progress}}
        if b.max_workspaces > 1:
            result["capabilities"]["maxWorkspaces"] = b.max_workspaces
        if b.description:
            result["backend"]["description"] = b.description
        if b.agent_card:
            result["agentCard"] = b.agent_card
        return result

    def _on_notification(self, method: str, params: Any) -> None:
        if not self._ready or method != "$/cancelRequest" or not isinstance(params, dict):
            return  # unknown notifications are ignored
        request_id: Any = params.get("id")
        with self._lock:
            ctx = self._inflight.get(request_id)
        if ctx:
            self._cancel(ctx, self.backend.cancel_grace)

    def _cancel(self, ctx: RequestContext, grace: float) -> None:
        ctx.cancelled.set()
        if grace <= 0:
            ctx._answer(_cancelled_answer(ctx.id))
        else:
            timer = threading.Timer(grace, ctx._answer, args=(_cancelled_answer(ctx.id),))
            timer.daemon = True
            timer.start()

    def _run_handler(self, ctx: RequestContext, params: JsonObject) -> None:
        ctx._answer(self._handle(ctx, params))
        with self._lock:
            self._inflight.pop(ctx.id, None)
        ctx._done.set()

    def _handle(self, ctx: RequestContext, params: JsonObject) -> JsonObject:
        """Runs the handler and turns what it returned or raised into the request's answer."""
        try:
            result: Union[JsonObject, Any] = self.backend.handle_a2a(params, ctx)
            if isinstance(result, str):
                result = reply(result)
            elif isinstance(result, list):
                result = reply(*result)
            if not isinstance(result, dict) or not isinstance(result.get("parts"), list):
                raise TypeError("handle_a2a returned %r; return reply(...) or no_reply()" % (result,))
            return {"jsonrpc": "2.0", "id": ctx.id, "result": result}
        except Cancelled:
            return _cancelled_answer(ctx.id)
        except BackendError as e:
            return {"jsonrpc": "2.0", "id": ctx.id, "error": e.to_error()}
        except HostCallError as e:
            passed = _passed_on(ctx, e)
            if passed is not None:
                return passed
            _log("handle_a2a failed: %r" % e)
            return {"jsonrpc": "2.0", "id": ctx.id,
                    "error": {"code": INTERNAL_ERROR, "message": "handler failed: %s" % e}}
        except Exception as e:  # any other failure is the backend's bug: say so, keep serving
            _log("handle_a2a failed: %r" % e)
            return {"jsonrpc": "2.0", "id": ctx.id,
                    "error": {"code": INTERNAL_ERROR, "message": "handler failed: %s" % e}}

    def call_host(self, method: str, params: Optional[JsonObject] = None,
                  timeout: Optional[float] = None, origin: Optional[RequestId] = None,
                  workspace: Optional[str] = None) -> Any:
        """Calls a host method listed in the host's ``capabilities.hostMethods``; ``origin``
        is the request it is made for, ``workspace`` the workspace of a call made outside any
        request (a backend that serves several must name it, SPEC §17)."""
        if method not in self.host_methods:
            raise HostCallError("the host does not offer %r (it offers: %s)"
                                % (method, ", ".join(self.host_methods)))
        params = dict(params or {})
        if origin is not None:
            params["_meta"] = dict(params.get("_meta") or {}, requestId=origin)
        elif workspace is not None:
            params["_meta"] = dict(params.get("_meta") or {}, workspaceId=workspace)
        call = _Call()
        with self._lock:
            if self._closed:
                raise HostCallError("the connection to the host is closed")
            self._call_seq += 1
            call_id = "backend-%d" % self._call_seq
            self._calls[call_id] = call
        self.write({"jsonrpc": "2.0", "id": call_id, "method": method, "params": params})
        if not call.answered.wait(timeout):
            with self._lock:
                self._calls.pop(call_id, None)
            raise HostCallError("the host did not answer %r within %ss" % (method, timeout))
        if isinstance(call.answer, HostCallError):
            raise call.answer
        return call.answer

    def _deliver(self, call_id: str, answer: Any) -> bool:
        """Hands an answer to the call awaiting it; False when none does."""
        with self._lock:
            call = self._calls.pop(call_id, None)
        if call:
            call.answer = answer
            call.answered.set()
        return call is not None

    def _shutdown(self) -> None:
        with self._lock:
            self._closed = True
            calls, self._calls = self._calls, {}
            running = [c for c in self._inflight.values() if not c._answered]
        for call in calls.values():
            call.answer = HostCallError("the connection to the host closed before it answered")
            call.answered.set()
        end = time.monotonic() + self._grace
        for ctx in running:
            ctx._done.wait(max(0.0, end - time.monotonic()))
        for ctx in running:
            if not ctx._done.is_set():
                self._cancel(ctx, 0)
