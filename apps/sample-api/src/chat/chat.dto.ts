// Request bodies and parameters, shared by the HTTP controller and the WebSocket gateway so
// both apply exactly the same rules.
import { IsString, Length, Matches } from 'class-validator';
import { ROOM_NAME, ROOM_NAME_RULE } from './room.js';

export class RoomParams {
  @IsString()
  @Matches(ROOM_NAME, { message: ROOM_NAME_RULE })
  room!: string;
}

/**
 * A message to post: over HTTP the room comes from the URL and the rest from the body (see
 * RoomMessageInput), over WebSocket all three from the `post` request. One class, so both
 * transports report every bad field at once and in the same words.
 */
export class PostMessageInput extends RoomParams {
  @IsString()
  @Length(1, 64)
  author!: string;

  @IsString()
  @Length(1, 2000)
  text!: string;
}

/** WebSocket `join` and `leave`. */
export class WsRoomRequest extends RoomParams {}
