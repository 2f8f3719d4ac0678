/**
 * Request and response types of the operations Tavern serves, in their wire shape (snake_case),
 * as before/after hooks see them. Re-exported by src/hooks/types.ts.
 */

export interface AccountDevice {
  id: string;
  vars?: Record<string, string>;
}
export interface AccountCustom {
  id: string;
  vars?: Record<string, string>;
}
export interface AccountEmail {
  email?: string;
  password: string;
  vars?: Record<string, string>;
}
export interface Session {
  created?: boolean;
  token: string;
  refresh_token: string;
}
interface AuthenticateRequest<A> {
  account: A;
  create?: boolean;
  username?: string;
}
export interface ApiUser {
  id: string;
  username: string;
  display_name?: string;
  avatar_url?: string;
  lang_tag?: string;
  location?: string;
  timezone?: string;
  metadata?: string;
  edge_count?: number;
  create_time?: string;
  update_time?: string;
  online?: boolean;
}
export interface ApiAccount {
  user: ApiUser;
  wallet?: string;
  email?: string;
  devices?: { id: string }[];
  custom_id?: string;
  verify_time?: string;
  disable_time?: string;
}
export interface UpdateAccountRequest {
  username?: string;
  display_name?: string;
  avatar_url?: string;
  lang_tag?: string;
  location?: string;
  timezone?: string;
}
/** Nakama's `LeaderboardRecord` on the wire: int64 values as strings, zero values absent. */
export interface ApiLeaderboardRecord {
  leaderboard_id: string;
  owner_id: string;
  username?: string;
  score?: string;
  subscore?: string;
  num_score?: number;
  metadata?: string;
  create_time?: string;
  update_time?: string;
  expiry_time?: string;
  rank?: string;
  max_num_score?: number;
}
/** Nakama's `LeaderboardRecordList` (and `TournamentRecordList`). */
export interface ApiLeaderboardRecordList {
  records?: ApiLeaderboardRecord[];
  owner_records?: ApiLeaderboardRecord[];
  next_cursor?: string;
  prev_cursor?: string;
  rank_count?: string;
}
/** A record write as clients send it; `operator` is api.Operator (1 BEST … 4 DECREMENT) or its name. */
export interface ApiRecordWrite {
  score?: string | number;
  subscore?: string | number;
  metadata?: string;
  operator?: number | string;
}
interface RecordListRequest {
  owner_ids?: string[];
  limit?: number;
  cursor?: string;
  expiry?: number;
}
interface AroundOwnerRequest {
  owner_id: string;
  limit?: number;
  cursor?: string;
  expiry?: number;
}
/** Nakama's `Tournament` on the wire (enums as numbers, times of periods in seconds). */
export interface ApiTournament {
  id: string;
  title?: string;
  description?: string;
  category?: number;
  sort_order?: number;
  size?: number;
  max_size?: number;
  max_num_score?: number;
  can_enter?: boolean;
  end_active?: number;
  next_reset?: number;
  metadata?: string;
  create_time?: string;
  start_time?: string;
  end_time?: string;
  duration?: number;
  start_active?: number;
  prev_reset?: number;
  operator?: number;
  authoritative?: boolean;
  join_required?: boolean;
}
type Empty = Record<string, never>;

/** Request types by operation; operations not listed yet take `Record<string, unknown>`. */
export interface ApiRequests {
  AuthenticateDevice: AuthenticateRequest<AccountDevice>;
  AuthenticateCustom: AuthenticateRequest<AccountCustom>;
  AuthenticateEmail: AuthenticateRequest<AccountEmail>;
  SessionRefresh: { token: string; vars?: Record<string, string> };
  SessionLogout: { token?: string; refresh_token?: string };
  GetAccount: Empty;
  UpdateAccount: UpdateAccountRequest;
  DeleteAccount: Empty;
  LinkDevice: AccountDevice;
  LinkCustom: AccountCustom;
  LinkEmail: AccountEmail;
  UnlinkDevice: AccountDevice;
  UnlinkCustom: AccountCustom;
  UnlinkEmail: AccountEmail;
  GetUsers: { ids: string[]; usernames: string[]; facebook_ids: string[] };
  Healthcheck: Empty;
  WriteLeaderboardRecord: { leaderboard_id: string; record?: ApiRecordWrite };
  DeleteLeaderboardRecord: { leaderboard_id: string };
  ListLeaderboardRecords: { leaderboard_id: string } & RecordListRequest;
  ListLeaderboardRecordsAroundOwner: { leaderboard_id: string } & AroundOwnerRequest;
  ListTournaments: {
    category_start?: number;
    category_end?: number;
    start_time?: number;
    end_time?: number;
    limit?: number;
    cursor?: string;
  };
  JoinTournament: { tournament_id: string };
  WriteTournamentRecord: { tournament_id: string; record?: ApiRecordWrite };
  DeleteTournamentRecord: { tournament_id: string };
  ListTournamentRecords: { tournament_id: string } & RecordListRequest;
  ListTournamentRecordsAroundOwner: { tournament_id: string } & AroundOwnerRequest;
}

/** Response types by operation. */
export interface ApiResponses {
  AuthenticateDevice: Session;
  AuthenticateCustom: Session;
  AuthenticateEmail: Session;
  SessionRefresh: Session;
  SessionLogout: Empty;
  GetAccount: ApiAccount;
  UpdateAccount: Empty;
  DeleteAccount: Empty;
  LinkDevice: Empty;
  LinkCustom: Empty;
  LinkEmail: Empty;
  UnlinkDevice: Empty;
  UnlinkCustom: Empty;
  UnlinkEmail: Empty;
  GetUsers: { users?: ApiUser[] };
  Healthcheck: Empty;
  WriteLeaderboardRecord: ApiLeaderboardRecord;
  DeleteLeaderboardRecord: Empty;
  ListLeaderboardRecords: ApiLeaderboardRecordList;
  ListLeaderboardRecordsAroundOwner: ApiLeaderboardRecordList;
  ListTournaments: { tournaments?: ApiTournament[]; cursor?: string };
  JoinTournament: Empty;
  WriteTournamentRecord: ApiLeaderboardRecord;
  DeleteTournamentRecord: Empty;
  ListTournamentRecords: ApiLeaderboardRecordList;
  ListTournamentRecordsAroundOwner: ApiLeaderboardRecordList;
}

export type RequestOf<Op extends string> = Op extends keyof ApiRequests ? ApiRequests[Op] : Record<string, unknown>;
export type ResponseOf<Op extends string> = Op extends keyof ApiResponses ? ApiResponses[Op] : Record<string, unknown>;
