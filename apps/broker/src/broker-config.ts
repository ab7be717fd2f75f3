// Checks the raw CLI/env values with class-validator and turns them into BrokerOptions.
// Every problem is reported at once, named by the flag or variable the value came from.
import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  Min,
  Validate,
  ValidationArguments,
  ValidationError,
  ValidatorConstraint,
  ValidatorConstraintInterface,
  validateSync,
} from 'class-validator';
import {
  BrokerConfigError,
  BrokerOptions,
  DEFAULT_BROKER_OPTIONS,
  loadUsersFile,
} from '@hyps/transport';
import {
  ConfigKey,
  ConfigSources,
  DEFAULT_LOG_LEVEL,
  FLAGS,
  LOG_LEVELS,
  RawConfig,
  type LogLevel,
} from './cli.js';
import { loadTlsFiles } from './tls-files.js';

// Node timers overflow (and fire at once) above 2^31 - 1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;
// Also the broker core's bound on maxFrameBytes (frames are buffered in one Buffer).
const MAX_INT32 = 2 ** 31 - 1;

/** Decimal integers become numbers; anything else stays as given so @IsInt reports it. */
function toInteger({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^[+-]?\d+$/.test(value.trim()) ? Number(value) : value;
}

function between(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return [IsInt({ message }), Min(min, { message }), Max(max, { message })];
}

function apply(decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, key) => decorators.forEach((d) => d(target, key));
}

const Integer = (min: number, max: number) =>
  apply([Transform(toInteger) as PropertyDecorator, ...between(min, max)]);

@ValidatorConstraint({ name: 'notWith' })
class NotWith implements ValidatorConstraintInterface {
  validate(_value: unknown, args: ValidationArguments): boolean {
    const other = args.constraints[0] as keyof BrokerConfigDto;
    return (args.object as BrokerConfigDto)[other] === undefined;
  }
  defaultMessage(args: ValidationArguments): string {
    return `cannot be combined with ${flagOf(args.constraints[0] as ConfigKey)} (token or hmac auth: pick one)`;
  }
}

@ValidatorConstraint({ name: 'atMost' })
class AtMost implements ValidatorConstraintInterface {
  validate(value: unknown, args: ValidationArguments): boolean {
    const other = (args.object as BrokerConfigDto)[args.constraints[0] as keyof BrokerConfigDto];
    // If the other field is itself invalid, its own error says so; don't pile on.
    return typeof value !== 'number' || typeof other !== 'number' || value <= other;
  }
  defaultMessage(args: ValidationArguments): string {
    const other = (args.object as BrokerConfigDto)[args.constraints[0] as keyof BrokerConfigDto];
    return `must not exceed ${flagOf(args.constraints[0] as ConfigKey)} (${String(other)}): a whole frame must fit in a connection's buffer`;
  }
}

@ValidatorConstraint({ name: 'needs' })
class Needs implements ValidatorConstraintInterface {
  validate(_value: unknown, args: ValidationArguments): boolean {
    const other = args.constraints[0] as keyof BrokerConfigDto;
    return (args.object as BrokerConfigDto)[other] !== undefined;
  }
  defaultMessage(args: ValidationArguments): string {
    return `needs ${flagOf(args.constraints[0] as ConfigKey)} too`;
  }
}

/** The broker's configuration as given on the command line, with defaults filled in. */
export class BrokerConfigDto {
  @IsString()
  @IsNotEmpty({ message: 'must not be empty' })
  host: string = DEFAULT_BROKER_OPTIONS.host;

  @Integer(0, 65535)
  port: number = DEFAULT_BROKER_OPTIONS.port;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  @Validate(NotWith, ['usersFile'])
  token?: string;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  usersFile?: string;

  @Integer(1, MAX_INT32)
  @Validate(AtMost, ['maxBufferedBytes'])
  maxFrameBytes: number = DEFAULT_BROKER_OPTIONS.maxFrameBytes;

  @Integer(1, 65535)
  maxChannelBytes: number = DEFAULT_BROKER_OPTIONS.maxChannelBytes;

  @Integer(1, Number.MAX_SAFE_INTEGER)
  maxBufferedBytes: number = DEFAULT_BROKER_OPTIONS.maxBufferedBytes;

  @Integer(1, MAX_INT32)
  maxSubscriptions: number = DEFAULT_BROKER_OPTIONS.maxSubscriptions;

  @Integer(1, MAX_INT32)
  maxConnections: number = DEFAULT_BROKER_OPTIONS.maxConnections;

  @Integer(1, MAX_TIMER_MS)
  helloTimeoutMs: number = DEFAULT_BROKER_OPTIONS.helloTimeoutMs;

