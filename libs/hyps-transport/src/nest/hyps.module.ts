import { Inject, Injectable, Logger, Module } from '@nestjs/common';
import type {
  DynamicModule,
  FactoryProvider,
  InjectionToken,
  ModuleMetadata,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  OptionalFactoryDependency,
  Provider,
} from '@nestjs/common';
import { HypsClient } from '../client/index.js';
import { HYPS_CLIENT, HYPS_MODULE_OPTIONS } from './inject-hyps.decorator.js';
import { validateHypsModuleOptions } from './hyps-module-options.js';
import type { HypsModuleOptions } from './hyps-module-options.js';
import { DEFAULT_CLOSE_TIMEOUT_MS, drainWithin } from './lifecycle.js';

/** `HypsModule.forRoot` options: the client's, plus whether the module is global. */
export type HypsModuleRootOptions = HypsModuleOptions & { isGlobal?: boolean };

/** `HypsModule.forRootAsync` options: a factory for the client's options. */
export interface HypsModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  useFactory: (...args: never[]) => HypsModuleOptions | Promise<HypsModuleOptions>;
  isGlobal?: boolean;
}

/** Connects the provided HypsClient once the app has started and drains it when it stops. */
@Injectable()
export class HypsClientLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('HypsModule');

  constructor(@Inject(HYPS_CLIENT) private readonly client: HypsClient) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.client.connect();
    this.logger.log(`connected to ${this.client.info?.server ?? 'hyps'} broker`);
  }

  // After the HTTP server has closed (Nest calls this last), so in-flight requests could still
  // publish during beforeApplicationShutdown; the drain then flushes their publishes.
  async onApplicationShutdown(): Promise<void> {
    await drainWithin(this.client, DEFAULT_CLOSE_TIMEOUT_MS);
  }
}

/**
 * Provides one HypsClient (one broker connection) to the application, injectable by class or
 * with `@InjectHyps()`. Options are validated at startup (HypsConfigError lists each bad field).
 */
@Module({})
export class HypsModule {
  static forRoot(options: HypsModuleRootOptions): DynamicModule {
    const { isGlobal, ...clientOptions } = options ?? {};
    return HypsModule.create(
      { provide: HYPS_MODULE_OPTIONS, useValue: validateHypsModuleOptions(clientOptions) },
      [],
      isGlobal,
    );
  }

  static forRootAsync(options: HypsModuleAsyncOptions): DynamicModule {
    const factory = options.useFactory as (...args: unknown[]) => unknown;
    const optionsProvider: FactoryProvider<HypsModuleOptions> = {
      provide: HYPS_MODULE_OPTIONS,
      useFactory: async (...args: unknown[]) => validateHypsModuleOptions(await factory(...args)),
      inject: options.inject ?? [],
    };
    return HypsModule.create(optionsProvider, options.imports ?? [], options.isGlobal);
  }

  private static create(
    optionsProvider: Provider,
    imports: NonNullable<ModuleMetadata['imports']>,
    isGlobal: boolean | undefined,
  ): DynamicModule {
    const clientProvider: FactoryProvider<HypsClient> = {
      provide: HypsClient,
      useFactory: (options: HypsModuleOptions) => new HypsClient(options),
      inject: [HYPS_MODULE_OPTIONS],
    };
    return {
      module: HypsModule,
      global: isGlobal ?? false,
      imports,
      providers: [
        optionsProvider,
        clientProvider,
        { provide: HYPS_CLIENT, useExisting: HypsClient },
        HypsClientLifecycle,
      ],
      exports: [HypsClient, HYPS_CLIENT, HYPS_MODULE_OPTIONS],
    };
  }
}
