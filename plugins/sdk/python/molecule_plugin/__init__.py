"""Write a Molecule backend in Python, with the standard library only.

Install it (``pip install molecule-plugin``, or ``pip install plugins/sdk/python`` from the
repository), subclass ``Backend``, implement ``handle_a2a``, and call ``run``::

    import molecule_plugin as mp

    class Hello(mp.Backend):
        name, version = "hello", "1.0.0"

        def handle_a2a(self, params, ctx):
            return mp.reply(mp.text_part("hello, " + mp.message_text(params)))

    if __name__ == "__main__":
        mp.run(Hello())

The host (``molecule connect … --backend-cmd``, ``molecule dev --backend-cmd``) starts the
program and talks JSON-RPC 2.0 to it, one JSON object per line on stdin/stdout. This package
does the protocol: the handshake, a thread per request (so ``ping`` and ``$/cancelRequest`` are
answered while handlers run), cancellation, progress, calls to the host, typed errors, and the
shutdown when stdin closes. Handlers call other workspaces with ``ctx.list_peers()``,
``ctx.send_to_peer(id, text=...)`` and friends (``PeerError`` says why one failed). ``run`` also
moves stdout out of reach: ``print`` (and any child process) writes to stderr, which the host
logs, so nothing can corrupt the protocol stream.

Everything is importable from the package itself; the modules say where each part lives.
"""

from .backend import Backend
from .codes import (BUDGET_EXHAUSTED, BUSY, DEADLINE_EXCEEDED, DEFAULT_MAX_MESSAGE_BYTES,
                    INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
                    NOT_FOUND, NOT_INITIALIZED, PARSE_ERROR, PEER_CALLS_NAMESPACE,
                    PLATFORM_UNAVAILABLE, PROTOCOL_VERSION, RATE_LIMITED, REFUSED, REJECTED,
                    REMOVED, REPLY_TOO_LARGE, REQUEST_CANCELLED, UNAUTHORIZED,
                    UNSUPPORTED_CONTENT, UPSTREAM_UNAVAILABLE, WAIT_TIMEOUT)
from .connection import Connection
from .context import HostLink, RequestContext, call_message_id
from .errors import BackendError, Cancelled, HostCallError, PeerError
from .framing import Frame, Line, Oversize, read_frames
from .parts import data_part, message_text, no_reply, parts_text, reply, text_part
from .process import run, serve
from .wire import HandlerResult, JsonObject, Part, RequestId
from .workspace import Workspace

__version__ = "0.1.0"

__all__ = [
    "Backend", "BackendError", "Cancelled", "Connection", "Frame", "HandlerResult", "HostCallError",
    "HostLink", "JsonObject", "Line", "Oversize", "Part", "PeerError", "RequestContext",
    "RequestId", "call_message_id", "data_part", "message_text", "no_reply", "parts_text",
    "read_frames", "reply", "run", "serve", "text_part", "Workspace",
    "PROTOCOL_VERSION", "DEFAULT_MAX_MESSAGE_BYTES", "PEER_CALLS_NAMESPACE",
    "PARSE_ERROR", "INVALID_REQUEST", "METHOD_NOT_FOUND", "INVALID_PARAMS", "INTERNAL_ERROR",
    "NOT_INITIALIZED", "REQUEST_CANCELLED", "BUSY", "RATE_LIMITED", "UPSTREAM_UNAVAILABLE",
    "UNSUPPORTED_CONTENT", "DEADLINE_EXCEEDED", "REFUSED", "REPLY_TOO_LARGE", "UNAUTHORIZED",
    "NOT_FOUND", "REMOVED", "PLATFORM_UNAVAILABLE", "REJECTED", "WAIT_TIMEOUT",
    "BUDGET_EXHAUSTED",
]
