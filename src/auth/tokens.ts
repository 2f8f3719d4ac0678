/**
 * Session and refresh tokens: HS256 JWTs with Nakama's claims (`uid`, `usn`, `vrs`, `exp`) and a
 * session id (`tid`) shared by the pair. Keys are `KeyObject`s: jsonwebtoken verifies ~50× faster
 * with one than with a string secret (STACK-NOTES.md).
 */
import { createHmac, createSecretKey, randomBytes, type KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { unauthenticated } from '../errors.js';

/** The claims of a verified token. */
export interface TokenClaims {
  /** Session id, shared by a session token and its refresh token. */
  tid: string;
  uid: string;
  usn: string;
  vrs?: Record<string, string>;
  /** Expiry and issue time, seconds since the epoch. */
  exp: number;
  iat: number;
}

export interface TokenPair {
  token: string;
  refreshToken: string;
  claims: TokenClaims;
  refreshClaims: TokenClaims;
}

/** A matchmaker token: lets one matched user join the relayed match the matchmaker formed. */
export interface MatchTokenClaims {
  /** The match id. */
  mid: string;
  /** The matched user. */
  uid: string;
  exp: number;
}

export interface TokenSettings {
  sessionKey: string;
  refreshKey: string;
  tokenExpirySec: number;
  refreshTokenExpirySec: number;
}

/** Signs and verifies both kinds of token. Pure apart from the clock. */
export class TokenSigner {
  private readonly sessionKey: KeyObject;
  private readonly refreshKey: KeyObject;
  /** Derived from the session key, so no session token verifies as a match token or the reverse. */
  private readonly matchKey: KeyObject;

  constructor(
    private readonly settings: TokenSettings,
    private readonly now: () => number = Date.now,
  ) {
    this.sessionKey = createSecretKey(Buffer.from(settings.sessionKey, 'utf8'));
    this.refreshKey = createSecretKey(Buffer.from(settings.refreshKey, 'utf8'));
    this.matchKey = createSecretKey(createHmac('sha256', settings.sessionKey).update('tavern matchmaker token').digest());
  }

  /** A token for `match_join` that seats `userId` in match `matchId` (Nakama's matchmaker `token`). */
  signMatchToken(matchId: string, userId: string, ttlSec: number): string {
    const claims: MatchTokenClaims = { mid: matchId, uid: userId, exp: Math.floor(this.now() / 1000) + ttlSec };
    return jwt.sign(claims, this.matchKey, { algorithm: 'HS256', noTimestamp: true });
  }

  verifyMatchToken(token: string): MatchTokenClaims {
    let payload: unknown;
    try {
      payload = jwt.verify(token, this.matchKey, { algorithms: ['HS256'], clockTimestamp: Math.floor(this.now() / 1000) });
    } catch {
      throw unauthenticated('Match token invalid or expired.');
    }
    const c = payload as Partial<MatchTokenClaims>;
    if (typeof c?.mid !== 'string' || typeof c.uid !== 'string' || typeof c.exp !== 'number')
      throw unauthenticated('Match token invalid or expired.');
    return c as MatchTokenClaims;
  }

  /** Issues a new session (fresh `tid`) for a user. */
  issue(user: { id: string; username: string }, vars?: Record<string, string>, expirySec?: number): TokenPair {
    const nowMs = this.now();
    const iat = Math.floor(nowMs / 1000);
    const base = { tid: uuidV7(nowMs), uid: user.id, usn: user.username, ...(vars && Object.keys(vars).length > 0 ? { vrs: vars } : {}) };
    const claims: TokenClaims = { ...base, iat, exp: iat + (expirySec ?? this.settings.tokenExpirySec) };
    const refreshClaims: TokenClaims = { ...base, iat, exp: iat + this.settings.refreshTokenExpirySec };
    return {
      token: jwt.sign(clientSafeJson(claims), this.sessionKey, { algorithm: 'HS256' }),
      refreshToken: jwt.sign(clientSafeJson(refreshClaims), this.refreshKey, { algorithm: 'HS256' }),
      claims,
      refreshClaims,
    };
  }

  verifySession(token: string): TokenClaims {
    return this.verify(token, this.sessionKey, 'Auth token invalid');
  }

  verifyRefresh(token: string): TokenClaims {
    return this.verify(token, this.refreshKey, 'Refresh token invalid or expired.');
  }

  private verify(token: string, key: KeyObject, message: string): TokenClaims {
    let payload: unknown;
    try {
      payload = jwt.verify(token, key, { algorithms: ['HS256'], clockTimestamp: Math.floor(this.now() / 1000) });
    } catch {
      throw unauthenticated(message);
    }
    if (!isClaims(payload)) throw unauthenticated(message);
    return payload;
  }
}

/**
 * The claims as JSON every Nakama client can decode. nakama-js reads a payload with `atob` after
 * deleting each character outside standard base64 (so a base64url `-` or `_` corrupts it) and
 * takes the bytes as Latin-1. Escaping non-ASCII, `>`, `?`, `~` and DEL as `\uXXXX` leaves only
 * ASCII bytes that never encode to `-` or `_`; any JSON parser reads the same claims back.
 */
function clientSafeJson(claims: TokenClaims): string {
  return JSON.stringify(claims).replace(/[>?~\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A version 7 UUID (RFC 9562): its first 48 bits are the issue time in milliseconds. A session id
 * made this way tells, inside the signed token, when the session began to the millisecond, which
 * `iat` (whole seconds, as Nakama's clients expect) cannot.
 */
function uuidV7(ms: number): string {
  const b = randomBytes(16);
  b.writeUIntBE(Math.max(0, Math.floor(ms)), 0, 6);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * When a token's session was issued, in milliseconds since the epoch: from a version 7 `tid`, else
 * the start of its `iat` second (so a comparison with a revocation time errs towards revoking).
 */
export function issuedAtMs(c: TokenClaims): number {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(c.tid)) {
    return parseInt(c.tid.slice(0, 8) + c.tid.slice(9, 13), 16);
  }
  return c.iat * 1000;
}

function isClaims(p: unknown): p is TokenClaims {
  if (typeof p !== 'object' || p === null) return false;
  const c = p as Record<string, unknown>;
  return (
    typeof c.tid === 'string' &&
    typeof c.uid === 'string' &&
    typeof c.usn === 'string' &&
    typeof c.exp === 'number' &&
    typeof c.iat === 'number'
  );
}
