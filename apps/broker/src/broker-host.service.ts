// Ties the Broker to the Nest lifecycle: listen on bootstrap, drain on shutdown, and log each
// step as a JSON line for operators.
import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { Broker } from '@hyps/transport';
import { JsonLogger } from './json-logger.js';

// Slack on top of shutdownTimeoutMs before a drain that has not finished is cut short.
const DRAIN_GRACE_MS = 1_000;

@Injectable()
export class BrokerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  constructor(
    private readonly broker: Broker,
    private readonly logger: JsonLogger,
  ) {}

  /** The bound address once listening (the real port when configured with port 0). */
  get address(): { host: string; port: number } {
    const address = this.broker.address;
    if (!address) throw new Error('the broker is not listening');
    return address;
  }

  get authMode(): string {
    return this.broker.authMode;
  }

  get tls(): 'off' | 'on' | 'client-certificates' {
    const { tls } = this.broker.options;
    return !tls ? 'off' : tls.ca === undefined ? 'on' : 'client-certificates';
  }

  async onApplicationBootstrap(): Promise<void> {
    const { host, port } = await this.broker.listen();
    this.logger.info('listening', { host, port, auth: this.authMode, tls: this.tls });
  }

  /** Sends every client ERR 8 after its queued data, then closes (bounded by the core). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const started = Date.now();
    const { connections } = this.broker.stats();
    this.logger.info('draining', { signal: signal ?? null, connections });
    // The core bounds drain() by shutdownTimeoutMs; this guards against it never settling.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(
        () => resolve('late'),
        this.broker.options.shutdownTimeoutMs + DRAIN_GRACE_MS,
      );
    });
    const outcome = await Promise.race([this.broker.drain().then(() => 'drained' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      this.logger.warn('drain did not finish in time; closing every connection now', {
        shutdownTimeoutMs: this.broker.options.shutdownTimeoutMs,
      });
      await this.broker.close();
    }
    const { published, delivered, dropped } = this.broker.stats();
    this.logger.info('drained', {
      published,
      delivered,
      dropped,
      durationMs: Date.now() - started,
    });
  }
}
