'use strict';
// Test helper: a backend process driven line by line, with a deadline on every wait. The process
// requires 'molecule-plugin' from this repository (NODE_PATH), not an installed copy.
const { spawn } = require('node:child_process');
const path = require('node:path');
const readline = require('node:readline');
const assert = require('node:assert/strict');

const DEADLINE_MS = 10000;
const SDK = path.join(__dirname, '..'); // molecule-plugin.js: require('molecule-plugin') with NODE_PATH
const ECHO = path.join(SDK, '..', '..', 'echo', 'node', 'echo.js');
const SCRIPTED = path.join(__dirname, 'scripted-backend.js');

/** `env` with this repository's SDK first on NODE_PATH, for a backend process. */
function sdkEnv(env) {
  return { ...env, NODE_PATH: [SDK, env.NODE_PATH].filter(Boolean).join(path.delimiter) };
}

function initializeParams({ hostMethods = [], maxBytes = 8 * 1024 * 1024 } = {}) {
  return {
    protocolVersion: 1, host: { name: 'test', version: '0', pid: process.pid },
    workspace: { id: '00000000-0000-4000-8000-000000000001' },
    limits: { maxMessageBytes: maxBytes, requestTimeoutMs: 60000 },
    capabilities: { cancel: true, progress: true, hostMethods },
  };
}

function a2a(parts, { inReplyTo } = {}) {
  const context = { activityId: 'act-1', attempt: 1, deadline: '2099-01-01T00:00:00.000Z',
    idempotencyKey: 'k-1', conversationKey: 'canvas' };
  if (inReplyTo) Object.assign(context, { inReplyTo, hops: 1 });
  parts = parts.map((p) => (typeof p === 'string' ? { kind: 'text', text: p } : p));
  return { message: { kind: 'message', role: 'user', messageId: 'm-1', parts },
    sender: { kind: 'canvas', workspaceId: null }, context };
}

function withDeadline(promise, what) {
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

const started = new Set();

/** Kills every backend still running (register with `test.after(killAll)`), so a failed test
 * cannot leave a child that keeps the test file's process alive. */
function killAll() {
  for (const proc of started) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
}

class BackendProcess {
  constructor(script = ECHO, { env = {}, stdio } = {}) {
    this.proc = spawn(process.execPath, [script], {
      env: sdkEnv({ ...process.env, MOLECULE_BACKEND: '1', ...env }),
      stdio: stdio || ['pipe', 'pipe', 'pipe'],
    });
    started.add(this.proc);
    this.lines = [];
    this.waiters = [];
    this.ended = false;
    this.stderrText = '';
    this.proc.stderr.on('data', (d) => { this.stderrText += d; });
    this.stderrDone = new Promise((resolve) => this.proc.stderr.on('end', resolve));
    this.exited = new Promise((resolve) => this.proc.on('exit', (code) => resolve(code)));
    const rl = readline.createInterface({ input: this.proc.stdout });
    rl.on('line', (line) => { this.lines.push(line); this.wake(); });
    rl.on('close', () => { this.ended = true; this.wake(); });
  }

  wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  write(text) { this.proc.stdin.write(text); }

  send(message) { this.write(`${JSON.stringify(message)}\n`); }

  request(id, method, params = {}) { this.send({ jsonrpc: '2.0', id, method, params }); }

  notify(method, params) { this.send({ jsonrpc: '2.0', method, params }); }

  /** The next stdout line, which must be a JSON-RPC 2.0 object. */
  async recv() {
    await withDeadline(new Promise((resolve) => {
      const check = () => ((this.lines.length || this.ended) ? resolve() : this.waiters.push(check));
      check();
    }), 'a line from the backend');
    assert.ok(this.lines.length, "the backend's stdout ended");
    const line = this.lines.shift();
    const msg = JSON.parse(line); // a non-JSON stdout line fails the test here
    assert.equal(msg.jsonrpc, '2.0', line);
    return msg;
  }

  async initialize(options) {
    this.request(0, 'initialize', initializeParams(options));
    const answer = await this.recv();
    assert.equal(answer.id, 0);
    return answer.result;
  }

  closeStdin() { this.proc.stdin.end(); }

  waitExit() { return withDeadline(this.exited, 'the backend to exit'); }

  /** Every stdout line left once the process exited. */
  async rest() {
    await this.waitExit();
    await withDeadline(new Promise((resolve) => {
      const check = () => (this.ended ? resolve() : this.waiters.push(check));
      check();
    }), 'stdout to end');
    return this.lines.splice(0).map((l) => JSON.parse(l));
  }

  async stderr() {
    await this.waitExit();
    await withDeadline(this.stderrDone, 'stderr to end');
    return this.stderrText;
  }
}

module.exports = { killAll, BackendProcess, ECHO, SCRIPTED, a2a, initializeParams, sdkEnv, DEADLINE_MS };
