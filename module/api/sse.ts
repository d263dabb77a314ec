/** One dispatched server-sent event. */
export interface SseMessage {
  /** The `event:` field, `message` when the server sent none. */
  event: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /** The last `id:` seen on the stream (carried over from earlier events), if any. */
  lastEventId: string | undefined;
}

/**
 * An incremental `text/event-stream` parser (WHATWG HTML, "Parsing an event stream"): feed it decoded text in
 * chunks of any size, it calls `onMessage` for every complete event. Handles CRLF, CR and LF line ends (also split
 * across chunks), a leading BOM, comments (`: keep-alive`), multi-line `data:`, `id:` and `retry:`.
 *
 * `fetch` + this parser replace `EventSource`, which cannot send an `Authorization` header.
 */
export class SseParser {
  /** The reconnection delay the server asked for with `retry:` (ms), if it did. */
  retryMs: number | undefined;
  /** The last event id (sent back as `Last-Event-ID` on reconnect). */
  lastEventId: string | undefined;

  private buffer = '';
  private started = false;
  private data: string[] = [];
  private event = '';

  constructor(private readonly onMessage: (message: SseMessage) => void) {}

  /** Parses a chunk of the stream. */
  push(chunk: string): void {
    let text = chunk;
    if (!this.started && text !== '') {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    const buffer = this.buffer + text;
    let start = 0;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A CR at the very end may be the first half of a CRLF: wait for the next chunk to know.
      if (c === 13 && i === buffer.length - 1) break;
      const line = buffer.slice(start, i);
      if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
      this.line(line);
    }
    this.buffer = buffer.slice(start);
  }

  /** The stream ended: a trailing CR still ends its line; an event without its blank line is dropped (per spec). */
  end(): void {
    if (this.buffer.endsWith('\r')) this.line(this.buffer.slice(0, -1));
    this.buffer = '';
    this.data = [];
    this.event = '';
  }

  private line(line: string): void {
    if (line === '') {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) return; // comment, e.g. keep-alive
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32 /* ' ' */) value = value.slice(1);
    switch (field) {
      case 'event':
        this.event = value;
        break;
      case 'data':
        this.data.push(value);
        break;
      case 'id':
        if (!value.includes('\0')) this.lastEventId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(): void {
    const data = this.data;
    const event = this.event;
    this.data = [];
    this.event = '';
    if (data.length === 0) return;
    this.onMessage({ event: event || 'message', data: data.join('\n'), lastEventId: this.lastEventId });
  }
}
