/**
 * A raw Colyseus 0.18 client for the fleet scenario's load workers (loadtest/fleet-load.ts): it
 * joins through the normal path and then costs almost nothing per received message.
 *
 * Join, as @colyseus/sdk does it (Client.createMatchMakeRequest, consumeSeatReservation,
 * buildEndpoint; Room.onMessageCallback): `POST <url>/matchmake/<create|joinById>/<name|roomId>`
 * with `Authorization: Bearer <session token>` and a JSON body of options answers a seat
 * reservation {name, roomId, sessionId, processId, publicAddress}; the WebSocket then goes to
 * `ws://<publicAddress>/<processId>/<roomId>?sessionId=<sessionId>&_authToken=<token>`. The server
 * sends JOIN_ROOM ([10, reconnection token, serializer id, handshake …]) and the client answers the
 * single byte JOIN_ROOM; only then is it JOINED (the server sends the full state and the messages it
 * queued). Leaving: the single byte LEAVE_ROOM; the server closes with 4000 (CONSENTED).
 *
 * Frames from the server: [code, …] with code in the low 5 bits (ProtocolModifier bits above).
 * ROOM_DATA is [13, type, msgpack payload] where a string type is encoded like msgpack's fixstr
 * (`0xa0 | length`, then the bytes) — so a `match_data` message starts with the 12 bytes
 * `13, 0xaa, "match_data"` and is counted by comparing that prefix, without decoding the payload.
 * Sending `match_data_send` is the same header followed by a msgpack map {op_code, data}, encoded
 * here by hand (the server validates it, and the SDK receivers of loadtest/fleet-load.ts decode what
 * the room relays).
 *
 * The WebSocket is RFC 6455 over a plain socket (the `ws` package spends more per message than the
 * rest of this client together): the HTTP upgrade with its Sec-WebSocket-Accept check, then a loop
 * over the frames of each chunk read — unmasked server frames, never compressed (Colyseus's ws
 * transport disables permessage-deflate and this client does not offer it), never fragmented by
 * the `ws` server. Pings get their pong, a close frame its echo. Client frames carry the mask 0
 * (legal; `ws` skips unmasking work for it too), so a frame is its payload behind a 6-byte header
 * and every send is one socket write.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Protocol, type SeatReservation } from '@colyseus/sdk';

/** `[ROOM_DATA, fixstr type]`: the header of a ROOM_DATA message of string type `type` (< 32 bytes). */
function roomDataHeader(type: string): Buffer {
  const name = Buffer.from(type, 'latin1');
  if (name.length >= 32) throw new Error(`message type too long for a fixstr: ${type}`);
  return Buffer.concat([Buffer.from([Protocol.ROOM_DATA, 0xa0 | name.length]), name]);
}

const MATCH_DATA = roomDataHeader('match_data');
const ERROR_MESSAGE = roomDataHeader('error');

/** msgpack header of a string of `n` bytes. */
function strHeader(n: number): Buffer {
  if (n < 32) return Buffer.from([0xa0 | n]);
  if (n < 256) return Buffer.from([0xd9, n]);
  if (n < 65536) return Buffer.from([0xda, n >> 8, n & 0xff]);
  throw new Error('string too long');
}

/** A client → server WebSocket frame (FIN, binary, mask 0) of `payload`. */
export function clientFrame(payload: Buffer, opcode = 0x2): Buffer {
  const n = payload.length;
  const head = n < 126 ? [0x80 | opcode, 0x80 | n] : n < 65536 ? [0x80 | opcode, 0x80 | 126, n >> 8, n & 0xff] : undefined;
  if (!head) throw new Error('frame too long');
  return Buffer.concat([Buffer.from([...head, 0, 0, 0, 0]), payload]);
}

/**
 * The WebSocket frames of `match_data_send` {op_code, data} for a fixed length of `data` (ASCII,
 * such as base64): `frame(data)` copies a template and writes `data` in place.
 */
