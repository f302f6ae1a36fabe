'use strict';
// The hand-written types (molecule-plugin.d.ts) declare exactly what the package exports, so a
// name added to one and not the other fails here. ci-packages.sh type-checks the examples
// against them with tsc.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const mp = require('../molecule-plugin.js');

const dts = fs.readFileSync(path.join(__dirname, '..', 'molecule-plugin.d.ts'), 'utf8');

test('every runtime export is declared, and nothing else', () => {
  const declared = [...dts.matchAll(/^export declare (?:const|function|class) (\w+)/gm)].map((m) => m[1]);
  assert.deepEqual(declared.sort(), Object.keys(mp).sort());
});

test("BackendError's factories are declared", () => {
  const body = dts.slice(dts.indexOf('export declare class BackendError'));
  const declared = [...body.slice(0, body.indexOf('\n}')).matchAll(/^ {2}static (\w+)\(/gm)].map((m) => m[1]);
  const runtime = Object.keys(mp.BackendError).filter((k) => typeof mp.BackendError[k] === 'function');
  assert.deepEqual(declared.sort(), runtime.sort());
});

test('the declared codes are the runtime codes', () => {
  const block = dts.slice(dts.indexOf('export declare const codes'), dts.indexOf('}>;'));
  const declared = Object.fromEntries([...block.matchAll(/(\w+): (-?\d+)/g)].map((m) => [m[1], Number(m[2])]));
  assert.deepEqual(declared, { ...mp.codes });
});
