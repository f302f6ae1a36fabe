'use strict';
// The SDK's behaviours through a scripted backend run as a real process.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawnSync } = require('node:child_process');
const { killAll, BackendProcess, SCRIPTED, ECHO, a2a, sdkEnv } = require('./backend-process.js');

test.after(killAll);

const start = (env) => new BackendProcess(SCRIPTED, { env });

test('cancel answers -32800 once and the backend stays usable', async () => {
  const b = start();
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['ignore-cancel']));
  b.request(2, 'ping');
  assert.deepEqual(await b.recv(), { jsonrpc: '2.0', id: 2, result: {} }, 'ping answered while busy');
  b.notify('$/cancelRequest', { id: 1, reason: 'deadline' });
  const answer = await b.recv();
  assert.deepEqual([answer.id, answer.error.code], [1, -32800]);
  b.notify('$/cancelRequest', { id: 1, reason: 'deadline' });
  b.notify('$/cancelRequest', { id: 'unknown', reason: 'deadline' });
  b.request(3, 'handle_a2a', a2a(['echo next']));
  assert.equal((await b.recv()).result.parts[0].text, 'next');
  b.closeStdin();
  assert.deepEqual(await b.rest(), [], 'no second answer for the cancelled request');
});

test('a handler that watches the signal stops and is answered once', async () => {
  const b = start();
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['wait-cancel']));
  b.notify('$/cancelRequest', { id: 1, reason: 'superseded' });
  assert.equal((await b.recv()).error.code, -32800);
  b.closeStdin();
  assert.deepEqual(await b.rest(), []);
});

test('with a cancel grace the handler answers by itself', async () => {
  const b = start({ SCRIPTED_CANCEL_GRACE_MS: '10000' });
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['wind-down']));
  b.notify('$/cancelRequest', { id: 1, reason: 'deadline' });
  assert.equal((await b.recv()).result.parts[0].text, 'partial answer');
  b.closeStdin();
  assert.deepEqual(await b.rest(), []);
});

