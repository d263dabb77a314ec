import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface ReceivedBatch {
  at: number;
  /** What this request was answered (undefined: left without an answer). */
  status: number;
  headers: IncomingMessage['headers'];
  body: {
    module: string;
    batchId: string;
    events: Array<{ eventId: string; event: string; userId: string; properties: Record<string, unknown> }>;
  };
}

/** A local stand-in for v-analytics that can fail, stall and answer slowly on demand. */
export class FakeAnalyticsServer {
  readonly received: ReceivedBatch[] = [];
  /** What the next requests get: a status, or a delay before 200. Consumed front to back; then `fallback`. */
  script: Array<{ status?: number; delayMs?: number }> = [];
  fallback: { status?: number; delayMs?: number } = { status: 200 };
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const step = this.script.shift() ?? this.fallback;
        this.received.push({
          at: Date.now(),
          status: step.status ?? 200,
          headers: req.headers,
          body: JSON.parse(Buffer.concat(chunks).toString()) as ReceivedBatch['body'],
        });
        const answer = () => {
          if (res.destroyed) return;
          res.statusCode = step.status ?? 200;
          res.end('{}');
        };
        if (step.delayMs) setTimeout(answer, step.delayMs);
        else answer();
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    const address = this.server.address();
    this.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/events/batch`;
    return this;
  }

  /** Every event received, once per delivery (duplicates included); only accepted ones with `accepted`. */
  events(accepted = false): ReceivedBatch['body']['events'] {
    return this.received.filter((b) => !accepted || b.status < 300).flatMap((b) => b.body.events);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => this.server?.close(() => r()));
  }
}
