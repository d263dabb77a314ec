// The FAKE Kubernetes API server for tests (node:http): the core/v1 routes the Kubernetes runtime uses for
// pods, persistentvolumeclaims, secrets, events and resourcequotas — create, get, list (paged), patch (merge
// and JSON patch), delete and watch — with bearer authentication and a log of every request (verb, resource)
// for the RBAC test and the API-call benchmark. Test hooks: dropWatches() resets every watch connection,
// compact() makes every older resourceVersion answer 410 Gone.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  FakeStore,
  RESOURCES,
  StatusError,
  matchesFields,
  matchesLabels,
  statusError,
  type KubeObject,
  type Resource,
  type StoredEvent,
} from './store.ts';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RecordedRequest {
  verb: Verb;
  resource: string;
  namespace: string | undefined;
  name: string | undefined;
  status: number;
}

export const FAKE_TOKEN = 'fake-kubernetes-token';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export class FakeApiServer {
  readonly store = new FakeStore();
  readonly requests: RecordedRequest[] = [];
  private server: Server | undefined;
  private readonly watches = new Set<{ socket: Socket; end: () => void }>();
  private readonly sockets = new Set<Socket>();
  url = '';

  async listen(port = 0): Promise<string> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.url;
  }

  /** Resets every open watch connection (as a network blip or an API server restart would). */
  dropWatches(): number {
    const n = this.watches.size;
    for (const w of this.watches) w.socket.destroy();
    this.watches.clear();
    return n;
  }

  /** Ends every open watch normally (as the API server does when a watch's timeout passes). */
  endWatches(): void {
    for (const w of this.watches) w.end();
  }

  get openWatches(): number {
    return this.watches.size;
  }

  /** Verbs used per resource, e.g. { pods: Set(['create','list','watch']) }. */
  verbsUsed(): Map<string, Set<Verb>> {
    const used = new Map<string, Set<Verb>>();
    for (const r of this.requests) {
      if (!used.has(r.resource)) used.set(r.resource, new Set());
      used.get(r.resource)?.add(r.verb);
    }
    return used;
  }

  async close(): Promise<void> {
    for (const w of this.watches) w.end();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const parts = url.pathname.split('/').filter(Boolean);
    // /api/v1/namespaces/{ns}/{resource}[/{name}]  or  /api/v1/{resource}
    let namespace: string | undefined;
    let resource: string | undefined;
    let name: string | undefined;
    if (parts[0] === 'api' && parts[1] === 'v1') {
      if (parts[2] === 'namespaces' && parts.length >= 5) [, , , namespace, resource, name] = parts;
      else if (parts.length === 3) resource = parts[2];
    }
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const verb: Verb =
      req.method === 'GET'
        ? watch
          ? 'watch'
          : name
            ? 'get'
            : 'list'
        : req.method === 'POST'
          ? 'create'
          : req.method === 'PUT'
            ? 'update'
            : req.method === 'PATCH'
              ? 'patch'
              : name
                ? 'delete'
                : 'deletecollection';
    const record = (status: number) =>
      this.requests.push({ verb, resource: resource ?? url.pathname, namespace, name, status });

    if (req.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
      record(401);
      return this.send(res, 401, statusError(401, 'Unauthorized', 'Unauthorized').body);
    }
    if (!resource || !(resource in RESOURCES)) {
      record(404);
      return this.send(
        res,
        404,
        statusError(404, 'NotFound', 'the server could not find the requested resource').body,
      );
    }
    const r = resource as Resource;
    try {
      if (verb === 'watch') {
        record(200);
        return this.watch(r, namespace, url.searchParams, res);
      }
      const bodyText = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '')
        ? await readBody(req)
        : '';
      const body = bodyText ? (JSON.parse(bodyText) as KubeObject) : undefined;
      let status = 200;
      let result: unknown;
      switch (verb) {
        case 'list':
          result = this.list(r, namespace, url.searchParams);
          break;
        case 'get':
          result = this.store.get(r, namespace ?? '', name ?? '');
          break;
        case 'create':
          if (!body) throw statusError(400, 'BadRequest', 'the body of the request was empty');
          result = this.store.create(r, namespace ?? '', body);
          status = 201;
          break;
        case 'patch': {
          const type = (req.headers['content-type'] ?? '').split(';')[0];
          if (type === 'application/json-patch+json') {
            result = this.store.jsonPatch(r, namespace ?? '', name ?? '', body);
            break;
          }
          if (type !== 'application/merge-patch+json' && type !== 'application/strategic-merge-patch+json') {
            throw statusError(
              415,
              'UnsupportedMediaType',
              `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${type})`,
            );
          }
          result = this.store.patch(r, namespace ?? '', name ?? '', body ?? {});
          break;
        }
        case 'delete': {
          const options = (body ?? {}) as { gracePeriodSeconds?: number; propagationPolicy?: string };
          const grace = url.searchParams.get('gracePeriodSeconds');
          result = this.store.delete(r, namespace ?? '', name ?? '', {
            gracePeriodSeconds: grace !== null ? Number(grace) : options.gracePeriodSeconds,
            propagationPolicy: url.searchParams.get('propagationPolicy') ?? options.propagationPolicy,
          });
          break;
        }
        default:
          throw statusError(405, 'MethodNotAllowed', `${verb} is not supported by this fake`);
      }
      record(status);
      return this.send(res, status, result);
    } catch (error) {
      if (error instanceof StatusError) {
        record(error.status);
        return this.send(res, error.status, error.body);
      }
      record(500);
      return this.send(res, 500, statusError(500, 'InternalError', String(error)).body);
    }
  }

  private list(resource: Resource, namespace: string | undefined, query: URLSearchParams): unknown {
    const all = this.store.select(
      resource,
      namespace,
      query.get('labelSelector') ?? undefined,
      query.get('fieldSelector') ?? undefined,
    );
    const limit = Number(query.get('limit') ?? 0);
    const token = query.get('continue');
    let start = 0;
    let rv = String(this.store.resourceVersion);
    if (token) {
      const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as {
        after: string;
        rv: string;
      };
      start = all.findIndex((o) => (o.metadata.name ?? '') > parsed.after);
      if (start < 0) start = all.length;
      rv = parsed.rv;
    }
    const items = (limit > 0 ? all.slice(start, start + limit) : all.slice(start)).map((o) =>
      structuredClone(o),
    );
    const more = limit > 0 && start + limit < all.length;
    const last = items.at(-1)?.metadata.name ?? '';
    return {
      kind: `${RESOURCES[resource].kind}List`,
      apiVersion: 'v1',
      metadata: {
        resourceVersion: rv,
        ...(more ? { continue: Buffer.from(JSON.stringify({ after: last, rv })).toString('base64url') } : {}),
      },
      items,
    };
  }

  private watch(
    resource: Resource,
    namespace: string | undefined,
    query: URLSearchParams,
    res: ServerResponse,
  ): void {
    const labelSelector = query.get('labelSelector') ?? undefined;
    const fieldSelector = query.get('fieldSelector') ?? undefined;
    const matches = (o: KubeObject | undefined) =>
      o !== undefined &&
      (!namespace || o.metadata.namespace === namespace) &&
      matchesLabels(labelSelector, o.metadata.labels) &&
      matchesFields(fieldSelector, o);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.flushHeaders(); // as the API server does: the client has its response before the first event
    const write = (type: string, object: unknown) => res.write(`${JSON.stringify({ type, object })}\n`);
    const deliver = (e: StoredEvent): void => {
      if (e.resource !== resource) return;
      const now = matches(e.object);
      const before = e.type === 'MODIFIED' ? matches(e.previous) : now;
      if (e.type === 'MODIFIED' && now && !before) write('ADDED', e.object);
      else if (e.type === 'MODIFIED' && !now && before) write('DELETED', e.object);
      else if (now) write(e.type, e.object);
    };
    const from = query.get('resourceVersion');
    if (!from || from === '0') {
      for (const o of this.store.list(resource, namespace, labelSelector, fieldSelector)) write('ADDED', o);
    } else {
      const events = this.store.eventsSince(Number(from));
      if (!events) {
        // What the real API server sends when the version was compacted away: 200, one ERROR event, end.
        write(
          'ERROR',
          statusError(
            410,
            'Expired',
            `too old resource version: ${from} (${this.store.oldestResourceVersion})`,
          ).body,
        );
        res.end();
        return;
      }
      for (const e of events) deliver(e);
    }
    const off = this.store.onChange(deliver);
    const entry = {
      socket: res.socket as Socket,
      end: () => {
        off();
        clearTimeout(timer);
        this.watches.delete(entry);
        res.end();
      },
    };
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    const timer = setTimeout(entry.end, (timeoutSeconds > 0 ? timeoutSeconds : 1800) * 1000);
    this.watches.add(entry);
    res.on('close', () => {
      off();
      clearTimeout(timer);
      this.watches.delete(entry);
    });
  }
}
