#!/usr/bin/env node
'use strict';
// {{name}}: a Molecule backend. `molecule` starts this program and sends it, on stdin, every
// message the workspace receives; what handleA2a returns is posted as the reply. The SDK
// (molecule-plugin) speaks the protocol; README.md says how to install, check and run it.
const mp = require('molecule-plugin');

/** @type {import('molecule-plugin').Backend} */
const agent = {
  name: '{{name}}',
  version: '0.1.0',
  description: 'Replies with the text it is sent, prefixed "echo: ".',
  // Handlers are async; raise this to take several messages at once.
  maxConcurrency: 1,

  async handleA2a(params, ctx) {
    // Another agent's automatic reply gets no answer: two agents never answer each other
    // forever.
    if (params.context.inReplyTo != null) return mp.noReply();
    const text = mp.messageText(params);

    // TODO: your agent's logic goes here. Call a model or a tool, ask another workspace
    // (ctx.listPeers(), ctx.sendToPeer(...)), or fail with a reason the sender sees
    // (throw an mp.BackendError). console.log goes to molecule's log: stdout is kept for the protocol.
    return mp.reply(`echo: ${text}`);
  },
};

if (require.main === module) mp.run(agent);
module.exports = agent;
