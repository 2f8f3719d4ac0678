/** zod helpers for the shapes grpc-gateway accepts: query booleans, repeated query fields, wrappers. */
import { z } from 'zod';

/** A boolean from a query string (`true`/`false`/`1`/`0`) or JSON. */
export const qBool = z.preprocess((v) => {
  if (Array.isArray(v)) v = v[v.length - 1];
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  return v;
}, z.boolean());

/** A repeated field: `?ids=a&ids=b` or a JSON array. */
export const qArray = <T extends z.ZodType>(item: T) =>
  z.preprocess((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]), z.array(item).max(1000));

/** A single query value (the last one when repeated). */
export const qString = z.preprocess((v) => (Array.isArray(v) ? v[v.length - 1] : v), z.string());

/** Session vars as clients send them. */
export const varsField = z.record(z.string(), z.string()).optional();
