'use strict';
/**
 * Write a Molecule backend in Node: one file, standard library only.
 *
 * Copy this file next to your backend, describe the backend, and call `run`:
 *
 *   const mp = require('./molecule-plugin.js');
 *   mp.run({
 *     name: 'hello', version: '1.0.0',
 *     async handleA2a(params, ctx) { return mp.reply('hello, ' + mp.messageText(params)); },
 *   });
 *
 * The host (`molecule connect … --backend-cmd`, `molecule dev --backend-cmd`) starts the program
 * and talks JSON-RPC 2.0 to it, one JSON object per line on stdin/stdout. This module does the
 * protocol: the handshake, concurrent handlers (so `ping` and `$/cancelRequest` are answered
 * while they run), cancellation through an AbortSignal, progress, calls to the host, typed
 * errors, and the shutdown when stdin closes. Handlers call other workspaces with
 * `ctx.listPeers()`, `ctx.sendToPeer(id, { text })` and friends (`PeerError` says why one
 * failed). `run` sends console.log and process.stdout.write
 * to stderr, so stray output cannot corrupt the protocol stream.
 */

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
const RETRYABLE_BY_DEFAULT = new Set([codes.BUSY, codes.RATE_LIMITED, codes.UPSTREAM_UNAVAILABLE]);

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
 * `unreachable`, `server_error`, `rejected`, `bad_response`, `wait_timeout`, `budget`), or
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

/** UUIDv5 (RFC 9562) of `name` in the namespace `ns`. */
function uuidv5(ns, name) {
  const hash = require('node:crypto').createHash('sha1')
    .update(Buffer.from(ns.replace(/-/g, ''), 'hex')).update(Buffer.from(name, 'utf8')).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The messageId of the index-th peer send while handling a delivery (SPEC 12.4). */
const callMessageId = (idempotencyKey, index) => uuidv5(PEER_CALLS_NAMESPACE, `peer-send:${idempotencyKey}:${index}`);

/** The typed peer calls of one request, made through its `callHost`. The i-th `sendToPeer`
 * gets the messageId `callMessageId(idempotencyKey, i)` unless it names one, so a redelivered
 * message does not delegate the same work twice. */
function peerCalls(callHost, hostMethods, idempotencyKey) {
  let sends = 0;
  const call = async (method, params, timeoutMs) => {
    if (!hostMethods().includes(method)) {
      throw new PeerError(`the host does not offer "${method}" (it offers: ${hostMethods().join(', ')})`, undefined, undefined, 'not_offered');
    }
    try {
      return (await callHost(method, params, { timeoutMs })) || {};
    } catch (e) {
      if (!(e instanceof HostCallError) || e.code === undefined) throw new PeerError(e.message, undefined, undefined, 'connection');
      throw new PeerError(e.hostMessage || e.message, e.code, e.data);
    }
  };
  return {
    async listPeers({ timeoutMs } = {}) { return (await call('peers/list', {}, timeoutMs)).peers || []; },
    async discover(id, { timeoutMs } = {}) { return (await call('peers/discover', { id }, timeoutMs)).peer ?? null; },
    /** Sends `text` (or `parts`) to a peer; resolves `{messageId, contextId, queued, parts?, state?}`. */
    async sendToPeer(id, { text, parts, contextId, messageId, waitMs, timeoutMs } = {}) {
      const index = sends++;
      if ((text === undefined) === (parts === undefined) || (text !== undefined && !String(text).trim())) {
        throw new PeerError(`peers/send to ${id}: give a non-empty text or parts, not both`, undefined, undefined, 'invalid_params');
      }
      const params = { id, ...(text !== undefined ? { text } : { parts }) };
      if (contextId !== undefined) params.contextId = contextId;
      const mid = messageId ?? (idempotencyKey ? callMessageId(idempotencyKey, index) : undefined);
      if (mid !== undefined) params.messageId = mid;
      if (waitMs !== undefined) params.waitMs = Math.round(waitMs);
      return call('peers/send', params, timeoutMs);
    },
    async workspaceInfo({ timeoutMs } = {}) { return (await call('workspace/info', {}, timeoutMs)).workspace; },
    async notifyUser(text, { attachments, timeoutMs } = {}) {
      await call('user/notify', attachments ? { text, attachments } : { text }, timeoutMs);
    },
  };
}

const textPart = (text) => ({ kind: 'text', text });
const dataPart = (data) => ({ kind: 'data', data });
/** A handle_a2a result with these parts (strings become text parts). */
const reply = (...parts) => ({ parts: parts.map((p) => (typeof p === 'string' ? textPart(p) : p)) });
/** A result with no parts: the host posts nothing. */
const noReply = () => ({ parts: [] });
/** The text parts of a list of parts (a peer's reply, say), joined by newlines. */
const partsText = (parts) => (parts || []).filter((p) => p.kind === 'text' && typeof p.text === 'string')
  .map((p) => p.text).join('\n');
/** The message's text parts, joined by newlines. */
const messageText = (params) => ((params.message || {}).parts || [])
  .filter((p) => p.kind === 'text' && typeof p.text === 'string').map((p) => p.text).join('\n');

const ID_AT_START = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]/;

