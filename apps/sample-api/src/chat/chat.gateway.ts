// WebSocket side of the chat: one socket can join several rooms, leave them, and post.
import { UseFilters, UsePipes } from '@nestjs/common';
import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  WebSocketGateway,
  WsException,
} from '@nestjs/websockets';
import type { OnGatewayConnection, OnGatewayDisconnect } from '@nestjs/websockets';
import { finalize } from 'rxjs';
import type { Subscription } from 'rxjs';
import { WebSocket } from 'ws';
import { ChatWsExceptionFilter } from './chat-ws-exception.filter.js';
import { PostMessageInput, WsRoomRequest } from './chat.dto.js';
import { dropWhileCongested } from './drop-gate.js';
import { RoomsService } from './rooms.service.js';
import type { RoomEvent } from './rooms.service.js';
import { wsValidationPipe } from './validation.js';
import { WS_INVALID, WS_PATH } from './ws-protocol.js';
import type { WsInvalidRequest } from './ws-protocol.js';

/** Rooms one socket may be in at once: bounds what a single client can make the server hold. */
export const MAX_ROOMS_PER_SOCKET = 16;

/** Bytes ws may queue for a socket before messages to it are dropped (at most once). */
export const MAX_WS_BUFFERED_BYTES = 256 * 1024;

type Reply<T> = { event: string; data: T };
type JoinReply = Reply<{ room: string }>;

interface Member {
  rooms: Map<string, Subscription>;
  serverGaps: Subscription;
}

// Port 0 with WsAdapter = attach to the HTTP server's port, at WS_PATH.
@WebSocketGateway({ path: WS_PATH })
@UsePipes(wsValidationPipe())
@UseFilters(ChatWsExceptionFilter)
export class ChatGateway implements OnGatewayConnection, OnGatewayDisconnect {
  private readonly members = new Map<WebSocket, Member>();

  constructor(private readonly rooms: RoomsService) {}

  handleConnection(client: WebSocket): void {
    const serverGaps = this.rooms.serverGaps$.subscribe((gap) => send(client, 'dropped', gap));
    this.members.set(client, { rooms: new Map(), serverGaps });
  }

  handleDisconnect(client: WebSocket): void {
    const member = this.members.get(client);
    if (!member) return;
    this.members.delete(client);
    member.serverGaps.unsubscribe();
    for (const subscription of member.rooms.values()) subscription.unsubscribe();
  }

  /** Replies `joined` once the broker has the subscription: later posts are sure to arrive. */
  @SubscribeMessage('join')
  join(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { room }: WsRoomRequest,
  ): Promise<JoinReply | undefined> | JoinReply {
    const member = this.memberOf(client);
    const joined: JoinReply = { event: 'joined', data: { room } };
    if (member.rooms.has(room)) return joined;
    if (member.rooms.size >= MAX_ROOMS_PER_SOCKET) {
      throw new WsException(`a connection may be in at most ${MAX_ROOMS_PER_SOCKET} rooms`);
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const subscription = this.rooms
        .watch(room, 'ws')
        .pipe(
          dropWhileCongested<RoomEvent>({
            isCongested: () => client.bufferedAmount > MAX_WS_BUFFERED_BYTES,
            onDrop: () => this.rooms.countLocalDrop('ws'),
            exempt: (event) => event.kind === 'ready',
          }),
          // Left or disconnected before the broker acknowledged: no reply is due any more.
          finalize(() => {
            if (!settled) resolve(undefined);
          }),
        )
        .subscribe({
          next: (gated) => {
            if (gated.kind === 'dropped') {
              send(client, 'dropped', { scope: 'connection', room, count: gated.count });
            } else if (gated.item.kind === 'message') {
              sendRaw(client, `{"event":"message","data":${gated.item.json}}`);
            } else if (!settled) {
              settled = true;
              resolve(joined);
            }
          },
          error: (error: unknown) => {
            member.rooms.delete(room);
            if (settled) {
              // The room's subscription failed after `joined`: tell the client it is out.
              const message = error instanceof Error ? error.message : String(error);
              send(client, 'error', { request: 'join', room, message });
            } else {
              settled = true;
              reject(error);
            }
          },
        });
      if (!subscription.closed) member.rooms.set(room, subscription);
    });
  }

  @SubscribeMessage('leave')
  leave(
    @ConnectedSocket() client: WebSocket,
    @MessageBody() { room }: WsRoomRequest,
  ): Reply<{ room: string }> {
    const member = this.memberOf(client);
    member.rooms.get(room)?.unsubscribe();
    member.rooms.delete(room);
    return { event: 'left', data: { room } };
  }

  @SubscribeMessage('post')
  async post(
    @MessageBody() { room, author, text }: PostMessageInput,
  ): Promise<Reply<{ room: string; receivers: number }>> {
    const { receivers } = await this.rooms.publish(room, author, text);
    return { event: 'posted', data: { room, receivers } };
  }

  /** Malformed JSON or an unknown event (see parseWsMessage): answer instead of ignoring. */
  @SubscribeMessage(WS_INVALID)
  invalid(@MessageBody() { request, message }: WsInvalidRequest): never {
    throw new WsException({ request, message });
  }

  private memberOf(client: WebSocket): Member {
    const member = this.members.get(client);
    // handleConnection runs before any message handler; this guards against a closed socket.
    if (!member) throw new WsException('connection is closing');
    return member;
  }
}

function send(client: WebSocket, event: string, data: unknown): void {
  sendRaw(client, JSON.stringify({ event, data }));
}

function sendRaw(client: WebSocket, frame: string): void {
  if (client.readyState === WebSocket.OPEN) client.send(frame);
}
