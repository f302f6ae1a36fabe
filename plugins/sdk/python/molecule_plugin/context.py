"""``RequestContext``: what a handler knows about its request and can do while it runs — its
id, cancellation, deadline and progress, calls to the host, and the typed peer calls
(``list_peers``, ``send_to_peer``, …) with their derived message ids."""

import threading
import time
import uuid
from datetime import datetime
from typing import Any, List, Optional, Protocol

from .codes import PEER_CALLS_NAMESPACE
from .errors import Cancelled, HostCallError, PeerError
from .wire import JsonObject, Part, RequestId
from .workspace import Workspace

class HostLink(Protocol):
    """The side of the connection a request's context uses: writing to the host and calling
    its methods. ``Connection`` is one; a test may pass its own."""

    host_methods: List[str]

    def write(self, message: JsonObject) -> None: ...

    def call_host(self, method: str, params: Optional[JsonObject] = None,
                  timeout: Optional[float] = None, origin: Optional[RequestId] = None) -> Any: ...


def call_message_id(idempotency_key: str, index: int) -> str:
    """The messageId of the index-th peer send while handling a delivery (SPEC 12.4)."""
    return str(uuid.uuid5(PEER_CALLS_NAMESPACE, "peer-send:%s:%d" % (idempotency_key, index)))


def _parse_deadline(text: Any) -> Optional[float]:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except (AttributeError, TypeError, ValueError):
        return None


class RequestContext:
    """What a handler knows about its request: id, cancellation, deadline, progress, host calls."""

    def __init__(self, conn: HostLink, request_id: RequestId, params: JsonObject,
                 workspace: Optional[Workspace] = None) -> None:
        self.id, self._conn = request_id, conn
        # The workspace the request is for (SPEC §17): keep per-workspace state apart by its id.
        self.workspace = workspace
        self.cancelled = threading.Event()  # set on cancel, and once the request is answered
        context = params.get("context") or {}
        self.deadline = _parse_deadline(context.get("deadline"))
        self._lock = threading.Lock()
        self._idempotency_key: Optional[str] = context.get("idempotencyKey")
        self._sends = 0  # peer sends so far, for their derived message ids
        self._answered = False
        self._done = threading.Event()  # the handler returned

    def is_cancelled(self) -> bool:
        return self.cancelled.is_set()

    def check_cancelled(self) -> None:
        """Raises ``Cancelled`` if the host cancelled the request."""
        if self.cancelled.is_set():
            raise Cancelled()

    def remaining(self) -> Optional[float]:
        """Seconds until the host's deadline (never negative), or None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    def progress(self, message: Optional[str] = None, percent: Optional[float] = None) -> None:
        """Tells the host the request is still being worked on (resets its idle timer)."""
        params: JsonObject = {"id": self.id}
        if message is not None:
            params["message"] = message
        if percent is not None:
            params["percent"] = percent
        with self._lock:
            if not self._answered and not self.cancelled.is_set():
                self._conn.write({"jsonrpc": "2.0", "method": "$/progress", "params": params})

    def call_host(self, method: str, params: Optional[JsonObject] = None,
                  timeout: Optional[float] = None) -> Any:
        """Calls a method the host offers; ``params._meta.requestId`` names this request."""
        return self._conn.call_host(method, params, timeout, origin=self.id)

    def _peer_call(self, method: str, params: JsonObject,
                   timeout: Optional[float] = None) -> JsonObject:
        if method not in self._conn.host_methods:
            raise PeerError("the host does not offer %r (it offers: %s)"
                            % (method, ", ".join(self._conn.host_methods)), cls="not_offered")
        try:
            answer: JsonObject = self.call_host(method, params, timeout)
            return answer
        except HostCallError as e:
            if e.code is None:
                raise PeerError(str(e), cls="connection")
            raise PeerError(e.host_message or str(e), e.code, e.data)

    def list_peers(self, timeout: Optional[float] = None) -> List[JsonObject]:
        """The workspace's peers: dicts with ``id`` and maybe ``name``, ``role``, ``status``."""
        peers: List[JsonObject] = self._peer_call("peers/list", {}, timeout).get("peers", [])
        return peers

    def discover(self, peer_id: str, timeout: Optional[float] = None) -> Optional[JsonObject]:
        """One peer by id, or None when the platform does not know it."""
        peer: Optional[JsonObject] = self._peer_call(
            "peers/discover", {"id": peer_id}, timeout).get("peer")
        return peer

    def send_to_peer(self, peer_id: str, text: Optional[str] = None,
                     parts: Optional[List[Part]] = None, context_id: Optional[str] = None,
                     message_id: Optional[str] = None, wait: Optional[float] = None,
                     timeout: Optional[float] = None) -> JsonObject:
        """Sends text (or parts) to a peer; returns ``{messageId, contextId, queued, parts?,
        state?}``. ``wait`` (seconds) waits for the reply of a peer that does not answer at once.
        The i-th send of a request gets the messageId ``call_message_id(idempotencyKey, i)``, so
        a redelivered message does not delegate the same work twice."""
        with self._lock:
            index, self._sends = self._sends, self._sends + 1
        if (text is None) == (parts is None) or (text is not None and not text.strip()):
            raise PeerError("peers/send to %s: give a non-empty text or parts, not both"
                            % peer_id, cls="invalid_params")
        params: JsonObject = {"id": peer_id}
        params.update({"text": text} if text is not None else {"parts": parts})
        if message_id is None and self._idempotency_key:
            message_id = call_message_id(self._idempotency_key, index)
        for key, value in (("contextId", context_id), ("messageId", message_id),
                           ("waitMs", None if wait is None else int(round(wait * 1000)))):
            if value is not None:
                params[key] = value
        return self._peer_call("peers/send", params, timeout)

    def workspace_info(self, timeout: Optional[float] = None) -> Optional[JsonObject]:
        """This workspace's record on the platform."""
        workspace: Optional[JsonObject] = self._peer_call(
            "workspace/info", {}, timeout).get("workspace")
        return workspace

    def notify_user(self, text: str, attachments: Optional[List[JsonObject]] = None,
                    timeout: Optional[float] = None) -> None:
        """Writes to the person in the canvas, at any time."""
        params: JsonObject = {"text": text}
        if attachments:
            params["attachments"] = attachments
        self._peer_call("user/notify", params, timeout)

    def _answer(self, message: JsonObject) -> None:
        """Sends the request's one answer; later ones (a cancel racing the handler) are dropped."""
        with self._lock:
            if self._answered:
                return
            self._answered = True
            self._conn.write(message)
        self.cancelled.set()
