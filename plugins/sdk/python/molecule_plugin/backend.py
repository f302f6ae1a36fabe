"""``Backend``: the class a backend subclasses, with what it tells the host at the handshake
and the handler it implements."""

from typing import Optional

from .codes import METHOD_NOT_FOUND
from .context import RequestContext
from .errors import BackendError
from .wire import HandlerResult, JsonObject
from .workspace import Workspace


class Backend:
    """Subclass and implement ``handle_a2a(params, ctx)``. It runs in a thread of its own, so
    several may run at once (up to ``max_concurrency``, which the host respects)."""

    name: str = "python-backend"
    version: str = "0.0.0"
    description: Optional[str] = None
    agent_card: Optional[JsonObject] = None
    max_concurrency: int = 1
    # Above 1: one process serves up to this many workspaces (SPEC §17); each request names
    # its workspace (ctx.workspace), and open_workspace / close_workspace hear of the others.
    max_workspaces: int = 1
    cancel: bool = True
    progress: bool = False
    # Seconds a cancelled handler may take to return by itself (watching ctx.cancelled);
    # after that the request is answered -32800 and whatever the handler returns is dropped.
    cancel_grace: float = 0.0

    def initialize(self, params: JsonObject) -> None:
        """Called with the host's initialize params before answering; raise to refuse."""

    def open_workspace(self, workspace: Workspace) -> Optional[JsonObject]:
        """The host added a workspace to this process (only when ``max_workspaces`` is above
        1). Prepare what it needs; return its own agent card if it differs from
        ``agent_card``; raise ``BackendError`` to refuse it."""
        return None

    def close_workspace(self, workspace: Workspace) -> None:
        """The host took a workspace from this process, after its requests ended: release
        what is held for it, and stop using its state directory."""

    def handle_a2a(self, params: JsonObject, ctx: RequestContext) -> HandlerResult:
        """Answers one message: return ``reply(...)``, ``no_reply()``, or raise
        ``BackendError``."""
        raise BackendError(METHOD_NOT_FOUND, "handle_a2a is not implemented")
