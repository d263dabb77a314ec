import type { ComponentMigration } from '../sql/sql-db.ts';

/**
 * Schema of the embedded NexCoin ledger, versioned on its own (component `ledger` in component_migrations)
 * rather than as Canon Memory migration 3: the ledger is a Wallet adapter that may live in Canon's database
 * or elsewhere, Canon's list is shared by several modules being built at once (a second "version 3" from
 * another change would silently skip one of them), and the ledger can evolve without touching Canon's
 * frozen migrations. A released migration is never edited: a change is a new version.
 *
 * Double entry: every transaction has postings that sum to zero. A user's wallet is an account of kind
 * `wallet` (the only kind whose balance may not go negative, checked by the database); the 80/20 shares go
 * to `distribution` accounts; credits (opening grants, top-ups) come from the `issuance` account.
 * Wallet balances are kept on the account row (updated in the posting's transaction, which also serialises
 * concurrent charges to one wallet); other accounts' balances are the sums of their postings, so no hot row
 * is written by every charge. Transactions and postings are append-only.
 *
 * No user id is written into the append-only tables (accounting law keeps them; GDPR erases people): a wallet
 * belongs to a *subject reference* (`subj_…`, random), and the mutable `ledger_subjects` maps it to the
 * tenant's user. Erasure replaces the user id there by the user's pseudonym; the books stay complete.
 */
export const LEDGER_MIGRATIONS: readonly ComponentMigration[] = [
  {
    version: 1,
    sqlite: `
      CREATE TABLE ledger_subjects (
        subject_ref TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        erased_at TEXT,
        UNIQUE (tenant_id, user_id)
      );

      CREATE TABLE ledger_accounts (
        account_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('wallet', 'distribution', 'issuance')),
        subject_ref TEXT UNIQUE REFERENCES ledger_subjects (subject_ref),
        balance INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        CHECK (kind <> 'wallet' OR (balance >= 0 AND subject_ref IS NOT NULL))
      );

      CREATE TABLE ledger_transactions (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        transaction_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL UNIQUE,
        request_hash TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deduct', 'refund', 'credit')),
        account_id TEXT NOT NULL REFERENCES ledger_accounts (account_id),
        tenant_id TEXT NOT NULL,
        subject_ref TEXT NOT NULL REFERENCES ledger_subjects (subject_ref),
        amount INTEGER NOT NULL CHECK (amount > 0),
        description TEXT NOT NULL,
        category TEXT NOT NULL,
        module TEXT NOT NULL,
        metadata TEXT NOT NULL,
        refund_of TEXT REFERENCES ledger_transactions (transaction_id),
        created_at TEXT NOT NULL
      );
      CREATE INDEX ledger_transactions_owner ON ledger_transactions (subject_ref, seq);
      CREATE INDEX ledger_transactions_refunds ON ledger_transactions (refund_of) WHERE refund_of IS NOT NULL;

      CREATE TABLE ledger_postings (
        posting_id INTEGER PRIMARY KEY AUTOINCREMENT,
        transaction_id TEXT NOT NULL REFERENCES ledger_transactions (transaction_id),
        account_id TEXT NOT NULL REFERENCES ledger_accounts (account_id),
        share_id TEXT,
        amount INTEGER NOT NULL
      );
      CREATE INDEX ledger_postings_transaction ON ledger_postings (transaction_id);
      CREATE INDEX ledger_postings_account ON ledger_postings (account_id);

      CREATE TRIGGER ledger_transactions_no_update BEFORE UPDATE ON ledger_transactions
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
      CREATE TRIGGER ledger_transactions_no_delete BEFORE DELETE ON ledger_transactions
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
      CREATE TRIGGER ledger_postings_no_update BEFORE UPDATE ON ledger_postings
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
      CREATE TRIGGER ledger_postings_no_delete BEFORE DELETE ON ledger_postings
        BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only'); END;
    `,
    postgres: `
      CREATE TABLE ledger_subjects (
        subject_ref TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        erased_at TIMESTAMPTZ,
        UNIQUE (tenant_id, user_id)
      );

      CREATE TABLE ledger_accounts (
        account_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('wallet', 'distribution', 'issuance')),
        subject_ref TEXT UNIQUE REFERENCES ledger_subjects (subject_ref),
        balance BIGINT NOT NULL DEFAULT 0,
        created_at TIMESTAMPTZ NOT NULL,
        CHECK (kind <> 'wallet' OR (balance >= 0 AND subject_ref IS NOT NULL))
      );

      CREATE TABLE ledger_transactions (
        seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id TEXT NOT NULL UNIQUE,
        idempotency_key TEXT NOT NULL UNIQUE,
        request_hash TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('deduct', 'refund', 'credit')),
        account_id TEXT NOT NULL REFERENCES ledger_accounts (account_id),
        tenant_id TEXT NOT NULL,
        subject_ref TEXT NOT NULL REFERENCES ledger_subjects (subject_ref),
        amount BIGINT NOT NULL CHECK (amount > 0),
        description TEXT NOT NULL,
        category TEXT NOT NULL,
        module TEXT NOT NULL,
        metadata JSONB NOT NULL,
        refund_of TEXT REFERENCES ledger_transactions (transaction_id),
        created_at TIMESTAMPTZ NOT NULL
      );
      CREATE INDEX ledger_transactions_owner ON ledger_transactions (subject_ref, seq);
      CREATE INDEX ledger_transactions_refunds ON ledger_transactions (refund_of) WHERE refund_of IS NOT NULL;

      CREATE TABLE ledger_postings (
        posting_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        transaction_id TEXT NOT NULL REFERENCES ledger_transactions (transaction_id),
        account_id TEXT NOT NULL REFERENCES ledger_accounts (account_id),
        share_id TEXT,
        amount BIGINT NOT NULL
      );
      CREATE INDEX ledger_postings_transaction ON ledger_postings (transaction_id);
      CREATE INDEX ledger_postings_account ON ledger_postings (account_id);

      CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'ledger entries are append-only' USING ERRCODE = 'integrity_constraint_violation';
        END
      $$;
      CREATE TRIGGER ledger_transactions_append_only BEFORE UPDATE OR DELETE ON ledger_transactions
        FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
      CREATE TRIGGER ledger_postings_append_only BEFORE UPDATE OR DELETE ON ledger_postings
        FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
      CREATE TRIGGER ledger_transactions_no_truncate BEFORE TRUNCATE ON ledger_transactions
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
      CREATE TRIGGER ledger_postings_no_truncate BEFORE TRUNCATE ON ledger_postings
        FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    `,
  },
];
