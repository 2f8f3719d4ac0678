/** `nk` functions for storage, wallets and `multiUpdate` (Nakama's names and shapes). */
import { invalid } from '../errors.js';
import * as accounts from '../services/accounts.js';
import type { Em } from '../services/db.js';
import * as storage from '../services/storage.js';
import { inTransaction } from '../services/tx.js';
import * as v from '../services/validation.js';
import * as wallets from '../services/wallets.js';

/** A wallet as designer code sees it: numbers (int64 values beyond 2^53 come as strings). */
export type RuntimeWallet = Record<string, number | string>;

export function runtimeWallet(w: Record<string, bigint>): RuntimeWallet {
  const out: RuntimeWallet = {};
  for (const [k, x] of Object.entries(w))
    out[k] = x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x.toString();
  return out;
}

export interface RuntimeStorageObject {
  collection: string;
  key: string;
  userId: string;
  value: Record<string, unknown>;
  version: string;
  permissionRead: number;
  permissionWrite: number;
  createTime: number;
  updateTime: number;
}

export interface StorageWriteRequest {
  collection: string;
  key: string;
  userId?: string;
  value: Record<string, unknown>;
  version?: string;
  permissionRead?: storage.ReadPermission;
  permissionWrite?: storage.WritePermission;
}

export interface RuntimeWalletUpdate {
  userId: string;
  changeset: Record<string, wallets.Amount>;
  metadata?: Record<string, unknown>;
}

export interface RuntimeAccountUpdate {
  userId: string;
  username?: string;
  displayName?: string;
  timezone?: string;
  location?: string;
  langTag?: string;
  avatarUrl?: string;
  metadata?: Record<string, unknown>;
}

const seconds = (d: Date) => Math.floor(d.getTime() / 1000);
const uuid = (id: string | undefined) => {
  if (id !== undefined && id !== '' && !v.uuid.safeParse(id).success) throw invalid(`Invalid user ID '${id}'.`);
  return id || undefined;
};

function runtimeObject(o: storage.StorageObject): RuntimeStorageObject {
  return {
    collection: o.collection,
    key: o.key,
    userId: o.userId,
    value: JSON.parse(o.value) as Record<string, unknown>,
    version: o.version,
    permissionRead: o.permissionRead,
    permissionWrite: o.permissionWrite,
    createTime: seconds(o.createTime),
    updateTime: seconds(o.updateTime),
  };
}

const toWrite = (w: StorageWriteRequest): storage.StorageWrite => ({
  collection: w.collection,
  key: w.key,
  value: w.value,
  ...(uuid(w.userId) ? { userId: w.userId } : {}),
  ...(w.version !== undefined ? { version: w.version } : {}),
  ...(w.permissionRead !== undefined ? { permissionRead: w.permissionRead } : {}),
  ...(w.permissionWrite !== undefined ? { permissionWrite: w.permissionWrite } : {}),
});

const toWalletUpdate = (u: RuntimeWalletUpdate): wallets.WalletUpdate => {
  if (!v.uuid.safeParse(u.userId).success) throw invalid(`Invalid user ID '${u.userId}'.`);
  return { userId: u.userId, changeset: u.changeset, ...(u.metadata ? { metadata: u.metadata } : {}) };
};

const walletResult = (r: wallets.WalletUpdateResult) => ({
  userId: r.userId,
  updated: runtimeWallet(r.updated),
  previous: runtimeWallet(r.previous),
});

const ledgerItem = (i: wallets.LedgerItem) => ({
  id: i.id,
  userId: i.userId,
  changeset: runtimeWallet(i.changeset),
  metadata: i.metadata,
  createTime: seconds(i.createTime),
  updateTime: seconds(i.updateTime),
});

