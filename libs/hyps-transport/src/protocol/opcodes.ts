/** Control frame opcodes (PROTOCOL.md section 1). A body whose first byte is below 0x20 and is
 * not 0x0A is a control frame; any other body is a record. */
export const Opcode = {
  HELLO: 0x01,
  SUB: 0x02,
  UNSUB: 0x03,
  PING: 0x04,
  PONG: 0x05,
  OK: 0x10,
  ERR: 0x11,
  DROPPED: 0x12,
  INFO: 0x13,
  GROUP_MSG: 0x14,
} as const;
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** The byte that ends a channel and a message inside a record. */
export const NEWLINE = 0x0a;

/** Bytes of the big-endian length prefix in front of every frame. */
export const PREFIX_BYTES = 4;

/** Version carried in INFO and HELLO. */
export const PROTOCOL_VERSION = 1;

/** Opcodes each side may receive; anything else is a protocol error on that side. */
export const CLIENT_TO_BROKER: ReadonlySet<number> = new Set([
  Opcode.HELLO,
  Opcode.SUB,
  Opcode.UNSUB,
  Opcode.PING,
  Opcode.PONG,
]);
export const BROKER_TO_CLIENT: ReadonlySet<number> = new Set([
  Opcode.PING,
  Opcode.OK,
  Opcode.ERR,
  Opcode.DROPPED,
  Opcode.INFO,
  Opcode.GROUP_MSG,
]);

/** ERR codes (PROTOCOL.md section 7). */
export const ErrorCode = {
  PROTOCOL_ERROR: 1,
  FRAME_TOO_LARGE: 2,
  INVALID_CHANNEL: 3,
  AUTH_FAILED: 4,
  PERMISSION_DENIED: 5,
  TOO_MANY_SUBSCRIPTIONS: 6,
  TIMEOUT: 7,
  SHUTTING_DOWN: 8,
  UNSUPPORTED_PROTOCOL: 9,
  TOO_MANY_CONNECTIONS: 10,
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const FATAL_CODES: ReadonlySet<number> = new Set([1, 2, 4, 7, 8, 9, 10]);

/** Whether the broker closes the connection after sending this ERR code. */
export function isFatalErrorCode(code: number): boolean {
  return FATAL_CODES.has(code);
}
