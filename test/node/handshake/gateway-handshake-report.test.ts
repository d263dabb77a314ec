// The stream gateway's own 55-45-17 report fails, with its evidence, when what the gateway depends on fails.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildGatewayHandshakeReport } from '../../../backend-adapter/handshake/gateway-handshake-report.ts';

const authOk = { check: async () => ({ ok: true, evidence: 'guarded' }) };

describe('the stream gateway’s handshake report', () => {
  it('is not ok when Canon Memory does not answer, and says so', async () => {
    const report = await buildGatewayHandshakeReport({ canon: { ping: async () => false }, auth: authOk });
    assert.equal(report.ok, false);
    const database = report.checks.find((c) => c.id === 'database');
    assert.deepEqual(
      [database?.applicable, database?.ok, database?.evidence],
      [true, false, 'Canon Memory did not answer'],
    );
  });

  it('is not ok when Redis is configured and does not answer, or when its token check fails', async () => {
    const canon = { ping: async () => true };
    const noRedis = await buildGatewayHandshakeReport({
      canon,
      redisPing: () => Promise.reject(new Error('ECONNREFUSED')),
      auth: authOk,
    });
    assert.equal(noRedis.ok, false);
    assert.equal(noRedis.checks.find((c) => c.id === 'redis')?.evidence, 'Redis did not answer');

    const open = await buildGatewayHandshakeReport({
      canon,
      auth: { check: async () => ({ ok: false, evidence: 'served without the bearer-token check: GET /x' }) },
    });
    assert.equal(open.ok, false);
    assert.match(open.checks.find((c) => c.id === 'auth-required')?.evidence ?? '', /GET \/x/);
  });

  it('is ok on Canon Memory and its token check alone without Redis (one process), Redis then not counted', async () => {
    const report = await buildGatewayHandshakeReport({ canon: { ping: async () => true }, auth: authOk });
    assert.equal(report.ok, true);
    assert.equal(report.checks.find((c) => c.id === 'redis')?.applicable, false);
  });
});
