'use strict';
// The protocol's numbers: its version, the default line cap, the error codes a backend answers
// with or receives (SPEC §6), and the namespace of the peer-call message ids (SPEC §12.4).

const PROTOCOL_VERSION = 1;
const DEFAULT_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
const codes = Object.freeze({
  PARSE_ERROR: -32700, INVALID_REQUEST: -32600, METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602, INTERNAL_ERROR: -32603, NOT_INITIALIZED: -32002,
  REQUEST_CANCELLED: -32800, BUSY: 1001, RATE_LIMITED: 1002, UPSTREAM_UNAVAILABLE: 1003,
  UNSUPPORTED_CONTENT: 1004, DEADLINE_EXCEEDED: 1005, REFUSED: 1006, REPLY_TOO_LARGE: 1007,
  // Errors of the peer calls (host methods peers/*, workspace/info, user/notify).
  UNAUTHORIZED: 1010, NOT_FOUND: 1011, REMOVED: 1012, PLATFORM_UNAVAILABLE: 1013, REJECTED: 1014,
  WAIT_TIMEOUT: 1015, BUDGET_EXHAUSTED: 1016,
});
const PEER_CALLS_NAMESPACE = '6f0c5e2a-6d7b-4c1e-9a43-2f1d5b8e7c90';
// The application codes the host retries when the backend does not say.
const RETRYABLE_BY_DEFAULT = new Set([codes.BUSY, codes.RATE_LIMITED, codes.UPSTREAM_UNAVAILABLE]);

module.exports = { PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, codes, PEER_CALLS_NAMESPACE, RETRYABLE_BY_DEFAULT };
