'use strict';
// The backend as a process: `run` checks it was started by the host, keeps stray output off
// stdout, serves stdin/stdout and exits; `serve` is the same conversation over any streams.
const { Connection } = require('./connection.js');
const { log } = require('./log.js');


/** Serves `backend` over the given streams until `input` ends; resolves with the exit status. */
function serve(backend, input, output, options) {
  return new Connection(backend, input, output, options).serve();
}

/** The whole `main` of a backend: checks it was started by the host, keeps stray output off
 * stdout, serves stdin/stdout, and exits (0 after a clean shutdown, 2 when run by hand). */
function run(backend) {
  if (process.env.MOLECULE_BACKEND !== '1' && process.stdin.isTTY) {
    const program = process.argv.slice(1).join(' ') || 'this backend';
    process.stderr.write(`${program} is a Molecule backend: it speaks JSON-RPC on stdin/stdout and is started by the molecule host, not by hand. Run it with\n  molecule dev --backend-cmd 'node ${program}'\nor\n  molecule connect <workspace-id> --backend-cmd 'node ${program}'\n`);
    process.exit(2);
  }
  const stdout = process.stdout;
  const protocolWrite = stdout.write.bind(stdout);
  stdout.on('error', (e) => { log(`writing to the host failed: ${e.message}`); process.exit(1); });
  const errConsole = new console.Console({ stdout: process.stderr, stderr: process.stderr });
  for (const k of ['log', 'info', 'debug', 'dir', 'dirxml', 'table', 'trace', 'group', 'groupCollapsed', 'count', 'time', 'timeLog', 'timeEnd']) {
    console[k] = errConsole[k].bind(errConsole);
  }
  stdout.write = (...args) => process.stderr.write(...args);
  const output = { write: (data, cb) => protocolWrite(data, cb) };
  const graceMs = Number(process.env.MOLECULE_PLUGIN_SHUTDOWN_GRACE_MS);
  const options = Number.isInteger(graceMs) && graceMs >= 0 ? { shutdownGraceMs: graceMs } : {};
  serve(backend, process.stdin, output, options).then((code) => process.exit(code));
}

module.exports = { serve, run };
