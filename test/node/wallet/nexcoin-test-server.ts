// A NexCoin wallet service for tests (node:http, in memory), speaking backend-adapter/wallet/nexcoin-wire.ts.
// It honours idempotency keys like the real one must, and it can be told to misbehave on the next matching
// request: answer 500 (before or after applying), hang, drop the connection, or answer late — so the same
// request is answered twice, once to a client that gave up and once to its retry.
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Value } from '@sinclair/typebox/value';
import {
  IDEMPOTENCY_KEY_HEADER,
  REPLAYED_HEADER,
  WireDeductBodySchema,
  WireRefundBodySchema,
} from '../../../backend-adapter/wallet/nexcoin-wire.ts';
import { splitExactly, type WalletEntry, type WalletOwner } from '../../../backend-adapter/wallet/wallet.ts';

export type Fault =
  /** Answer 500 without applying. */
  | { kind: 'fail-500' }
  /** Apply, then answer 500 (the client must retry and get the replay). */
  | { kind: 'apply-then-500' }
  /** Apply, then never answer (the client times out). */
  | { kind: 'apply-then-hang' }
  /** Apply, then cut the connection. */
  | { kind: 'apply-then-drop' }
  /** Cut the connection without applying. */
  | { kind: 'drop' }
  /** Apply at once but answer only after `ms`: a retry meanwhile is answered too (two answers, one charge). */
  | { kind: 'delay'; ms: number }
  /** Answer `status` without applying (e.g. 429 with Retry-After, 503). */
  | { kind: 'status'; status: number; retryAfterSeconds?: number };

interface Stored {
  hash: string;
  status: number;
  body: { entry: WalletEntry; balanceAfter: number };
}

export interface NexCoinTestServer {
  url: string;
  /** Requests seen: method, path and idempotency key. */
  requests: Array<{ method: string; path: string; key: string | undefined }>;
  /** Misbehave on the next request for which `match` is true (default: any money movement). */
  inject(fault: Fault, match?: (method: string, path: string) => boolean): void;
  fund(owner: WalletOwner, amount: number): void;
  balanceOf(owner: WalletOwner): number;
  /** Deductions applied (not replays). */
  applied(): WalletEntry[];
  /** Credits to a distribution account. */
  accountTotal(account: string): number;
  close(): Promise<void>;
}

const ownerKey = (o: WalletOwner): string => `${o.tenantId}/${o.userId}`;

