'use strict';
// The workspace a request is for, and the workspaces a backend that serves several in one
// process has open (SPEC §17). The workspace of initialize is open from the handshake on, its
// state directory and host socket in the environment; one that sets maxWorkspaces above 1 may
// be given more with workspace/open and lose any with workspace/close, and each handle_a2a
// then names its workspace.

/** The workspace of initialize, with the directory and socket of the environment. */
function firstWorkspace(params) {
  const ref = (params && params.workspace) || {};
  return {
    id: String(ref.id || ''),
    name: ref.name ?? null,
    stateDir: process.env.MOLECULE_STATE_DIR || null,
    hostSocket: process.env.MOLECULE_HOST_SOCKET || null,
  };
}

/** A workspace from the params of workspace/open; throws a TypeError when they do not fit. */
function openedWorkspace(params) {
  const ref = params && params.workspace;
  if (!ref || typeof ref.id !== 'string' || typeof params.stateDir !== 'string') {
    throw new TypeError('workspace/open needs workspace.id and stateDir');
  }
  return { id: ref.id, name: ref.name ?? null, stateDir: params.stateDir, hostSocket: params.hostSocket ?? null };
}

/** The workspaces open in this process, by id (compared without case). */
class Workspaces {
  constructor() { this.first = null; this.open = new Map(); }

  start(first) { this.first = first; this.open.set(first.id.toLowerCase(), first); }

  /** Opens `ws`; false when it is open already. */
  add(ws) {
    const key = ws.id.toLowerCase();
    if (this.open.has(key)) return false;
    this.open.set(key, ws);
    return true;
  }

  /** Closes the workspace `id`; the one closed, or null. */
  remove(id) {
    const key = String(id).toLowerCase();
    const ws = this.open.get(key) || null;
    this.open.delete(key);
    return ws;
  }

  /** The workspace a handle_a2a names, else the one of initialize; null when it names one
   * that is not open. */
  ofRequest(params) {
    const ref = params.workspace;
    if (!ref || typeof ref !== 'object') return this.first;
    return this.open.get(String(ref.id).toLowerCase()) || null;
  }
}

module.exports = { Workspaces, firstWorkspace, openedWorkspace };
