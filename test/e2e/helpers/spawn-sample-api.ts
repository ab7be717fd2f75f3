// Runs the BUILT sample API (`npm run build` first) as a child process, and small clients for
// its SSE and WebSocket endpoints, for end-to-end tests.
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { REPO_ROOT } from './spawn-broker.js';
import { spawnListening, type SpawnedServer } from './spawn-listening.js';

export const SAMPLE_API_MAIN = fileURLToPath(
  new URL('../../../apps/sample-api/dist/main.js', import.meta.url),
);

const LISTENING = /sample-api listening on (http:\/\/\S+)/;
const DEFAULT_START_TIMEOUT_MS = 15_000;
const DEFAULT_STOP_TIMEOUT_MS = 8_000;

export interface SpawnedSampleApi extends SpawnedServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
}

/**
 * Starts `node apps/sample-api/dist/main.js` on 127.0.0.1 (PORT 0 unless `env` says otherwise)
 * and resolves once it prints its listening line; rejects (and kills it) otherwise.
 */
export async function spawnSampleApi(
  hypsUrl: string,
  env: NodeJS.ProcessEnv = {},
  startTimeoutMs = DEFAULT_START_TIMEOUT_MS,
): Promise<SpawnedSampleApi> {
  const started = await spawnListening({
    name: 'sample-api',
    command: process.execPath,
    args: [SAMPLE_API_MAIN],
    cwd: REPO_ROOT,
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', HYPS_URL: hypsUrl, ...env },
    listening: LISTENING,
    startTimeoutMs,
  });
  const url = started.match[1]!;
  return {
    url,
    port: Number(new URL(url).port),
    process: started.process,
    stdout: started.stdout,
    stderr: started.stderr,
    exited: started.exited,
    stop: (timeoutMs = DEFAULT_STOP_TIMEOUT_MS) => started.stop(timeoutMs),
    kill: started.kill,
  };
}

/** Resolves with `value()` once it is not undefined; rejects after `timeoutMs`. */
export async function waitUntil<T>(
  what: string,
  value: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
  intervalMs = 10,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await value();
    if (result !== undefined) return result;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface SseEvent {
  /** `event:` field, `message` when absent. */
  type: string;
  id: string | undefined;
  data: string;
}

/** A minimal EventSource for tests: one HTTP request, its parsed events, no reconnect. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  /** Body of a non-200 answer. */
  body = '';
  private buffer = '';
  private listeners = new Set<() => void>();

  private constructor(
    readonly request: http.ClientRequest,
    readonly response: http.IncomingMessage,
  ) {
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      if (response.statusCode !== 200) {
        this.body += chunk;
      } else {
        this.buffer += chunk;
        this.parse();
      }
      for (const listener of this.listeners) listener();
    });
    response.on('error', () => undefined);
  }

  /** Opens `url` and resolves once the response headers are in (whatever the status). */
  static open(url: string, headers: http.OutgoingHttpHeaders = {}): Promise<SseClient> {
    return new Promise((resolve, reject) => {
      const request = http.get(
        url,
        { agent: false, headers: { accept: 'text/event-stream', ...headers } },
        (response) => {
          // Bounds only the wait for the answer: an open stream may then stay quiet for long.
          request.setTimeout(0);
          resolve(new SseClient(request, response));
        },
      );
      request.on('error', reject);
      request.setTimeout(10_000, () => request.destroy(new Error(`no answer from ${url}`)));
    });
  }

  get status(): number | undefined {
    return this.response.statusCode;
  }

  /** Resolves with the first event (already received or coming) that satisfies `predicate`. */
  waitFor(predicate: (event: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    return this.waitForChange(() => this.events.find(predicate), timeoutMs, 'an SSE event');
  }

  /** Resolves once the response has ended (e.g. a 400 body is complete). */
  ended(timeoutMs = 5000): Promise<void> {
    return this.waitForChange(
      () => (this.response.complete ? true : undefined),
      timeoutMs,
      'the end of the response',
    ).then(() => undefined);
  }

  /** The browser leaves: the TCP connection is destroyed. */
  close(): void {
    this.request.destroy();
  }

  private waitForChange<T>(
    check: () => T | undefined,
    timeoutMs: number,
    what: string,
  ): Promise<T> {
    const found = check();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = () => {
        const value = check();
        if (value === undefined) return;
        done();
        resolve(value);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
        this.response.off('end', listener);
      };
      this.listeners.add(listener);
      this.response.on('end', listener);
    });
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\n\n');
      if (end < 0) return;
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      let type = 'message';
      let id: string | undefined;
      const data: string[] = [];
      let isEvent = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) {
          this.comments.push(line.slice(1).trim());
          continue;
        }
        const colon = line.indexOf(': ');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 2);
        if (field === 'event') type = value;
        else if (field === 'id') id = value;
        else if (field === 'data') data.push(value);
        else continue;
        isEvent = true;
      }
      if (isEvent) this.events.push({ type, id, data: data.join('\n') });
    }
  }
}

export interface WsReply {
  event: string;
  data: Record<string, unknown>;
}

/** A `ws` client of the chat gateway that keeps every message it receives. */
export class WsChatClient {
  readonly received: WsReply[] = [];
  private listeners = new Set<() => void>();

  private constructor(readonly socket: WebSocket) {
    socket.on('message', (raw) => {
      this.received.push(JSON.parse(raw.toString()) as WsReply);
      for (const listener of this.listeners) listener();
    });
  }

  static connect(baseUrl: string): Promise<WsChatClient> {
    const socket = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws');
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(new WsChatClient(socket)));
      socket.once('error', reject);
    });
  }

  send(event: string, data: unknown): void {
    this.socket.send(JSON.stringify({ event, data }));
  }

  sendRaw(text: string): void {
    this.socket.send(text);
  }

  /** Resolves with the first message, received after index `from`, that satisfies `predicate`. */
  waitFor(predicate: (reply: WsReply) => boolean, from = 0, timeoutMs = 5000): Promise<WsReply> {
    const find = () => this.received.slice(from).find(predicate);
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const listener = () => {
        const reply = find();
        if (!reply) return;
        done();
        resolve(reply);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for a WebSocket message`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      this.listeners.add(listener);
    });
  }

  /** Sends `event` and waits for the next message that answers it. */
  async request(event: string, data: unknown, replyEvent: string): Promise<WsReply> {
    const from = this.received.length;
    this.send(event, data);
    return this.waitFor((r) => r.event === replyEvent || r.event === 'error', from);
  }

  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.close();
    });
  }
}

/** POSTs JSON; resolves with the status and the parsed body. */
export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function getJson<T = Record<string, unknown>>(url: string): Promise<T> {
  const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return (await response.json()) as T;
}
