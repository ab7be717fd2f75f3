import {
  IsBoolean,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsOptional,
  IsString,
  Min,
  ValidateBy,
  ValidateIf,
  validateSync,
} from 'class-validator';
import type { ValidationError } from 'class-validator';
import type { HypsClientOptions } from '../client/index.js';
import { HypsConfigError } from './nest-errors.js';

/** Options of HypsModule: those of the HypsClient it provides. */
export type HypsModuleOptions = HypsClientOptions;

/** True for `hyps://host[:port]` (or `tcp://`) with nothing after the authority but a `/`. */
function isHypsUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    const rest = url.pathname + url.search + url.hash;
    return (
      (url.protocol === 'hyps:' || url.protocol === 'tcp:') &&
      url.hostname !== '' &&
      (rest === '' || rest === '/')
    );
  } catch {
    return false;
  }
}

function IsHypsUrl(): PropertyDecorator {
  return ValidateBy({
    name: 'isHypsUrl',
    validator: {
      validate: isHypsUrl,
      defaultMessage: () => 'url must be a hyps://host:port URL',
    },
  });
}

/** The validation schema of HypsModuleOptions; unknown fields are reported too (typos). */
export class HypsModuleOptionsDto implements HypsModuleOptions {
  @IsOptional() @IsHypsUrl() url?: string;
  @IsOptional() @IsString() @IsNotEmpty() token?: string;
  // hmac auth needs both: a user without a secret cannot sign the HELLO nonce.
  @ValidateIf((o: HypsModuleOptionsDto) => o.user !== undefined || o.secret !== undefined)
  @IsString()
  @IsNotEmpty()
  user?: string;
  @ValidateIf((o: HypsModuleOptionsDto) => o.user !== undefined || o.secret !== undefined)
  @IsString()
  @IsNotEmpty()
  secret?: string;
  @IsOptional() @IsString() @IsNotEmpty() name?: string;
  @IsOptional() @IsBoolean() reconnect?: boolean;
  @IsOptional() @IsInt() @Min(1) reconnectDelayMs?: number;
  @IsOptional() @IsInt() @Min(1) maxReconnectDelayMs?: number;
  @IsOptional()
  @IsNumber({ allowInfinity: true, allowNaN: false })
  @Min(0)
  maxReconnectAttempts?: number;
  @IsOptional() @IsInt() @Min(1) connectTimeoutMs?: number;
  @IsOptional() @IsInt() @Min(0) pendingPublishLimit?: number;
  @IsOptional() @IsInt() @Min(1) pendingPublishTimeoutMs?: number;
  @IsOptional() @IsInt() @Min(1) flushThresholdBytes?: number;
}

/**
 * Checks options with class-validator and returns them unchanged; throws HypsConfigError listing
 * every bad field (and every unknown one) so an operator fixes them all in one go.
 */
export function validateHypsModuleOptions(options: unknown): HypsModuleOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new HypsConfigError([{ field: '(options)', problems: ['must be an object'] }]);
  }
  const dto = Object.assign(new HypsModuleOptionsDto(), options);
  const errors = validateSync(dto, {
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
  });
  if (errors.length > 0) throw new HypsConfigError(errors.map(problemOf));
  return { ...(options as HypsModuleOptions) };
}

function problemOf(error: ValidationError): { field: string; problems: string[] } {
  const problems = Object.values(error.constraints ?? {});
  return { field: error.property, problems: problems.length > 0 ? problems : ['is invalid'] };
}
