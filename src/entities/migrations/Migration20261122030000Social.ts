import { Migration } from '@mikro-orm/migrations';

/** Friends (user edges), groups (group edges) and notifications, as Nakama models them. */
export class Migration20261122030000Social extends Migration {
  override up(): void {
    // One row per direction: A→B holds A's view of B (0 friend, 1 invite sent, 2 invite received, 3 blocked).
    this.addSql(`
      create table user_edge (
        source_id uuid not null references users (id) on delete cascade,
        destination_id uuid not null references users (id) on delete cascade,
        state smallint not null check (state between 0 and 3),
        position bigint not null,
        metadata jsonb not null default '{}',
        update_time timestamptz not null default now(),
        primary key (source_id, destination_id)
      )`);
    this.addSql(`create index user_edge_list on user_edge (source_id, state, position, destination_id)`);
    this.addSql(`create index user_edge_destination on user_edge (destination_id)`);

    this.addSql(`
      create table groups (
        id uuid primary key,
        creator_id uuid,
        name varchar(255) not null,
        description varchar(255),
        avatar_url varchar(512),
        lang_tag varchar(18) not null default 'en',
        metadata jsonb not null default '{}',
        state smallint not null default 0 check (state between 0 and 1),
        edge_count integer not null default 0 check (edge_count >= 0),
        max_count integer not null default 100 check (max_count >= 1),
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now(),
        disable_time timestamptz,
        constraint groups_name_unique unique (name)
      )`);
    this.addSql(`create index groups_list on groups (lang_tag, edge_count, id)`);
    // Role: 0 superadmin, 1 admin, 2 member, 3 join request, 4 banned.
    this.addSql(`
      create table group_edge (
        group_id uuid not null references groups (id) on delete cascade,
        user_id uuid not null references users (id) on delete cascade,
        state smallint not null check (state between 0 and 4),
        position bigint not null,
        update_time timestamptz not null default now(),
        primary key (group_id, user_id)
      )`);
    this.addSql(`create index group_edge_group_list on group_edge (group_id, state, position, user_id)`);
    this.addSql(`create index group_edge_user_list on group_edge (user_id, state, position, group_id)`);

    this.addSql(`
      create table notification (
        id uuid primary key,
        user_id uuid not null references users (id) on delete cascade,
        subject varchar(255) not null,
        content jsonb not null default '{}',
        code integer not null,
        sender_id uuid,
        create_time timestamptz not null default now()
      )`);
    this.addSql(`create index notification_user_list on notification (user_id, create_time, id)`);
  }

  override down(): void {
    this.addSql('drop table if exists notification');
    this.addSql('drop table if exists group_edge');
    this.addSql('drop table if exists groups');
    this.addSql('drop table if exists user_edge');
  }
}
