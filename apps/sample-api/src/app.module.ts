import { Module } from '@nestjs/common';
import type { DynamicModule } from '@nestjs/common';
import { HypsModule } from '@hyps/transport';
import { ChatController } from './chat/chat.controller.js';
import { ChatGateway } from './chat/chat.gateway.js';
import { RoomsService } from './chat/rooms.service.js';
import { SAMPLE_API_CONFIG } from './config.js';
import type { SampleApiConfig } from './config.js';
import { StatsController } from './stats/stats.controller.js';

@Module({})
export class AppModule {
  static forRoot(config: SampleApiConfig): DynamicModule {
    return {
      module: AppModule,
      // One HypsClient, so one broker connection, for the whole app server.
      imports: [
        HypsModule.forRoot({
          url: config.hypsUrl,
          name: 'sample-api',
          pendingPublishTimeoutMs: config.publishTimeoutMs,
        }),
      ],
      controllers: [ChatController, StatsController],
      providers: [{ provide: SAMPLE_API_CONFIG, useValue: config }, RoomsService, ChatGateway],
    };
  }
}
