// The public surface of @hyps/transport.
export * from './protocol/index.js';