export function matchDataSendFrames(opCode: number, dataLength: number): (data: string) => Buffer {
  if (!Number.isInteger(opCode) || opCode < 0 || opCode > 127) throw new Error('op_code must be a positive fixint');
  const message = Buffer.concat([
    roomDataHeader('match_data_send'),
    Buffer.from([0x82, 0xa7]),
    Buffer.from('op_code'),
    Buffer.from([opCode, 0xa4]),
    Buffer.from('data'),
    strHeader(dataLength),
    Buffer.alloc(dataLength, 0x20),
  ]);
  const template = clientFrame(message);
  const at = template.length - dataLength;
  return (data) => {
    if (data.length !== dataLength) throw new Error(`data of ${data.length} bytes, the template has ${dataLength}`);
    const frame = Buffer.allocUnsafe(template.length);
    template.copy(frame, 0, 0, at);
    frame.write(data, at, 'latin1');
    return frame;
  };
}

/** Whether a message is `match_data` (ROOM_DATA of that type), from the 12 bytes at `start`. */
export const isMatchData = (buf: Buffer, start: number, end: number): boolean =>
  end - start > MATCH_DATA.length && buf[start] === Protocol.ROOM_DATA && MATCH_DATA.compare(buf, start, start + MATCH_DATA.length) === 0;

/** What a message says about an error (ERROR, or ROOM_DATA `error`), or undefined; printable text only. */
export function errorOf(message: Buffer): string | undefined {
  const code = (message[0] ?? 0) & 0x1f;
  const isError =
    code === Protocol.ERROR ||
    (code === Protocol.ROOM_DATA && message.length > ERROR_MESSAGE.length && ERROR_MESSAGE.compare(message, 0, ERROR_MESSAGE.length) === 0);
  if (!isError) return undefined;
  return `${code === Protocol.ERROR ? 'ERROR' : 'error'}: ${message
    .subarray(1)
    .toString('latin1')
    .replace(/[^\x20-\x7e]+/g, ' ')
    .trim()}`;
}

