// Decoded frames as plain, comparable data (byte fields as hex or text), whichever buffer they
// arrived in: a frame from a slice of the chunk and one from a copy compare equal.
import type { ControlFrame, FrameSink } from '@hyps/transport';

export type FrameEvent = Record<string, unknown>;

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

export function describeControl(frame: ControlFrame): FrameEvent {
  switch (frame.type) {
    case 'hello':
    case 'info':
      return { type: frame.type, body: frame.body.toString('utf8') };
    case 'sub':
    case 'unsub':
      return {
        type: frame.type,
        pattern: frame.pattern.toString('utf8'),
        group: frame.group?.toString('utf8'),
      };
    case 'group_msg':
      return {
        type: 'group_msg',
        group: frame.group.toString('utf8'),
        channel: frame.buf.toString('utf8', frame.channelStart, frame.channelEnd),
        message: hex(frame.buf.subarray(frame.channelEnd + 1, frame.messageEnd)),
      };
    default:
      return { ...frame };
  }
}

export function describeRecord(
  buf: Buffer,
  frameStart: number,
  channelEnd: number,
  frameEnd: number,
): FrameEvent {
  return {
    type: 'record',
    frame: hex(buf.subarray(frameStart, frameEnd)),
    channel: buf.toString('utf8', frameStart + 4, channelEnd),
    message: hex(buf.subarray(channelEnd + 1, frameEnd - 1)),
  };
}

/** A sink that describes every frame into `events`; `onRecordBuffer` sees each record's buffer. */
export function describingSink(
  events: FrameEvent[],
  onRecordBuffer?: (buf: Buffer, frameStart: number, channelEnd: number, frameEnd: number) => void,
): FrameSink {
  return {
    onRecord(buf, frameStart, channelEnd, frameEnd) {
      onRecordBuffer?.(buf, frameStart, channelEnd, frameEnd);
      events.push(describeRecord(buf, frameStart, channelEnd, frameEnd));
    },
    onControl(frame) {
      events.push(describeControl(frame));
    },
  };
}
