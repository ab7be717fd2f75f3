import { ErrorCode, isFatalErrorCode } from './opcodes.js';

/** Name of each wire error code, as used in `HypsError.code`. */
export type HypsWireErrorName = keyof typeof ErrorCode;

/**
 * Base class of every error Hyps raises. `code` is stable and safe to switch on; `wireCode` is the
 * ERR code when the error travels (or came) over the wire.
 */
export class HypsError extends Error {
  readonly code: string;
  readonly wireCode: number | undefined;

  constructor(code: string, message: string, options?: { cause?: unknown; wireCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.wireCode = options?.wireCode;
  }

  /** True when the broker closes the connection after this error. */
  get fatal(): boolean {
    return this.wireCode !== undefined && isFatalErrorCode(this.wireCode);
  }
}

function wireError(name: HypsWireErrorName) {
  const wireCode = ErrorCode[name];
  return class extends HypsError {
    static readonly wireCode = wireCode;
    constructor(message: string, options?: { cause?: unknown }) {
      super(name, message, { cause: options?.cause, wireCode });
    }
  };
}

/** Malformed frame, zero length, unknown or misdirected opcode, bad or repeated HELLO. */
export class ProtocolError extends wireError('PROTOCOL_ERROR') {}
/** A frame's length prefix is above maxFrameBytes. */
export class FrameTooLargeError extends wireError('FRAME_TOO_LARGE') {}
/** A channel, pattern or group breaks the channel rules. */
export class InvalidChannelError extends wireError('INVALID_CHANNEL') {}
/** HELLO carried a wrong or missing credential. */
export class AuthFailedError extends wireError('AUTH_FAILED') {}
/** The user may not publish to, or subscribe to, that channel or pattern. */
export class PermissionDeniedError extends wireError('PERMISSION_DENIED') {}
/** The connection already holds maxSubscriptions subscriptions. */
export class TooManySubscriptionsError extends wireError('TOO_MANY_SUBSCRIPTIONS') {}
/** No HELLO in time, a frame left incomplete too long, or PINGs unanswered. */
export class HypsTimeoutError extends wireError('TIMEOUT') {}
/** The broker is shutting down. */
export class ShuttingDownError extends wireError('SHUTTING_DOWN') {}
/** HELLO asked for a protocol version the broker does not speak. */
export class UnsupportedProtocolError extends wireError('UNSUPPORTED_PROTOCOL') {}
/** The broker is at maxConnections. */
export class TooManyConnectionsError extends wireError('TOO_MANY_CONNECTIONS') {}

const BY_WIRE_CODE: Record<number, new (message: string) => HypsError> = {
  [ErrorCode.PROTOCOL_ERROR]: ProtocolError,
  [ErrorCode.FRAME_TOO_LARGE]: FrameTooLargeError,
  [ErrorCode.INVALID_CHANNEL]: InvalidChannelError,
  [ErrorCode.AUTH_FAILED]: AuthFailedError,
  [ErrorCode.PERMISSION_DENIED]: PermissionDeniedError,
  [ErrorCode.TOO_MANY_SUBSCRIPTIONS]: TooManySubscriptionsError,
  [ErrorCode.TIMEOUT]: HypsTimeoutError,
  [ErrorCode.SHUTTING_DOWN]: ShuttingDownError,
  [ErrorCode.UNSUPPORTED_PROTOCOL]: UnsupportedProtocolError,
  [ErrorCode.TOO_MANY_CONNECTIONS]: TooManyConnectionsError,
};

/** The typed error for an ERR frame received from the broker. Unknown codes stay HypsError. */
export function errorFromWire(wireCode: number, message: string): HypsError {
  const ErrorClass = BY_WIRE_CODE[wireCode];
  if (ErrorClass) return new ErrorClass(message);
  return new HypsError('UNKNOWN_ERROR', `broker error ${wireCode}: ${message}`, { wireCode });
}
