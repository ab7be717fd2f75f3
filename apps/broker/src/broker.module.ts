// The Nest module that owns one Broker. The broker's per-message path is plain code in the
// core; Nest only builds it from the validated options and drives its start and drain.
import { DynamicModule, Module } from '@nestjs/common';
import { Broker, BrokerOptions } from '@hyps/transport';
import { BrokerHost } from './broker-host.service.js';

/** Injection token for the validated BrokerOptions. */
export const BROKER_OPTIONS = Symbol('BROKER_OPTIONS');

@Module({})
export class BrokerModule {
  static forRoot(options: BrokerOptions): DynamicModule {
    return {
      module: BrokerModule,
      providers: [
        { provide: BROKER_OPTIONS, useValue: options },
        {
          provide: Broker,
          useFactory: (opts: BrokerOptions) => new Broker(opts),
          inject: [BROKER_OPTIONS],
        },
        BrokerHost,
      ],
      exports: [Broker, BrokerHost],
    };
  }
}
