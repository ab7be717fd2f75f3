// Minimal, fast incremental counters for load generators: they count frames on a byte stream
// without decoding payloads, so the load generator stays cheap next to the server it measures.

const OP_OK = 0x10;
const OP_ERR = 0x11;
const OP_DROPPED = 0x12;
const OP_PING = 0x04;
const OP_GROUP_MSG = 0x14;
const NEWLINE = 0x0a;
const CR = 0x0d;

/**
 * What both counters share: a chunk first finishes skipping the body left over from the previous
 * chunk (`skip`), then is joined to a carried-over unparsed start (`tail`).
 */
class StreamScanner {
  /** Bytes of the current item still to skip (one that continues in the next chunk). */
  skip = 0;
  /** An unparsed item start carried over from the previous chunk. */
  tail = null;

  /** The bytes to scan from offset 0, or null when the whole chunk was skipped. */
  resume(chunk) {
    let buf = chunk;
    if (this.skip > 0) {
      if (this.skip >= buf.length) {
        this.skip -= buf.length;
        return null;
      }
      buf = buf.subarray(this.skip);
      this.skip = 0;
    }
    if (this.tail !== null) {
      buf = Buffer.concat([this.tail, buf]);
      this.tail = null;
    }
    return buf;
  }
}

/**
 * Counts Hyps frames sent by a broker (PROTOCOL.md section 1): records (deliveries), acknowledged
 * commands (the `n` of each OK), DROPPED counts, and ERRs. Record bodies are skipped unread.
 */
export class HypsFrameCounter extends StreamScanner {
  records = 0;
  acks = 0;
  dropped = 0;
  pings = 0;
  errors = [];

  push(chunk) {
    const resumed = this.resume(chunk);
    if (resumed === null) return;
    const buf = resumed;
    let p = 0;
    const n = buf.length;
    let records = 0;
    while (p + 5 <= n) {
      const end =
        p + 4 + (buf[p] * 0x1000000 + ((buf[p + 1] << 16) | (buf[p + 2] << 8) | buf[p + 3]));
      const op = buf[p + 4];
      if (op >= 0x20 || op === NEWLINE || op === OP_GROUP_MSG) {
        records++;
      } else if (op === OP_OK) {
        if (p + 9 > n) break;
        this.acks += buf.readUInt32BE(p + 5);
      } else {
        // Other control frames are small: wait for the whole frame.
        if (end > n) break;
        this.control(op, buf, p + 5, end);
      }
      if (end > n) {
        this.skip = end - n;
        p = n;
        break;
      }
      p = end;
    }
    this.records += records;
    if (p < n) this.tail = Buffer.from(buf.subarray(p));
  }

  control(op, buf, start, end) {
    if (op === OP_DROPPED) this.dropped += buf.readUInt32BE(start);
    else if (op === OP_ERR)
      this.errors.push(`ERR ${buf.readUInt16BE(start)} ${buf.toString('utf8', start + 2, end)}`);
    else if (op === OP_PING) this.pings++;
    // INFO is ignored.
  }
}

/**
 * Counts RESP2 traffic from redis-server: top-level replies (e.g. `:1` for PUBLISH) and pub/sub
 * `message` pushes (`*3` arrays whose first bulk string has 7 bytes: "message"; "subscribe" has
 * 9, "pmessage" 8). Bulk string bodies are skipped unread.
 */
export class RespCounter extends StreamScanner {
  replies = 0;
  messages = 0;
  /** Completed top-level arrays of any kind (e.g. the `subscribe` confirmation). */
  pushes = 0;
  errors = [];
  /** Elements left in the current top-level array; 0 at top level. */
  remaining = 0;
  first = false;
  isMessage = false;

  push(chunk) {
    const resumed = this.resume(chunk);
    if (resumed === null) return;
    const buf = resumed;
    let p = 0;
    const n = buf.length;
    while (p < n) {
      const type = buf[p];
      let i = p + 1;
      let value = 0;
      let negative = false;
      if (type === 0x2b || type === 0x2d) {
        // '+' simple string or '-' error: a text line.
        const nl = buf.indexOf(NEWLINE, i);
        if (nl === -1) break;
        if (type === 0x2d) this.errors.push(buf.toString('utf8', i, nl - 1));
        p = nl + 1;
        this.elementDone();
        continue;
      }
      if (i < n && buf[i] === 0x2d) {
        negative = true;
        i++;
      }
      let c = 0;
      while (i < n && (c = buf[i]) !== CR) {
        value = value * 10 + (c - 48);
        i++;
      }
      if (i + 1 >= n) break; // the line is incomplete
      p = i + 2;
      if (negative) value = -value;
      if (type === 0x2a) {
        // '*' array header (pushes are never nested)
        this.remaining = value;
        this.first = true;
        this.isMessage = false;
        if (value <= 0) this.elementDone();
        continue;
      }
      if (type === 0x24) {
        // '$' bulk string
        if (this.first) {
          this.isMessage = value === 7;
          this.first = false;
        }
        const bodyEnd = value < 0 ? p : p + value + 2;
        this.elementDone();
        if (bodyEnd > n) {
          this.skip = bodyEnd - n;
          p = n;
          break;
        }
        p = bodyEnd;
        continue;
      }
      if (type === 0x3a) {
        // ':' integer
        this.first = false;
        this.elementDone();
        continue;
      }
      throw new Error(`unexpected RESP type byte 0x${type.toString(16)}`);
    }
    if (p < n) this.tail = Buffer.from(buf.subarray(p));
  }

  elementDone() {
    if (this.remaining > 0) {
      if (--this.remaining === 0) {
        this.pushes++;
        if (this.isMessage) this.messages++;
      }
    } else {
      this.replies++;
    }
  }
}

/** One RESP command as bytes. */
export function encodeResp(...parts) {
  const buffers = parts.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(String(part))));
  const pieces = [Buffer.from(`*${buffers.length}\r\n`)];
  for (const buffer of buffers) {
    pieces.push(Buffer.from(`$${buffer.length}\r\n`), buffer, Buffer.from('\r\n'));
  }
  return Buffer.concat(pieces);
}
