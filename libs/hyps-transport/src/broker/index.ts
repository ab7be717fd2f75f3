export { Broker, type BrokerStats, type BrokerClock, type BrokerState } from './broker.js';
export { BrokerCounters } from './broker-counters.js';
export { BrokerConfigError } from './broker-config-error.js';
export { loadUsersFile, parseUsers } from './auth.js';
export {
  DEFAULT_BROKER_OPTIONS,
  type BrokerOptions,
  type BrokerAuth,
  type HypsUser,
} from './options.js';
