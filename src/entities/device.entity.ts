import { defineEntity, p } from '@mikro-orm/postgresql';
import { User } from './user.entity.js';

/** A device id linked to an account (Nakama's `user_device`). */
export const DeviceSchema = defineEntity({
  name: 'Device',
  tableName: 'user_device',
  properties: {
    id: p.string().length(128).primary(),
    user: () => p.manyToOne(User).deleteRule('cascade').index(),
  },
});
export class Device extends DeviceSchema.class {}
DeviceSchema.setClass(Device);
