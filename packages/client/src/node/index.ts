/** `@concord/client/node`: what only Node can run. */
export { fileStore } from './file-store.js';
