'use strict';
// The errors of the SDK: the error a handler answers with (BackendError), the cancellation it
// may throw (Cancelled), and the failures of its calls to the host (HostCallError, and
// PeerError for the peer calls).
const { codes, RETRYABLE_BY_DEFAULT } = require('./codes.js');

/** An error answer; use the application codes 1001-1007 so the host knows what to do. */
class BackendError extends Error {
  constructor(code, message, { retryable, retryAfterMs, userMessage, details } = {}) {
    super(message);
    this.code = code;
    if (retryable === undefined && code >= 1000 && code < 1100) retryable = RETRYABLE_BY_DEFAULT.has(code);
    this.data = {};
    for (const [k, v] of Object.entries({ retryable, retryAfterMs, userMessage, details })) {
      if (v !== undefined && v !== null) this.data[k] = v;
    }
  }

  toError() {
    const error = { code: this.code, message: this.message };
    if (Object.keys(this.data).length) error.data = this.data;
    return error;
  }
}
for (const [name, code] of Object.entries({
  busy: 1001, rateLimited: 1002, upstreamUnavailable: 1003, unsupportedContent: 1004,
  deadlineExceeded: 1005, refused: 1006, replyTooLarge: 1007,
})) {
  BackendError[name] = (message, options) => new BackendError(code, message, options);
}

/** Thrown by `ctx.throwIfCancelled()`; the request is answered -32800. */
class Cancelled extends Error {}

/** A call to the host failed (not offered, connection closed, timed out, or an error answer). */
class HostCallError extends Error {
  constructor(message, code, data) {
    super(message);
    this.code = code;
    this.data = data;
  }
}

/** A peer call failed. `cls` is the host's `data.class` (`unauthorized`, `not_found`, `removed`,
 * `unreachable`, `server_error`, `rejected`, `bad_response`, `wait_timeout`, `budget`, `in_flight`), or
 * `invalid_params`, `not_offered`, `connection`; `retryable`, `retryAfterMs`, `messageId` (set
 * when a wait timed out after the message was sent), `target` and `status` come from its data. */
class PeerError extends HostCallError {
  constructor(message, code, data, cls) {
    super(message, code, data);
    const d = data && typeof data === 'object' ? data : {};
    this.cls = cls || d.class || (code === codes.INVALID_PARAMS ? 'invalid_params' : 'other');
    this.retryable = d.retryable === true;
    this.retryAfterMs = d.retryAfterMs;
    this.messageId = d.messageId;
    this.target = d.target;
    this.status = d.status;
  }
}

module.exports = { BackendError, Cancelled, HostCallError, PeerError };
