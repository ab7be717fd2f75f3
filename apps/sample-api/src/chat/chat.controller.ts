// HTTP side of the chat: publish with POST, follow a room with Server-Sent Events.
import {
  Controller,
  HttpCode,
  Inject,
  Param,
  Post,
  Req,
  Res,
  Sse,
  UseFilters,
  UsePipes,
} from '@nestjs/common';
import type { MessageEvent } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EMPTY, interval, map, merge, of } from 'rxjs';
import type { Observable } from 'rxjs';
import { SAMPLE_API_CONFIG } from '../config.js';
import type { SampleApiConfig } from '../config.js';
import { PostMessageInput, RoomParams } from './chat.dto.js';
import { dropWhileCongested } from './drop-gate.js';
import type { Gated } from './drop-gate.js';
import { HypsHttpExceptionFilter } from './hyps-http-exception.filter.js';
import { RoomMessageInput } from './room-message-input.decorator.js';
import { RoomsService } from './rooms.service.js';
import type { RoomEvent } from './rooms.service.js';
import { SseBacklog } from './sse-backlog.js';
import { httpValidationPipe } from './validation.js';

/** Sent with `ready`: how long a browser's EventSource waits before it reconnects. */
const RECONNECT_DELAY_MS = 1000;

@Controller('rooms')
@UsePipes(httpValidationPipe())
@UseFilters(HypsHttpExceptionFilter)
export class ChatController {
  constructor(
    private readonly rooms: RoomsService,
    @Inject(SAMPLE_API_CONFIG) private readonly config: SampleApiConfig,
  ) {}

  /** Publishes to `rooms.<room>`; `receivers` is the broker's count of connections reached. */
  @Post(':room/messages')
  @HttpCode(200)
  post(
    @RoomMessageInput() { room, author, text }: PostMessageInput,
  ): Promise<{ receivers: number }> {
    return this.rooms.publish(room, author, text);
  }

  /**
   * The room as an event stream: `ready` once the broker has the subscription, then one unnamed
   * (`message`) event per chat message, `dropped` events where messages were lost, and a
   * heartbeat comment. Nest unsubscribes when the browser leaves, which ends this viewer's
   * share of the room's Hyps subscription (UNSUB when it was the last one on this server).
   */
  // Nest's own bound (maxPendingDataLength, 4M characters by default) stays as the backstop; the
  // drop gate below keeps this stream's queue far below it (see SseBacklog).
  @Sse(':room/events')
  events(
    @Param() { room }: RoomParams,
    @Req() request: IncomingMessage,
    @Res({ passthrough: true }) response: ServerResponse,
  ): Observable<MessageEvent> {
    // Ids on every event but comments, counting this stream's events.
    let lastId = 0;
    const withId = (event: MessageEvent): MessageEvent => {
      event.id = String(++lastId);
      return event;
    };
    // EventSource sends Last-Event-ID when it reconnects: messages published in between are
    // gone (no replay in an at-most-once system), so say so.
    const resumed$ = request.headers['last-event-id']
      ? of(withId({ type: 'dropped', data: { scope: 'reconnect', count: null } }))
      : EMPTY;
    const backlog = new SseBacklog(response);
    const room$ = this.rooms.watch(room, 'sse').pipe(
      dropWhileCongested<RoomEvent>({
        isCongested: backlog.isBehind,
        onDrop: () => this.rooms.countLocalDrop('sse'),
        exempt: (event) => event.kind === 'ready',
      }),
      map((gated) => withId(toMessageEvent(gated))),
    );
    const serverGaps$ = this.rooms.serverGaps$.pipe(
      map((gap) => withId({ type: 'dropped', data: gap })),
    );
    // Nest 12 writes a comment-only MessageEvent as an SSE comment line (`: heartbeat`), which
    // EventSource ignores but which keeps proxies and load balancers from timing the stream out.
    const heartbeat$ = interval(this.config.heartbeatMs).pipe(
      map((): MessageEvent => ({ comment: 'heartbeat' })),
    );
    return merge(resumed$, room$, serverGaps$, heartbeat$).pipe(backlog.count());
  }
}

function toMessageEvent(gated: Gated<RoomEvent>): MessageEvent {
  if (gated.kind === 'dropped') {
    return { type: 'dropped', data: { scope: 'connection', count: gated.count } };
  }
  const event = gated.item;
  // `json` is the message serialized once for all viewers; Nest sends a string as is.
  return event.kind === 'ready'
    ? { type: 'ready', data: {}, retry: RECONNECT_DELAY_MS }
    : { data: event.json };
}
