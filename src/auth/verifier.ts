/**
 * Verifies session tokens for HTTP requests and room joins alike: signature, expiry and
 * revocation. Rooms also re-check stored claims when a client reconnects.
 */
import { unauthenticated } from '../errors.js';
import { bearerToken } from './keys.js';
import type { RevocationStore } from './revocations.js';
import type { MatchTokenClaims, TokenClaims, TokenSigner } from './tokens.js';

/** Who a verified token belongs to. */
export interface VerifiedSession {
  userId: string;
  username: string;
  vars: Readonly<Record<string, string>>;
  /** The session id (`tid`). */
  sessionId: string;
  /** Expiry, seconds since the epoch. */
  expiresAt: number;
  token: string;
  claims: TokenClaims;
}

export class SessionVerifier {
  constructor(
    private readonly signer: TokenSigner,
    private readonly revocations: RevocationStore,
    private readonly now: () => number = Date.now,
  ) {}

  verifyHeader(header: string | undefined): VerifiedSession {
    if (!header) throw unauthenticated('Auth token required');
    const token = bearerToken(header);
    if (!token) throw unauthenticated('Auth token invalid');
    return this.verifyToken(token);
  }

  /** A matchmaker token's claims (signature and expiry checked). */
  verifyMatchToken(token: string): MatchTokenClaims {
    return this.signer.verifyMatchToken(token);
  }

  /** Signs a matchmaker token for one matched user. */
  signMatchToken(matchId: string, userId: string, ttlSec: number): string {
    return this.signer.signMatchToken(matchId, userId, ttlSec);
  }

  verifyToken(token: string): VerifiedSession {
    const claims = this.signer.verifySession(token);
    if (this.revocations.isSessionRevoked(claims)) throw unauthenticated('Auth token invalid');
    return {
      userId: claims.uid,
      username: claims.usn,
      vars: Object.freeze({ ...(claims.vrs ?? {}) }),
      sessionId: claims.tid,
      expiresAt: claims.exp,
      token,
      claims,
    };
  }

  /** Whether already-verified claims are still good (for reconnections, which skip `onAuth`). */
  stillValid(claims: TokenClaims): boolean {
    return claims.exp * 1000 > this.now() && !this.revocations.isSessionRevoked(claims);
  }
}
