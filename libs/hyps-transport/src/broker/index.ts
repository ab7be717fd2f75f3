export { Broker, type BrokerStats, type BrokerClock } from './broker.js';
export { BrokerConfigError } from './broker-config-error.js';
export { loadUsersFile, parseUsers } from './auth.js';
export {
  DEFAULT_BROKER_OPTIONS,
  type BrokerOptions,
  type BrokerAuth,
  type HypsUser,
} from './options.js';
