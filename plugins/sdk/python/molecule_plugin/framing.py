"""Splitting the host's byte stream into lines (SPEC §2): a leading BOM and trailing ``\\r``
stripped, blank lines skipped, and a line over the cap skipped whole, with the request id
read from its start so the request can still be answered."""

import json
import re
from typing import IO, Iterator, NamedTuple, Optional, Union

from .codes import DEFAULT_MAX_MESSAGE_BYTES
from .wire import RequestId


class Line(NamedTuple):
    """``("line", bytes)``: one line, without its end."""

    kind: str
    data: bytes


class Oversize(NamedTuple):
    """``("oversize", length, id or None)``: a line over the cap, which was skipped."""

    kind: str
    length: int
    id: Optional[RequestId]


Frame = Union[Line, Oversize]

_ID_AT_START = re.compile(rb'^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*'
                          rb'(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]')


def read_frames(stream: IO[bytes], max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> Iterator[Frame]:
    """Yields ("line", bytes) per non-blank line (trailing \\r and a leading BOM stripped) and
    ("oversize", length, id or None) per line over ``max_bytes``, which is skipped."""
    first = True
    while True:
        line = stream.readline(max_bytes + 1)
        if not line:
            return
        if len(line) > max_bytes and not line.endswith(b"\n"):
            yield _skip_rest(stream, line)
            first = False
            continue
        if first and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        line = line.rstrip(b"\n").rstrip(b"\r")
        if line.strip():
            first = False
            yield Line("line", line)


def _skip_rest(stream: IO[bytes], start: bytes) -> Oversize:
    """Reads to the end of an over-long line in bounded chunks; only its head is kept, to find
    the id."""
    length, head, chunk = len(start), start[:65536], b""
    while True:
        chunk = stream.readline(65536)
        length += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            break
    length -= 1 if chunk.endswith(b"\n") else 0
    match = _ID_AT_START.match(head)
    request_id: Optional[RequestId] = json.loads(match.group(1)) if match else None
    return Oversize("oversize", length, request_id)
