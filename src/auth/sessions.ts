/** Issuing, refreshing and ending sessions (Nakama's SessionRefresh and SessionLogout). */
import type { Em } from '../services/db.js';
import { getEnabledUser } from '../services/authenticate.js';
import { unauthenticated } from '../errors.js';
import type { RevocationStore } from './revocations.js';
import type { TokenClaims, TokenPair, TokenSigner } from './tokens.js';

export class SessionService {
  constructor(
    private readonly signer: TokenSigner,
    private readonly revocations: RevocationStore,
    private readonly refreshTokenExpirySec: number,
  ) {}

  issue(user: { id: string; username: string }, vars?: Record<string, string>): TokenPair {
    return this.signer.issue(user, vars);
  }

  /** A session with a custom lifetime (server code's `authenticateTokenGenerate`). */
  issueWithExpiry(user: { id: string; username: string }, vars?: Record<string, string>, expirySec?: number): TokenPair {
    return this.signer.issue(user, vars, expirySec);
  }

  /**
   * Exchanges a refresh token for a new session. The old refresh token is spent (rotation): of two
   * concurrent refreshes with it exactly one succeeds. The new session has a new id, so its tokens
   * differ from the old ones even within the same second; the user's current username is used.
   */
  async refresh(em: Em, refreshToken: string, vars?: Record<string, string>): Promise<TokenPair> {
    const claims = this.signer.verifyRefresh(refreshToken);
    if (this.revocations.isRefreshRevoked(claims)) throw unauthenticated('Refresh token invalid or expired.');
    const user = await getEnabledUser(em, claims.uid).catch(() => {
      throw unauthenticated('Refresh token invalid or expired.');
    });
    if (!(await this.revocations.spendRefresh(claims.tid, claims.exp))) throw unauthenticated('Refresh token invalid or expired.');
    // An empty map is "not given" on the wire (nakama-js always sends `vars: {}`): keep the session's vars.
    return this.signer.issue(user, vars && Object.keys(vars).length > 0 ? vars : claims.vrs);
  }

  /**
   * Ends the caller's session and any other session of the same user named by `token` or
   * `refreshToken`: their tokens stop working everywhere. Tokens of other users are ignored.
   */
  logout(caller: TokenClaims, token?: string, refreshToken?: string): Promise<void> {
    return this.logoutTokens(caller.uid, token, refreshToken, caller);
  }

  /** Revokes the sessions named by the tokens (and `also`), when they belong to `userId`. */
  async logoutTokens(userId: string, token?: string, refreshToken?: string, also?: TokenClaims): Promise<void> {
    const tids = new Set<string>(also ? [also.tid] : []);
    const add = (verify: () => TokenClaims) => {
      try {
        const c = verify();
        if (c.uid === userId) tids.add(c.tid);
      } catch {
        // An invalid or expired token has nothing left to revoke.
      }
    };
    if (token) add(() => this.signer.verifySession(token));
    if (refreshToken) add(() => this.signer.verifyRefresh(refreshToken));
    // Keep each row as long as the longest token of that session could live.
    const until = Math.floor(Date.now() / 1000) + this.refreshTokenExpirySec;
    await Promise.all([...tids].map((tid) => this.revocations.revokeSession(tid, until)));
  }

  /** Revokes every session of a user (account deleted or banned). */
  revokeUser(userId: string): Promise<void> {
    return this.revocations.revokeUser(userId, this.refreshTokenExpirySec);
  }
}
