'use strict';
// Unit tests of the single-file SDK: framing, errors, helpers, and sessions over in-memory streams.
const test = require('node:test');
const assert = require('node:assert/strict');
const { PassThrough } = require('node:stream');
const mp = require('../molecule-plugin.js');
const { a2a, initializeParams } = require('./backend-process.js');

function frames(chunks, max = 100) {
  const out = [];
  const reader = new mp.LineReader(max, (f) => out.push(f.oversize ? ['oversize', f.length, f.id] : ['line', f.line.toString('latin1')]));
  for (const c of chunks) reader.push(Buffer.from(c, 'latin1'));
  reader.end();
  return out;
}

test('framing strips a BOM and \\r, skips blank lines, and reads across chunks', () => {
  assert.deepEqual(frames(['\xef\xbb\xbf{"a":1}\r', '\n\n  \r\n{"b"', ':2}\n{"c":3}']),
    [['line', '{"a":1}'], ['line', '{"b":2}'], ['line', '{"c":3}']]);
  assert.deepEqual(frames(['x\n\xef\xbb\xbfy\n'])[1], ['line', '\xef\xbb\xbfy']);
});

test('over-long lines are skipped with their id, and reading goes on', () => {
  const long = `{"jsonrpc":"2.0","id":42,"method":"x","params":"${'z'.repeat(500)}"}`;
  assert.deepEqual(frames([long.slice(0, 50), `${long.slice(50)}\n{"ok":1}\n`]),
    [['oversize', long.length, 42], ['line', '{"ok":1}']]);
  assert.equal(frames([`{"id":"s-1","p":"${'z'.repeat(500)}"}\n`])[0][2], 's-1');
  assert.equal(frames([`{"params":{"id":3},"p":"${'z'.repeat(500)}"}\n`])[0][2], null);
  assert.deepEqual(frames([`${'a'.repeat(100)}\nb\n`]), [['line', 'a'.repeat(100)], ['line', 'b']]);
});

test('backend errors carry data and default retryability', () => {
  assert.deepEqual(mp.BackendError.busy('b').toError(), { code: 1001, message: 'b', data: { retryable: true } });
  assert.deepEqual(mp.BackendError.refused('no', { userMessage: "Can't help." }).toError().data,
    { retryable: false, userMessage: "Can't help." });
  assert.deepEqual(new mp.BackendError(-32603, 'x').toError(), { code: -32603, message: 'x' });
});

test('reply helpers', () => {
  assert.deepEqual(mp.reply('hi'), { parts: [{ kind: 'text', text: 'hi' }] });
  assert.deepEqual(mp.noReply(), { parts: [] });
  assert.equal(mp.messageText(a2a(['a', { kind: 'data', data: {} }, 'b'])), 'a\nb');
});

async function session(lines) {
  const input = new PassThrough();
  const output = new PassThrough();
  let text = '';
  output.on('data', (d) => { text += d; });
  const upper = { name: 'upper', version: '1', handleA2a: async (p) => mp.messageText(p).toUpperCase() };
  const done = mp.serve(upper, input, output, { shutdownGraceMs: 1000 });
  input.end(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  assert.equal(await done, 0);
  return text.trim().split('\n').map((l) => JSON.parse(l));
}

const req = (id, method, params = {}) => ({ jsonrpc: '2.0', id, method, params });

test('a whole session in memory', async () => {
  const out = await session([req(1, 'ping'), req(0, 'initialize', initializeParams()),
    req('a', 'handle_a2a', a2a(['hi'])), req(2, 'initialize', initializeParams())]);
  assert.equal(out[0].error.code, -32002);
  assert.deepEqual(out[1].result.backend, { name: 'upper', version: '1' });
  assert.deepEqual(out[1].result.capabilities, { maxConcurrency: 1, cancel: true, progress: false });
  const byId = new Map(out.slice(2).map((m) => [m.id, m]));
  assert.equal(byId.get('a').result.parts[0].text, 'HI');
  assert.equal(byId.get(2).error.code, -32600);
});

test('invalid envelopes are answered, junk and responses are not', async () => {
  const out = await session([req(0, 'initialize', initializeParams()), { id: 5, method: 'ping' },
    { jsonrpc: '2.0', id: 1.5, method: 'ping' }, { jsonrpc: '2.0', id: null, error: { code: 1, message: 'x' } },
    { jsonrpc: '2.0', id: 'backend-9', result: {} }, 'junk', '[1,2]']);
  assert.deepEqual(out.slice(1).map((m) => [m.id, m.error.code]), [[5, -32600], [null, -32600]]);
  assert.match(out[1].error.message, /jsonrpc/);
});
