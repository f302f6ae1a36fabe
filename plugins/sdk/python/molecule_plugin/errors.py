"""The exceptions of the SDK: the error a handler answers with (``BackendError``), the
cancellation it may raise (``Cancelled``), and the failures of its calls to the host
(``HostCallError``, and ``PeerError`` for the peer calls)."""

from typing import Any, Optional

from .codes import (BUSY, DEADLINE_EXCEEDED, INVALID_PARAMS, RATE_LIMITED, REFUSED,
                    REPLY_TOO_LARGE, RETRYABLE_BY_DEFAULT, UNSUPPORTED_CONTENT,
                    UPSTREAM_UNAVAILABLE)
from .wire import JsonObject


class BackendError(Exception):
    """An error answer. Use the application codes 1001-1007 so the host knows what to do:
    retry later (busy, rate limited, upstream unavailable) or tell the sender (``user_message``)."""

    def __init__(self, code: int, message: str, retryable: Optional[bool] = None,
                 retry_after_ms: Optional[int] = None, user_message: Optional[str] = None,
                 details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message = code, message
        if retryable is None and 1000 <= code < 1100:
            retryable = code in RETRYABLE_BY_DEFAULT
        self.data: JsonObject = {
            k: v for k, v in (("retryable", retryable), ("retryAfterMs", retry_after_ms),
                              ("userMessage", user_message), ("details", details))
            if v is not None}

    def to_error(self) -> JsonObject:
        """The JSON-RPC error object of this answer."""
        error: JsonObject = {"code": self.code, "message": self.message}
        if self.data:
            error["data"] = self.data
        return error

    @classmethod
    def busy(cls, message: str, **options: Any) -> "BackendError":
        """1001: too much work now; the host redelivers later."""
        return cls(BUSY, message, **options)

    @classmethod
    def rate_limited(cls, message: str, **options: Any) -> "BackendError":
        """1002: an upstream's rate limit; the host redelivers after ``retry_after_ms``."""
        return cls(RATE_LIMITED, message, **options)

    @classmethod
    def upstream_unavailable(cls, message: str, **options: Any) -> "BackendError":
        """1003: a service the backend needs is down; the host redelivers later."""
        return cls(UPSTREAM_UNAVAILABLE, message, **options)

    @classmethod
    def unsupported_content(cls, message: str, **options: Any) -> "BackendError":
        """1004: the message holds parts the backend cannot read; not retried."""
        return cls(UNSUPPORTED_CONTENT, message, **options)

    @classmethod
    def deadline_exceeded(cls, message: str, **options: Any) -> "BackendError":
        """1005: the work cannot finish in time; not retried."""
        return cls(DEADLINE_EXCEEDED, message, **options)

    @classmethod
    def refused(cls, message: str, **options: Any) -> "BackendError":
        """1006: the backend will not do this; not retried."""
        return cls(REFUSED, message, **options)

    @classmethod
    def reply_too_large(cls, message: str, **options: Any) -> "BackendError":
        """1007: the answer would exceed the host's limit; not retried."""
        return cls(REPLY_TOO_LARGE, message, **options)


class Cancelled(Exception):
    """Raised by ``RequestContext.check_cancelled``; the request is answered -32800."""


class HostCallError(Exception):
    """A call to the host failed: not offered, connection closed, timed out, or an error answer
    (then ``code`` and ``data`` are the host's, and ``host_message`` its message)."""

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None,
                 host_message: Optional[str] = None) -> None:
        super().__init__(message)
        self.code, self.data, self.host_message = code, data, host_message


class PeerError(HostCallError):
    """A peer call failed. ``cls`` is the host's ``data.class`` (``unauthorized``,
    ``not_found``, ``removed``, ``unreachable``, ``server_error``, ``rejected``,
    ``bad_response``, ``wait_timeout``, ``budget``, ``in_flight``), or ``invalid_params``, ``not_offered``,
    ``connection``; ``retryable``, ``retry_after_ms``, ``message_id`` (set when a wait timed out
    after the message was sent), ``target`` and ``status`` come from the host's data."""

    def __init__(self, message: str, code: Optional[int] = None, data: Any = None,
                 cls: Optional[str] = None) -> None:
        super().__init__(message, code, data)
        fields: JsonObject = data if isinstance(data, dict) else {}
        self.cls: str = cls or fields.get("class") or (
            "invalid_params" if code == INVALID_PARAMS else "other")
        self.retryable = bool(fields.get("retryable", False))
        self.retry_after_ms: Optional[int] = fields.get("retryAfterMs")
        self.message_id: Optional[str] = fields.get("messageId")
        self.target: Optional[str] = fields.get("target")
        self.status: Optional[int] = fields.get("status")
