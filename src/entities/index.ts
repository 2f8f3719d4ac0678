/** Every entity and migration, for the ORM configuration. */
import { DeviceSchema } from './device.entity.js';
import { Migration20261122000000Initial } from './migrations/Migration20261122000000Initial.js';
import { Migration20261122010000Storage } from './migrations/Migration20261122010000Storage.js';
import { RevocationSchema } from './revocation.entity.js';
import { StorageObjectSchema } from './storage.entity.js';
import { UserSchema } from './user.entity.js';
import { WalletLedgerSchema } from './wallet-ledger.entity.js';

export { Device } from './device.entity.js';
export { Revocation, RevocationKind } from './revocation.entity.js';
export { User } from './user.entity.js';

export const entities = [UserSchema, DeviceSchema, RevocationSchema, StorageObjectSchema, WalletLedgerSchema];
export const migrations = [
  { name: 'Migration20261122000000Initial', class: Migration20261122000000Initial },
  { name: 'Migration20261122010000Storage', class: Migration20261122010000Storage },
];
