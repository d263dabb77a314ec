import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import { LazyRequestLogger } from '../../../backend-adapter/logging/lazy-request-logger.ts';
import { createLogger } from '../../../backend-adapter/logging/logger.ts';

function capturing(level: string) {
  const lines: Array<{ level: string; message: string; reqId?: string; metadata?: Record<string, unknown> }> =
    [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as never);
      done();
    },
  });
  return { lines, log: createLogger({ service: 'orchestrator', level, destination }) };
}

/** Counts the children `parent` makes. */
function counting(parent: FastifyBaseLogger): { parent: FastifyBaseLogger; made: () => number } {
  let made = 0;
  const child = parent.child.bind(parent);
  return {
    parent: Object.assign(Object.create(parent) as FastifyBaseLogger, {
      child: (...args: Parameters<FastifyBaseLogger['child']>) => {
        made++;
        return child(...args);
      },
    }),
    made: () => made,
  };
}

describe('the per-request logger, made on first use (backend-adapter/logging/lazy-request-logger.ts)', () => {
  it('writes with the request id and redaction, and makes no child for a request that logs nothing', () => {
    const { lines, log } = capturing('info');
    const { parent, made } = counting(log);
    const quiet = new LazyRequestLogger(parent, { reqId: 'req-1' }, {});
    quiet.debug('below the level');
    assert.equal(made(), 0, 'nothing written, nothing made');
    const loud = new LazyRequestLogger(parent, { reqId: 'req-2' }, {});
    loud.error({ err: new Error('boom'), token: 'bearer-secret' }, 'unhandled error');
    loud.warn('again');
    assert.equal(made(), 1, 'one child, made on the first line written');
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.reqId, 'req-2');
    assert.equal(lines[0]?.message, 'unhandled error');
    assert.equal(lines[0]?.metadata?.token, '[redacted]');
    assert.equal(lines[1]?.reqId, 'req-2');
  });

  it("keeps a route's own level (Fastify's logLevel)", () => {
    const { lines, log } = capturing('info');
    const debugging = new LazyRequestLogger(log, { reqId: 'req-3' }, { level: 'debug' });
    assert.equal(debugging.level, 'debug');
    debugging.debug('seen at the route level');
    const quiet = new LazyRequestLogger(log, { reqId: 'req-4' }, { level: 'error' });
    quiet.warn('not seen');
    assert.deepEqual(
      lines.map((l) => l.message),
      ['seen at the route level'],
    );
  });

  it('is what Fastify hands a handler: its lines carry the request id', async () => {
    const { lines, log } = capturing('info');
    const app = Fastify({
      loggerInstance: log as FastifyBaseLogger,
      disableRequestLogging: true,
      childLoggerFactory: (logger, bindings, options) => new LazyRequestLogger(logger, bindings, options),
    });
    app.get('/warns', async (request) => {
      request.log.warn({ password: 'hunter2' }, 'a handler warns');
      return { ok: true };
    });
    app.get('/quiet', async () => ({ ok: true }));
    try {
      assert.equal((await app.inject({ url: '/quiet' })).statusCode, 200);
      assert.equal(lines.length, 0);
      assert.equal((await app.inject({ url: '/warns' })).statusCode, 200);
      assert.equal(lines.length, 1);
      assert.match(lines[0]?.reqId ?? '', /^req-/);
      assert.equal(lines[0]?.metadata?.password, '[redacted]');
    } finally {
      await app.close();
    }
  });
});
