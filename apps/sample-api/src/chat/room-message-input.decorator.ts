import { createParamDecorator } from '@nestjs/common';
import type { ExecutionContext } from '@nestjs/common';

interface RequestLike {
  params: Record<string, string>;
  body: unknown;
}

/**
 * The JSON body with the URL's `:room` added, validated as one PostMessageInput (the validation
 * pipe runs on custom decorators with `validateCustomDecorators`). A body that is not an object
 * is passed on as is, so validation reports it.
 */
export const RoomMessageInput = createParamDecorator((_: unknown, context: ExecutionContext) => {
  const request = context.switchToHttp().getRequest<RequestLike>();
  const { body } = request;
  if (body === undefined || body === null) return { room: request.params.room };
  if (typeof body !== 'object' || Array.isArray(body)) return body;
  // The URL names the room: a `room` field in the body cannot redirect the message.
  return { ...body, room: request.params.room };
});
