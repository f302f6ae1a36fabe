"""The backend as a process: ``run`` checks it was started by the host, takes stdin and stdout
for the protocol (everything else that writes to fd 1 lands on stderr), serves, and exits;
``serve`` is the same conversation over any pair of streams."""

import os
import sys
from typing import IO, Any, NoReturn

from .backend import Backend
from .connection import Connection


def serve(backend: Backend, stdin: IO[bytes], stdout: IO[bytes], **options: Any) -> int:
    """Serves ``backend`` over binary streams until ``stdin`` ends; returns the exit status.
    ``options``: ``max_message_bytes``, ``shutdown_grace`` (seconds)."""
    return Connection(backend, stdin, stdout, **options).serve()


def run(backend: Backend) -> NoReturn:
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
