/** Users, sessions and RPCs against the processes of a test fleet (test/support/fleet.ts). */
import assert from 'node:assert/strict';
import { eventually } from './realtime.js';
import { fleetClient, problems, within, type FleetProcess } from './fleet.js';
import { http, newDevice } from './server.js';
import { decodeJwt } from './wire.js';

/** A new device user, authenticated through process `p`: token, user id, session id and username. */
export async function fleetUser(p: FleetProcess) {
  const d = await newDevice(p.url);
  const claims = decodeJwt(d.token);
  return { ...d, uid: claims.uid as string, sid: claims.tid as string, username: claims.usn as string };
}

/** Calls an RPC on `p` over HTTP with the http key; returns its payload. */
export async function fleetRpc(p: FleetProcess, id: string, payload: unknown = {}): Promise<string | undefined> {
  const res = await within(
    http(p.url, 'POST', `/v2/rpc/${id}?http_key=defaulthttpkey`, { rawBody: JSON.stringify(JSON.stringify(payload)) }),
    `rpc ${id} on ${p.nodeName}`,
  );
  assert.equal(res.status, 200, `${id} on ${p.nodeName}: ${res.status} ${JSON.stringify(res.body)}\n${problems(p)}`);
  return res.body.payload as string | undefined;
}

/** A session room opened through `p` (it stays on `p`), once its state has arrived. */
export async function fleetSession(p: FleetProcess, token: string) {
  const client = fleetClient(p.url, token);
  const room = await within(client.create('session'), `a session on ${p.nodeName}`);
  await eventually(() => assert.ok((room.state as { sessionId?: string })?.sessionId));
  return { client, room };
}
