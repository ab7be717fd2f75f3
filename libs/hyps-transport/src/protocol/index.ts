export * from './opcodes.js';
export * from './errors.js';
export * from './channel.js';
export * from './pattern.js';
export * from './pattern-trie.js';
export * from './encode.js';
export * from './frame-decoder.js';
