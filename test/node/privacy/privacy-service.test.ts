import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { FileAnalytics } from '../../../backend-adapter/analytics/file-analytics.ts';
import { ApiError } from '../../../backend-adapter/api-error.ts';
import type { Principal } from '../../../backend-adapter/auth/principal.ts';
import { SqliteCanonStore } from '../../../backend-adapter/canon/sqlite-canon-store.ts';
import { LocalContentStore } from '../../../backend-adapter/content/local-content-store.ts';
import {
  PRIVACY_ACTOR,
  PrivacyService,
  type PersonalDataHolder,
} from '../../../backend-adapter/privacy/privacy-service.ts';
import type { Session } from '../../../protocol/session.ts';

const ERIN: Principal = { userId: 'erin-5e1', tenantId: 't1' };

function session(sessionId: string, state: Session['state']): Session {
  return {
    sessionId,
    userId: ERIN.userId,
    tenantId: ERIN.tenantId,
    tier: 'basic',
    resources: {
      cpuMillicores: 1000,
      memoryMiB: 2048,
      storageGiB: 10,
      gpus: 0,
      display: { width: 1280, height: 720 },
    },
    state,
    createdAt: '2026-03-02T09:00:00.000Z',
    canonTimestamp: '2026-03-02T09:00:00.000Z',
    handshake: '55-45-17',
  };
}

describe('PrivacyService', () => {
  let dir: string;
  let canon: SqliteCanonStore;
  const terminated: Array<[string, string]> = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vsc-privacy-'));
    canon = new SqliteCanonStore(join(dir, 'canon.sqlite'));
    for (const [id, state] of [
      ['live', 'active'],
      ['moving', 'pausing'],
    ] as const) {
      await canon.createSession(
        { session: session(id, 'requested'), runtime: null, lastActivityAt: '' },
        ERIN.userId,
      );
      await canon.transition({
        sessionId: id,
        from: ['requested'],
        to: state,
        action: 'x',
        actor: 'system:test',
        at: new Date(),
      });
    }
  });
  after(async () => {
    await canon.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('waits for a session in transition, ends every session through the lifecycle, and is retryable when a holder fails', async () => {
    let failOnce = true;
    const wallet: PersonalDataHolder = {
      name: 'wallet',
      exportUser: async () => ({ balance: 42 }),
      eraseUser: async (_subject, pseudonym) => {
        if (failOnce) {
          failOnce = false;
          throw new Error('wallet unreachable');
        }
        return { accountsPseudonymised: 1, pseudonym };
      },
    };
    const privacy = new PrivacyService({
      canon,
      lifecycle: {
        terminate: async (principal, sessionId) => {
          terminated.push([principal.userId, sessionId]);
          const row = await canon.getSession(sessionId);
          const from = row?.session.state ?? 'active';
          const done = await canon.transition({
            sessionId,
            from: [from],
            to: 'terminated',
            action: 'termination.completed',
            actor: principal.userId,
            at: new Date(),
          });
          if (!done) throw new ApiError('ILLEGAL_TRANSITION');
          return done.session;
        },
      },
      content: new LocalContentStore(join(dir, 'content')),
      analytics: new FileAnalytics(join(dir, 'events.jsonl')),
      holders: [wallet],
      logger: pino({ level: 'silent' }),
      settleTimeoutMs: 3000,
    });

    const exported = await privacy.export(ERIN);
    assert.deepEqual(exported.other, { wallet: { balance: 42 } });

    // The pausing session settles a moment later (as a real pause would).
    setTimeout(
      () =>
        void canon.transition({
          sessionId: 'moving',
          from: ['pausing'],
          to: 'paused',
          action: 'pause.completed',
          actor: 'system:test',
          at: new Date(),
        }),
      300,
    );
    await assert.rejects(
      privacy.erase(ERIN),
      (e: unknown) => e instanceof ApiError && e.code === 'ERASURE_BLOCKED',
    );
    assert.deepEqual(terminated.map(([, id]) => id).sort(), ['live', 'moving']);
    assert.ok(terminated.every(([actor]) => actor === PRIVACY_ACTOR));
    assert.equal(
      (await canon.listSessions(ERIN)).length,
      2,
      'Canon has not forgotten the user: the erasure can be retried',
    );

    const result = await privacy.erase(ERIN);
    assert.equal(result.sessionsEnded, 0, 'already ended by the first attempt');
    assert.equal(result.sessionsPseudonymised, 2);
    assert.deepEqual(result.holders.wallet, { accountsPseudonymised: 1, pseudonym: result.pseudonym });
    assert.deepEqual(await canon.listSessions(ERIN), []);
  });

  it('refuses a non-admin acting for someone else', async () => {
    const privacy = new PrivacyService({
      canon,
      lifecycle: { terminate: async () => session('x', 'terminated') },
      content: new LocalContentStore(join(dir, 'content')),
      analytics: new FileAnalytics(join(dir, 'events.jsonl')),
      logger: pino({ level: 'silent' }),
    });
    for (const call of [() => privacy.export(ERIN, 'someone'), () => privacy.erase(ERIN, 'someone')]) {
      await assert.rejects(call(), (e: unknown) => e instanceof ApiError && e.code === 'ADMIN_REQUIRED');
    }
  });
});
