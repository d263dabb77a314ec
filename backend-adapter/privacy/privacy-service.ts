import type { Logger } from 'pino';
import type { ErasureResponse, PrivacyExport } from '../../protocol/privacy.ts';
import type { Session, SessionState } from '../../protocol/session.ts';
import { ApiError } from '../api-error.ts';
import type { Analytics } from '../analytics/analytics.ts';
import { isTenantAdmin, type Principal } from '../auth/principal.ts';
import { isFinished, preferencesEntityId } from '../canon/canon-shared.ts';
import type { CanonRecord, CanonStore, UsageRecord } from '../canon/canon-store.ts';
import { isSystemActor, privacyEntityId } from '../canon/subjects.ts';
import type { ContentStore } from '../content/content-store.ts';
import { ACTIONS } from '../lifecycle/transitions.ts';

type Owner = { userId: string; tenantId: string };

/**
 * Anything else that holds personal data (the content store, analytics, the wallet…): it contributes to the
 * export and erases (or pseudonymises) its part. Holders run before Canon Memory forgets the user, so a
 * holder that fails leaves the erasure retryable.
 */
export interface PersonalDataHolder {
  readonly name: string;
  exportUser(subject: Owner): Promise<unknown>;
  eraseUser(subject: Owner, pseudonym: string): Promise<Record<string, unknown>>;
}

export interface PrivacyDeps {
  canon: CanonStore;
  lifecycle: { terminate(principal: Principal, sessionId: string): Promise<Session> };
  content: ContentStore;
  analytics: Analytics;
  /** More holders, e.g. the wallet's ledger (keyed by `name` in the export's `other`). */
  holders?: PersonalDataHolder[];
  logger: Logger;
  clock?: () => Date;
  /** How long erasure waits for sessions in a transition (launching, pausing…) to settle. */
  settleTimeoutMs?: number;
}

/** The actor under which erasure ends sessions. */
export const PRIVACY_ACTOR = 'system:privacy';
/** What an export shows instead of another person's id (GDPR Art. 15(4): others' rights are not affected). */
export const ANOTHER_USER = 'another-user';
/** The states a session can be terminated from (the lifecycle's own rule). */
const TERMINABLE: readonly SessionState[] = ACTIONS.terminate.from;

/**
 * GDPR/CCPA for v-SuperCore. Export: everything held about a user as one JSON document. Erasure: the user's
 * sessions are ended, their files deleted, their analytics events pseudonymised, their preferences deleted,
 * and in Canon Memory their id is replaced by a pseudonym whose link to them is then destroyed (see
 * canon/subjects.ts): usage and money stay complete, as accounting law requires, without naming anyone.
 * Both are recorded as Canon records under `privacy:<tenant>:<user>`.
 */
export class PrivacyService {
  private readonly clock: () => Date;

  constructor(private readonly deps: PrivacyDeps) {
    this.clock = deps.clock ?? (() => new Date());
  }

  /** The user acted for: the caller, or a user of the caller's tenant when the caller is its admin. */
  private subjectFor(caller: Principal, userId?: string): Owner {
    if (userId !== undefined && userId !== caller.userId && !isTenantAdmin(caller)) {
      throw new ApiError('ADMIN_REQUIRED');
    }
    return { userId: userId ?? caller.userId, tenantId: caller.tenantId };
  }

  private get holders(): PersonalDataHolder[] {
    return this.deps.holders ?? [];
  }

  /** Where export and erasure reach, for the 45 "Data privacy" check's evidence. */
  coverage(): string[] {
    return ['Canon Memory', 'content', 'analytics', ...this.holders.map((h) => h.name)];
  }

  async export(caller: Principal, userId?: string): Promise<PrivacyExport> {
    const subject = this.subjectFor(caller, userId);
    const { canon } = this.deps;
    const rows = await canon.listSessions(subject);
    const records: CanonRecord[] = [];
    const usage: UsageRecord[] = [];
    for (const row of [...rows].reverse()) {
      records.push(...(await canon.listRecords(row.session.sessionId)));
      const u = await canon.getUsage(row.session.sessionId);
      if (u) usage.push(u);
    }
    records.push(...(await canon.listRecords(preferencesEntityId(subject))));
    records.push(...(await canon.listRecords(privacyEntityId(subject))));
    const prefs = await canon.getPreferences(subject);
    const other: Record<string, unknown> = {};
    for (const holder of this.holders) other[holder.name] = await holder.exportUser(subject);
    const analytics = await this.deps.analytics.exportUser(subject.userId);
    const document: PrivacyExport = {
      format: 'v-supercore.privacy-export.v1',
      exportedAt: this.clock().toISOString(),
      subject,
      sessions: rows.map((r) => r.session),
      canonRecords: records.map((r) => redactOthers(r, subject.userId)),
      usage,
      preferences: prefs ? { preferences: prefs.preferences, updatedAt: prefs.updatedAt } : null,
      allocations: await canon.listAllocations(subject),
      files: await this.deps.content.list(subject),
      analytics: {
        heldBy: analytics.heldBy,
        events: analytics.events,
        ...(analytics.note ? { note: analytics.note } : {}),
      },
      other,
    };
    await canon.recordPrivacyEvent({
      subject,
      action: 'privacy.exported',
      actor: caller.userId,
      at: this.clock(),
      payload: {
        requestedBy: caller.userId === subject.userId ? 'self' : 'tenant-admin',
        sessions: document.sessions.length,
        canonRecords: document.canonRecords.length,
        files: document.files.length,
        analyticsEvents: document.analytics.events.length,
      },
    });
    return document;
  }

