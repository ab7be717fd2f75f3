// One ValidationPipe setup for HTTP and WebSocket: unknown fields are refused and every problem
// is reported per field, so a client can show it next to the right input.
import { BadRequestException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { WsException } from '@nestjs/websockets';

export interface FieldProblem {
  field: string;
  problems: string[];
}

export function fieldProblems(errors: ValidationError[], parent = ''): FieldProblem[] {
  return errors.flatMap((error) => {
    const field = parent ? `${parent}.${error.property}` : error.property;
    const own = Object.values(error.constraints ?? {});
    const nested = fieldProblems(error.children ?? [], field);
    return own.length > 0 ? [{ field, problems: own }, ...nested] : nested;
  });
}

export const VALIDATION_FAILED = 'Validation failed';

const common = {
  whitelist: true,
  forbidNonWhitelisted: true,
  // A missing body must be reported as missing fields, not skipped.
  forbidUnknownValues: true,
  transform: true,
} as const;

/** 400 `{ statusCode, error, message: 'Validation failed', errors: [{ field, problems }] }`. */
export function httpValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...common,
    // @RoomMessageInput() is a custom decorator: validated only with this set. Not for the
    // gateway, where @ConnectedSocket() counts as custom too.
    validateCustomDecorators: true,
    exceptionFactory: (errors) =>
      new BadRequestException({
        statusCode: 400,
        error: 'Bad Request',
        message: VALIDATION_FAILED,
        errors: fieldProblems(errors),
      }),
  });
}

/** A WsException carrying the same field list; ChatWsExceptionFilter sends it to the client. */
export function wsValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    ...common,
    exceptionFactory: (errors) =>
      new WsException({ message: VALIDATION_FAILED, errors: fieldProblems(errors) }),
  });
}
