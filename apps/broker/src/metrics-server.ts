// The operator's HTTP port (--metrics-port): GET /metrics (Prometheus text) and GET /health.
// Plain node:http, not Express: two routes do not need a framework in the broker process.
// Up before the broker listens (so /health can say "starting") and down after it has drained
// (so /health says "draining" for the whole drain).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import { Broker } from '@hyps/transport';
import { createBrokerMetrics, type BrokerMetrics } from './broker-metrics.js';
import type { MetricsEndpoint } from './broker-config.js';
import { JsonLogger } from './json-logger.js';

/** Injection token for the MetricsEndpoint (host and port to listen on). */
export const METRICS_ENDPOINT = Symbol('METRICS_ENDPOINT');

// A scraper gets this long to send its request; nothing here should hold a socket for longer.
const REQUEST_TIMEOUT_MS = 10_000;

@Injectable()
export class MetricsServer implements OnModuleInit, OnApplicationShutdown {
  private server: Server | null = null;
  private metrics: BrokerMetrics | null = null;
  private bound: MetricsEndpoint | null = null;

  constructor(
    @Inject(METRICS_ENDPOINT) private readonly endpoint: MetricsEndpoint,
    private readonly broker: Broker,
    private readonly logger: JsonLogger,
  ) {}

  /** The bound address (the real port when configured with port 0). */
  get address(): MetricsEndpoint {
    if (!this.bound) throw new Error('the metrics server is not listening');
    return this.bound;
  }

  /** The URL operators scrape, e.g. http://127.0.0.1:9464 (IPv6 hosts in brackets). */
  get url(): string {
    const { host, port } = this.address;
    return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  async onModuleInit(): Promise<void> {
    this.metrics = createBrokerMetrics(this.broker);
    const server = createServer(
      { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: REQUEST_TIMEOUT_MS },
      (req, res) => this.handle(req, res),
    );
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      // Say which of the two ports failed.
      const fail = (error: Error) =>
        reject(new Error(`metrics port: ${error.message}`, { cause: error }));
      server.once('error', fail);
      server.listen(this.endpoint.port, this.endpoint.host, () => {
        server.off('error', fail);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : this.endpoint.port;
    this.bound = { host: this.endpoint.host, port };
    this.logger.info('metrics listening', { url: this.url });
  }

  async onApplicationShutdown(): Promise<void> {
    this.metrics?.stop();
    const server = this.server;
    this.server = null;
    if (!server?.listening) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Idle keep-alive scrapers would otherwise hold close() open.
    server.closeAllConnections();
    await closed;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' && path !== '/health') {
      return send(res, 404, 'application/json', '{"error":"not found"}');
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'application/json', '{"error":"method not allowed"}');
    }
    if (path === '/health') {
      const [status, body] = this.health();
      return send(res, status, 'application/json', JSON.stringify(body));
    }
    const registry = this.metrics?.registry;
    if (!registry) return send(res, 503, 'application/json', '{"error":"not started"}');
    registry.metrics().then(
      (text) => send(res, 200, registry.contentType, text),
      (error: unknown) => {
        this.logger.error('metrics collection failed', { error: String(error) });
        send(res, 500, 'application/json', '{"error":"metrics collection failed"}');
      },
    );
  }

  /** Ready only while the broker accepts connections; load balancers stop routing on 503. */
  private health(): [number, { status: string }] {
    switch (this.broker.state) {
      case 'listening':
        return [200, { status: 'ready' }];
      case 'idle':
        return [503, { status: 'starting' }];
      default:
        return [503, { status: 'draining' }];
    }
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
