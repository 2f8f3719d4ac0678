/**
 * Party listing through the Colyseus room registry (`GET /v2/party`): every party room keeps
 * its listing in its metadata, so any process of a fleet lists every party.
 */
import { matchMaker, type IRoomCache } from '@colyseus/core';
import { selectParties, type PartyFilter, type PartyListing, type PartyPage, type PartyPort } from '../services/parties.js';
import { PARTY_ROOM, type PartyMetadata, type PartyRoom } from './party.room.js';

const ID_PREFIX = `${PARTY_ROOM}_`;

/** A party room's listing; none until its creator has joined (the metadata is written then). */
function listingOf(room: IRoomCache<PartyMetadata>): PartyListing[] {
  const m = room.metadata;
  if (!m || typeof m.max_size !== 'number' || !room.roomId?.startsWith(ID_PREFIX)) return [];
  return [
    {
      partyId: room.roomId.slice(ID_PREFIX.length),
      open: m.open === true,
      hidden: m.hidden === true,
      maxSize: m.max_size,
      size: m.size ?? 0,
      label: typeof m.label === 'string' ? m.label : '{}',
      createdAt: room.createdAt ? new Date(room.createdAt).getTime() : 0,
    },
  ];
}

export class ColyseusPartyPort implements PartyPort {
  async list(filter: PartyFilter): Promise<PartyPage> {
    // TODO(scaling): reads every party room's listing on each call (as `GET /v2/match` does).
    const rooms = await matchMaker.query<PartyRoom>({ name: PARTY_ROOM });
    return selectParties(
      rooms.flatMap((r) => listingOf(r as IRoomCache<PartyMetadata>)),
      filter,
    );
  }
}
