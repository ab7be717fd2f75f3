// HypsModule in a Nest application: one HypsClient (one broker connection) for the whole app,
// connected on bootstrap and drained on shutdown.
//   npm run build && npx tsc -p examples && node examples/dist/module.js
import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { firstValueFrom, take, toArray } from 'rxjs';
import { HypsClient, HypsModule, InjectHyps } from '@hyps/transport';

const HYPS_URL = process.env.HYPS_URL ?? 'hyps://127.0.0.1:8787';

@Injectable()
class ChatService {
  // Injectable by class (HypsModule connects it on application bootstrap)...
  constructor(private readonly hyps: HypsClient) {}

  publish(room: string, text: string) {
    return this.hyps.publish(`chat.${room}`, JSON.stringify({ text }));
  }
}

@Injectable()
class ChatMonitor {
  // ...or with @InjectHyps().
  constructor(@InjectHyps() private readonly hyps: HypsClient) {}

  messages(count: number) {
    const subscription = this.hyps.subscribe('chat.>');
    return {
      ready: subscription.ready,
      messages: firstValueFrom(subscription.pipe(take(count), toArray())),
    };
  }
}

@Module({
  imports: [
    // Or HypsModule.forRootAsync({ imports: [ConfigModule], inject: [ConfigService], useFactory }).
    HypsModule.forRoot({ url: HYPS_URL, name: 'chat-example', isGlobal: true }),
  ],
  providers: [ChatService, ChatMonitor],
})
class AppModule {}

const app = await NestFactory.createApplicationContext(AppModule);
try {
  const monitor = app.get(ChatMonitor).messages(2);
  await monitor.ready;
  const chat = app.get(ChatService);
  await chat.publish('lobby', 'hello');
  await chat.publish('lobby.games', 'anyone?');
  for (const message of await monitor.messages) console.log(message.channel, message.json());
} finally {
  await app.close(); // drains the HypsClient
}
