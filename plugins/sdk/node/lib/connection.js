'use strict';
// One conversation with the host: the handshake, running handlers concurrently, cancellation,
// the backend's calls to the host and their answers, and the orderly shutdown when the host
// closes stdin.
const { PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, codes } = require('./codes.js');
const { BackendError, Cancelled, HostCallError } = require('./errors.js');
const { LineReader } = require('./framing.js');
const { reply } = require('./parts.js');
const { requestContext } = require('./context.js');
const { log } = require('./log.js');
const { Workspaces, firstWorkspace, openedWorkspace } = require('./workspace.js');

const validId = (id) => typeof id === 'string' || Number.isInteger(id);
const cancelledError = () => ({ code: codes.REQUEST_CANCELLED, message: 'request cancelled by the host' });

/** The answer to a request whose handler let a host's error escape: the host's own code
 * (1010-1016; a retryable one stays retryable), or -32800 when the request was cancelled. */
function passedOn(e, req) {
  if (!(e instanceof HostCallError) || !Number.isInteger(e.code)) return null;
  if (e.code === codes.REQUEST_CANCELLED && req.controller.signal.aborted) return cancelledError();
  if (e.code < 1010 || e.code > 1016) return null;
  return e.data && typeof e.data === 'object' ? { code: e.code, message: e.message, data: e.data } : { code: e.code, message: e.message };
}

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
    this.workspaces = new Workspaces();
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
    } else if ((method === 'workspace/open' || method === 'workspace/close') && (this.backend.maxWorkspaces || 1) > 1) {
      this.workspaceRequest(id, method, params);
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
    this.workspaces.start(firstWorkspace(params));
    const limit = (params.limits || {}).maxMessageBytes;
    if (Number.isInteger(limit) && limit > 0) this.maxOut = limit;
    const result = {
      protocolVersion: PROTOCOL_VERSION,
      backend: { name: b.name || 'node-backend', version: b.version || '0.0.0' },
      capabilities: { maxConcurrency: b.maxConcurrency || 1, cancel: b.cancel !== false, progress: !!b.progress },
    };
    if ((b.maxWorkspaces || 1) > 1) result.capabilities.maxWorkspaces = b.maxWorkspaces;
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

  /** workspace/open and workspace/close (SPEC §17). */
  async workspaceRequest(id, method, params) {
    try {
      if (method === 'workspace/open') {
        const ws = openedWorkspace(params);
        const card = this.backend.openWorkspace ? await this.backend.openWorkspace(ws) : undefined;
        if (!this.workspaces.add(ws)) throw new BackendError(codes.INVALID_REQUEST, `workspace ${ws.id} is open already`);
        return this.respond(id, card ? { agentCard: card } : {});
      }
      const closed = this.workspaces.remove(((params || {}).workspace || {}).id);
      if (!closed) throw new BackendError(codes.INVALID_PARAMS, `workspace ${JSON.stringify((params || {}).workspace)} is not open in this process`);
      if (this.backend.closeWorkspace) await this.backend.closeWorkspace(closed);
      return this.respond(id, {});
    } catch (e) {
      const error = e instanceof BackendError ? e
        : new BackendError(e instanceof TypeError ? codes.INVALID_PARAMS : codes.INTERNAL_ERROR, String(e && e.message));
      return this.respond(id, undefined, error.toError());
    }
  }

  startHandler(id, params) {
    const workspace = this.workspaces.ofRequest(params);
    if (!workspace) {
      this.respond(id, undefined, { code: codes.INVALID_PARAMS, message: `workspace ${JSON.stringify(params.workspace)} is not open in this process` });
      return;
    }
    const req = { id, controller: new AbortController(), answered: false, done: null };
    const ctx = requestContext(this, req, params, workspace, (this.backend.maxWorkspaces || 1) > 1);
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
        const passed = passedOn(e, req);
        if (passed) return this.answer(req, undefined, passed);
        log(`handleA2a failed: ${e && e.stack ? e.stack : e}`);
        return this.answer(req, undefined, { code: codes.INTERNAL_ERROR, message: `handler failed: ${e && e.message}` });
      })
      .finally(() => { req.answered = true; this.inflight.delete(id); });
  }

  /** Calls a host method listed in the host's `capabilities.hostMethods`. */
  callHost(method, params, { timeoutMs, origin, workspace } = {}) {
    if (!this.hostMethods.includes(method)) {
      return Promise.reject(new HostCallError(`the host does not offer "${method}" (it offers: ${this.hostMethods.join(', ')})`));
    }
    if (this.closed) return Promise.reject(new HostCallError('the connection to the host is closed'));
    const p = { ...(params || {}) };
    if (origin !== undefined) p._meta = { ...(p._meta || {}), requestId: origin };
    else if (workspace !== undefined) p._meta = { ...(p._meta || {}), workspaceId: workspace };
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

module.exports = { Connection };
