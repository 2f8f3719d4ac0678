/**
 * The pure helpers of `nk` (Nakama's names and argument orders): ids, cron, JWT, encodings,
 * hashes, HMAC and AES. No server state, so they are also exported from the `tavern` entry point.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createPrivateKey,
  createSecretKey,
  createSign,
  randomBytes,
  randomUUID,
} from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import jwt from 'jsonwebtoken';
import { invalid } from '../errors.js';

type Bytes = string | Uint8Array | ArrayBuffer;
const buf = (b: Bytes): Buffer =>
  typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b instanceof ArrayBuffer ? new Uint8Array(b) : b);

function cron(expression: string, fromSec: number, direction: 'next' | 'prev'): number {
  try {
    const it = CronExpressionParser.parse(expression, { currentDate: new Date(fromSec * 1000), tz: 'UTC' });
    return Math.floor((direction === 'next' ? it.next() : it.prev()).getTime() / 1000);
  } catch (err) {
    throw invalid(`Invalid cron expression "${expression}": ${(err as Error).message}`);
  }
}

/** AES-CBC with a random IV prepended, base64 output (Nakama's aes128Encrypt / aes256Encrypt). */
function aesEncrypt(bits: 128 | 256, input: string, key: string): string {
  const k = buf(key);
  if (k.length !== bits / 8) throw invalid(`AES-${bits} key must be ${bits / 8} bytes.`);
  const iv = randomBytes(16);
  const c = createCipheriv(`aes-${bits}-cbc`, k, iv);
  return Buffer.concat([iv, c.update(input, 'utf8'), c.final()]).toString('base64');
}

function aesDecrypt(bits: 128 | 256, input: string, key: string): string {
  const k = buf(key);
  if (k.length !== bits / 8) throw invalid(`AES-${bits} key must be ${bits / 8} bytes.`);
  const data = Buffer.from(input, 'base64');
  if (data.length < 32) throw invalid('Ciphertext too short.');
  try {
    const d = createDecipheriv(`aes-${bits}-cbc`, k, data.subarray(0, 16));
    return Buffer.concat([d.update(data.subarray(16)), d.final()]).toString('utf8');
  } catch {
    throw invalid('Could not decrypt: wrong key or corrupt input.');
  }
}

export const helpers = {
  uuidv4: (): string => randomUUID(),
  /** Next time after `fromSec` (seconds since the epoch) matching a cron expression, in UTC. */
  cronNext: (expression: string, fromSec: number): number => cron(expression, fromSec, 'next'),
  cronPrev: (expression: string, fromSec: number): number => cron(expression, fromSec, 'prev'),

  /** Signs a JWT: HS256 with a secret, or RS256 with a PEM private key. */
  jwtGenerate(algorithm: 'HS256' | 'RS256', signingKey: string, claims: Record<string, unknown>): string {
    if (algorithm === 'HS256') return jwt.sign(claims, createSecretKey(buf(signingKey)), { algorithm });
    if (algorithm === 'RS256') return jwt.sign(claims, createPrivateKey(signingKey), { algorithm });
    throw invalid(`Unsupported JWT algorithm ${String(algorithm)}.`);
  },

  base64Encode: (input: Bytes, padding = true): string => {
    const s = buf(input).toString('base64');
    return padding ? s : s.replace(/=+$/, '');
  },
  base64Decode: (input: string): string => Buffer.from(input, 'base64').toString('utf8'),
  base64UrlEncode: (input: Bytes, padding = false): string => {
    const s = buf(input).toString('base64url');
    return padding ? s + '='.repeat((4 - (s.length % 4)) % 4) : s;
  },
  base64UrlDecode: (input: string): string => Buffer.from(input.replace(/=+$/, ''), 'base64url').toString('utf8'),
  base16Encode: (input: Bytes): string => buf(input).toString('hex'),
  base16Decode: (input: string): string => {
    if (!/^([0-9a-fA-F]{2})*$/.test(input)) throw invalid('Invalid hex string.');
    return Buffer.from(input, 'hex').toString('utf8');
  },

  md5Hash: (input: Bytes): string => createHash('md5').update(buf(input)).digest('hex'),
  sha256Hash: (input: Bytes): string => createHash('sha256').update(buf(input)).digest('hex'),
  hmacSha256Hash: (input: Bytes, key: Bytes): string => createHmac('sha256', buf(key)).update(buf(input)).digest('hex'),
  /** RSA-SHA256 signature of `input` with a PEM private key, base64. */
  rsaSha256Hash: (input: Bytes, key: string): string => createSign('RSA-SHA256').update(buf(input)).sign(createPrivateKey(key), 'base64'),

  aes128Encrypt: (input: string, key: string): string => aesEncrypt(128, input, key),
  aes128Decrypt: (input: string, key: string): string => aesDecrypt(128, input, key),
  aes256Encrypt: (input: string, key: string): string => aesEncrypt(256, input, key),
  aes256Decrypt: (input: string, key: string): string => aesDecrypt(256, input, key),

  secureRandomBytes: (n: number): Uint8Array => {
    if (!Number.isInteger(n) || n < 0 || n > 1 << 20) throw invalid('Byte count must be 0..1048576.');
    return new Uint8Array(randomBytes(n));
  },
  binaryToString: (data: Uint8Array | ArrayBuffer): string => buf(data).toString('utf8'),
  stringToBinary: (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'utf8')),
};

export type Helpers = typeof helpers;
