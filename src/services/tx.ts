/**
 * Transactions with retries: a serialization failure (40001) or deadlock (40P01) reruns the whole
 * unit of work, a few times with jitter, as PostgreSQL recommends.
 */
import type { Em } from './db.js';

const RETRYABLE = new Set(['40001', '40P01']);

function retryable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE.has(code)) return true;
  }
  return false;
}

/** Runs `fn` in a transaction (a savepoint when `em` is already in one), retrying transient conflicts. */
export async function inTransaction<T>(em: Em, fn: (tx: Em) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await em.transactional((tx) => fn(tx as Em));
    } catch (err) {
      if (attempt >= attempts || !retryable(err) || em.isInTransaction()) throw err;
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}