  @Integer(1, MAX_TIMER_MS)
  pingIntervalMs: number = DEFAULT_BROKER_OPTIONS.pingIntervalMs;

  @Integer(1, MAX_TIMER_MS)
  frameTimeoutMs: number = DEFAULT_BROKER_OPTIONS.frameTimeoutMs;

  @Integer(0, MAX_TIMER_MS)
  shutdownTimeoutMs: number = DEFAULT_BROKER_OPTIONS.shutdownTimeoutMs;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  @Validate(Needs, ['tlsKey'])
  tlsCert?: string;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  @Validate(Needs, ['tlsCert'])
  tlsKey?: string;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  @Validate(Needs, ['tlsCert'])
  tlsCa?: string;

  @IsOptional()
  @Integer(0, 65535)
  metricsPort?: number;

  @IsOptional()
  @IsNotEmpty({ message: 'must not be empty' })
  @Validate(Needs, ['metricsPort'])
  metricsHost?: string;

  @IsIn(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` })
  logLevel: LogLevel = DEFAULT_LOG_LEVEL;
}

export type ConfigCheck = { ok: true; config: BrokerConfigDto } | { ok: false; problems: string[] };

/** Validates raw values; each problem names the flag or variable it came from and its value. */
export function validateBrokerConfig(values: RawConfig, sources: ConfigSources): ConfigCheck {
  const config = plainToInstance(BrokerConfigDto, values);
  const errors = validateSync(config, { stopAtFirstError: true, forbidUnknownValues: true });
  if (errors.length === 0) return { ok: true, config };
  return { ok: false, problems: errors.map((e) => describe(e, values, sources)) };
}

function describe(error: ValidationError, values: RawConfig, sources: ConfigSources): string {
  const key = error.property as ConfigKey;
  const name = sources[key] ?? flagOf(key);
  const reasons = Object.values(error.constraints ?? {}).join('; ');
  const given = values[key];
  // Never echo a secret back.
  const shown = key === 'token' || given === undefined ? '' : ` (got "${given}")`;
  return `${name}: ${reasons}${shown}`;
}

function flagOf(key: ConfigKey): string {
  return FLAGS.find((f) => f.key === key)?.flag ?? key;
}

/** Where the operator's HTTP endpoints (/metrics, /health) listen. */
export interface MetricsEndpoint {
  host: string;
  port: number;
}

/** Everything the broker app runs with: the core's options plus the app's own settings. */
export interface AppConfig {
  broker: BrokerOptions;
  /** null when --metrics-port is not given. */
  metrics: MetricsEndpoint | null;
  logLevel: LogLevel;
}

export type AppConfigCheck = { ok: true; app: AppConfig } | { ok: false; problems: string[] };

/**
 * The app configuration for a valid DTO. Reads the users file and the TLS files, so it can
 * still fail; each problem names the flag or variable whose file is unusable.
 */
export function toAppConfig(
  config: BrokerConfigDto,
  sources: ConfigSources,
  version: string,
): AppConfigCheck {
  const {
    token,
    usersFile,
    tlsCert,
    tlsKey,
    tlsCa,
    metricsPort,
    metricsHost,
    logLevel,
    ...limits
  } = config;
  const name = (key: ConfigKey) => sources[key] ?? flagOf(key);
  const problems: string[] = [];

  let auth: BrokerOptions['auth'] = { mode: 'none' };
  if (token !== undefined) auth = { mode: 'token', token };
  else if (usersFile !== undefined) {
    try {
      auth = { mode: 'hmac', users: loadUsersFile(usersFile) };
    } catch (error) {
      if (!(error instanceof BrokerConfigError)) throw error;
      problems.push(`${name('usersFile')}: ${error.message}`);
    }
  }

  let tls: BrokerOptions['tls'];
  if (tlsCert !== undefined && tlsKey !== undefined) {
    const loaded = loadTlsFiles({ cert: tlsCert, key: tlsKey, ca: tlsCa }, (part) =>
      name(part === 'cert' ? 'tlsCert' : part === 'key' ? 'tlsKey' : 'tlsCa'),
    );
    if (loaded.ok) tls = loaded.tls;
    else problems.push(...loaded.problems);
  }

  if (problems.length > 0) return { ok: false, problems };
  const broker: BrokerOptions = { ...DEFAULT_BROKER_OPTIONS, ...limits, auth, version };
  if (tls) broker.tls = tls;
  const metrics =
    metricsPort === undefined ? null : { host: metricsHost ?? limits.host, port: metricsPort };
  return { ok: true, app: { broker, metrics, logLevel } };
}
