"""The JSON the protocol carries, as Python types. Messages stay the dicts and lists that
``json.loads`` returns, so a handler reads the host's params and builds its result with plain
Python; these names only say which shape a function expects."""

from typing import Any, Dict, List, Union

JsonObject = Dict[str, Any]
"""A JSON object: params, results, an agent card."""

Part = Dict[str, Any]
"""An A2A part: ``{"kind": "text", "text": …}``, ``{"kind": "data", "data": …}`` or a file."""

RequestId = Union[int, str]
"""A JSON-RPC request id (the protocol uses integers and strings, never null)."""

HandlerResult = Union[JsonObject, str, List[Union[Part, str]]]
"""What ``handle_a2a`` returns: ``reply(...)`` / ``no_reply()``, or a string or a list of parts,
which become ``reply(...)`` of them."""
