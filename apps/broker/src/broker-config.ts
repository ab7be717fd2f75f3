// Checks the raw CLI/env values with class-validator and turns them into BrokerOptions.
// Every problem is reported at once, named by the flag or variable the value came from.
import { plainToInstance, Transform } from 'class-transformer';
import {
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
import { BrokerOptions, DEFAULT_BROKER_OPTIONS, loadUsersFile } from '@hyps/transport';
import { ConfigKey, ConfigSources, FLAGS, RawConfig } from './cli.js';

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

/**
 * The BrokerOptions for a valid configuration. Reads the users file, so it throws
 * BrokerConfigError when that file is missing or malformed.
 */
export function toBrokerOptions(config: BrokerConfigDto, version: string): BrokerOptions {
  const { token, usersFile, ...limits } = config;
  const auth: BrokerOptions['auth'] =
    token !== undefined
      ? { mode: 'token', token }
      : usersFile !== undefined
        ? { mode: 'hmac', users: loadUsersFile(usersFile) }
        : { mode: 'none' };
  return { ...DEFAULT_BROKER_OPTIONS, ...limits, auth, version };
}
