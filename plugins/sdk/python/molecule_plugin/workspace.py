"""``Workspace``: the workspace a request is for, and the workspaces a backend that serves
several in one process has open (SPEC §17).

The workspace named in ``initialize`` is open from the handshake on, its state directory and
host socket in the environment. A backend that sets ``max_workspaces`` above 1 may be given
more with ``workspace/open`` (their directory and socket in the params) and lose any with
``workspace/close``; each ``handle_a2a`` then names its workspace."""

import os
from typing import Any, Dict, Optional


class Workspace:
    """A workspace this backend serves: ``id``, ``name`` (or None), ``state_dir`` (its own
    0700 directory, or None) and ``host_socket`` (the socket for tools started for it)."""

    def __init__(self, id: str, name: Optional[str] = None, state_dir: Optional[str] = None,
                 host_socket: Optional[str] = None) -> None:
        self.id, self.name, self.state_dir, self.host_socket = id, name, state_dir, host_socket

    def __repr__(self) -> str:
        return "Workspace(%r, name=%r)" % (self.id, self.name)

    @staticmethod
    def first(params: Any) -> "Workspace":
        """The workspace of ``initialize``, with the directory and socket of the environment."""
        ref = params.get("workspace") if isinstance(params, dict) else None
        ref = ref if isinstance(ref, dict) else {}
        return Workspace(str(ref.get("id", "")), ref.get("name"),
                         os.environ.get("MOLECULE_STATE_DIR") or None,
                         os.environ.get("MOLECULE_HOST_SOCKET") or None)

    @staticmethod
    def opened(params: Dict[str, Any]) -> "Workspace":
        """A workspace from the params of ``workspace/open``."""
        ref = params["workspace"]
        return Workspace(ref["id"], ref.get("name"), params["stateDir"], params.get("hostSocket"))


class Workspaces:
    """The workspaces open in this process, by id (compared without case)."""

    def __init__(self) -> None:
        self.first: Optional[Workspace] = None
        self._open: Dict[str, Workspace] = {}

    def start(self, first: Workspace) -> None:
        self.first = first
        self._open[first.id.lower()] = first

    def open(self, ws: Workspace) -> bool:
        """Opens ``ws``; False when it is open already."""
        if ws.id.lower() in self._open:
            return False
        self._open[ws.id.lower()] = ws
        return True

    def close(self, id: str) -> Optional[Workspace]:
        return self._open.pop(id.lower(), None)

    def of_request(self, params: Dict[str, Any]) -> Optional[Workspace]:
        """The workspace a ``handle_a2a`` names, else the one of ``initialize``; None when it
        names one that is not open."""
        ref = params.get("workspace")
        if not isinstance(ref, dict):
            return self.first
        return self._open.get(str(ref.get("id", "")).lower())
