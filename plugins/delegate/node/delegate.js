#!/usr/bin/env node
'use strict';
// The delegate backend in Node: on a message it lists its peers, sends the text to the first one
// (or to the peer named as "@<peer id> text"), waits for the answer, and replies
// "<peer name> says: <answer>". A queued message, a wait that timed out and any other failure
// become a reply that says so; an automatic reply (context.inReplyTo) is not delegated again.
// MOLECULE_DELEGATE_WAIT_MS sets the wait (30 s by default). It requires the molecule-plugin
// package: npm install plugins/sdk/node (see plugins/README.md).
const mp = require('molecule-plugin');

const waitMs = Number(process.env.MOLECULE_DELEGATE_WAIT_MS || 30000);

/**
 * "@id rest" -> [id, rest]; anything else -> [null, text].
 * @param {string} text
 * @returns {[string | null, string]}
 */
function splitTarget(text) {
  text = text.trim();
  if (!text.startsWith('@')) return [null, text];
  const [target, ...rest] = text.slice(1).split(/\s+/);
  return [target, rest.join(' ').trim()];
}

/**
 * @param {string} text
 * @param {import('molecule-plugin').RequestContext} ctx
 * @returns {Promise<string>}
 */
async function delegate(text, ctx) {
  const [named, task] = splitTarget(text);
  if (!task) return 'Send me a task (optionally as "@<peer id> task") and I will pass it on.';
  let peers;
  try {
    peers = await ctx.listPeers();
  } catch (e) {
    if (!(e instanceof mp.PeerError)) throw e;
    return `I could not list my peers: ${e.message}`;
  }
  const peer = named === null ? peers[0] : peers.find((p) => p.id.toLowerCase() === named.toLowerCase());
  if (!peer) return named === null ? 'I have no peers to delegate to.' : `${named} is not one of my peers.`;
  const name = peer.name || peer.id;
  let result;
  try {
    result = await ctx.sendToPeer(peer.id, { text: task, waitMs });
  } catch (e) {
    if (!(e instanceof mp.PeerError)) throw e;
    if (e.cls === 'wait_timeout') {
      return `${name} did not answer in time; the message was delivered and the answer may still come later.`;
    }
    return `I could not reach ${name}: ${e.message}`;
  }
  if (result.queued) return `${name} has queued the message and will answer later (message ${result.messageId}).`;
  const answer = mp.partsText(result.parts);
  return answer ? `${name} says: ${answer}` : `${name} answered without any text.`;
}

/** @type {import('molecule-plugin').Backend} */
const backend = {
  name: 'molecule-delegate-node', version: '0.1.0', maxConcurrency: 4,
  description: 'Passes each message on to one of its peers and relays the answer.',
  async handleA2a(params, ctx) {
    if (params.context.inReplyTo != null) return mp.noReply();
    return mp.reply(await delegate(mp.messageText(params), ctx));
  },
};

if (require.main === module) mp.run(backend);
module.exports = backend;
