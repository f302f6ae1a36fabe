'use strict';
// The Node delegate as a real process: this test plays the host over its stdio and answers its
// peer calls (peers/list, peers/send) per the agreed shapes.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const sdk = path.join(__dirname, '..', '..', 'sdk', 'node');
const mp = require(path.join(sdk, 'molecule-plugin.js'));
const { BackendProcess, a2a, killAll } = require(path.join(sdk, 'tests', 'backend-process.js'));

test.after(killAll);

const DELEGATE = path.join(__dirname, 'delegate.js');
const FIRST = '5b2c3d4e-0000-4000-8000-000000000001';
const SECOND = '5b2c3d4e-0000-4000-8000-000000000002';
const PEERS = { peers: [{ id: FIRST, name: 'researcher' }, { id: SECOND, name: 'writer' }] };

async function start() {
  const b = new BackendProcess(DELEGATE, { env: { MOLECULE_DELEGATE_WAIT_MS: '2500' } });
  await b.initialize({ hostMethods: ['peers/list', 'peers/send'] });
  return b;
}

async function expectCall(b, method) {
  const call = await b.recv();
  assert.equal(call.method, method, JSON.stringify(call));
  return call;
}

const answer = (b, call, result, error) => b.send({ jsonrpc: '2.0', id: call.id, ...(error ? { error } : { result }) });

/** Sends one message, answers peers/list and peers/send; resolves [send params, reply text]. */
async function delegate(b, rid, text, sendAnswer) {
  b.request(rid, 'handle_a2a', a2a([text]));
  answer(b, await expectCall(b, 'peers/list'), PEERS);
  const send = await expectCall(b, 'peers/send');
  const [result, error] = sendAnswer(send.params);
  answer(b, send, result, error);
  const reply = await b.recv();
  assert.equal(reply.id, rid);
  return [send.params, reply.result.parts[0].text];
}

const ok = (p) => [{ messageId: p.messageId, contextId: 'c', queued: false, parts: [{ kind: 'text', text: '42' }] }];

test('it sends to the first peer with the derived messageId and relays the answer', async () => {
  const b = await start();
  const [params, text] = await delegate(b, 1, 'what is 6 x 7?', ok);
  assert.equal(text, 'researcher says: 42');
  assert.equal(params.id, FIRST);
  assert.equal(params.text, 'what is 6 x 7?');
  assert.equal(params.waitMs, 2500);
  assert.equal(params.messageId, mp.callMessageId('k-1', 0));
  assert.deepEqual(params._meta, { requestId: 1 });
  // A redelivery of the same message (same idempotency key) sends the same messageId.
  const [again] = await delegate(b, 2, 'what is 6 x 7?', ok);
  assert.equal(again.messageId, params.messageId);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('an @id picks that peer, and failures become clear replies', async () => {
  const b = await start();
  let [params, text] = await delegate(b, 1, `@${SECOND} draft a haiku`, () => [{ messageId: 'm', contextId: 'c', queued: true }]);
  assert.equal(params.id, SECOND);
  assert.equal(params.text, 'draft a haiku');
  assert.equal(text, 'writer has queued the message and will answer later (message m).');
  [, text] = await delegate(b, 2, 'slow', (p) => [undefined, { code: 1015, message: 'peers/send: no reply within 2500 ms',
    data: { class: 'wait_timeout', retryable: false, messageId: p.messageId } }]);
  assert.match(text, /^researcher did not answer in time/);
  [, text] = await delegate(b, 3, 'down', () => [undefined, { code: 1013,
    message: `peers/send to ${FIRST}: platform unavailable after 5 attempts`, data: { class: 'unreachable', retryable: true } }]);
  assert.equal(text, `I could not reach researcher: peers/send to ${FIRST}: platform unavailable after 5 attempts`);
  b.closeStdin();
  assert.equal(await b.waitExit(), 0);
});

test('no peers, and automatic replies are not delegated again', async () => {
  const b = await start();
  b.request(1, 'handle_a2a', a2a(['hello']));
  answer(b, await expectCall(b, 'peers/list'), { peers: [] });
  assert.equal((await b.recv()).result.parts[0].text, 'I have no peers to delegate to.');
  b.request(2, 'handle_a2a', a2a(['researcher says: done'], { inReplyTo: 'm-1' }));
  assert.deepEqual(await b.recv(), { jsonrpc: '2.0', id: 2, result: { parts: [] } });
  b.closeStdin();
  assert.deepEqual(await b.rest(), []);
});
