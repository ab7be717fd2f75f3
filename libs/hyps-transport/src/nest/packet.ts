// How Nest packets travel over Hyps. Every packet is one Hyps record whose message is UTF-8 JSON:
//   event    on channel <pattern>:  {"pattern","data","metadata"?}
//   request  on channel <pattern>:  {"pattern","data","id","replyTo","metadata"?}
//   reply    on channel <replyTo>:  {"id","err"?,"response"?,"isDisposed"?,"status"?}
// `replyTo` is the requesting ClientHyps's inbox, one exact channel per client (`_INBOX.<id>`),
// so the broker routes replies with a hash lookup and a client needs one subscription for all of
// its requests; `id` tells the requests apart. A reply holds only Nest's envelope keys because
// Nest 12's IncomingResponseDeserializer treats any other key as a foreign payload.
import { randomBytes } from 'node:crypto';
import type { WritePacket } from '@nestjs/microservices';
import type { HypsMessage } from '../client/index.js';

/** Default first token of reply inboxes (PROTOCOL.md section 8 permissions use `_INBOX.>`). */
export const DEFAULT_INBOX_PREFIX = '_INBOX';

/** A new, unique inbox channel: `<prefix>.<16 random base64url chars>`. */
export function createInbox(prefix: string = DEFAULT_INBOX_PREFIX): string {
  return `${prefix}.${randomBytes(12).toString('base64url')}`;
}

/** The request fields ServerHyps needs besides Nest's own `pattern`, `data` and `id`. */
export interface HypsRequestFields {
  /** Channel that replies go to. */
  replyTo: string;
}

/**
 * Encodes a (serialized) packet as the message of a Hyps record. A string: the client writes it
 * into its batch buffer directly, with no intermediate Buffer.
 */
export function encodePacket(packet: unknown): string {
  return JSON.stringify(packet) ?? 'null';
}

/** The JSON an event packet of `pattern` starts with, up to its data. */
function eventHeadText(pattern: string): string {
  return `{"pattern":${JSON.stringify(pattern)},"data":`;
}

/** Event packet heads by pattern (eventHeadText). Bounded. */
const eventHeads = new Map<string, string>();
const MAX_EVENT_HEADS = 1024;

/**
 * The JSON of an event packet that is exactly `{ pattern, data }`, the same text encodePacket
 * makes, with the pattern's part built once per pattern: only `data` is stringified per event.
 */
export function encodeEventPacket(pattern: string, data: unknown): string {
  const body = JSON.stringify(data);
  if (body === undefined) return encodePacket({ pattern, data }); // data that JSON drops
  let head = eventHeads.get(pattern);
  if (head === undefined) {
    if (eventHeads.size >= MAX_EVENT_HEADS) eventHeads.clear();
    head = eventHeadText(pattern);
    eventHeads.set(pattern, head);
  }
  return `${head}${body}}`;
}

/**
 * Decodes a record's message. Non-JSON messages (a plain HypsClient publishing text) come back as
 * the text itself, which Nest's request deserializer then wraps as `{ pattern: channel, data }`.
 */
export function decodePayload(message: HypsMessage): unknown {
  const text = message.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** Per event channel: its event head's UTF-8 bytes, and how many events skip the short way. */
interface EventHeadBytes {
  readonly bytes: Buffer;
  skip: number;
  /** What `skip` becomes at the next miss: doubled by each miss, reset by a hit. */
  skipAfterMiss: number;
}
const eventHeadBytes = new Map<string, EventHeadBytes>();
/**
 * Messages decoded the whole way after a short-way miss, before the short way is tried again;
 * doubled by each further miss, up to MAX_SKIP (a channel of requests stops paying for misses).
 */
const FIRST_SKIP = 64;
const MAX_SKIP = 65_536;
const CLOSE_BRACE = 0x7d;

function eventHeadBytesOf(channel: string): EventHeadBytes {
  let head = eventHeadBytes.get(channel);
  if (head === undefined) {
    if (eventHeadBytes.size >= MAX_EVENT_HEADS) eventHeadBytes.clear();
    const bytes = Buffer.from(eventHeadText(channel), 'utf8');
    head = { bytes, skip: 0, skipAfterMiss: FIRST_SKIP };
    eventHeadBytes.set(channel, head);
  }
  return head;
}

/**
 * decodePayload for the messages a ServerHyps receives. An event that is encodeEventPacket's
 * text for its own channel, `{"pattern":<channel>,"data":<json>}`, has only `<json>` decoded and
 * parsed: the same value, at about 60% of the cost (this is most of an event's decoding). When
 * more keys follow `data` (a request's `id`, a dispatch hook's `metadata`), parsing `<json>`
 * fails; that channel then takes the whole way for 64 messages, twice as many after each further
 * miss, so such traffic soon stops paying for failed attempts.
 */
export function decodeIncoming(message: HypsMessage): unknown {
  const head = eventHeadBytesOf(message.channel);
  if (head.skip > 0) {
    head.skip--;
    return decodePayload(message);
  }
  const data = message.data;
  const { bytes } = head;
  const end = data.length - 1;
  if (end <= bytes.length || data[end] !== CLOSE_BRACE || !Buffer.isBuffer(data)) {
    return decodePayload(message);
  }
  for (let i = 0; i < bytes.length; i++) {
    if (data[i] !== bytes[i]) return decodePayload(message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8', bytes.length, end));
  } catch {
    head.skip = head.skipAfterMiss;
    head.skipAfterMiss = Math.min(MAX_SKIP, 2 * head.skipAfterMiss);
    return decodePayload(message);
  }
  head.skipAfterMiss = FIRST_SKIP;
  return { pattern: message.channel, data: parsed };
}

/** Reads the `replyTo` channel of a decoded request, or undefined when it has none. */
export function replyChannelOf(decoded: unknown): string | undefined {
  if (decoded === null || typeof decoded !== 'object') return undefined;
  const replyTo = (decoded as Partial<HypsRequestFields>).replyTo;
  return typeof replyTo === 'string' && replyTo.length > 0 ? replyTo : undefined;
}

/**
 * Errors cross the wire as JSON; a thrown `Error` would serialize to `{}`, so keep its name,
 * message and own enumerable fields (e.g. `code`). Plain objects (what Nest's RpcException
 * filter produces) and strings pass unchanged.
 */
export function toWireError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  return { ...err, name: err.name, message: err.message };
}

/** A reply packet with exactly Nest's envelope keys (undefined ones are dropped by JSON). */
export function createReplyPacket(id: string, packet: WritePacket): WritePacket & { id: string } {
  return {
    id,
    err: packet.err === undefined ? undefined : toWireError(packet.err),
    response: packet.response,
    isDisposed: packet.isDisposed,
    status: packet.status,
  };
}
