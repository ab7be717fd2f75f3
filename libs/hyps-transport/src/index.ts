// The public surface of @hyps/transport.
export * from './protocol/index.js';
export * from './broker/index.js';
export * from './client/index.js';
export * from './nest/index.js';
