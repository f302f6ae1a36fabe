"""Building a handler's answer and reading a message: parts, ``reply``, ``no_reply`` and the
text of a message or of a peer's answer."""

from typing import Any, Iterable, Optional, Union

from .wire import JsonObject, Part


def text_part(text: str) -> Part:
    """A text part."""
    return {"kind": "text", "text": text}


def data_part(data: Any) -> Part:
    """A data part carrying any JSON value."""
    return {"kind": "data", "data": data}


def reply(*parts: Union[Part, str], metadata: Optional[JsonObject] = None) -> JsonObject:
    """A ``handle_a2a`` result with these parts (strings become text parts)."""
    result: JsonObject = {"parts": [text_part(p) if isinstance(p, str) else p for p in parts]}
    if metadata:
        result["metadata"] = metadata
    return result


def no_reply() -> JsonObject:
    """A result with no parts: the host posts nothing."""
    return {"parts": []}


def parts_text(parts: Optional[Iterable[Part]]) -> str:
    """The text parts of a list of parts (a peer's reply, say), joined by newlines."""
    return "\n".join(p["text"] for p in parts or () if p.get("kind") == "text" and "text" in p)


def message_text(params: JsonObject) -> str:
    """The text parts of ``handle_a2a``'s message, joined by newlines."""
    return parts_text(params.get("message", {}).get("parts", []))
