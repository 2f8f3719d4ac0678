import { Migration } from '@mikro-orm/migrations';

/**
 * Leaderboards and tournaments (one table, as Nakama keeps them), their records, and the claims
 * that make each period's reset / end hooks run once across processes.
 */
export class Migration20261122020000Leaderboards extends Migration {
  override up(): void {
    this.addSql(`
      create table leaderboard (
        id varchar(128) primary key,
        authoritative boolean not null default false,
        sort_order smallint not null default 1 check (sort_order in (0, 1)),
        operator smallint not null default 0 check (operator between 0 and 3),
        reset_schedule varchar(128),
        metadata jsonb not null default '{}',
        enable_ranks boolean not null default true,
        create_time timestamptz not null default now(),
        category smallint not null default 0 check (category between 0 and 127),
        description varchar(255) not null default '',
        duration integer not null default 0 check (duration >= 0),
        start_time timestamptz,
        end_time timestamptz,
        join_required boolean not null default false,
        max_size integer not null default 0 check (max_size >= 0),
        max_num_score integer not null default 0 check (max_num_score >= 0),
        title varchar(255) not null default '',
        size integer not null default 0 check (size >= 0),
        size_expiry bigint not null default 0
      )`);
    // Tournaments are the rows with a duration; listing filters on category and start time.
    this.addSql(`create index leaderboard_tournament_list on leaderboard (start_time, id) where duration > 0`);
    // rank_key: score | subscore | rank_time | owner as fixed-width hex, in rank order under the "C"
    // collation (descending boards store 2^63-1 minus score and subscore). src/services/rank-cache.ts
    // computes the same key; the rank cache and a Redis sorted set use it as is.
    this.addSql(`
      create table leaderboard_record (
        leaderboard_id varchar(128) not null references leaderboard (id) on delete cascade,
        owner_id uuid not null,
        expiry_time bigint not null default 0,
        descending boolean not null,
        username varchar(128),
        score bigint not null default 0 check (score >= 0),
        subscore bigint not null default 0 check (subscore >= 0),
        num_score integer not null default 1 check (num_score >= 0),
        max_num_score integer not null default 0 check (max_num_score >= 0),
        metadata jsonb not null default '{}',
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now(),
        rank_time bigint not null,
        rank_key text collate "C" not null generated always as (
          case when descending
            then lpad(to_hex(9223372036854775807 - score), 16, '0') || lpad(to_hex(9223372036854775807 - subscore), 16, '0')
            else lpad(to_hex(score), 16, '0') || lpad(to_hex(subscore), 16, '0')
          end || lpad(to_hex(rank_time), 16, '0') || replace(owner_id::text, '-', '')
        ) stored,
        primary key (leaderboard_id, expiry_time, owner_id)
      )`);
    this.addSql(`create index leaderboard_record_rank on leaderboard_record (leaderboard_id, expiry_time, rank_key)`);
    // Deleting an account's records.
    this.addSql(`create index leaderboard_record_owner on leaderboard_record (owner_id)`);
    // A row per period end whose hooks some process has claimed (kind 'reset' or 'end').
    this.addSql(`
      create table leaderboard_event (
        leaderboard_id varchar(128) not null,
        kind varchar(8) not null,
        at bigint not null,
        claim_time timestamptz not null default now(),
        primary key (leaderboard_id, kind, at)
      )`);
  }

  override down(): void {
    this.addSql('drop table if exists leaderboard_event');
    this.addSql('drop table if exists leaderboard_record');
    this.addSql('drop table if exists leaderboard');
  }
}
