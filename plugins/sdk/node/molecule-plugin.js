'use strict';
/**
 * Write a Molecule backend in Node, with the standard library only.
 *
 * Install it (`npm install molecule-plugin`, or `npm install <repo>/plugins/sdk/node` from a
 * clone), describe the backend, and call `run`:
 *
 *   const mp = require('molecule-plugin');
 *   mp.run({
 *     name: 'hello', version: '1.0.0',
 *     async handleA2a(params, ctx) { return mp.reply('hello, ' + mp.messageText(params)); },
 *   });
 *
 * The host (`molecule connect … --backend-cmd`, `molecule dev --backend-cmd`) starts the program
 * and talks JSON-RPC 2.0 to it, one JSON object per line on stdin/stdout. This package does the
 * protocol: the handshake, concurrent handlers (so `ping` and `$/cancelRequest` are answered
 * while they run), cancellation through an AbortSignal, progress, calls to the host, typed
 * errors, and the shutdown when stdin closes. Handlers call other workspaces with
 * `ctx.listPeers()`, `ctx.sendToPeer(id, { text })` and friends (`PeerError` says why one
 * failed). `run` sends console.log and process.stdout.write to stderr, so stray output cannot
 * corrupt the protocol stream. The types are in molecule-plugin.d.ts; the parts live in lib/.
 */
const { PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, codes, PEER_CALLS_NAMESPACE } = require('./lib/codes.js');
const { BackendError, Cancelled, HostCallError, PeerError } = require('./lib/errors.js');
const { callMessageId, peerCalls } = require('./lib/peers.js');
const { textPart, dataPart, reply, noReply, partsText, messageText } = require('./lib/parts.js');
const { LineReader } = require('./lib/framing.js');
const { Connection } = require('./lib/connection.js');
const { serve, run } = require('./lib/process.js');

module.exports = {
  PROTOCOL_VERSION, DEFAULT_MAX_MESSAGE_BYTES, codes, BackendError, Cancelled, HostCallError,
  PeerError, PEER_CALLS_NAMESPACE, callMessageId, peerCalls, partsText,
  LineReader, Connection, textPart, dataPart, reply, noReply, messageText, serve, run,
};
