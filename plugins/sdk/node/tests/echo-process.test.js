'use strict';
// The Node echo as a real process: a real NDJSON exchange.
const test = require('node:test');
const assert = require('node:assert/strict');
const { killAll, BackendProcess, ECHO, a2a } = require('./backend-process.js');

test.after(killAll);

test('the handshake advertises the echo', async () => {
  const echo = new BackendProcess(ECHO);
  const init = await echo.initialize();
  assert.equal(init.protocolVersion, 1);
  assert.equal(init.backend.name, 'molecule-echo-node');
  assert.deepEqual(init.capabilities, { maxConcurrency: 16, cancel: true, progress: false, maxWorkspaces: 1024 });
  assert.equal(init.agentCard.skills.length, 1);
  echo.closeStdin();
  assert.equal(await echo.waitExit(), 0);
});

test('requests before initialize get -32002', async () => {
  const echo = new BackendProcess(ECHO);
  echo.request(4, 'ping');
  const answer = await echo.recv();
  assert.deepEqual([answer.id, answer.error.code], [4, -32002]);
  await echo.initialize();
  echo.request(5, 'ping');
  assert.deepEqual(await echo.recv(), { jsonrpc: '2.0', id: 5, result: {} });
  echo.closeStdin();
  assert.equal(await echo.waitExit(), 0);
});

test('text is echoed, data and files are unchanged, ids are exact', async () => {
  const echo = new BackendProcess(ECHO);
  await echo.initialize();
  const data = { kind: 'data', data: { n: 1, deep: { a: [1, 2] } } };
  const file = { kind: 'file', file: { uri: 'https://example.com/a.png', mimeType: 'image/png' } };
  echo.request('req-α', 'handle_a2a', a2a(['héllo 👋', data, file]));
  const answer = await echo.recv();
  assert.equal(answer.id, 'req-α');
  assert.deepEqual(answer.result.parts, [{ kind: 'text', text: 'echo: héllo 👋' }, data, file]);
  echo.request(Number.MAX_SAFE_INTEGER, 'handle_a2a', a2a(['x']));
  assert.equal((await echo.recv()).id, Number.MAX_SAFE_INTEGER);
  echo.request(7, 'handle_a2a', a2a(['echo: hi'], { inReplyTo: 'm-0' }));
  assert.deepEqual((await echo.recv()).result, { parts: [] });
  echo.closeStdin();
  assert.equal(await echo.waitExit(), 0);
});

test('junk is ignored and unknown methods get -32601', async () => {
  const echo = new BackendProcess(ECHO);
  await echo.initialize();
  echo.write('Loading...\n\n[1]\n{"jsonrpc":"2.0","method":"x/note"}\n');
  echo.request(1, 'x/unknown');
  const answer = await echo.recv();
  assert.deepEqual([answer.id, answer.error.code], [1, -32601]);
  echo.request(2, 'handle_a2a', { message: 3 });
  const bad = await echo.recv();
  assert.deepEqual([bad.id, bad.error.code], [2, -32602]);
  echo.closeStdin();
  assert.deepEqual(await echo.rest(), [], 'nothing else was answered');
  assert.match(await echo.stderr(), /not JSON/);
});

test('a burst with cancels gets exactly one answer per request', async () => {
  const echo = new BackendProcess(ECHO);
  await echo.initialize();
  let burst = '';
  for (let i = 0; i < 100; i += 1) {
    burst += `${JSON.stringify({ jsonrpc: '2.0', id: i, method: 'handle_a2a', params: a2a([`n${i}`]) })}\n`;
    if (i % 3 === 0) burst += `${JSON.stringify({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: i, reason: 'deadline' } })}\n`;
  }
  echo.write(burst);
  const answers = new Map();
  for (let i = 0; i < 100; i += 1) {
    const answer = await echo.recv();
    assert.ok(!answers.has(answer.id), `answered twice: ${JSON.stringify(answer)}`);
    answers.set(answer.id, answer);
  }
  for (const [id, answer] of answers) {
    if (answer.error) assert.ok(answer.error.code === -32800 && id % 3 === 0);
    else assert.equal(answer.result.parts[0].text, `echo: n${id}`);
  }
  echo.closeStdin();
  assert.deepEqual(await echo.rest(), []);
});

test('end of input exits 0 after answering', async () => {
  const echo = new BackendProcess(ECHO);
  await echo.initialize();
  echo.request(1, 'handle_a2a', a2a(['last']));
  echo.closeStdin();
  assert.equal((await echo.recv()).result.parts[0].text, 'echo: last');
  assert.equal(await echo.waitExit(), 0);
});
