/**
 * The last channel (or group) name decoded from a delivery, kept with its bytes. Deliveries come in
 * runs on one channel; comparing a few bytes is cheaper than decoding UTF-8 into a new string
 * each time. The bytes are copied, so no received chunk is kept alive.
 */
export class ChannelNameMemo {
  private bytes = Buffer.allocUnsafe(64);
  private length = -1;
  private name = '';

  decode(buf: Buffer, start: number, end: number): string {
    const length = end - start;
    if (length === this.length) {
      const bytes = this.bytes;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (bytes[i] !== buf[start + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.name;
    }
    if (this.bytes.length < length) this.bytes = Buffer.allocUnsafe(length);
    buf.copy(this.bytes, 0, start, end);
    this.length = length;
    this.name = buf.toString('utf8', start, end);
    return this.name;
  }
}
