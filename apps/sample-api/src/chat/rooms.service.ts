// The app server's side of the pattern the README recommends: ONE Hyps connection (HypsModule's
// client) and, per room, ONE Hyps subscription shared by every browser connection watching it.
// The broker then sends each message once to this server, which fans it out locally.
import { Injectable, Logger } from '@nestjs/common';
import type { OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { HypsClient, InjectHyps } from '@hyps/transport';
import type { HypsStatus, HypsSubscription } from '@hyps/transport';
import { Subject, defer, finalize, map, merge, share } from 'rxjs';
import type { Observable } from 'rxjs';
import { decodeChatMessage, roomChannel } from './room.js';
import type { ChatMessage } from './room.js';

/** How a browser is connected. */
export type ViewerKind = 'sse' | 'ws';

/** A message as received, plus its JSON, serialized once for every viewer. */
export interface RoomDelivery {
  message: ChatMessage;
  json: string;
}

/** What a viewer of a room receives: `ready` once the broker has the SUB, then messages. */
export type RoomEvent = { kind: 'ready' } | ({ kind: 'message' } & RoomDelivery);

/**
 * Messages this app server as a whole has missed, announced to every viewer: the broker dropped
 * deliveries to it (DROPPED, with a count), or its broker connection was interrupted and is
 * back (count unknown: whatever was published meanwhile is gone).
 */
export type ServerGap =
  { scope: 'server'; count: number } | { scope: 'broker-reconnect'; count: null };

interface RoomFeed {
  readonly subscription: HypsSubscription;
  readonly messages$: Observable<RoomEvent>;
  viewers: Record<ViewerKind, number>;
}

export interface ChatStats {
  hyps: { status: HypsStatus; dropped: number };
  subscribers: {
    sse: number;
    ws: number;
    total: number;
    rooms: Record<string, Record<ViewerKind, number>>;
  };
  /** Rooms with a live Hyps subscription (one SUB each on the broker). */
  hypsSubscriptions: number;
  dropped: {
    /** Deliveries the broker dropped for this server (its DROPPED frames). */
    hyps: number;
    /** Messages dropped for SSE / WebSocket browsers that did not keep up. */
    sse: number;
    ws: number;
  };
}

@Injectable()
export class RoomsService implements OnModuleInit, OnModuleDestroy {
  private readonly feeds = new Map<string, RoomFeed>();
  private readonly serverGaps = new Subject<ServerGap>();
  private readonly localDrops: Record<ViewerKind, number> = { sse: 0, ws: 0 };
  private readonly stopListening: Array<() => void> = [];
  private wasDisconnected = false;
  private readonly logger = new Logger('Rooms');

  readonly serverGaps$: Observable<ServerGap> = this.serverGaps.asObservable();

  constructor(@InjectHyps() private readonly hyps: HypsClient) {}

  onModuleInit(): void {
    this.stopListening.push(
      this.hyps.on('dropped', (count) => this.serverGaps.next({ scope: 'server', count })),
      this.hyps.on('status', (status) => {
        if (status === 'reconnecting') {
          this.wasDisconnected = true;
          this.logger.warn('lost the Hyps broker connection; reconnecting');
        } else if (status === 'connected' && this.wasDisconnected) {
          this.wasDisconnected = false;
          this.logger.warn('reconnected to the Hyps broker; subscriptions renewed');
          this.serverGaps.next({ scope: 'broker-reconnect', count: null });
        }
      }),
      this.hyps.on('error', (error) => this.logger.warn(`Hyps: ${error.message}`)),
    );
  }

  onModuleDestroy(): void {
    for (const stop of this.stopListening.splice(0)) stop();
    this.serverGaps.complete();
  }

  async publish(room: string, author: string, text: string): Promise<{ receivers: number }> {
    const message: ChatMessage = { room, author, text, sentAt: Date.now() };
    const { receivers } = await this.hyps.publish(roomChannel(room), JSON.stringify(message));
    return { receivers };
  }

  /**
   * One browser connection's view of a room. Subscribing joins the room's shared feed (the
   * first viewer makes the client send SUB); unsubscribing leaves it (the last one, UNSUB).
   */
  watch(room: string, kind: ViewerKind): Observable<RoomEvent> {
    return defer(() => {
      const feed = this.feedOf(room);
      feed.viewers[kind]++;
      // Messages first: subscribing to them is what makes the client send SUB, and `ready`
      // only settles once an observer exists.
      return merge(
        feed.messages$,
        defer(() => feed.subscription.ready).pipe(map((): RoomEvent => ({ kind: 'ready' }))),
      ).pipe(finalize(() => feed.viewers[kind]--));
    });
  }

  countLocalDrop(kind: ViewerKind): void {
    this.localDrops[kind]++;
  }

  stats(): ChatStats {
    const rooms: ChatStats['subscribers']['rooms'] = {};
    let sse = 0;
    let ws = 0;
    for (const [room, feed] of this.feeds) {
      rooms[room] = { ...feed.viewers };
      sse += feed.viewers.sse;
      ws += feed.viewers.ws;
    }
    return {
      hyps: { status: this.hyps.status, dropped: this.hyps.dropped },
      subscribers: { sse, ws, total: sse + ws, rooms },
      hypsSubscriptions: this.feeds.size,
      dropped: { hyps: this.hyps.dropped, ...this.localDrops },
    };
  }

  private feedOf(room: string): RoomFeed {
    const existing = this.feeds.get(room);
    if (existing) return existing;
    const subscription = this.hyps.subscribe(roomChannel(room));
    const feed: RoomFeed = {
      subscription,
      // Decoded and re-serialized once per message, whatever the number of viewers. share()
      // unsubscribes from the Hyps subscription when the last viewer leaves; the feed is then
      // forgotten so the next viewer starts a fresh subscription with its own `ready`.
      messages$: subscription.pipe(
        map((delivery): RoomEvent => {
          const message = decodeChatMessage(room, delivery.text());
          return { kind: 'message', message, json: JSON.stringify(message) };
        }),
        finalize(() => {
          if (this.feeds.get(room) === feed) this.feeds.delete(room);
        }),
        share(),
      ),
      viewers: { sse: 0, ws: 0 },
    };
    this.feeds.set(room, feed);
    return feed;
  }
}
