// HypsModule: provides one validated, connected HypsClient to a real Nest application.
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import type { INestApplicationContext, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom } from 'rxjs';
import { HypsClient } from '../../libs/hyps-transport/src/client/index.js';
import {
  HypsConfigError,
  HypsModule,
  InjectHyps,
} from '../../libs/hyps-transport/src/nest/index.js';
import type { HypsModuleOptions } from '../../libs/hyps-transport/src/nest/index.js';
import { RunningBroker, startBroker } from './nest-fixtures.js';

@Injectable()
class UsesHyps {
  constructor(
    readonly byClass: HypsClient,
    @InjectHyps() readonly byToken: HypsClient,
  ) {}
}

const CONFIG = 'CONFIG';

describe('HypsModule', () => {
  let running: RunningBroker;
  let context: INestApplicationContext | undefined;

  beforeAll(async () => {
    running = await startBroker();
  });

  afterEach(async () => {
    await context?.close();
    context = undefined;
  });

  afterAll(async () => {
    await running?.broker.close();
  });

  async function boot(module: Type<unknown>): Promise<UsesHyps> {
    context = await NestFactory.createApplicationContext(module, {
      logger: false,
      abortOnError: false,
    });
    return context.get(UsesHyps);
  }

  async function expectWorkingClient(hyps: HypsClient): Promise<void> {
    expect(hyps.status).toBe('connected');
    const messages = hyps.subscribe('module.test');
    const first = firstValueFrom(messages);
    await messages.ready;
    await hyps.publish('module.test', 'hello');
    expect((await first).text()).toBe('hello');
  }

  it('forRoot provides one connected client, by class and with @InjectHyps(), drained on close', async () => {
    @Module({
      imports: [HypsModule.forRoot({ url: running.url, name: 'api' })],
      providers: [UsesHyps],
    })
    class AppModule {}

    const uses = await boot(AppModule);
    expect(uses.byClass).toBeInstanceOf(HypsClient);
    expect(uses.byToken).toBe(uses.byClass);
    await expectWorkingClient(uses.byClass);
    await context!.close();
    context = undefined;
    expect(uses.byClass.status).toBe('closed');
  });

  it('forRoot with isGlobal makes the client injectable in modules that do not import it', async () => {
    @Module({ providers: [UsesHyps] })
    class FeatureModule {}
    @Module({ imports: [HypsModule.forRoot({ url: running.url, isGlobal: true }), FeatureModule] })
    class AppModule {}

    const uses = await boot(AppModule);
    await expectWorkingClient(uses.byToken);
  });

  it('forRootAsync builds the options from injected providers', async () => {
    @Module({
      providers: [{ provide: CONFIG, useValue: { hypsUrl: running.url } }],
      exports: [CONFIG],
    })
    class ConfigModule {}
    @Module({
      imports: [
        HypsModule.forRootAsync({
          imports: [ConfigModule],
          inject: [CONFIG],
          useFactory: async (config: { hypsUrl: string }) => ({ url: config.hypsUrl }),
        }),
      ],
      providers: [UsesHyps],
    })
    class AppModule {}

    const uses = await boot(AppModule);
    expect(uses.byToken).toBe(uses.byClass);
    await expectWorkingClient(uses.byClass);
  });

  it('forRoot rejects invalid options with a HypsConfigError listing each bad field', () => {
    const bad = {
      url: 'http://127.0.0.1:1',
      reconnectDelayMs: -5,
      reconnect: 'yes',
      user: 'api',
      colour: 'blue',
    } as unknown as HypsModuleOptions;
    let failure: unknown;
    try {
      HypsModule.forRoot(bad);
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(HypsConfigError);
    const error = failure as HypsConfigError;
    expect(error.code).toBe('HYPS_CONFIG');
    expect(error.problems.map((p) => p.field).sort()).toEqual(
      ['colour', 'reconnect', 'reconnectDelayMs', 'secret', 'url'].sort(),
    );
    for (const field of ['url', 'reconnectDelayMs', 'reconnect', 'secret', 'colour']) {
      expect(error.message).toContain(`- ${field}:`);
    }
  });

  it('forRootAsync rejects invalid options when the application starts', async () => {
    @Module({
      imports: [
        HypsModule.forRootAsync({ useFactory: () => ({ url: 'hyps://', connectTimeoutMs: 0 }) }),
      ],
      providers: [UsesHyps],
    })
    class AppModule {}

    const failure = await boot(AppModule).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(HypsConfigError);
    expect((failure as HypsConfigError).message).toMatch(/- url:.*\n.*- connectTimeoutMs:/s);
  });
});
