/** GetUsers and the health check. */
import { z } from 'zod';
import { query, sql } from '../services/db.js';
import { getUsers } from '../services/users.js';
import { endpoint, type Endpoint } from './pipeline.js';
import { qArray } from './schema.js';
import { wireUser } from './wire.js';

export function userEndpoints(): Endpoint[] {
  return [
    endpoint({
      operation: 'GetUsers',
      method: 'GET',
      path: '/v2/user',
      auth: 'session',
      request: z.object({ ids: qArray(z.string()), usernames: qArray(z.string()), facebook_ids: qArray(z.string()) }),
      async handler(req, ctx) {
        const users = await getUsers(ctx.em, req.ids, req.usernames);
        return users.length > 0 ? { users: users.map(wireUser) } : {};
      },
    }),
    endpoint({
      operation: 'Healthcheck',
      method: 'GET',
      path: '/healthcheck',
      auth: 'none',
      request: z.object({}),
      // Answers 503 while the database is unreachable, so a load balancer can route around us.
      async handler(_req, ctx) {
        await query(ctx.em, sql`select 1`);
        return {};
      },
    }),
  ];
}
