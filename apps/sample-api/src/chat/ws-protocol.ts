// The JSON messages of the chat WebSocket (path /ws), and the parser WsAdapter uses for them.
//
// client -> server                                  server -> client (reply, in order)
//   {"event":"join","data":{"room":"lobby"}}           {"event":"joined","data":{"room":"lobby"}}
//   {"event":"leave","data":{"room":"lobby"}}          {"event":"left","data":{"room":"lobby"}}
//   {"event":"post","data":{"room","author","text"}}   {"event":"posted","data":{"room","receivers"}}
// any failure:                                         {"event":"error","data":{"request","message","errors"?}}
// pushed:  {"event":"message","data":{"room","author","text","sentAt"}}
//          {"event":"dropped","data":{"scope":"connection","room","count"}}  (this socket was behind)
//          {"event":"dropped","data":{"scope":"server","count"}}  (the broker dropped for this server)
//          {"event":"dropped","data":{"scope":"broker-reconnect","count":null}}  (server reconnected)

export const WS_PATH = '/ws';
export const WS_REQUESTS = ['join', 'leave', 'post'] as const;

/** Internal event the parser turns malformed input into, so the client still gets an answer. */
export const WS_INVALID = '$invalid';

export interface WsInvalidRequest {
  request: string | null;
  message: string;
}

type WsData = string | Buffer | ArrayBuffer | Buffer[];

function textOf(data: WsData): string {
  if (typeof data === 'string') return data;
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/**
 * WsAdapter's default parser silently ignores bad JSON and unknown events; this one routes them
 * to a handler that answers with an error instead, so a client learns what it got wrong.
 */
export function parseWsMessage(data: WsData): { event: string; data: unknown } {
  const invalid = (message: string, request: string | null = null) => ({
    event: WS_INVALID,
    data: { request, message } satisfies WsInvalidRequest,
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(textOf(data));
  } catch {
    return invalid('message is not JSON');
  }
  if (
    parsed === null ||
    typeof parsed !== 'object' ||
    typeof (parsed as { event?: unknown }).event !== 'string'
  ) {
    return invalid('message must be a JSON object {"event": string, "data": object}');
  }
  const { event, data: body } = parsed as { event: string; data?: unknown };
  if (!(WS_REQUESTS as readonly string[]).includes(event)) {
    return invalid(`unknown event "${event}"; expected one of ${WS_REQUESTS.join(', ')}`, event);
  }
  return { event, data: body };
}
