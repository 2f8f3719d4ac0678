import { Migration } from '@mikro-orm/migrations';

/** Storage objects and the wallet ledger. */
export class Migration20261122010000Storage extends Migration {
  override up(): void {
    this.addSql(`
      create table storage (
        collection varchar(128) not null,
        key varchar(128) not null,
        user_id uuid not null,
        value jsonb not null,
        version varchar(32) not null,
        read smallint not null default 1 check (read between 0 and 2),
        write smallint not null default 1 check (write between 0 and 1),
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now(),
        primary key (collection, key, user_id)
      )`);
    // Listing one user's objects in a collection, in key order.
    this.addSql(`create index storage_user_list on storage (collection, user_id, key)`);
    // Listing everyone's public objects in a collection.
    this.addSql(`create index storage_public_list on storage (collection, key, user_id) where read = 2`);
    // Deleting an account's objects.
    this.addSql(`create index storage_user_id on storage (user_id)`);
    this.addSql(`
      create table wallet_ledger (
        id uuid primary key,
        user_id uuid not null,
        changeset jsonb not null,
        metadata jsonb not null default '{}',
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now()
      )`);
    this.addSql(`create index wallet_ledger_user_list on wallet_ledger (user_id, create_time desc, id desc)`);
  }

  override down(): void {
    this.addSql('drop table if exists wallet_ledger');
    this.addSql('drop table if exists storage');
  }
}
