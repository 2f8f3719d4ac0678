/** Assertions on Nakama's wire format shared by the HTTP suites. */
import assert from 'node:assert/strict';
import { httpStatusOf } from '../../src/errors.js';

/** The claims Tavern puts in a session or refresh token. */
export interface Claims {
  tid: string;
  uid: string;
  usn: string;
  vrs?: Record<string, string>;
  exp: number;
  iat: number;
}

/** Decodes a JWT's payload without checking its signature (as clients do). */
export function decodeJwt(token: string): Claims {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token}`);
  return JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as Claims;
}

/** Asserts Nakama's error body `{error, code, message}` and the HTTP status its gRPC code maps to. */
export function assertError(res: { status: number; body: any }, status: number, code?: number, message?: string | RegExp): void {
  const where = `${res.status} ${JSON.stringify(res.body)}`;
  assert.equal(res.status, status, where);
  assertErrorShape(res);
  if (code !== undefined) assert.equal(res.body.code, code, where);
  if (typeof message === 'string') assert.equal(res.body.message, message, where);
  else if (message) assert.match(res.body.message, message, where);
}

/** Asserts only the shape: exactly `error`, `code`, `message`, and a status that matches the code. */
export function assertErrorShape(res: { status: number; body: any }): void {
  const where = `${res.status} ${JSON.stringify(res.body)}`;
  assert.equal(typeof res.body, 'object', where);
  assert.deepEqual(Object.keys(res.body).sort(), ['code', 'error', 'message'], where);
  assert.equal(typeof res.body.code, 'number', where);
  assert.ok(Number.isInteger(res.body.code) && res.body.code > 0, where);
  assert.equal(typeof res.body.message, 'string', where);
  assert.ok(res.body.message.length > 0, where);
  assert.equal(res.body.error, res.body.message, where);
  assert.equal(res.status, httpStatusOf(res.body.code), where);
}

/** An RFC 3339 timestamp as protobuf's JSON mapping writes it. */
export const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;

/** A unique suffix for ids and names within one run. */
export function uniq(prefix = ''): string {
  return `${prefix}${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}