/** `POST <url>/matchmake/<method>/<target>`: a seat reservation, or an error with the server's answer. */
export async function reserveSeat(url: string, token: string, method: 'create' | 'joinById', target: string): Promise<SeatReservation> {
  const res = await fetch(`${url}/matchmake/${method}/${encodeURIComponent(target)}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'application/json', 'content-type': 'application/json' },
    body: '{}',
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as SeatReservation & { error?: string; code?: number };
  if (res.status !== 200 || typeof body.roomId !== 'string' || typeof body.sessionId !== 'string')
    throw new Error(`matchmake ${method} ${target}: ${res.status} ${JSON.stringify(body)}`);
  return body;
}

/** A joined raw client. */
export interface RawClient {
  sessionId: string;
  roomId: string;
  /** `127.0.0.1:<port>`: where the WebSocket went (the room's process). */
  host: string;
  /** Writes a complete client frame (`clientFrame`, `matchDataSendFrames`). */
  send(frame: Buffer): void;
  /** LEAVE_ROOM, then the close (or a destroy after `ms`). */
  leave(ms?: number): Promise<void>;
}

export interface RawHandlers {
  /** A `match_data` message arrived. */
  onMatchData(): void;
  /** Another message after the handshake (`errorOf` tells errors). */
  onOther(message: Buffer): void;
  /** The connection ended without `leave()`: the close code (1006 without a close frame) and reason. */
  onDrop(code: number, reason: string): void;
}

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const JOIN_ACK = clientFrame(Buffer.from([Protocol.JOIN_ROOM]));
const LEAVE = clientFrame(Buffer.from([Protocol.LEAVE_ROOM]));

/**
 * Consumes a seat reservation over a raw WebSocket: resolves after the JOIN_ROOM handshake
 * (acknowledged), rejects on an error or close before it, or after `timeoutMs`.
 */
export function rawJoin(url: string, token: string, seat: SeatReservation, handlers: RawHandlers, timeoutMs = 15_000): Promise<RawClient> {
  const host = seat.publicAddress || new URL(url).host;
  const target = new URL(`http://${host}`);
  const key = randomBytes(16).toString('base64');
  const query = `sessionId=${encodeURIComponent(seat.sessionId)}&_authToken=${encodeURIComponent(token)}`;
  return new Promise<RawClient>((resolve, reject) => {
    let socket: Socket | undefined;
    let joined = false;
    let leaving = false;
    let closeCode = 1006;
    let closeReason = '';
    let pending: Buffer | undefined;
    const fail = (err: Error) => {
      clearTimeout(timer);
      socket?.destroy();
      req.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no JOIN_ROOM from ${host} within ${timeoutMs} ms`)), timeoutMs);
    const client: RawClient = {
      sessionId: seat.sessionId,
      roomId: seat.roomId,
      host,
      send: (frame) => void socket!.write(frame),
      leave: (ms = 3000) =>
        new Promise<void>((done) => {
          leaving = true;
          if (!socket || socket.destroyed) return done();
          const t = setTimeout(() => socket!.destroy(), ms);
          socket.once('close', () => {
            clearTimeout(t);
            done();
          });
          socket.write(LEAVE);
        }),
    };
    /** One message (a complete frame's payload). */
    const message = (buf: Buffer, start: number, end: number) => {
      if (joined) {
        if (isMatchData(buf, start, end)) handlers.onMatchData();
        else handlers.onOther(buf.subarray(start, end));
      } else if (buf[start] === Protocol.JOIN_ROOM) {
        joined = true;
        clearTimeout(timer);
        socket!.write(JOIN_ACK);
        resolve(client);
      } else if (buf[start] === Protocol.ERROR) {
        fail(new Error(errorOf(buf.subarray(start, end))));
      }
    };
    const onData = (chunk: Buffer) => {
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let o = 0;
      while (buf.length - o >= 2) {
        const b0 = buf[o]!;
        let len = buf[o + 1]! & 0x7f;
        let p = o + 2;
        if (len === 126) {
          if (buf.length - o < 4) break;
          len = buf.readUInt16BE(o + 2);
          p = o + 4;
        } else if (len === 127) {
          if (buf.length - o < 10) break;
          len = buf.readUInt32BE(o + 2) * 2 ** 32 + buf.readUInt32BE(o + 6);
          p = o + 10;
        }
        if (buf.length < p + len) break;
        const opcode = b0 & 0x0f;
        if (buf[o + 1]! & 0x80 || (b0 & 0x80) === 0 || opcode === 0) {
          closeReason = 'masked or fragmented frame from the server';
          socket!.destroy();
          return;
        }
        if (opcode === 0x2 || opcode === 0x1) message(buf, p, p + len);
        else if (opcode === 0x9) socket!.write(clientFrame(buf.subarray(p, p + len), 0xa));
        else if (opcode === 0x8) {
          closeCode = len >= 2 ? buf.readUInt16BE(p) : 1005;
          closeReason = buf.toString('utf8', p + 2, p + len);
          socket!.end(clientFrame(buf.subarray(p, p + Math.min(len, 2)), 0x8));
        }
        o = p + len;
      }
      if (o < buf.length) pending = buf.subarray(o);
    };
    const req = http.request({
      host: target.hostname,
      port: target.port,
      path: `/${seat.processId}/${seat.roomId}?${query}`,
      headers: { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' },
      agent: false,
    });
    req.on('response', (res) => {
      res.resume();
      fail(new Error(`WebSocket to ${host} refused: HTTP ${res.statusCode}`));
    });
    req.on('error', (err) => fail(err));
    req.on('upgrade', (res, s, head) => {
      socket = s;
      const accept = createHash('sha1')
        .update(key + GUID)
        .digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) return fail(new Error('bad Sec-WebSocket-Accept'));
      if (res.headers['sec-websocket-extensions']) return fail(new Error('the server negotiated a WebSocket extension'));
      s.setNoDelay(true);
      s.on('data', onData);
      s.on('error', () => undefined);
      s.on('close', () => {
        if (!joined) fail(new Error(`closed before joining: ${closeCode} ${closeReason}`));
        else if (!leaving) handlers.onDrop(closeCode, closeReason);
      });
      if (head.length > 0) onData(head);
    });
    req.end();
  });
}
