/**
 * Raw SQL with bind parameters through the entity manager's Kysely instance, so queries join the
 * current transaction; and translation of driver errors into `AppError`s.
 */
import type { EntityManager } from '@mikro-orm/postgresql';
import { sql, type RawBuilder } from 'kysely';
import { AppError, Code } from '../errors.js';

export { sql };
export type Em = EntityManager;

/** A timestamp column as a Date (MikroORM's pool returns timestamps as strings). */
export function toDate(v: Date | string): Date;
export function toDate(v: Date | string | null | undefined): Date | undefined;
export function toDate(v: Date | string | null | undefined): Date | undefined {
  if (v === null || v === undefined) return undefined;
  return v instanceof Date ? v : new Date(v);
}

/** Runs a query and returns its rows. */
export async function query<T>(em: Em, q: RawBuilder<T>): Promise<T[]> {
  return (await q.execute(em.getKysely())).rows;
}

/** Runs a query and returns the first row, if any. */
export async function queryOne<T>(em: Em, q: RawBuilder<T>): Promise<T | undefined> {
  return (await q.execute(em.getKysely())).rows[0];
}

/** Runs a statement and returns how many rows it changed. */
export async function run(em: Em, q: RawBuilder<unknown>): Promise<number> {
  return Number((await q.execute(em.getKysely())).numAffectedRows ?? 0n);
}

/** Runs `fn` in a transaction on a fork of `em`. */
export function transaction<T>(em: Em, fn: (tx: Em) => Promise<T>): Promise<T> {
  return em.transactional((tx) => fn(tx as Em));
}

interface PgError {
  code?: string;
  constraint?: string;
  message?: string;
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'ETIMEDOUT',
  'EPIPE',
  'ENOENT',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

/** Whether an error means the database cannot be reached right now. */
export function isConnectionError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const pg = e as PgError;
    if (pg.code && (CONNECTION_CODES.has(pg.code) || pg.code.startsWith('08'))) return true;
    const msg = pg.message ?? '';
    if (
      /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|not queryable/i.test(
        msg,
      )
    )
      return true;
  }
  return false;
}

/** The name of the unique constraint an error violated, if it is a unique violation. */
export function uniqueViolation(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const pg = e as PgError;
    if (pg.code === '23505') return pg.constraint ?? '';
  }
  return undefined;
}

/** Maps driver errors that mean something to clients; anything else is returned unchanged. */
export function translateDbError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (isConnectionError(err)) return new AppError(Code.UNAVAILABLE, 'Database unavailable, try again later.', { cause: err });
  return err;
}
