// Rooms and the Hyps channels they map to.

/**
 * A room is a single channel token of safe characters. That keeps `rooms.<room>` a valid
 * published channel (PROTOCOL.md section 2) and stops a user from naming a pattern such as
 * `rooms.>` or another room's sub-channel.
 */
export const ROOM_NAME = /^[A-Za-z0-9_-]{1,64}$/;

export const ROOM_NAME_RULE = 'room must be 1-64 characters of A-Z, a-z, 0-9, "_" or "-"';

export function roomChannel(room: string): string {
  return `rooms.${room}`;
}

/** What travels on a room's channel, as JSON. */
export interface ChatMessage {
  room: string;
  author: string;
  text: string;
  /** Publisher's clock, ms since the epoch (may carry a fraction; the benchmark uses it). */
  sentAt: number;
}

/**
 * Reads a delivery on `rooms.<room>`. Anyone with publish rights may write there, so a payload
 * that is not a chat message is shown as raw text rather than dropped or trusted.
 */
export function decodeChatMessage(room: string, payload: string): ChatMessage {
  try {
    const value = JSON.parse(payload) as Partial<ChatMessage> | null;
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof value.author === 'string' &&
      typeof value.text === 'string'
    ) {
      const sentAt = typeof value.sentAt === 'number' ? value.sentAt : Date.now();
      return { room, author: value.author, text: value.text, sentAt };
    }
  } catch {
    // not JSON: fall through
  }
  return { room, author: '(raw)', text: payload, sentAt: Date.now() };
}
