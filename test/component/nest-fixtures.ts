// Shared pieces of the nest-*.spec.ts component tests: a real in-process broker, a microservice
// controller with every kind of handler, and bounded polling.
import 'reflect-metadata';
import { Controller, Inject, Module } from '@nestjs/common';
import type { INestMicroservice, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload, RpcException } from '@nestjs/microservices';
import { interval, map, take } from 'rxjs';
import type { Observable } from 'rxjs';
import { Broker } from '../../libs/hyps-transport/src/broker/index.js';
import {
  HypsContext,
  HypsEventPattern,
  HypsMessagePattern,
  ServerHyps,
} from '../../libs/hyps-transport/src/nest/index.js';
import type { ServerHypsOptions } from '../../libs/hyps-transport/src/nest/index.js';

export interface RunningBroker {
  broker: Broker;
  url: string;
}

export async function startBroker(): Promise<RunningBroker> {
  const broker = new Broker({ host: '127.0.0.1', port: 0, auth: { mode: 'none' } });
  const { host, port } = await broker.listen();
  return { broker, url: `hyps://${host}:${port}` };
}

/** One handled event, as a handler saw it. */
export interface SeenEvent {
  handler: string;
  channel: string;
  pattern: string;
  group: string | undefined;
  data: unknown;
}

/** What one microservice instance's handlers saw; injected into its controller. */
export class Recorder {
  readonly events: SeenEvent[] = [];
  readonly started: string[] = [];
  readonly finished: string[] = [];
}

import { sleep } from './helpers/wait.js';

export { sleep, waitFor } from './helpers/wait.js';

@Controller()
export class TestController {
  constructor(@Inject(Recorder) private readonly recorder: Recorder) {}

  private seen(handler: string, data: unknown, ctx: HypsContext): void {
    this.recorder.events.push({
      handler,
      channel: ctx.getChannel(),
      pattern: ctx.getPattern(),
      group: ctx.getGroup(),
      data,
    });
  }

  @HypsEventPattern('orders.created')
  onOrderCreated(@Payload() data: unknown, @Ctx() ctx: HypsContext): void {
    this.seen('orders.created', data, ctx);
  }

  @HypsEventPattern('shipments.*')
  onShipment(@Payload() data: unknown, @Ctx() ctx: HypsContext): void {
    this.seen('shipments.*', data, ctx);
  }

  @HypsEventPattern('audit.>')
  onAudit(@Payload() data: unknown, @Ctx() ctx: HypsContext): void {
    this.seen('audit.>', data, ctx);
  }

  @HypsMessagePattern('math.sum')
  sum(@Payload() numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @HypsMessagePattern('whoami')
  whoami(@Payload() tag: string): string {
    this.recorder.started.push(tag);
    return tag;
  }

  @HypsMessagePattern('lookup.*')
  lookup(@Payload() data: unknown, @Ctx() ctx: HypsContext) {
    return {
      data,
      channel: ctx.getChannel(),
      pattern: ctx.getPattern(),
      group: ctx.getGroup(),
      metadata: ctx.getMetadata(),
    };
  }

  @HypsMessagePattern('count.up')
  countUp(@Payload() n: number): Observable<number> {
    return interval(5).pipe(
      take(n),
      map((i) => i + 1),
    );
  }

  @HypsMessagePattern('fail.rpc')
  fail(): never {
    throw new RpcException({ code: 'E_OUT_OF_STOCK', message: 'no more widgets' });
  }

  @HypsMessagePattern('slow.echo')
  async slowEcho(@Payload() input: { value: string; ms: number }): Promise<string> {
    this.recorder.started.push(input.value);
    await sleep(input.ms);
    this.recorder.finished.push(input.value);
    return input.value;
  }
}

/** A module class serving TestController with its own Recorder. */
export function testModule(recorder: Recorder): Type<unknown> {
  @Module({ controllers: [TestController], providers: [{ provide: Recorder, useValue: recorder }] })
  class TestModule {}
  return TestModule;
}

/** Starts a real Nest microservice on ServerHyps; returns it and what its handlers see. */
export async function startMicroservice(
  options: ServerHypsOptions,
): Promise<{ app: INestMicroservice; recorder: Recorder; server: ServerHyps }> {
  const recorder = new Recorder();
  const server = new ServerHyps(options);
  const app = await NestFactory.createMicroservice(testModule(recorder), {
    strategy: server,
    logger: false,
    abortOnError: false,
  });
  await app.listen();
  return { app, recorder, server };
}
