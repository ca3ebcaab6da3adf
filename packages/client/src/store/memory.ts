import type { ClientStore, StoredState } from './port.js';
import { EMPTY_STATE, applyWrite } from './port.js';

/**
 * A store in memory. It outlives the clients that use it, not the page or process: pass the same
 * store to a new client and it finds its queue, state and cursor.
 */
export const memoryStore = (): ClientStore => {
  let state: StoredState = EMPTY_STATE;
  return {
    load: () => Promise.resolve(structuredClone(state)),
    write(batch) {
      state = applyWrite(state, structuredClone(batch));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
};
