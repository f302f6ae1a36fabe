'use strict';
// Building a handler's answer and reading a message: parts, reply, noReply and the text of a
// message or of a peer's answer.

const textPart = (text) => ({ kind: 'text', text });
const dataPart = (data) => ({ kind: 'data', data });
/** A handle_a2a result with these parts (strings become text parts). */
const reply = (...parts) => ({ parts: parts.map((p) => (typeof p === 'string' ? textPart(p) : p)) });
/** A result with no parts: the host posts nothing. */
const noReply = () => ({ parts: [] });
/** The text parts of a list of parts (a peer's reply, say), joined by newlines. */
const partsText = (parts) => (parts || []).filter((p) => p.kind === 'text' && typeof p.text === 'string')
  .map((p) => p.text).join('\n');
/** The message's text parts, joined by newlines. */
const messageText = (params) => partsText((params.message || {}).parts);

module.exports = { textPart, dataPart, reply, noReply, partsText, messageText };
