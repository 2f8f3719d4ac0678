/**
 * Nakama's input limits as zod schemas (shared/reference/limits.md). The API builds its request
 * schemas from these, and services re-check with them when called from server code.
 */
import { z } from 'zod';

const noControl = (s: string) => !/[\p{Cc}]/u.test(s);
/** PostgreSQL's text cannot hold U+0000: refuse it up front rather than fail in the database. */
const noNul = (s: string) => !s.includes('\u0000');
const byteLength = (s: string) => Buffer.byteLength(s, 'utf8');
const bytes = (min: number, max: number, what: string) =>
  z.string().refine((s) => byteLength(s) >= min && byteLength(s) <= max, `${what} must be ${min}-${max} bytes.`);

export const deviceId = bytes(10, 128, 'Device ID').refine(noControl, 'Device ID invalid, no spaces or control characters allowed.');
export const customId = bytes(6, 128, 'Custom ID').refine(noControl, 'Custom ID invalid, no spaces or control characters allowed.');
export const email = bytes(10, 255, 'Invalid email address,').refine(
  (s) => noControl(s) && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(s),
  'Invalid email address format.',
);
export const password = z.string().min(8, 'Password must be at least 8 characters long.').max(4096);
export const username = z
  .string()
  .min(1, 'Username must not be empty.')
  .max(128, 'Username must be at most 128 characters.')
  .refine((s) => noControl(s) && !/\s/.test(s), 'Username invalid, no spaces or control characters allowed.');
export const displayName = z.string().max(255).refine(noControl, 'Display name invalid, no control characters allowed.');
export const avatarUrl = z.string().max(512).refine(noNul, 'Avatar URL must not contain NUL characters.');
export const langTag = z.string().max(18).refine(noNul, 'Language tag must not contain NUL characters.');
export const location = z.string().max(255).refine(noNul, 'Location must not contain NUL characters.');
export const timezone = z.string().max(255).refine(noNul, 'Timezone must not contain NUL characters.');
/** A username to look up: no stored username can hold U+0000, and PostgreSQL would refuse it. */
export const usernameQuery = z.string().refine(noNul, 'Username must not contain NUL characters.');
export const vars = z
  .record(z.string().max(128), z.string().max(4096))
  .refine((v) => Object.keys(v).length <= 64, 'At most 64 session vars.');
export const uuid = z.string().uuid();

/** Throws the first issue of a zod result as a client-safe message. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'Invalid request.';
  const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}

/** A realtime op code: a number, or the decimal string protobuf's JSON gives an int64 (match and party data). */
export const opCode = z
  .union([
    z.number(),
    z
      .string()
      .regex(/^-?\d{1,16}$/, 'op_code must be an integer.')
      .transform(Number),
  ])
  .refine((n) => Number.isSafeInteger(n), 'op_code must be an integer.');

/** Realtime `data` as Nakama's JSON carries bytes: base64 (standard or URL-safe). */
export const base64Data = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'data must be base64.');
