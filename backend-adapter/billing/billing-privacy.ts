import type { PersonalDataHolder } from '../privacy/privacy-service.ts';
import { LedgerWallet } from '../wallet/ledger-wallet.ts';
import type { Wallet, WalletOwner } from '../wallet/wallet.ts';
import type { BillingStore } from './billing-store.ts';
import type { Metering } from './metering.ts';

/**
 * Billing's part of GDPR/CCPA access and erasure (a PersonalDataHolder for the privacy service).
 *
 * Export: the user's billed sessions (terms, final cost), every charge, and the wallet: balance and ledger
 * entries (with the embedded ledger; the NexCoin service answers for its own books over HTTP).
 * Erasure (after the privacy service has ended the user's sessions): their last periods are charged first,
 * then billing's rows and the embedded ledger's subject name the pseudonym instead of the user. Nothing is
 * deleted: money stays complete, as accounting law requires, and reconciliation still matches by pseudonym.
 */
export class BillingPersonalData implements PersonalDataHolder {
  readonly name = 'billing';

  constructor(private readonly deps: { store: BillingStore; wallet: Wallet; metering: Metering }) {}

  async exportUser(subject: WalletOwner): Promise<unknown> {
    const { store, wallet } = this.deps;
    const sessions = await store.listSessions(subject);
    const charges = await store.listCharges(subject);
    const ledger =
      wallet instanceof LedgerWallet
        ? { heldBy: 'embedded-ledger', ...(await wallet.exportOwner(subject)) }
        : {
            heldBy: 'nexcoin-wallet-service',
            balance: await wallet.balance(subject).catch(() => null),
            entries: await wallet.listEntries(subject).catch(() => []),
          };
    return {
      sessions: sessions.map((s) => ({
        sessionId: s.sessionId,
        terms: s.terms,
        registeredAt: s.registeredAt,
        closedAt: s.closedAt,
        finalCostMicroNexCoin: s.finalCost,
      })),
      charges: charges.map((c) => ({
        sessionId: c.sessionId,
        period: c.period,
        kind: c.kind,
        amountMicroNexCoin: c.amount,
        periodStart: c.periodStart,
        status: c.status,
        chargedAt: c.chargedAt,
      })),
      wallet: ledger,
    };
  }

  async eraseUser(subject: WalletOwner, pseudonym: string): Promise<Record<string, unknown>> {
    const { store, wallet, metering } = this.deps;
    // The sessions were ended just before: charge their last periods under the user's own wallet first.
    for (const s of await store.listSessions(subject)) {
      if (s.closedAt === null) await metering.meterSession(s.sessionId);
    }
    const rows = await store.pseudonymise(subject, pseudonym);
    const ledger =
      wallet instanceof LedgerWallet
        ? await wallet.eraseOwner(subject, pseudonym)
        : { note: 'the NexCoin wallet service keeps its own books and handles erasure for them' };
    return { billingSessionsPseudonymised: rows.sessions, chargesPseudonymised: rows.charges, ...ledger };
  }
}
