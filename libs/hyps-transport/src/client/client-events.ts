import { ClientConfigError } from './client-errors.js';

export type HypsStatus = 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface HypsClientEventMap {
  error: (error: Error) => void;
  dropped: (count: number, total: number) => void;
  status: (status: HypsStatus) => void;
}

type EventName = keyof HypsClientEventMap;

/**
 * Listeners of HypsClient events. Unlike an EventEmitter, an 'error' with no listener is not
 * thrown, and a throwing listener cannot break the connection that emitted the event.
 */
export class ClientEvents {
  private readonly listeners: { [E in EventName]: Set<HypsClientEventMap[E]> } = {
    error: new Set(),
    dropped: new Set(),
    status: new Set(),
  };

  /** Adds a listener; returns the function that removes it. */
  on<E extends EventName>(event: E, fn: HypsClientEventMap[E]): () => void {
    const set = this.listeners[event] as Set<HypsClientEventMap[E]> | undefined;
    if (!set) throw new ClientConfigError(`unknown HypsClient event '${String(event)}'`);
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  emit<E extends EventName>(event: E, ...args: Parameters<HypsClientEventMap[E]>): void {
    for (const listener of this.listeners[event]) {
      try {
        (listener as (...values: Parameters<HypsClientEventMap[E]>) => void)(...args);
      } catch (error) {
        // Reported as an 'error' event, except from an error listener (that could loop).
        if (event !== 'error') this.emit('error', error as Error);
      }
    }
  }
}
