/** Every entity and migration, for the ORM configuration. */
import { DeviceSchema } from './device.entity.js';
import { LeaderboardEventSchema, LeaderboardRecordSchema, LeaderboardSchema } from './leaderboard.entity.js';
import { Migration20261122000000Initial } from './migrations/Migration20261122000000Initial.js';
import { Migration20261122010000Storage } from './migrations/Migration20261122010000Storage.js';
import { Migration20261122020000Leaderboards } from './migrations/Migration20261122020000Leaderboards.js';
import { Migration20261122030000Social } from './migrations/Migration20261122030000Social.js';
import { Migration20261122040000Chat } from './migrations/Migration20261122040000Chat.js';
import { MessageSchema } from './message.entity.js';
import { RevocationSchema } from './revocation.entity.js';
import { GroupEdgeSchema, GroupSchema, NotificationSchema, UserEdgeSchema } from './social.entity.js';
import { StorageObjectSchema } from './storage.entity.js';
import { UserSchema } from './user.entity.js';
import { WalletLedgerSchema } from './wallet-ledger.entity.js';

export { Device } from './device.entity.js';
export { Revocation, RevocationKind } from './revocation.entity.js';
export { User } from './user.entity.js';

export const entities = [
  UserSchema,
  DeviceSchema,
  RevocationSchema,
  StorageObjectSchema,
  WalletLedgerSchema,
  LeaderboardSchema,
  LeaderboardRecordSchema,
  LeaderboardEventSchema,
  UserEdgeSchema,
  GroupSchema,
  GroupEdgeSchema,
  NotificationSchema,
  MessageSchema,
];
export const migrations = [
  { name: 'Migration20261122000000Initial', class: Migration20261122000000Initial },
  { name: 'Migration20261122010000Storage', class: Migration20261122010000Storage },
  { name: 'Migration20261122020000Leaderboards', class: Migration20261122020000Leaderboards },
  { name: 'Migration20261122030000Social', class: Migration20261122030000Social },
  { name: 'Migration20261122040000Chat', class: Migration20261122040000Chat },
];
