// Types of molecule-plugin, written by hand beside the JavaScript (molecule-plugin.js and lib/).
// The wire shapes follow protocol/schemas; objects stay open ([key: string]: unknown) because
// the protocol lets either side add fields.
/// <reference types="node" />

export declare const PROTOCOL_VERSION: 1;
export declare const DEFAULT_MAX_MESSAGE_BYTES: number;
export declare const PEER_CALLS_NAMESPACE: string;

/** The JSON-RPC, application (1001-1007) and peer-call (1010-1016) error codes. */
export declare const codes: Readonly<{
  PARSE_ERROR: -32700; INVALID_REQUEST: -32600; METHOD_NOT_FOUND: -32601;
  INVALID_PARAMS: -32602; INTERNAL_ERROR: -32603; NOT_INITIALIZED: -32002;
  REQUEST_CANCELLED: -32800; BUSY: 1001; RATE_LIMITED: 1002; UPSTREAM_UNAVAILABLE: 1003;
  UNSUPPORTED_CONTENT: 1004; DEADLINE_EXCEEDED: 1005; REFUSED: 1006; REPLY_TOO_LARGE: 1007;
  UNAUTHORIZED: 1010; NOT_FOUND: 1011; REMOVED: 1012; PLATFORM_UNAVAILABLE: 1013; REJECTED: 1014;
  WAIT_TIMEOUT: 1015; BUDGET_EXHAUSTED: 1016;
}>;

export type JsonObject = { [key: string]: unknown };

export interface TextPart { kind: 'text'; text: string; metadata?: JsonObject | null }
export interface DataPart { kind: 'data'; data: JsonObject; metadata?: JsonObject | null }
export interface FilePart {
  kind: 'file';
  file: { name?: string | null; mimeType?: string | null; uri?: string | null; bytes?: string | null; size?: number | null };
  metadata?: JsonObject | null;
}
/** One piece of content of a message or a reply. */
export type Part = TextPart | DataPart | FilePart;

/** The params of `handle_a2a`: the message, who sent it, and how it is delivered. */
export interface HandleA2aParams {
  message: {
    kind: 'message'; role: 'user' | 'agent'; messageId: string; parts: Part[];
    contextId?: string | null; taskId?: string | null; metadata?: JsonObject | null;
    [key: string]: unknown;
  };
  sender: { kind: 'agent' | 'canvas' | 'other'; workspaceId: string | null; name?: string | null; role?: string | null };
  context: {
    activityId: string; attempt: number; deadline: string; idempotencyKey: string;
    conversationKey: string; hops: number; inReplyTo?: string | null; replySuppressed?: boolean;
    [key: string]: unknown;
  };
  /** The workspace the message is for, sent to backends that serve several (SPEC §17). */
  workspace?: { id: string; name?: string | null };
  [key: string]: unknown;
}

/** The result of `handle_a2a`; no parts means no reply is posted. */
export interface HandleA2aResult { parts: Part[]; metadata?: JsonObject }

/** What a handler may return: a result, or a string or list of parts that becomes `reply(...)` of them. */
export type HandlerReturn = HandleA2aResult | string | Array<Part | string>;

/** The host's half of the handshake. */
export interface InitializeParams {
  protocolVersion: number;
  host: { name: string; version: string; pid: number };
  workspace: { id: string; name?: string | null };
  limits: { maxMessageBytes: number; requestTimeoutMs: number; idleTimeoutMs?: number | null; cancelGraceMs?: number | null };
  capabilities: { cancel: boolean; progress: boolean; hostMethods: string[] };
  [key: string]: unknown;
}

/** Another workspace, as the platform's registry describes it (only `id` is certain). */
export interface Peer {
  id: string; name?: string | null; role?: string | null; status?: string | null;
  url?: string | null; agentCard?: JsonObject | null; [key: string]: unknown;
}

/** What became of a message to a peer. */
export interface SendResult {
  messageId: string; contextId: string; queued: boolean; parts?: Part[] | null; state?: string | null;
}

export interface CallOptions { timeoutMs?: number }

export interface SendOptions extends CallOptions {
  text?: string; parts?: Part[]; contextId?: string; messageId?: string; waitMs?: number;
}

/** The typed peer calls (through the host's peers/*, workspace/info and user/notify). */
export interface PeerCalls {
  listPeers(options?: CallOptions): Promise<Peer[]>;
  discover(id: string, options?: CallOptions): Promise<Peer | null>;
  sendToPeer(id: string, options: SendOptions): Promise<SendResult>;
  workspaceInfo(options?: CallOptions): Promise<JsonObject | undefined>;
  notifyUser(text: string, options?: CallOptions & { attachments?: JsonObject[] }): Promise<void>;
}

/** What a handler knows about its request and can do while it runs. */
/** A workspace the backend serves (SPEC §17). */
export interface Workspace {
  readonly id: string;
  readonly name: string | null;
  /** Its own state directory (0700, kept across restarts). */
  readonly stateDir: string | null;
  /** The socket serving the host methods, for the tools started for this workspace. */
  readonly hostSocket: string | null;
}

export interface RequestContext extends PeerCalls {
  readonly id: number | string;
  /** The workspace the request is for: keep per-workspace state apart by its id. */
  readonly workspace: Workspace | null;
  /** Aborts when the host cancels the request: pass it to fetch() and friends. */
  readonly signal: AbortSignal;
  readonly deadline: Date | null;
  readonly cancelled: boolean;
  throwIfCancelled(): void;
  /** Resolves once the request is cancelled (at once if it already was). */
  whenCancelled(): Promise<void>;
  remainingMs(): number | null;
  /** Tells the host the request is still being worked on (resets its idle timer). */
  progress(message?: string, percent?: number): void;
  /** Calls a method the host lists in `hostMethods`. */
  callHost(method: string, params?: JsonObject, options?: CallOptions): Promise<any>;
  /** Calls the host outside this request (it names the workspace when the backend serves several). */
  callHostDetached(method: string, params?: JsonObject, options?: CallOptions): Promise<any>;
}

