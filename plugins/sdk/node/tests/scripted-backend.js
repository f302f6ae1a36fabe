'use strict';
// Test helper: a backend whose behaviour the message text selects (see handleA2a).
const mp = require('../molecule-plugin.js');

const barrierSize = Number(process.env.SCRIPTED_BARRIER || 4);
const arrived = [];

const scripted = {
  name: 'scripted', version: '1.2.3', maxConcurrency: 8, progress: true,
  cancelGraceMs: Number(process.env.SCRIPTED_CANCEL_GRACE_MS || 0),
  async handleA2a(params, ctx) {
    const text = mp.messageText(params);
    const [word, ...restWords] = text.split(' ');
    const rest = restWords.join(' ');
    switch (word) {
      case 'echo': return rest;
      case 'wait-cancel':
        await ctx.whenCancelled();
        ctx.throwIfCancelled();
        return 'unreachable';
      case 'ignore-cancel': return new Promise(() => {});
      case 'wind-down':
        await ctx.whenCancelled();
        return 'partial answer';
      case 'barrier':
        await new Promise((resolve) => {
          arrived.push(resolve);
          if (arrived.length === barrierSize) arrived.splice(0).forEach((r) => r());
        });
        return 'all arrived';
      case 'progress':
        for (let i = 0; i < Number(rest); i += 1) ctx.progress(`step ${i}`);
        return 'done';
      case 'call':
        try {
          return mp.reply(mp.dataPart({ result: await ctx.callHost(rest, { q: 1 }, { timeoutMs: 10000 }) }));
        } catch (e) {
          return `error: ${e.message}`;
        }
      case 'print':
        console.log('stray console.log from the handler');
        process.stdout.write('stray stdout write\n');
        return 'printed';
      case 'busy': throw mp.BackendError.busy('queue full', { retryAfterMs: 250, userMessage: 'Busy.' });
      case 'crash': throw new Error('scripted failure');
      case 'none': return undefined;
      default: return mp.noReply();
    }
  },
};

mp.run(scripted);
