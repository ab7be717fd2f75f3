// A Nest microservice served over Hyps.
//   npm run build && npx tsc -p examples && node examples/dist/microservice.js
// Needs a broker: `npm start` (or HYPS_URL=hyps://host:port).
import 'reflect-metadata';
import { Controller, Logger, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload, RpcException } from '@nestjs/microservices';
import { interval, map, take } from 'rxjs';
import type { Observable } from 'rxjs';
import { HypsContext, HypsEventPattern, HypsMessagePattern, ServerHyps } from '@hyps/transport';

const HYPS_URL = process.env.HYPS_URL ?? 'hyps://127.0.0.1:8787';

@Controller()
class OrdersController {
  private readonly logger = new Logger(OrdersController.name);

  // Events: each one reaches ONE instance of the 'orders-service' group.
  @HypsEventPattern('orders.created')
  onCreated(@Payload() order: { id: number }): void {
    this.logger.log(`order ${order.id} created`);
  }

  // Wildcards: 'orders.shipped.eu' arrives here, and the context says which pattern matched.
  @HypsEventPattern('orders.shipped.*')
  onShipped(@Payload() order: { id: number }, @Ctx() ctx: HypsContext): void {
    this.logger.log(`order ${order.id} shipped via ${ctx.getChannel()} (${ctx.getPattern()})`);
  }

  // Broadcast for this handler only: every instance keeps its own cache warm.
  @HypsEventPattern('prices.changed', { group: false })
  onPrices(@Payload() prices: Record<string, number>): void {
    this.logger.log(`prices: ${JSON.stringify(prices)}`);
  }

  // Request/reply: the return value (or Promise) answers the caller.
  @HypsMessagePattern('orders.total')
  total(@Payload() lines: Array<{ price: number; qty: number }>): number {
    if (!Array.isArray(lines)) throw new RpcException({ code: 'BAD_ORDER', message: 'lines[]' });
    return lines.reduce((sum, line) => sum + line.price * line.qty, 0);
  }

  // Streamed reply: every value reaches the caller, then the stream completes.
  @HypsMessagePattern('orders.progress')
  progress(@Payload() steps: number): Observable<string> {
    return interval(100).pipe(
      take(steps),
      map((i) => `step ${i + 1}/${steps}`),
    );
  }
}

@Module({ controllers: [OrdersController] })
class OrdersModule {}

const app = await NestFactory.createMicroservice(OrdersModule, {
  strategy: new ServerHyps({ url: HYPS_URL, name: 'orders-service' }),
});
app.enableShutdownHooks();
await app.listen();
new Logger('main').log(`orders-service listening on ${HYPS_URL}`);
