// The Nest adapters of Hyps: transport strategy, client proxy, module, context and decorators.
export { ClientHyps, DEFAULT_REQUEST_TIMEOUT_MS } from './client-hyps.js';
export type { ClientHypsOptions, HypsClientEvents } from './client-hyps.js';
export { ServerHyps, DEFAULT_SERVICE_GROUP } from './server-hyps.js';
export type { ServerHypsOptions } from './server-hyps.js';
export { HypsContext } from './hyps.context.js';
export type { HypsContextArgs } from './hyps.context.js';
export { HYPS_TRANSPORT, HypsEventPattern, HypsMessagePattern } from './decorators.js';
export type { HypsPattern, HypsPatternExtras } from './decorators.js';
export { HypsModule } from './hyps.module.js';
export type { HypsModuleAsyncOptions, HypsModuleRootOptions } from './hyps.module.js';
export { HypsModuleOptionsDto, validateHypsModuleOptions } from './hyps-module-options.js';
export type { HypsModuleOptions } from './hyps-module-options.js';
export { HYPS_CLIENT, HYPS_MODULE_OPTIONS, InjectHyps } from './inject-hyps.decorator.js';
export {
  HypsConfigError,
  NoRespondersError,
  RequestCancelledError,
  RequestTimeoutError,
} from './nest-errors.js';
export type { HypsConfigProblem } from './nest-errors.js';
export { DEFAULT_INBOX_PREFIX } from './packet.js';
export { NEST_FLUSH_THRESHOLD_BYTES } from './lifecycle.js';
