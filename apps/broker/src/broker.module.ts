// The Nest module that owns one Broker. The broker's per-message path is plain code in the
// core; Nest only builds it from the validated options, drives its start and drain, and (with
// --metrics-port) hosts the operator's HTTP endpoints beside it.
import { DynamicModule, Module, Provider } from '@nestjs/common';
import { Broker, BrokerOptions } from '@hyps/transport';
import { BrokerHost } from './broker-host.service.js';
import type { AppConfig } from './broker-config.js';
import { JsonLogger } from './json-logger.js';
import { METRICS_ENDPOINT, MetricsServer } from './metrics-server.js';

/** Injection token for the validated BrokerOptions. */
export const BROKER_OPTIONS = Symbol('BROKER_OPTIONS');

@Module({})
export class BrokerModule {
  static forRoot(config: AppConfig, logger: JsonLogger): DynamicModule {
    const providers: Provider[] = [
      { provide: BROKER_OPTIONS, useValue: config.broker },
      {
        provide: Broker,
        useFactory: (opts: BrokerOptions) => new Broker(opts),
        inject: [BROKER_OPTIONS],
      },
      { provide: JsonLogger, useValue: logger },
      BrokerHost,
    ];
    const exports: NonNullable<DynamicModule['exports']> = [Broker, BrokerHost];
    if (config.metrics) {
      providers.push({ provide: METRICS_ENDPOINT, useValue: config.metrics }, MetricsServer);
      exports.push(MetricsServer);
    }
    return { module: BrokerModule, providers, exports };
  }
}
