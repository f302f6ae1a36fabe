'use strict';
// The typed peer calls: message-id derivation against protocol/examples/key-vectors.json, the
// params each call sends, and PeerError's code and class.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const mp = require('../molecule-plugin.js');

const METHODS = ['peers/list', 'peers/discover', 'peers/send', 'workspace/info', 'user/notify'];

test('call message ids match the shared vectors', () => {
  const vectors = require(path.join(__dirname, '..', '..', '..', '..', 'protocol', 'examples', 'key-vectors.json'));
  assert.equal(vectors.namespaces.peerCalls, mp.PEER_CALLS_NAMESPACE);
  for (const v of vectors.callMessageId) assert.equal(mp.callMessageId(v.idempotencyKey, v.index), v.expected);
});

/** Peer calls over a fake callHost that records each call and answers from a table. */
function fake(answers, methods = METHODS) {
  const calls = [];
  const callHost = async (method, params) => {
    calls.push([method, params]);
    const answer = answers[method];
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { calls, peers: mp.peerCalls(callHost, () => methods, 'k-1') };
}

test('the i-th send gets the derived id unless it names one', async () => {
  const { calls, peers } = fake({ 'peers/send': { messageId: 'm', contextId: 'c', queued: true } });
  await peers.sendToPeer('p', { text: 'one' });
  await peers.sendToPeer('p', { parts: [mp.dataPart({ n: 1 })], contextId: 'c', waitMs: 250 });
  await peers.sendToPeer('p', { text: 'three', messageId: 'mine' });
  assert.deepEqual(calls[0][1], { id: 'p', text: 'one', messageId: mp.callMessageId('k-1', 0) });
  assert.deepEqual(calls[1][1], { id: 'p', parts: [{ kind: 'data', data: { n: 1 } }], contextId: 'c',
    messageId: mp.callMessageId('k-1', 1), waitMs: 250 });
  assert.equal(calls[2][1].messageId, 'mine');
});

test('list, discover, info and notify unwrap their results', async () => {
  const { calls, peers } = fake({ 'peers/list': { peers: [{ id: 'a' }] }, 'peers/discover': { peer: null },
    'workspace/info': { workspace: { name: 'me' } }, 'user/notify': { delivered: true } });
  assert.deepEqual(await peers.listPeers(), [{ id: 'a' }]);
  assert.equal(await peers.discover('zz'), null);
  assert.deepEqual(await peers.workspaceInfo(), { name: 'me' });
  await peers.notifyUser('done', { attachments: [{ uri: 'workspace:/r.pdf' }] });
  assert.deepEqual(calls[1][1], { id: 'zz' });
  assert.deepEqual(calls[3][1], { text: 'done', attachments: [{ uri: 'workspace:/r.pdf' }] });
});

test('a host error becomes a PeerError with code and class', async () => {
  const error = Object.assign(new mp.HostCallError('the host answered with an error: ...', 1016,
    { class: 'budget', retryable: true, retryAfterMs: 900 }), { hostMessage: 'peers/list: budget spent' });
  const { peers } = fake({ 'peers/list': error });
  await assert.rejects(peers.listPeers(), (e) => e instanceof mp.PeerError && e.code === mp.codes.BUDGET_EXHAUSTED
    && e.cls === 'budget' && e.retryable && e.retryAfterMs === 900 && e.message === 'peers/list: budget spent');
});

test('bad calls fail before reaching the host', async () => {
  let { calls, peers } = fake({}, ['peers/list']);
  await assert.rejects(peers.sendToPeer('p', { text: 'x' }), (e) => e.cls === 'not_offered' && /does not offer "peers\/send"/.test(e.message));
  ({ calls, peers } = fake({}));
  for (const opts of [{ text: '  ' }, {}, { text: 'a', parts: [] }]) {
    await assert.rejects(peers.sendToPeer('p', opts), (e) => e instanceof mp.PeerError && e.cls === 'invalid_params');
  }
  assert.deepEqual(calls, []);
});
