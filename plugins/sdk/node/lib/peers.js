'use strict';
// The typed peer calls of a request (listPeers, sendToPeer, …) over its callHost, and the
// derived message ids that make a redelivered message send the same ids again (SPEC §12.4).
const { PEER_CALLS_NAMESPACE } = require('./codes.js');
const { HostCallError, PeerError } = require('./errors.js');

/** UUIDv5 (RFC 9562) of `name` in the namespace `ns`. */
function uuidv5(ns, name) {
  // node:crypto is loaded on first use: most backends never send to a peer.
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

module.exports = { callMessageId, peerCalls };
