'use strict';
// Splitting the host's byte stream into lines (SPEC §2): a leading BOM and trailing \r
// stripped, blank lines skipped, and a line over the cap skipped whole, with the request id read
// from its start so the request can still be answered.

const ID_AT_START = /^\s*\{\s*(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")\s*[,}]/;

/** Splits a byte stream into lines: strips \r and a leading BOM, skips blank lines, and
 * reports (then skips) lines over `max` bytes with their id when it can be read. */
class LineReader {
  constructor(max, onFrame) {
    Object.assign(this, { max, onFrame, parts: [], len: 0, discarding: null, first: true });
  }

  push(chunk) {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const piece = chunk.subarray(start, nl === -1 ? chunk.length : nl);
      if (this.discarding) {
        this.discarding.length += piece.length;
      } else {
        this.parts.push(piece);
        this.len += piece.length;
        if (this.len > this.max) {
          const head = Buffer.concat(this.parts).subarray(0, 65536).toString('utf8');
          const m = ID_AT_START.exec(head);
          this.discarding = { length: this.len, id: m ? JSON.parse(m[1]) : null };
          this.parts = [];
          this.len = 0;
        }
      }
      if (nl === -1) return;
      this.finish();
      start = nl + 1;
    }
  }

  finish() {
    if (this.discarding) {
      const { length, id } = this.discarding;
      this.discarding = null;
      this.first = false;
      return this.onFrame({ oversize: true, length, id });
    }
    let line = Buffer.concat(this.parts);
    this.parts = [];
    this.len = 0;
    if (this.first && line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    if (line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    if (line.toString('latin1').trim() === '') return undefined;
    this.first = false;
    return this.onFrame({ line });
  }

  end() {
    if (this.len || this.discarding) this.finish();
  }
}

module.exports = { LineReader };
