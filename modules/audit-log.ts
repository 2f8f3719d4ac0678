/** Example after hook: a log line for every new account (after the response was sent). */
import type * as nkruntime from 'tavern';

export const InitModule: nkruntime.InitModule = (_ctx, logger, _nk, initializer) => {
  initializer.registerAfter('AuthenticateDevice', (ctx, logger, _nk, response) => {
    if (response.created) logger.info({ clientIp: ctx.clientIp }, 'new account created by device');
  });
  logger.debug('audit hooks registered');
};