/** A backend: what it tells the host at the handshake, and its handler. */
export interface Backend {
  name?: string;
  version?: string;
  description?: string;
  agentCard?: JsonObject;
  maxConcurrency?: number;
  /** Above 1: one process serves up to this many workspaces (SPEC §17). */
  maxWorkspaces?: number;
  cancel?: boolean;
  progress?: boolean;
  /** Milliseconds a cancelled handler may take to answer by itself. */
  cancelGraceMs?: number;
  /** Called with the host's initialize params before answering; throw to refuse. */
  initialize?(params: InitializeParams): void | Promise<void>;
  /** A workspace was added to this process (maxWorkspaces above 1): prepare it; return its own
   * agent card if it differs from `agentCard`; throw to refuse it. */
  openWorkspace?(workspace: Workspace): JsonObject | undefined | Promise<JsonObject | undefined>;
  /** A workspace was taken from this process, after its requests ended: release it. */
  closeWorkspace?(workspace: Workspace): void | Promise<void>;
  handleA2a(params: HandleA2aParams, ctx: RequestContext): HandlerReturn | Promise<HandlerReturn>;
}

export interface ErrorOptions {
  retryable?: boolean; retryAfterMs?: number; userMessage?: string; details?: unknown;
}

export interface RpcError { code: number; message: string; data?: JsonObject }

/** An error answer; use the application codes 1001-1007 so the host knows what to do. */
export declare class BackendError extends Error {
  constructor(code: number, message: string, options?: ErrorOptions);
  code: number;
  data: JsonObject;
  toError(): RpcError;
  static busy(message: string, options?: ErrorOptions): BackendError;
  static rateLimited(message: string, options?: ErrorOptions): BackendError;
  static upstreamUnavailable(message: string, options?: ErrorOptions): BackendError;
  static unsupportedContent(message: string, options?: ErrorOptions): BackendError;
  static deadlineExceeded(message: string, options?: ErrorOptions): BackendError;
  static refused(message: string, options?: ErrorOptions): BackendError;
  static replyTooLarge(message: string, options?: ErrorOptions): BackendError;
}

/** Thrown by `ctx.throwIfCancelled()`; the request is answered -32800. */
export declare class Cancelled extends Error {}

/** A call to the host failed (not offered, connection closed, timed out, or an error answer). */
export declare class HostCallError extends Error {
  constructor(message: string, code?: number, data?: unknown);
  code: number | undefined;
  data: unknown;
  /** The host's own message, when it answered with an error. */
  hostMessage?: string;
}

/** A peer call failed; `cls` says why (`unauthorized`, `not_found`, `wait_timeout`, …). */
export declare class PeerError extends HostCallError {
  constructor(message: string, code?: number, data?: unknown, cls?: string);
  cls: string;
  retryable: boolean;
  retryAfterMs: number | undefined;
  messageId: string | undefined;
  target: string | undefined;
  status: number | undefined;
}

/** The messageId of the index-th peer send while handling a delivery (SPEC 12.4). */
export declare function callMessageId(idempotencyKey: string, index: number): string;
/** The typed peer calls of one request, made through its `callHost`. */
export declare function peerCalls(
  callHost: (method: string, params: JsonObject, options: CallOptions) => Promise<any>,
  hostMethods: () => string[],
  idempotencyKey?: string,
): PeerCalls;

export declare function textPart(text: string): TextPart;
export declare function dataPart(data: JsonObject): DataPart;
/** A handle_a2a result with these parts (strings become text parts). */
export declare function reply(...parts: Array<Part | string>): HandleA2aResult;
/** A result with no parts: the host posts nothing. */
export declare function noReply(): HandleA2aResult;
/** The text parts of a list of parts (a peer's reply, say), joined by newlines. */
export declare function partsText(parts: Part[] | null | undefined): string;
/** The message's text parts, joined by newlines. */
export declare function messageText(params: { message?: { parts?: Part[] } }): string;

export type Frame = { line: Buffer } | { oversize: true; length: number; id: number | string | null };

/** Splits a byte stream into lines (BOM and \r stripped, blank lines skipped, over-long lines reported). */
export declare class LineReader {
  constructor(max: number, onFrame: (frame: Frame) => void);
  push(chunk: Buffer): void;
  end(): void;
}

export interface ServeOptions { maxMessageBytes?: number; shutdownGraceMs?: number }
export interface Output { write(data: string, callback: () => void): unknown }

/** One conversation with the host over a readable and a writable stream. */
export declare class Connection {
  constructor(backend: Backend, input: NodeJS.ReadableStream, output: Output, options?: ServeOptions);
  hostMethods: string[];
  /** Serves until the input ends and the shutdown completed; resolves with the exit status. */
  serve(): Promise<number>;
  callHost(method: string, params?: JsonObject, options?: CallOptions & { origin?: number | string; workspace?: string }): Promise<any>;
}

/** Serves `backend` over the given streams until `input` ends; resolves with the exit status. */
export declare function serve(backend: Backend, input: NodeJS.ReadableStream, output: Output, options?: ServeOptions): Promise<number>;

/** The whole `main` of a backend: checks it was started by the host, keeps stray output off
 * stdout, serves stdin/stdout, and exits (0 after a clean shutdown, 2 when run by hand). */
export declare function run(backend: Backend): void;
