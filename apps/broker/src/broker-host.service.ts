// Ties the Broker to the Nest lifecycle: listen on bootstrap, drain on shutdown.
import {
  BeforeApplicationShutdown,
  Injectable,
  Logger,
  OnApplicationBootstrap,
} from '@nestjs/common';
import { Broker } from '@hyps/transport';

// Slack on top of shutdownTimeoutMs before a drain that has not finished is cut short.
const DRAIN_GRACE_MS = 1_000;

@Injectable()
export class BrokerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('hyps-broker');

  constructor(private readonly broker: Broker) {}

  /** The bound address once listening (the real port when configured with port 0). */
  get address(): { host: string; port: number } {
    const address = this.broker.address;
    if (!address) throw new Error('the broker is not listening');
    return address;
  }

  get authMode(): string {
    return this.broker.authMode;
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.broker.listen();
  }

  /** Sends every client ERR 8 after its queued data, then closes (bounded by the core). */
  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const { connections } = this.broker.stats();
    process.stdout.write(
      `hyps-broker ${signal ?? 'shutdown'}: draining ${connections} connection(s)\n`,
    );
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
      this.logger.warn('drain did not finish in time; closing every connection now');
      await this.broker.close();
    }
    const { published, delivered, dropped } = this.broker.stats();
    process.stdout.write(
      `hyps-broker stopped (published ${published}, delivered ${delivered}, dropped ${dropped})\n`,
    );
  }
}
