/**
 * Limits failed password logins per account and per IP, checked *before* any hash is computed, so
 * a burst of guesses costs no CPU (Nakama's console: 5 failures per account per minute, 10 per IP
 * per 10 minutes). Built on rate-limiter-flexible, whose Redis store can replace the memory one.
 */
import { RateLimiterMemory, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AppError, Code } from '../errors.js';

export interface LoginLimits {
  loginMaxFailuresPerAccount: number;
  loginAccountWindowSec: number;
  loginMaxFailuresPerIp: number;
  loginIpWindowSec: number;
}

export class LoginLimiter {
  private readonly byAccount: RateLimiterAbstract;
  private readonly byIp: RateLimiterAbstract;

  constructor(private readonly limits: LoginLimits) {
    this.byAccount = new RateLimiterMemory({
      points: limits.loginMaxFailuresPerAccount,
      duration: limits.loginAccountWindowSec,
      keyPrefix: 'login-acct',
    });
    this.byIp = new RateLimiterMemory({ points: limits.loginMaxFailuresPerIp, duration: limits.loginIpWindowSec, keyPrefix: 'login-ip' });
  }

  /**
   * Runs `attempt` unless the account or the IP is locked out. A thrown error with code 16
   * (wrong password) or 5 (no such account) counts as a failure; success clears the account's count.
   */
  async guard<T>(ip: string, account: string, attempt: () => Promise<T>): Promise<T> {
    const [a, i] = await Promise.all([this.byAccount.get(account), this.byIp.get(ip)]);
    if (
      (a?.consumedPoints ?? 0) >= this.limits.loginMaxFailuresPerAccount ||
      (i?.consumedPoints ?? 0) >= this.limits.loginMaxFailuresPerIp
    ) {
      throw new AppError(Code.RESOURCE_EXHAUSTED, 'Too many failed login attempts, try again later.');
    }
    try {
      const result = await attempt();
      await this.byAccount.delete(account);
      return result;
    } catch (err) {
      if (err instanceof AppError && (err.code === Code.UNAUTHENTICATED || err.code === Code.NOT_FOUND)) {
        await Promise.all([err.code === Code.UNAUTHENTICATED ? this.byAccount.penalty(account, 1) : undefined, this.byIp.penalty(ip, 1)]);
      }
      throw err;
    }
  }
}
