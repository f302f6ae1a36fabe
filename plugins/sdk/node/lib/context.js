'use strict';
// The context a handler gets with its request: its id, cancellation (an AbortSignal), deadline
// and progress, calls to the host, and the typed peer calls.
const { Cancelled } = require('./errors.js');
const { peerCalls } = require('./peers.js');

/** The context of request `req` (`{ id, controller, answered }`) served by `conn`, for
 * `workspace`; `many`: the backend serves several workspaces, so a call it makes outside the
 * request (`callHostDetached`) names the workspace. */
function requestContext(conn, req, params, workspace = null, many = false) {
  const { id, controller } = req;
  const deadline = Date.parse((params.context || {}).deadline);
  const ctx = {
    id,
    /** The workspace the request is for (SPEC §17): `{ id, name, stateDir, hostSocket }`. */
    workspace,
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
      conn.write({ jsonrpc: '2.0', method: '$/progress', params: p });
    },
    callHost: (method, callParams, options) => conn.callHost(method, callParams, { ...options, origin: id }),
    /** Calls the host outside this request (its workspace named when the backend serves several). */
    callHostDetached: (method, callParams, options) =>
      conn.callHost(method, callParams, { ...options, workspace: many && workspace ? workspace.id : undefined }),
  };
  return Object.assign(ctx, peerCalls(ctx.callHost, () => conn.hostMethods, (params.context || {}).idempotencyKey));
}

module.exports = { requestContext };
