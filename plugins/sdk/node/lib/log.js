'use strict';
// The SDK's own warnings, on stderr (which the host logs): stdout belongs to the protocol.

const log = (message) => process.stderr.write(`molecule-plugin: warning: ${message}\n`);

module.exports = { log };
