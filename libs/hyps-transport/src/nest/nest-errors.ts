import { HypsError } from '../protocol/errors.js';

/** A request reached no subscriber: the broker routed the publish to 0 receivers. */
export class NoRespondersError extends HypsError {
  readonly channel: string;

  constructor(channel: string) {
    super('NO_RESPONDERS', `no responders for request on channel "${channel}"`);
    this.channel = channel;
  }
}

/** A request got no (further) reply within `requestTimeoutMs`. */
export class RequestTimeoutError extends HypsError {
  readonly channel: string;
  readonly timeoutMs: number;

  constructor(channel: string, timeoutMs: number) {
    super('REQUEST_TIMEOUT', `request on channel "${channel}" got no reply within ${timeoutMs} ms`);
    this.channel = channel;
    this.timeoutMs = timeoutMs;
  }
}

/** A request was still waiting for replies when its ClientHyps was closed. */
export class RequestCancelledError extends HypsError {
  readonly channel: string;

  constructor(channel: string) {
    super('REQUEST_CANCELLED', `request on channel "${channel}" cancelled: the client was closed`);
    this.channel = channel;
  }
}

/** One field of a Hyps module/transport configuration that failed validation. */
export interface HypsConfigProblem {
  readonly field: string;
  readonly problems: readonly string[];
}

/** Options given to HypsModule (or a Hyps transport) are invalid; the message lists each field. */
export class HypsConfigError extends HypsError {
  readonly problems: readonly HypsConfigProblem[];

  constructor(problems: readonly HypsConfigProblem[]) {
    const lines = problems.map((p) => `  - ${p.field}: ${p.problems.join('; ')}`);
    super('HYPS_CONFIG', `invalid Hyps options:\n${lines.join('\n')}`);
    this.problems = problems;
  }
}
