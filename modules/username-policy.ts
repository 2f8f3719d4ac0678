/** Example before hooks: refuse usernames that impersonate staff, on sign-up and on rename. */
import { Code, runtimeError } from 'tavern';
import type * as nkruntime from 'tavern';

const FORBIDDEN = /admin|moderator|staff/i;

function check(username: string | undefined): void {
  if (username && FORBIDDEN.test(username)) throw runtimeError(Code.INVALID_ARGUMENT, 'That username is not allowed.');
}

export const InitModule: nkruntime.InitModule = (_ctx, _logger, _nk, initializer) => {
  initializer.registerBefore('AuthenticateDevice', (_ctx, _logger, _nk, request) => {
    check(request.username);
    return request;
  });
  initializer.registerBefore('AuthenticateEmail', (_ctx, _logger, _nk, request) => {
    check(request.username);
    return request;
  });
  initializer.registerBefore('UpdateAccount', (_ctx, _logger, _nk, request) => {
    check(request.username);
    return request;
  });
};
