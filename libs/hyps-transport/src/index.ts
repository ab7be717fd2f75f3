// The public surface of @hyps/transport.
export * from './protocol/index.js';
export * from './broker/index.js';