  async erase(caller: Principal, userId?: string): Promise<ErasureResponse> {
    const subject = this.subjectFor(caller, userId);
    const sessionsEnded = await this.endSessions(subject);
    const pseudonym = await this.deps.canon.pseudonymOf(subject);
    const holders: Record<string, Record<string, unknown>> = {};
    const all: PersonalDataHolder[] = [
      {
        name: 'content',
        exportUser: (s) => this.deps.content.list(s),
        eraseUser: async (s) => ({ ...(await this.deps.content.eraseOwner(s)) }),
      },
      {
        name: 'analytics',
        exportUser: (s) => this.deps.analytics.exportUser(s.userId),
        eraseUser: async (s, p) => ({ ...(await this.deps.analytics.eraseUser(s.userId, p)) }),
      },
      ...this.holders,
    ];
    for (const holder of all) {
      try {
        holders[holder.name] = await holder.eraseUser(subject, pseudonym);
      } catch (err) {
        this.deps.logger.error({ holder: holder.name, err }, 'erasure step failed');
        throw new ApiError(
          'ERASURE_BLOCKED',
          `Erasure could not complete (${holder.name}); it is safe to try again.`,
          {
            step: holder.name,
          },
        );
      }
    }
    const result = await this.deps.canon.eraseSubject({
      subject,
      actor: caller.userId,
      at: this.clock(),
      details: {
        requestedBy: caller.userId === subject.userId ? 'self' : 'tenant-admin',
        sessionsEnded,
        holders,
      },
    });
    this.deps.logger.info(
      { pseudonym: result.pseudonym, tenantId: subject.tenantId, sessionsEnded },
      'user erased (GDPR/CCPA)',
    );
    return {
      pseudonym: result.pseudonym,
      erasedAt: result.erasedAt,
      sessionsEnded,
      sessionsPseudonymised: result.sessionsPseudonymised,
      usageRecordsPseudonymised: result.usageRecordsPseudonymised,
      allocationsPseudonymised: result.allocationsPseudonymised,
      preferencesDeleted: result.preferencesDeleted,
      holders,
      auditRecordId: result.auditRecordId,
    };
  }

  /**
   * Ends every session of the subject through the lifecycle (so usage is metered and recorded as for any
   * termination), waiting for sessions in a transition to settle first. Refuses to go on while any remains.
   */
  private async endSessions(subject: Owner): Promise<number> {
    const system: Principal = { userId: PRIVACY_ACTOR, tenantId: subject.tenantId, roles: ['admin'] };
    const deadline = Date.now() + (this.deps.settleTimeoutMs ?? 10_000);
    let ended = 0;
    for (;;) {
      const open = (await this.deps.canon.listSessions(subject)).filter(
        (r) => !isFinished(r.session.state) || r.session.state === 'failed',
      );
      const unsettled = open.filter((r) => !TERMINABLE.includes(r.session.state));
      for (const row of open.filter((r) => TERMINABLE.includes(r.session.state))) {
        try {
          await this.deps.lifecycle.terminate(system, row.session.sessionId);
          ended++;
        } catch (err) {
          // A failed session that cannot be closed is finished anyway; anything else is retried below.
          if (row.session.state !== 'failed')
            this.deps.logger.warn(
              { sessionId: row.session.sessionId, err },
              'could not end session for erasure',
            );
        }
      }
      const live = (await this.deps.canon.listSessions(subject)).filter((r) => !isFinished(r.session.state));
      if (live.length === 0) return ended;
      if (Date.now() > deadline) {
        throw new ApiError(
          'ERASURE_BLOCKED',
          'Some of the user’s sessions could not be ended; nothing was erased.',
          {
            liveSessions: live.length,
          },
        );
      }
      await new Promise((r) => setTimeout(r, unsettled.length ? 250 : 100));
    }
  }
}

/** Another person's id in a record is replaced: the export is the subject's data, not their colleagues'. */
function redactOthers(record: CanonRecord, subjectId: string): CanonRecord {
  const actor = record.actor === subjectId || isSystemActor(record.actor) ? record.actor : ANOTHER_USER;
  const payloadUser = record.payload['userId'];
  const payload =
    typeof payloadUser === 'string' && payloadUser !== subjectId
      ? { ...record.payload, userId: ANOTHER_USER }
      : record.payload;
  return { ...record, actor, payload };
}