/** Splits a byte stream into lines: strips \r and a leading BOM, skips blank lines, and
 * reports (then skips) lines over `max` bytes with their id when it can be read. */
class LineReader {
  constructor(max, onFrame) {
    Object.assign(this, { max, onFrame, parts: [], len: 0, discarding: null, first: true });
  }

  push(chunk) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (this.discarding) {
        this.discarding.length += piece.length;
      } else {
        this.parts.push(piece);
        this.len += piece.length;
        if (this.len > this.max) {
          const head = Buffer.concat(this.parts).subarray(0, 65536).toString('utf8');
          const m = ID_AT_START.exec(head);
          this.discarding = { length: this.len, id: m ? JSON.parse(m[1]) : null };
          this.parts = [];
          this.len = 0;
        }
      }
      if (nl === -1) return;
      this.finish();
      start = nl + 1;
    }
  }

  finish() {
    if (this.discarding) {
      const { length, id } = this.discarding;
      this.discarding = null;
      this.first = false;
      return this.onFrame({ oversize: true, length, id });
    }
    let line = Buffer.concat(this.parts);
    this.parts = [];
    this.len = 0;
    if (this.first && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    if (line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    if (line.toString('latin1').trim() === '') return undefined;
    this.first = false;
    return this.onFrame({ line });
  }

  end() {
    if (this.len || this.discarding) this.finish();
  }
}

const log = (message) => process.stderr.write(`molecule-plugin: warning: ${message}\n`);
const validId = (id) => typeof id === 'string' || Number.isInteger(id);
const cancelledError = () => ({ code: codes.REQUEST_CANCELLED, message: 'request cancelled by the host' });

/** One conversation with the host over a readable and a writable stream. */
class Connection {
  constructor(backend, input, output, options = {}) {
    this.backend = backend;
    this.input = input;
    this.output = output;
    this.maxIn = options.maxMessageBytes || DEFAULT_MAX_MESSAGE_BYTES;
    this.maxOut = this.maxIn;
    this.shutdownGraceMs = options.shutdownGraceMs ?? 3000;
    this.ready = false;
    this.inflight = new Map(); // request id -> request state
    this.calls = new Map(); // our call id -> { resolve, reject, timer }
    this.callSeq = 0;
    this.closed = false;
    this.hostMethods = [];
    this.lastWrite = Promise.resolve();
  }

  /** Serves until the input ends and the shutdown completed; resolves with the exit status. */
  serve() {
    return new Promise((resolve) => {
      const reader = new LineReader(this.maxIn, (frame) => this.onFrame(frame));
      this.input.on('data', (chunk) => reader.push(chunk));
      this.input.on('end', () => { reader.end(); this.shutdown().then(resolve); });
      this.input.on('error', (e) => { log(`reading stdin failed: ${e.message}`); this.shutdown().then(() => resolve(1)); });
    });
  }

  write(message) {
    let line = JSON.stringify(message);
    if ('id' in message && !('method' in message) && Buffer.byteLength(line) > this.maxOut) {
      const error = BackendError.replyTooLarge(`reply too large: ${Buffer.byteLength(line)} bytes, over the host's limit of ${this.maxOut} bytes`, { retryable: false });
      line = JSON.stringify({ jsonrpc: '2.0', id: message.id, error: error.toError() });
    }
    this.lastWrite = new Promise((resolve) => this.output.write(`${line}\n`, () => resolve()));
    return this.lastWrite;
  }

  respond(id, result, error) {
    return this.write(error ? { jsonrpc: '2.0', id, error } : { jsonrpc: '2.0', id, result });
  }

  onFrame(frame) {
    if (frame.oversize) {
      log(`discarded a ${frame.length}-byte line from the host, over the ${this.maxIn}-byte cap`);
      if (frame.id === null) return;
      if (this.deliver(frame.id, new HostCallError(`the host's answer was too large (${frame.length} bytes)`))) return;
      this.respond(frame.id, undefined, { code: codes.INVALID_REQUEST, message: `request too large: ${frame.length} bytes, over the backend's line cap of ${this.maxIn} bytes` });
      return;
    }
    let msg;
    try {
      msg = JSON.parse(frame.line.toString('utf8'));
    } catch {
      log(`ignored a line that is not JSON: ${JSON.stringify(frame.line.subarray(0, 160).toString('utf8'))}`);
      return;
    }
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      log('ignored a JSON line that is not an object');
      return;
    }
    this.onMessage(msg);
  }

  onMessage(msg) {
    const { id, method } = msg;
    if (msg.jsonrpc === '2.0' && !('method' in msg) && ('result' in msg || 'error' in msg)) {
      this.onResponse(id, msg); // never answered, whatever it holds
    } else if (msg.jsonrpc !== '2.0' || typeof method !== 'string' || ('id' in msg && !validId(id))) {
      this.respond(validId(id) ? id : null, undefined, {
        code: codes.INVALID_REQUEST,
        message: 'invalid request: not a JSON-RPC 2.0 request (needs "jsonrpc": "2.0", a string method, an integer or string id)',
      });
    } else if (!('id' in msg)) {
      this.onNotification(method, msg.params);
    } else {
      this.onRequest(id, method, msg.params);
    }
  }

  onResponse(id, msg) {
    const err = msg.error && typeof msg.error === 'object' ? msg.error : {};
    const answer = 'error' in msg
      ? Object.assign(new HostCallError(`the host answered with an error: ${err.message} (code ${err.code})`, err.code, err.data),
        { hostMessage: err.message })
      : msg.result;
    if (!this.deliver(id, answer)) log(`ignored an answer to ${JSON.stringify(id)}, which no call awaits`);
  }

  onRequest(id, method, params) {
    if (!this.ready && method !== 'initialize') {
      this.respond(id, undefined, { code: codes.NOT_INITIALIZED, message: 'not initialized: send initialize first' });
    } else if (method === 'initialize') {
      this.initialize(id, params);
    } else if (method === 'ping') {
      this.respond(id, {});
    } else if (method !== 'handle_a2a') {
      this.respond(id, undefined, { code: codes.METHOD_NOT_FOUND, message: `method not found: ${method}` });
    } else if (!params || typeof params.message !== 'object' || !Array.isArray((params.message || {}).parts)
               || typeof params.context !== 'object' || params.context === null) {
      this.respond(id, undefined, { code: codes.INVALID_PARAMS, message: 'invalid params: handle_a2a needs message.parts and context' });
    } else if (this.inflight.has(id)) {
      this.respond(id, undefined, { code: codes.INVALID_REQUEST, message: `request id ${JSON.stringify(id)} is already in flight` });
    } else {
      this.startHandler(id, params);
    }
  }

  async initialize(id, params) {
    if (this.ready) return this.respond(id, undefined, { code: codes.INVALID_REQUEST, message: 'already initialized' });
    if (!params || !Number.isInteger(params.protocolVersion)) {
      return this.respond(id, undefined, { code: codes.INVALID_PARAMS, message: 'invalid params: protocolVersion is required' });
    }
    const b = this.backend;
    try {
      if (b.initialize) await b.initialize(params);
    } catch (e) {
      const error = e instanceof BackendError ? e : new BackendError(codes.INTERNAL_ERROR, String(e && e.message));
      return this.respond(id, undefined, error.toError());
    }
    this.hostMethods = ((params.capabilities || {}).hostMethods || []).slice();
    const limit = (params.limits || {}).maxMessageBytes;
    if (Number.isInteger(limit) && limit > 0) this.maxOut = limit;
    const result = {
      protocolVersion: PROTOCOL_VERSION,
      backend: { name: b.name || 'node-backend', version: b.version || '0.0.0' },
      capabilities: { maxConcurrency: b.maxConcurrency || 1, cancel: b.cancel !== false, progress: !!b.progress },
    };
    if (b.description) result.backend.description = b.description;
    if (b.agentCard) result.agentCard = b.agentCard;
    this.ready = true;
    return this.respond(id, result);
  }

  onNotification(method, params) {
    if (!this.ready || method !== '$/cancelRequest' || !params) return; // others are ignored
    const req = this.inflight.get(params.id);
    if (req) this.cancel(req, this.backend.cancelGraceMs || 0);
  }

  cancel(req, graceMs) {
    req.controller.abort(new Cancelled('request cancelled by the host'));
    const answer = () => this.answer(req, undefined, cancelledError());
    if (graceMs > 0) setTimeout(answer, graceMs).unref(); else answer();
  }

  answer(req, result, error) {
    if (req.answered) return;
    req.answered = true;
    this.respond(req.id, result, error);
  }

  startHandler(id, params) {
    const controller = new AbortController();
    const req = { id, controller, answered: false, done: null };
    const deadline = Date.parse((params.context || {}).deadline);
    const ctx = {
      id,
      signal: controller.signal,
      deadline: Number.isNaN(deadline) ? null : new Date(deadline),
      get cancelled() { return controller.signal.aborted; },
      throwIfCancelled() { if (controller.signal.aborted) throw new Cancelled('request cancelled by the host'); },
      /** Resolves once the request is cancelled (at once if it already was). */
      whenCancelled() {
        if (controller.signal.aborted) return Promise.resolve();
        return new Promise((resolve) => controller.signal.addEventListener('abort', () => resolve(), { once: true }));
      },
      remainingMs() { return Number.isNaN(deadline) ? null : Math.max(0, deadline - Date.now()); },
      progress: (message, percent) => {
        if (req.answered || controller.signal.aborted) return;
        const p = { id };
        if (message !== undefined) p.message = message;
        if (percent !== undefined) p.percent = percent;
        this.write({ jsonrpc: '2.0', method: '$/progress', params: p });
      },
      callHost: (method, callParams, options) => this.callHost(method, callParams, { ...options, origin: id }),
    };
    Object.assign(ctx, peerCalls(ctx.callHost, () => this.hostMethods, (params.context || {}).idempotencyKey));
    this.inflight.set(id, req);
    req.done = Promise.resolve()
      .then(() => this.backend.handleA2a(params, ctx))
      .then((result) => {
        if (typeof result === 'string') result = reply(result);
        else if (Array.isArray(result)) result = reply(...result);
        if (!result || !Array.isArray(result.parts)) {
          throw new TypeError(`handleA2a returned ${JSON.stringify(result)}; return reply(...) or noReply()`);
        }
        this.answer(req, result);
      })
      .catch((e) => {
        if (e instanceof Cancelled || (e && e.name === 'AbortError')) return this.answer(req, undefined, cancelledError());
        if (e instanceof BackendError) return this.answer(req, undefined, e.toError());
        log(`handleA2a failed: ${e && e.stack ? e.stack : e}`);
        return this.answer(req, undefined, { code: codes.INTERNAL_ERROR, message: `handler failed: ${e && e.message}` });
      })
      .finally(() => { req.answered = true; this.inflight.delete(id); });
  }

  /** Calls a host method listed in the host's `capabilities.hostMethods`. */
  callHost(method, params, { timeoutMs, origin } = {}) {
    if (!this.hostMethods.includes(method)) {
      return Promise.reject(new HostCallError(`the host does not offer "${method}" (it offers: ${this.hostMethods.join(', ')})`));
    }
    if (this.closed) return Promise.reject(new HostCallError('the connection to the host is closed'));
    const p = { ...(params || {}) };
    if (origin !== undefined) p._meta = { ...(p._meta || {}), requestId: origin };
    const id = `backend-${++this.callSeq}`;
    return new Promise((resolve, reject) => {
      const call = { resolve, reject, timer: null };
      if (timeoutMs) {
        call.timer = setTimeout(() => {
          this.calls.delete(id);
          reject(new HostCallError(`the host did not answer "${method}" within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      this.calls.set(id, call);
      this.write({ jsonrpc: '2.0', id, method, params: p });
    });
  }

  deliver(id, answer) {
    const call = this.calls.get(id);
    if (!call) return false;
    this.calls.delete(id);
    clearTimeout(call.timer);
    if (answer instanceof HostCallError) call.reject(answer); else call.resolve(answer);
    return true;
  }

  async shutdown() {
    this.closed = true;
    for (const id of [...this.calls.keys()]) this.deliver(id, new HostCallError('the connection to the host closed before it answered'));
    const running = [...this.inflight.values()].filter((r) => !r.answered);
    let timer;
    const grace = new Promise((resolve) => { timer = setTimeout(resolve, this.shutdownGraceMs); });
    await Promise.race([Promise.allSettled(running.map((r) => r.done)), grace]);
    clearTimeout(timer);
    for (const req of running) if (!req.answered) this.cancel(req, 0);
    await this.lastWrite;
    return 0;
  }
}

/** Serves `backend` over the given streams until `input` ends; resolves with the exit status. */
function serve(backend, input, output, options) {
  return new Connection(backend, input, output, options).serve();
}

/** The whole `main` of a backend: checks it was started by the host, keeps stray output off
 * stdout, serves stdin/stdout, and exits (0 after a clean shutdown, 2 when run by hand). */
function run(backend) {
  if (process.env.MOLECULE_BACKEND !== '1' && process.stdin.isTTY) {
    const program = process.argv.slice(1).join(' ') || 'this backend';
    process.stderr.write(`${program} is a Molecule backend: it speaks JSON-RPC on stdin/stdout and is started by the molecule host, not by hand. Run it with\n  molecule dev --backend-cmd 'node ${program}'\nor\n  molecule connect <workspace-id> --backend-cmd 'node ${program}'\n`);
    process.exit(2);
  }
  const stdout = process.stdout;
  const protocolWrite = stdout.write.bind(stdout);
  stdout.on('error', (e) => { log(`writing to the host failed: ${e.message}`); process.exit(1); });
  const errConsole = new console.Console({ stdout: process.stderr, stderr: process.stderr });
  for (const k of ['log', 'info', 'debug', 'dir', 'dirxml', 'table', 'trace', 'group', 'groupCollapsed', 'count', 'time', 'timeLog', 'timeEnd']) {
    console[k] = errConsole[k].bind(errConsole);
  }
  stdout.write = (...args) => process.stderr.write(...args);
  const output = { write: (data, cb) => protocolWrite(data, cb) };
  const graceMs = Number(process.env.MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS);
  const options = Number.isInteger(graceMs) && graceMs >= 0 ? { shutdownGraceMs: graceMs } : {};
  serve(backend, process.stdin, output, options).then((code) => process.exit(code));
}

module.exports = {
  PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, codes, BackendError, Cancelled, HostCallError,
  PeerError, PEER_CALLS_NAMESPACE, callMessageId, peerCalls, partsText,
  LineReader, Connection, textPart, dataPart, reply, noReply, messageText, serve, run,
};
