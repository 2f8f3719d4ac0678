import { defineEntity, p } from '@mikro-orm/postgresql';

/** One change to a user's wallet, with the metadata the server gave it (Nakama's `wallet_ledger`). */
export const WalletLedgerSchema = defineEntity({
  name: 'WalletLedger',
  tableName: 'wallet_ledger',
  properties: {
    id: p.uuid().primary(),
    userId: p.uuid(),
    changeset: p.json<Record<string, unknown>>(),
    metadata: p.json<Record<string, unknown>>(),
    createTime: p.datetime().defaultRaw('now()'),
    updateTime: p.datetime().defaultRaw('now()'),
  },
});
export class WalletLedger extends WalletLedgerSchema.class {}
WalletLedgerSchema.setClass(WalletLedger);
