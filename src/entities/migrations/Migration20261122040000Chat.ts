import { Migration } from '@mikro-orm/migrations';

/** Persisted chat messages, keyed by channel (Nakama's `message` table: stream mode, subject, subcontext, label). */
export class Migration20261122040000Chat extends Migration {
  override up(): void {
    this.addSql(`
      create table message (
        id uuid primary key,
        code smallint not null default 0,
        sender_id uuid not null,
        username varchar(128) not null,
        stream_mode smallint not null,
        stream_subject uuid not null,
        stream_descriptor uuid not null,
        stream_label varchar(128) not null,
        content jsonb not null default '{}',
        create_time timestamptz not null default now(),
        update_time timestamptz not null default now()
      )`);
    // History of one channel in time order, both ways.
    this.addSql(
      `create index message_channel_history on message (stream_mode, stream_subject, stream_descriptor, stream_label, create_time, id)`,
    );
    this.addSql(`create index message_sender on message (sender_id)`);
  }

  override down(): void {
    this.addSql('drop table if exists message');
  }
}
