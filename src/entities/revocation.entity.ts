import { defineEntity, p } from '@mikro-orm/postgresql';

/** What a revocation row stands for. */
export const RevocationKind = {
  /** Session and refresh tokens of one session id (`tid`): logout. */
  SESSION: 1,
  /** Only the refresh token of a session id: it was exchanged by a refresh. */
  REFRESH: 2,
  /** Every token of a user issued before `not_before`: account deleted or banned. */
  USER: 3,
} as const;
export type RevocationKind = (typeof RevocationKind)[keyof typeof RevocationKind];

/**
 * A revoked token family. Rows expire with the tokens they revoke; every process keeps the live
 * rows in memory and learns of new ones through Presence.
 */
export const RevocationSchema = defineEntity({
  name: 'Revocation',
  tableName: 'token_revocation',
  properties: {
    id: p.uuid().primary(),
    kind: p.smallint().primary(),
    notBefore: p.datetime().nullable(),
    expiresAt: p.datetime().index(),
  },
});
export class Revocation extends RevocationSchema.class {}
RevocationSchema.setClass(Revocation);