test('requests run concurrently', async () => {
  const b = start({ SCRIPTED_BARRIER: '4' });
  await b.initialize();
  for (let i = 1; i <= 4; i += 1) b.request(i, 'handle_a2a', a2a(['barrier']));
  const ids = [];
  for (let i = 0; i < 4; i += 1) ids.push((await b.recv()).id);
  assert.deepEqual(ids.sort(), [1, 2, 3, 4]);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('progress comes before the answer', async () => {
  const b = start();
  assert.equal((await b.initialize()).capabilities.progress, true);
  b.request(9, 'handle_a2a', a2a(['progress 3']));
  const got = [];
  for (let i = 0; i < 4; i += 1) got.push(await b.recv());
  assert.deepEqual(got.map((m) => m.method), ['$/progress', '$/progress', '$/progress', undefined]);
  assert.deepEqual(got.slice(0, 3).map((m) => [m.params.id, m.params.message]), [[9, 'step 0'], [9, 'step 1'], [9, 'step 2']]);
  b.closeStdin();
  assert.deepEqual(await b.rest(), []);
});

test('host calls carry the request id and get their answer', async () => {
  const b = start();
  await b.initialize({ hostMethods: ['peers/list'] });
  b.request(5, 'handle_a2a', a2a(['call peers/list']));
  const call = await b.recv();
  assert.equal(call.method, 'peers/list');
  assert.equal(call.id, 'backend-1');
  assert.deepEqual(call.params, { q: 1, _meta: { requestId: 5 } });
  b.send({ jsonrpc: '2.0', id: call.id, result: { peers: ['a'] } });
  assert.deepEqual((await b.recv()).result.parts[0].data, { result: { peers: ['a'] } });
  b.request(6, 'handle_a2a', a2a(['call peers/list']));
  const second = await b.recv();
  b.send({ jsonrpc: '2.0', id: second.id, error: { code: 1003, message: 'down' } });
  assert.match((await b.recv()).result.parts[0].text, /down \(code 1003\)/);
  b.request(7, 'handle_a2a', a2a(['call user/notify']));
  assert.match((await b.recv()).result.parts[0].text, /does not offer "user\/notify"/);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('a call pending at end of input fails and the request is answered', async () => {
  const b = start();
  await b.initialize({ hostMethods: ['peers/discover'] });
  b.request(1, 'handle_a2a', a2a(['call peers/discover']));
  assert.equal((await b.recv()).method, 'peers/discover');
  b.closeStdin();
  assert.match((await b.recv()).result.parts[0].text, /closed before it answered/);
  assert.equal(await b.waitExit(), 0);
});

test('errors are typed and failures are answered', async () => {
  const b = start();
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['busy']));
  assert.deepEqual((await b.recv()).error, { code: 1001, message: 'queue full',
    data: { retryable: true, retryAfterMs: 250, userMessage: 'Busy.' } });
  b.request(2, 'handle_a2a', a2a(['crash']));
  const crash = (await b.recv()).error;
  assert.ok(crash.code === -32603 && crash.message.includes('scripted failure'));
  b.request(3, 'handle_a2a', a2a(['none']));
  const none = (await b.recv()).error;
  assert.ok(none.code === -32603 && none.message.includes('noReply()'));
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('a reply over the host limit becomes 1007', async () => {
  const b = start();
  await b.initialize({ maxBytes: 2000 });
  b.request(1, 'handle_a2a', a2a([`echo ${'x'.repeat(5000)}`]));
  assert.equal((await b.recv()).error.code, 1007);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('console.log and stdout writes go to stderr', async () => {
  const b = start();
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['print']));
  assert.equal((await b.recv()).result.parts[0].text, 'printed');
  b.closeStdin();
  assert.deepEqual(await b.rest(), []);
  const stderr = await b.stderr();
  assert.match(stderr, /stray console\.log from the handler/);
  assert.match(stderr, /stray stdout write/);
});

test('a hung handler is cancelled at shutdown after the grace', async () => {
  const b = start({ MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS: '50' });
  await b.initialize();
  b.request(1, 'handle_a2a', a2a(['ignore-cancel']));
  b.closeStdin();
  const answer = await b.recv();
  assert.deepEqual([answer.id, answer.error.code], [1, -32800]);
  assert.equal(await b.waitExit(), 0);
});

test('an over-long request is refused and reading goes on', async () => {
  const b = start();
  await b.initialize();
  b.request(77, 'handle_a2a', a2a([`y${'y'.repeat(8 * 1024 * 1024 + 10)}`]));
  const answer = await b.recv();
  assert.deepEqual([answer.id, answer.error.code], [77, -32600]);
  assert.match(answer.error.message, /too large/);
  b.request(78, 'ping');
  assert.equal((await b.recv()).id, 78);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

const hasPython = spawnSync('python3', ['--version']).status === 0;

test('run by hand on a terminal, it explains and exits 2', { skip: !hasPython && 'needs python3 for a pty' }, () => {
  // Node has no pty in its standard library; python3 (which CI requires too) provides one.
  const script = [
    'import os, pty, subprocess, sys',
    'p, s = pty.openpty()',
    "env = {k: v for k, v in os.environ.items() if k != 'MOLECULE_BACKEND'}",
    'r = subprocess.run([sys.argv[1], sys.argv[2]], stdin=s, capture_output=True, env=env, timeout=10)',
    'sys.stdout.write("%d\\n%s" % (r.returncode, r.stderr.decode()))',
  ].join('\n');
  const out = execFileSync('python3', ['-c', script, process.execPath, ECHO], { timeout: 15000, env: sdkEnv(process.env) }).toString();
  const [code, ...stderr] = out.split('\n');
  assert.equal(code, '2');
  assert.match(stderr.join('\n'), /is a Molecule backend/);
  assert.match(stderr.join('\n'), /molecule dev --backend-cmd/);
});
