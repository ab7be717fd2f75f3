import { EventPattern, MessagePattern } from '@nestjs/microservices';

/** Transport id of ServerHyps: handlers bound to it are served by Hyps servers only. */
export const HYPS_TRANSPORT: unique symbol = Symbol('HYPS_TRANSPORT');

/** Per-handler options, passed to Nest as pattern `extras`. */
export interface HypsPatternExtras {
  /**
   * Group this handler subscribes with, overriding the server's `group` option: a name, or
   * `false` to receive every matching message (broadcast).
   */
  group?: string | false;
  [key: string]: unknown;
}

/** A handler pattern: a Hyps channel or pattern (`orders.*`, `orders.>`), or several. */
export type HypsPattern = string | readonly string[];

// Typed as a plain MethodDecorator on purpose: Nest 12's typed EventPattern overloads type the
// handler's later parameters as `unknown`, so a handler with `@Ctx() ctx: HypsContext` hits
// TS1241. Binding HYPS_TRANSPORT keeps other transports of a hybrid app from serving it.

/** Subscribes the method to Hyps events (ClientProxy#emit) on `pattern`. */
export function HypsEventPattern(
  pattern: HypsPattern,
  extras?: HypsPatternExtras,
): MethodDecorator {
  return EventPattern<HypsPattern>(pattern, HYPS_TRANSPORT, { ...extras });
}

/** Answers Hyps requests (ClientProxy#send) on `pattern`; the result may be an Observable. */
export function HypsMessagePattern(
  pattern: HypsPattern,
  extras?: HypsPatternExtras,
): MethodDecorator {
  return MessagePattern<HypsPattern>(pattern, HYPS_TRANSPORT, { ...extras });
}
