// Structured logs for operators: one JSON object per line on stderr,
// {"time","level","msg",...fields}, filtered by --log-level. Lifecycle events only: the broker
// never logs per message (a log line per publish would cost more than routing it).
import { LoggerService } from '@nestjs/common';
import type { LogLevel } from './cli.js';

const RANK: Readonly<Record<LogLevel, number>> = { error: 0, warn: 1, info: 2, debug: 3 };

export type LogFields = Record<string, unknown>;

export class JsonLogger {
  constructor(
    readonly level: LogLevel,
    private readonly write: (line: string) => void = (line) => void process.stderr.write(line),
  ) {}

  enabled(level: LogLevel): boolean {
    return RANK[level] <= RANK[this.level];
  }

  error(msg: string, fields?: LogFields): void {
    this.emit('error', msg, fields);
  }

  warn(msg: string, fields?: LogFields): void {
    this.emit('warn', msg, fields);
  }

  info(msg: string, fields?: LogFields): void {
    this.emit('info', msg, fields);
  }

  debug(msg: string, fields?: LogFields): void {
    this.emit('debug', msg, fields);
  }

  emit(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (!this.enabled(level)) return;
    // time, level and msg first and never overwritten by a field of the same name.
    const entry = { time: new Date().toISOString(), level, msg };
    this.write(stringify({ ...entry, ...fields, ...entry }) + '\n');
  }
}

// Nest's bootstrap chatter ("BrokerModule dependencies initialized") is debug here, not info.
const NEST_CHATTER = new Set([
  'NestFactory',
  'InstanceLoader',
  'NestApplication',
  'NestApplicationContext',
  'RoutesResolver',
  'RouterExplorer',
]);

/** Nest's LoggerService on top of JsonLogger, so Nest's own logs are JSON lines too. */
export class NestJsonLogger implements LoggerService {
  constructor(private readonly logger: JsonLogger) {}

  log(message: unknown, ...params: unknown[]): void {
    const fields = nestFields(params);
    const chatter = typeof fields.context === 'string' && NEST_CHATTER.has(fields.context);
    this.forward(chatter ? 'debug' : 'info', message, fields);
  }

  error(message: unknown, ...params: unknown[]): void {
    this.forward('error', message, nestFields(params));
  }

  fatal(message: unknown, ...params: unknown[]): void {
    this.forward('error', message, nestFields(params));
  }

  warn(message: unknown, ...params: unknown[]): void {
    this.forward('warn', message, nestFields(params));
  }

  debug(message: unknown, ...params: unknown[]): void {
    this.forward('debug', message, nestFields(params));
  }

  verbose(message: unknown, ...params: unknown[]): void {
    this.forward('debug', message, nestFields(params));
  }

  private forward(level: LogLevel, message: unknown, fields: LogFields): void {
    if (!this.logger.enabled(level)) return;
    if (message instanceof Error) {
      this.logger.emit(level, message.message, {
        error: message.name,
        stack: message.stack,
        ...fields,
      });
    } else if (typeof message === 'string') {
      this.logger.emit(level, message, fields);
    } else {
      this.logger.emit(level, 'nest', { data: message, ...fields });
    }
  }
}

/**
 * Nest passes (message, context) or (message, stack, context), the context last; anything else
 * is kept as `params`.
 */
function nestFields(params: unknown[]): LogFields {
  const rest = [...params];
  const fields: LogFields = {};
  if (rest.length > 0 && typeof rest[rest.length - 1] === 'string') fields.context = rest.pop();
  if (typeof rest[0] === 'string' && /\n\s+at /.test(rest[0])) fields.stack = rest.shift();
  if (rest.length > 0) fields.params = rest;
  return fields;
}

/** JSON.stringify that never throws (circular values, BigInt) and keeps Error details. */
function stringify(value: object): string {
  const replacer = (_key: string, v: unknown) => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  };
  try {
    return JSON.stringify(value, replacer);
  } catch {
    const { time, level, msg } = value as LogFields;
    return JSON.stringify({ time, level, msg, unserializable: true });
  }
}
