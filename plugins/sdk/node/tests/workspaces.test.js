'use strict';
// A backend that serves several workspaces in one process (SPEC §17), over in-memory streams:
// workspace/open and workspace/close reach its hooks and each request knows its workspace; and
// a host error a handler lets escape is passed on with its code.
const test = require('node:test');
const assert = require('node:assert/strict');
const { PassThrough } = require('node:stream');
const mp = require('../molecule-plugin.js');
const { a2a, initializeParams } = require('./backend-process.js');

const SECOND = '5b8e2d4f-6a1c-4e3b-9d7f-2c4a6e8b0d13';
const req = (id, method, params = {}) => ({ jsonrpc: '2.0', id, method, params });

/** Serves `backend`, writing each line once the answers to the previous ones arrived. */
async function session(backend, lines) {
  const input = new PassThrough();
  const output = new PassThrough();
  const out = new Map();
  let buffered = '';
  let waiting = null;
  output.on('data', (d) => {
    buffered += d;
    const parts = buffered.split('\n');
    buffered = parts.pop();
    for (const l of parts) { const m = JSON.parse(l); out.set(m.id, m); }
    if (waiting) waiting();
  });
  const done = mp.serve(backend, input, output, { shutdownGraceMs: 1000 });
  for (const line of lines) {
    input.write(`${JSON.stringify(line)}\n`);
    while (!out.has(line.id)) await new Promise((resolve) => { waiting = resolve; });
  }
  input.end();
  assert.equal(await done, 0);
  return out;
}

function where(closed) {
  return {
    name: 'where', version: '1', maxWorkspaces: 8,
    openWorkspace: async (ws) => ({ description: `serves ${ws.id}` }),
    closeWorkspace: (ws) => { closed.push(ws.id); },
    handleA2a: async (p, ctx) => JSON.stringify({ id: ctx.workspace.id, stateDir: ctx.workspace.stateDir }),
  };
}

const named = (id) => ({ ...a2a(['hi']), workspace: { id } });
const answerOf = (m) => JSON.parse(m.result.parts[0].text);

test('each request knows its workspace from open to close', async () => {
  const closed = [];
  const out = await session(where(closed), [
    req(0, 'initialize', initializeParams()),
    req(1, 'workspace/open', { workspace: { id: SECOND, name: 'support' }, stateDir: '/var/lib/m/support' }),
    req(2, 'handle_a2a', named(SECOND)),
    req(3, 'handle_a2a', a2a(['hi'])),
    req(4, 'workspace/close', { workspace: { id: SECOND } }),
    req(5, 'handle_a2a', named(SECOND)),
  ]);
  assert.equal(out.get(0).result.capabilities.maxWorkspaces, 8);
  assert.deepEqual(out.get(1).result, { agentCard: { description: `serves ${SECOND}` } });
  assert.deepEqual(answerOf(out.get(2)), { id: SECOND, stateDir: '/var/lib/m/support' });
  assert.equal(answerOf(out.get(3)).id, initializeParams().workspace.id);
  assert.deepEqual(out.get(4).result, {});
  assert.deepEqual(closed, [SECOND]);
  assert.equal(out.get(5).error.code, -32602);
});

test('a backend that serves one workspace refuses another', async () => {
  const one = { ...where([]), maxWorkspaces: undefined };
  const out = await session(one, [
    req(0, 'initialize', initializeParams()),
    req(1, 'workspace/open', { workspace: { id: SECOND }, stateDir: '/tmp/x' }),
  ]);
  assert.equal(out.get(0).result.capabilities.maxWorkspaces, undefined);
  assert.equal(out.get(1).error.code, -32601);
});

test('a host error a handler lets escape is passed on with its code', async () => {
  const input = new PassThrough();
  const output = new PassThrough();
  const careless = { name: 'careless', version: '1', handleA2a: async (p, ctx) => `peers: ${await ctx.listPeers()}` };
  const lines = [];
  let wake = null;
  output.on('data', (d) => { lines.push(...String(d).trim().split('\n').map((l) => JSON.parse(l))); if (wake) wake(); });
  const next = async (pred) => { for (;;) { const m = lines.find(pred); if (m) return m; await new Promise((r) => { wake = r; }); } };
  const done = mp.serve(careless, input, output, { shutdownGraceMs: 1000 });
  input.write(`${JSON.stringify(req(0, 'initialize', initializeParams({ hostMethods: ['peers/list'] })))}\n`);
  input.write(`${JSON.stringify(req(1, 'handle_a2a', a2a(['hi'])))}\n`);
  const call = await next((m) => m.method === 'peers/list');
  const data = { class: 'unreachable', retryable: true };
  input.write(`${JSON.stringify({ jsonrpc: '2.0', id: call.id, error: { code: 1013, message: 'peers/list: unavailable', data } })}\n`);
  const answer = await next((m) => m.id === 1);
  assert.equal(answer.error.code, 1013);
  assert.deepEqual(answer.error.data, data);
  input.end();
  assert.equal(await done, 0);
});
