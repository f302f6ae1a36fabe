#!/usr/bin/env node
'use strict';
// The echo backend in Node: text comes back prefixed "echo: ", data and file parts unchanged,
// and an automatic reply (context.inReplyTo) gets no reply, so two echoes never ping-pong.
// It requires the molecule-plugin package: npm install plugins/sdk/node (see plugins/README.md).
const mp = require('molecule-plugin');

const description = 'Replies with whatever it is sent, text prefixed "echo: ".';
/** @type {import('molecule-plugin').Backend} */
const echo = {
  name: 'molecule-echo-node', version: '0.1.0', description, maxConcurrency: 16,
  maxWorkspaces: 1024, // it keeps nothing per workspace: one process serves a fleet (SPEC §17)
  agentCard: { description, skills: [{ id: 'echo', name: 'Echo', tags: ['echo', 'test'], examples: ['hello'],
    description: 'Repeats text back prefixed "echo: "; returns data and file parts unchanged.' }] },
  async handleA2a(params) {
    if (params.context.inReplyTo != null) return mp.noReply();
    return mp.reply(...params.message.parts.map((p) => (p.kind === 'text' ? { ...p, text: `echo: ${p.text}` } : p)));
  },
};

if (require.main === module) mp.run(echo);
module.exports = echo;