export async function startNexCoinTestServer(): Promise<NexCoinTestServer> {
  const balances = new Map<string, number>();
  const accounts = new Map<string, number>();
  const entries: WalletEntry[] = [];
  const byKey = new Map<string, Stored>();
  const faults: Array<{ fault: Fault; match: (method: string, path: string) => boolean }> = [];
  const requests: NexCoinTestServer['requests'] = [];
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const timers = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: unknown, replayed = false): void => {
    if (res.destroyed) return;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (replayed) headers[REPLAYED_HEADER] = 'true';
    res.writeHead(status, headers).end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, status: number, code: string, message: string, extra = {}): void =>
    send(res, status, { error: { code, message, ...extra } });

  /** The money movement itself; returns what to answer. */
  function deduct(
    owner: WalletOwner,
    key: string,
    raw: unknown,
  ): { status: number; body: unknown; replay?: boolean } {
    if (!Value.Check(WireDeductBodySchema, raw)) {
      return { status: 400, body: { error: { code: 'INVALID_REQUEST', message: 'bad deduction body' } } };
    }
    const body = raw;
    const hash = createHash('sha256')
      .update(JSON.stringify(['deduct', ownerKey(owner), body.amount, body.distribution]))
      .digest('hex');
    const stored = byKey.get(key);
    if (stored) {
      if (stored.hash !== hash) {
        return { status: 409, body: { error: { code: 'IDEMPOTENCY_CONFLICT', message: 'key reused' } } };
      }
      return {
        status: 200,
        body: { ...stored.body, balanceAfter: balances.get(ownerKey(owner)) ?? 0 },
        replay: true,
      };
    }
    const sum = body.distribution.reduce((a, s) => a + s.amount, 0);
    if (sum !== body.amount) {
      return { status: 400, body: { error: { code: 'INVALID_REQUEST', message: 'distribution must sum' } } };
    }
    const balance = balances.get(ownerKey(owner)) ?? 0;
    if (balance < body.amount) {
      return {
        status: 402,
        body: {
          error: { code: 'INSUFFICIENT_FUNDS', message: 'balance too low', balance, requested: body.amount },
        },
      };
    }
    balances.set(ownerKey(owner), balance - body.amount);
    for (const s of body.distribution) accounts.set(s.account, (accounts.get(s.account) ?? 0) + s.amount);
    const entry: WalletEntry = {
      transactionId: randomUUID(),
      idempotencyKey: key,
      kind: 'deduct',
      owner,
      amount: body.amount,
      description: body.description,
      category: body.category,
      module: body.module,
      metadata: body.metadata,
      refundOf: null,
      distribution: body.distribution,
      createdAt: new Date().toISOString(),
    };
    entries.push(entry);
    const result = { entry, balanceAfter: balance - body.amount };
    byKey.set(key, { hash, status: 201, body: result });
    return { status: 201, body: result };
  }

  function refund(
    transactionId: string,
    key: string,
    raw: unknown,
  ): { status: number; body: unknown; replay?: boolean } {
    if (!Value.Check(WireRefundBodySchema, raw)) {
      return { status: 400, body: { error: { code: 'INVALID_REQUEST', message: 'bad refund body' } } };
    }
    const hash = createHash('sha256')
      .update(JSON.stringify(['refund', transactionId, raw.amount]))
      .digest('hex');
    const stored = byKey.get(key);
    if (stored) {
      if (stored.hash !== hash) {
        return { status: 409, body: { error: { code: 'IDEMPOTENCY_CONFLICT', message: 'key reused' } } };
      }
      const o = ownerKey(stored.body.entry.owner);
      return { status: 200, body: { ...stored.body, balanceAfter: balances.get(o) ?? 0 }, replay: true };
    }
    const original = entries.find((e) => e.transactionId === transactionId && e.kind === 'deduct');
    if (!original)
      return { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no such deduction' } } };
    const refunded = entries.filter((e) => e.refundOf === transactionId).reduce((a, e) => a + e.amount, 0);
    if (refunded + raw.amount > original.amount) {
      return {
        status: 400,
        body: { error: { code: 'INVALID_REQUEST', message: 'refund exceeds deduction' } },
      };
    }
    const parts =
      original.distribution.length > 0
        ? splitExactly(
            raw.amount,
            original.distribution.map((s) => s.amount),
          )
        : [];
    const distribution = original.distribution.map((s, i) => ({ ...s, amount: parts[i] ?? 0 }));
    const o = ownerKey(original.owner);
    balances.set(o, (balances.get(o) ?? 0) + raw.amount);
    for (const s of distribution) accounts.set(s.account, (accounts.get(s.account) ?? 0) - s.amount);
    const entry: WalletEntry = {
      ...original,
      transactionId: randomUUID(),
      idempotencyKey: key,
      kind: 'refund',
      amount: raw.amount,
      description: `Refund: ${raw.reason}`,
      refundOf: transactionId,
      distribution,
      createdAt: new Date().toISOString(),
    };
    entries.push(entry);
    const result = { entry, balanceAfter: balances.get(o) ?? 0 };
    byKey.set(key, { hash, status: 201, body: result });
    return { status: 201, body: result };
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString();
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const keyHeader = req.headers[IDEMPOTENCY_KEY_HEADER];
    const key = Array.isArray(keyHeader) ? keyHeader[0] : keyHeader;
    requests.push({ method, path: url.pathname, key });
    const body = method === 'POST' ? await readBody(req).catch(() => null) : undefined;
    const index = faults.findIndex((f) => f.match(method, url.pathname));
    const fault = index >= 0 ? faults.splice(index, 1)[0]?.fault : undefined;

    if (fault?.kind === 'fail-500') return error(res, 500, 'INTERNAL', 'injected failure');
    if (fault?.kind === 'drop') return void req.socket.destroy();
    if (fault?.kind === 'status') {
      if (fault.retryAfterSeconds !== undefined)
        res.setHeader('retry-after', String(fault.retryAfterSeconds));
      return error(res, fault.status, 'INJECTED', `injected ${fault.status}`);
    }

    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let answer: { status: number; body: unknown; replay?: boolean };
    if (parts[0] === 'v1' && parts[1] === 'wallets' && parts.length >= 4) {
      const owner = { tenantId: parts[2] ?? '', userId: parts[3] ?? '' };
      if (method === 'GET' && parts.length === 4) {
        answer = { status: 200, body: { ...owner, balance: balances.get(ownerKey(owner)) ?? 0 } };
      } else if (method === 'GET' && parts[4] === 'entries') {
        const from = url.searchParams.get('from');
        const to = url.searchParams.get('to');
        answer = {
          status: 200,
          body: {
            entries: entries.filter(
              (e) =>
                ownerKey(e.owner) === ownerKey(owner) &&
                (!from || e.createdAt >= from) &&
                (!to || e.createdAt < to),
            ),
          },
        };
      } else if (method === 'POST' && parts[4] === 'deductions') {
        answer = key
          ? deduct(owner, key, body)
          : {
              status: 400,
              body: { error: { code: 'INVALID_REQUEST', message: 'Idempotency-Key required' } },
            };
      } else {
        answer = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route' } } };
      }
    } else if (
      method === 'POST' &&
      parts[0] === 'v1' &&
      parts[1] === 'transactions' &&
      parts[3] === 'refunds'
    ) {
      answer = key
        ? refund(parts[2] ?? '', key, body)
        : { status: 400, body: { error: { code: 'INVALID_REQUEST', message: 'Idempotency-Key required' } } };
    } else {
      answer = { status: 404, body: { error: { code: 'NOT_FOUND', message: 'no route' } } };
    }

    // The movement has happened (or not); now the answer may be lost.
    if (fault?.kind === 'apply-then-500')
      return error(res, 500, 'INTERNAL', 'injected failure after applying');
    if (fault?.kind === 'apply-then-drop') return void req.socket.destroy();
    if (fault?.kind === 'apply-then-hang') return void hanging.add(res);
    if (fault?.kind === 'delay') {
      const timer = setTimeout(() => {
        timers.delete(timer);
        send(res, answer.status, answer.body, answer.replay);
      }, fault.ms);
      timers.add(timer);
      return;
    }
    send(res, answer.status, answer.body, answer.replay);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => error(res, 500, 'INTERNAL', String(e)));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const isMovement = (method: string, path: string): boolean =>
    method === 'POST' && /\/(deductions|refunds)$/.test(path);

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    inject(fault, match = isMovement) {
      faults.push({ fault, match });
    },
    fund(owner, amount) {
      balances.set(ownerKey(owner), (balances.get(ownerKey(owner)) ?? 0) + amount);
    },
    balanceOf: (owner) => balances.get(ownerKey(owner)) ?? 0,
    applied: () => entries.filter((e) => e.kind === 'deduct'),
    accountTotal: (account) => accounts.get(account) ?? 0,
    async close() {
      for (const t of timers) clearTimeout(t);
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
