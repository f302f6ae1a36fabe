"""The protocol's numbers: its version, the default line cap, the error codes a backend answers
with or receives (SPEC §6), and the namespace of the peer-call message ids (SPEC §12.4)."""

import uuid

PROTOCOL_VERSION = 1
DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024

# JSON-RPC's own codes and the protocol's reserved ones.
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND = -32700, -32600, -32601
INVALID_PARAMS, INTERNAL_ERROR = -32602, -32603
NOT_INITIALIZED, REQUEST_CANCELLED = -32002, -32800
# Application codes a handler answers with; the host retries the first three.
BUSY, RATE_LIMITED, UPSTREAM_UNAVAILABLE, UNSUPPORTED_CONTENT = 1001, 1002, 1003, 1004
DEADLINE_EXCEEDED, REFUSED, REPLY_TOO_LARGE = 1005, 1006, 1007
RETRYABLE_BY_DEFAULT = (BUSY, RATE_LIMITED, UPSTREAM_UNAVAILABLE)
# Errors of the peer calls (host methods peers/*, workspace/info, user/notify).
UNAUTHORIZED, NOT_FOUND, REMOVED, PLATFORM_UNAVAILABLE = 1010, 1011, 1012, 1013
REJECTED, WAIT_TIMEOUT, BUDGET_EXHAUSTED = 1014, 1015, 1016

PEER_CALLS_NAMESPACE = uuid.UUID("6f0c5e2a-6d7b-4c1e-9a43-2f1d5b8e7c90")
