/** Account endpoints: get, update, delete, link and unlink (Nakama REST v2). */
import { z } from 'zod';
import type { SessionService } from '../auth/sessions.js';
import type { Em } from '../services/db.js';
import * as accounts from '../services/accounts.js';
import type { PasswordHasher } from '../services/ports.js';
import type { RankCache } from '../services/rank-cache.js';
import * as v from '../services/validation.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { wireAccount } from './wire.js';

export interface AccountDeps {
  sessions: SessionService;
  hasher: PasswordHasher;
  /** Deleting an account removes its leaderboard ranks from this cache. */
  leaderboards?: { ranks: RankCache };
}

const device = z.object({ id: v.deviceId, vars: v.vars.optional() });
const custom = z.object({ id: v.customId, vars: v.vars.optional() });
const emailAccount = z.object({ email: v.email, password: v.password, vars: v.vars.optional() });

export function accountEndpoints({ sessions, hasher, leaderboards }: AccountDeps): Endpoint[] {
  const link = <S extends z.ZodType>(
    operation: string,
    path: string,
    request: S,
    fn: (userId: string, req: z.output<S>, em: Em) => Promise<void>,
  ) =>
    endpoint({
      operation,
      method: 'POST',
      path,
      auth: 'session',
      body: '*',
      request,
      async handler(req, ctx) {
        await fn(ctx.session!.userId, req, ctx.em);
        return {};
      },
    });
  return [
    endpoint({
      operation: 'GetAccount',
      method: 'GET',
      path: '/v2/account',
      auth: 'session',
      request: z.object({}),
      async handler(_req, ctx) {
        return wireAccount(await accounts.getAccount(ctx.em, ctx.session!.userId));
      },
    }),
    endpoint({
      operation: 'UpdateAccount',
      method: 'PUT',
      path: '/v2/account',
      auth: 'session',
      body: '*',
      request: z.object({
        username: z.union([z.literal(''), v.username]).optional(),
        display_name: v.displayName.optional(),
        avatar_url: v.avatarUrl.optional(),
        lang_tag: v.langTag.optional(),
        location: v.location.optional(),
        timezone: v.timezone.optional(),
      }),
      async handler(req, ctx) {
        await accounts.updateAccount(ctx.em, ctx.session!.userId, {
          ...(req.username !== undefined ? { username: req.username } : {}),
          ...(req.display_name !== undefined ? { displayName: req.display_name } : {}),
          ...(req.avatar_url !== undefined ? { avatarUrl: req.avatar_url } : {}),
          ...(req.lang_tag !== undefined ? { langTag: req.lang_tag } : {}),
          ...(req.location !== undefined ? { location: req.location } : {}),
          ...(req.timezone !== undefined ? { timezone: req.timezone } : {}),
        });
        return {};
      },
    }),
    endpoint({
      operation: 'DeleteAccount',
      method: 'DELETE',
      path: '/v2/account',
      auth: 'session',
      request: z.object({}),
      async handler(_req, ctx) {
        await accounts.deleteAccount(ctx.em, ctx.session!.userId, leaderboards?.ranks);
        await sessions.revokeUser(ctx.session!.userId);
        return {};
      },
    }),
    link('LinkDevice', '/v2/account/link/device', device, (u, r, em) => accounts.linkDevice(em, u, r.id)),
    link('LinkCustom', '/v2/account/link/custom', custom, (u, r, em) => accounts.linkCustom(em, u, r.id)),
    link('LinkEmail', '/v2/account/link/email', emailAccount, (u, r, em) => accounts.linkEmail(em, hasher, u, r.email, r.password)),
    link('UnlinkDevice', '/v2/account/unlink/device', device, (u, r, em) => accounts.unlinkDevice(em, u, r.id)),
    link('UnlinkCustom', '/v2/account/unlink/custom', custom, (u, r, em) => accounts.unlinkCustom(em, u, r.id)),
    link('UnlinkEmail', '/v2/account/unlink/email', emailAccount.extend({ password: z.string().optional() }), (u, r, em) =>
      accounts.unlinkEmail(em, u, r.email),
    ),
  ];
}
