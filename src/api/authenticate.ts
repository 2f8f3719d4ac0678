/** Authenticate, refresh and logout endpoints (Nakama REST v2). */
import { z } from 'zod';
import type { LoginLimiter } from '../auth/login-limiter.js';
import type { SessionService } from '../auth/sessions.js';
import { invalid } from '../errors.js';
import * as auth from '../services/authenticate.js';
import type { PasswordHasher } from '../services/ports.js';
import * as v from '../services/validation.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qBool, qString } from './schema.js';
import { wireSession } from './wire.js';

export interface AuthenticateDeps {
  sessions: SessionService;
  hasher: PasswordHasher;
  limiter: LoginLimiter;
}

const creation = {
  create: qBool.optional(),
  username: qString.pipe(v.username).optional(),
};
const account = <S extends z.ZodRawShape>(shape: S) => z.object({ ...shape, vars: v.vars.optional() });

export function authenticateEndpoints({ sessions, hasher, limiter }: AuthenticateDeps): Endpoint[] {
  return [
    endpoint({
      operation: 'AuthenticateDevice',
      method: 'POST',
      path: '/v2/account/authenticate/device',
      auth: 'server_key',
      body: 'account',
      request: z.object({ account: account({ id: v.deviceId }), ...creation }),
      async handler(req, ctx) {
        const { user, created } = await auth.authenticateDevice(ctx.em, req.account.id, req.create ?? true, req.username);
        return wireSession(sessions.issue(user, req.account.vars), created);
      },
    }),
    endpoint({
      operation: 'AuthenticateCustom',
      method: 'POST',
      path: '/v2/account/authenticate/custom',
      auth: 'server_key',
      body: 'account',
      request: z.object({ account: account({ id: v.customId }), ...creation }),
      async handler(req, ctx) {
        const { user, created } = await auth.authenticateCustom(ctx.em, req.account.id, req.create ?? true, req.username);
        return wireSession(sessions.issue(user, req.account.vars), created);
      },
    }),
    endpoint({
      operation: 'AuthenticateEmail',
      method: 'POST',
      path: '/v2/account/authenticate/email',
      auth: 'server_key',
      body: 'account',
      request: z.object({
        account: account({ email: z.union([z.literal(''), v.email]).optional(), password: v.password }),
        ...creation,
      }),
      async handler(req, ctx) {
        const { email, password, vars } = req.account;
        let result: auth.Authenticated;
        if (email) {
          result = await limiter.guard(ctx.ip, `email:${email.toLowerCase()}`, () =>
            auth.authenticateEmail(ctx.em, hasher, email, password, req.create ?? true, req.username),
          );
        } else if (req.username) {
          // No email: a login with username and password (Nakama does the same).
          const username = req.username;
          result = await limiter.guard(ctx.ip, `username:${username}`, () => auth.authenticateUsername(ctx.em, hasher, username, password));
        } else throw invalid('Email address or username is required.');
        return wireSession(sessions.issue(result.user, vars), result.created);
      },
    }),
    endpoint({
      operation: 'SessionRefresh',
      method: 'POST',
      path: '/v2/account/session/refresh',
      auth: 'server_key',
      body: '*',
      request: z.object({ token: z.string().min(1, 'Refresh token is required.'), vars: v.vars.optional() }),
      async handler(req, ctx) {
        return wireSession(await sessions.refresh(ctx.em, req.token, req.vars), false);
      },
    }),
    endpoint({
      operation: 'SessionLogout',
      method: 'POST',
      path: '/v2/session/logout',
      auth: 'session',
      body: '*',
      request: z.object({ token: z.string().optional(), refresh_token: z.string().optional() }),
      async handler(req, ctx) {
        const session = ctx.session!;
        if (!req.token && !req.refresh_token) {
          await sessions.revokeUser(session.userId);
          return {};
        }
        await sessions.logout(session.claims, req.token, req.refresh_token);
        return {};
      },
    }),
  ];
}
