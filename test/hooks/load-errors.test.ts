/** Module failures stop startup with an error naming the file and the cause. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { startTestServer } from '../support/server.js';

const fixtures = path.join(import.meta.dirname, '..', 'fixtures');

test('a module that throws in InitModule stops startup, naming the file and the cause', async () => {
  await assert.rejects(
    () => startTestServer({ runtimePath: path.join(fixtures, 'broken-modules') }),
    (err: Error) => {
      assert.equal(err.name, 'ModuleLoadError');
      assert.match(err.message, /broken-modules\/b-throws\.ts/);
      assert.match(err.message, /database of dragons not configured/);
      return true;
    },
  );
});

test('a hook for a name Nakama does not have is a startup error', async () => {
  await assert.rejects(
    () => startTestServer({ runtimePath: path.join(fixtures, 'bad-name-modules') }),
    (err: Error) => {
      assert.match(err.message, /bad-name-modules\/hooks\.ts/);
      assert.match(err.message, /AuthenticateTelepathy/);
      assert.match(err.message, /not a Nakama API operation/);
      return true;
    },
  );
});
