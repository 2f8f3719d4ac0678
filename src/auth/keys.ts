/** Constant-time checks of the server key (Basic auth) and the http key. */
import { timingSafeEqual } from 'node:crypto';
import { unauthenticated } from '../errors.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Checks `Authorization: Basic base64(serverKey:)` as Nakama clients send it. */
export function checkServerKey(header: string | undefined, serverKey: string): void {
  if (!header) throw unauthenticated('Server key required');
  const [scheme, value] = header.split(' ', 2);
  if (scheme?.toLowerCase() !== 'basic' || !value) throw unauthenticated('Server key invalid');
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  const username = colon >= 0 ? decoded.slice(0, colon) : decoded;
  if (!same(username, serverKey)) throw unauthenticated('Server key invalid');
}

export function checkHttpKey(given: string | undefined, httpKey: string): void {
  if (!given) throw unauthenticated('HTTP key required');
  if (!same(given, httpKey)) throw unauthenticated('HTTP key invalid');
}

/** The token of an `Authorization: Bearer …` header, if any. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const [scheme, value] = header.split(' ', 2);
  return scheme?.toLowerCase() === 'bearer' && value ? value : undefined;
}
