import { Migration } from '@mikro-orm/migrations';

/** Users, devices and token revocations. */
export class Migration20261122000000Initial extends Migration {
  override up(): void {
    this.addSql(`
      create table users (
        id uuid primary key,
        username varchar(128) not null,
        display_name varchar(255),
        avatar_url varchar(512),
        lang_tag varchar(18) not null default 'en',
        location varchar(255),
        timezone varchar(255),
        metadata jsonb not null default '{}',
        wallet jsonb not null default '{}',
        email varchar(255),
        password text,
        custom_id varchar(128),
        edge_count integer not null default 0 check (edge_count >= 0),
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now(),
        verify_time timestamptz,
        disable_time timestamptz,
        constraint users_username_unique unique (username),
        constraint users_email_unique unique (email),
        constraint users_custom_id_unique unique (custom_id)
      )`);
    this.addSql(`
      create table user_device (
        id varchar(128) primary key,
        user_id uuid not null references users (id) on delete cascade
      )`);
    this.addSql(`create index user_device_user_id_index on user_device (user_id)`);
    this.addSql(`
      create table token_revocation (
        id uuid not null,
        kind smallint not null,
        not_before timestamptz,
        expires_at timestamptz not null,
        primary key (id, kind)
      )`);
    this.addSql(`create index token_revocation_expires_at_index on token_revocation (expires_at)`);
  }

  override down(): void {
    this.addSql('drop table if exists token_revocation');
    this.addSql('drop table if exists user_device');
    this.addSql('drop table if exists users');
  }
}