export function storageNk(em: () => Em) {
  return {
    async storageRead(keys: { collection: string; key: string; userId?: string }[]): Promise<RuntimeStorageObject[]> {
      const ids = keys.map((k) => ({ collection: k.collection, key: k.key, ...(uuid(k.userId) ? { userId: k.userId! } : {}) }));
      return (await storage.readObjects(em(), 'server', ids)).map(runtimeObject);
    },
    async storageWrite(objects: StorageWriteRequest[]) {
      const acks = await storage.writeObjects(em(), 'server', objects.map(toWrite));
      return acks.map((a) => ({ collection: a.collection, key: a.key, userId: a.userId, version: a.version }));
    },
    async storageDelete(keys: { collection: string; key: string; userId?: string; version?: string }[]): Promise<void> {
      await storage.deleteObjects(
        em(),
        'server',
        keys.map((k) => ({
          collection: k.collection,
          key: k.key,
          ...(uuid(k.userId) ? { userId: k.userId! } : {}),
          ...(k.version ? { version: k.version } : {}),
        })),
      );
    },
    async storageList(userId: string | null | undefined, collection: string, limit = 100, cursor?: string) {
      const page = await storage.listObjects(em(), 'server', {
        collection,
        ...(uuid(userId ?? undefined) ? { userId: userId! } : {}),
        limit,
        ...(cursor ? { cursor } : {}),
      });
      return { objects: page.objects.map(runtimeObject), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },

    async walletUpdate(
      userId: string,
      changeset: Record<string, wallets.Amount>,
      metadata?: Record<string, unknown>,
      updateLedger = false,
    ) {
      const [r] = await wallets.updateWallets(
        em(),
        [toWalletUpdate({ userId, changeset, ...(metadata ? { metadata } : {}) })],
        updateLedger,
      );
      const { updated, previous } = walletResult(r!);
      return { updated, previous };
    },
    async walletsUpdate(updates: RuntimeWalletUpdate[], updateLedger = false) {
      return (await wallets.updateWallets(em(), updates.map(toWalletUpdate), updateLedger)).map(walletResult);
    },
    async walletLedgerList(userId: string, limit = 100, cursor?: string) {
      if (!v.uuid.safeParse(userId).success) throw invalid(`Invalid user ID '${userId}'.`);
      const page = await wallets.listLedger(em(), userId, limit, cursor);
      return { items: page.items.map(ledgerItem), ...(page.cursor ? { cursor: page.cursor } : {}) };
    },
    async walletLedgerUpdate(itemId: string, metadata: Record<string, unknown>) {
      if (!v.uuid.safeParse(itemId).success) throw invalid(`Invalid ledger item ID '${itemId}'.`);
      return ledgerItem(await wallets.updateLedgerItem(em(), itemId, metadata));
    },

    /** Account updates, storage writes and deletes, and wallet updates in one transaction: all or nothing. */
    async multiUpdate(
      accountUpdates: RuntimeAccountUpdate[] | null,
      storageWrites: StorageWriteRequest[] | null,
      storageDeletes: { collection: string; key: string; userId?: string; version?: string }[] | null,
      walletUpdates: RuntimeWalletUpdate[] | null,
      updateLedger = false,
    ) {
      return inTransaction(em(), async (tx) => {
        for (const a of accountUpdates ?? []) {
          if (!v.uuid.safeParse(a.userId).success) throw invalid(`Invalid user ID '${a.userId}'.`);
          const { userId, ...fields } = a;
          await accounts.updateAccount(tx, userId, fields);
        }
        const acks = await storage.writeObjects(tx, 'server', (storageWrites ?? []).map(toWrite));
        await storage.deleteObjects(
          tx,
          'server',
          (storageDeletes ?? []).map((k) => ({
            collection: k.collection,
            key: k.key,
            ...(uuid(k.userId) ? { userId: k.userId! } : {}),
            ...(k.version ? { version: k.version } : {}),
          })),
        );
        const results = await wallets.updateWallets(tx, (walletUpdates ?? []).map(toWalletUpdate), updateLedger);
        return {
          storageWriteAcks: acks.map((x) => ({ collection: x.collection, key: x.key, userId: x.userId, version: x.version })),
          walletUpdateAcks: results.map(walletResult),
        };
      });
    },
  };
}
