// Command line and environment for hyps-broker: which flags exist, their HYPS_* variables, the
// usage text, and turning argv + env into raw string values. Checking the values is
// broker-config.ts's job; this file only knows names.
import { parseArgs } from 'node:util';
import { DEFAULT_BROKER_OPTIONS } from '@hyps/transport';

/** Configuration fields settable from the command line: BrokerOptions fields, then the app's own. */
export type ConfigKey =
  | 'host'
  | 'port'
  | 'token'
  | 'usersFile'
  | 'maxFrameBytes'
  | 'maxChannelBytes'
  | 'maxBufferedBytes'
  | 'maxSubscriptions'
  | 'maxConnections'
  | 'helloTimeoutMs'
  | 'pingIntervalMs'
  | 'frameTimeoutMs'
  | 'shutdownTimeoutMs'
  | 'tlsCert'
  | 'tlsKey'
  | 'tlsCa'
  | 'metricsPort'
  | 'metricsHost'
  | 'logLevel';

/** The --log-level values, quietest first. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = 'info';

interface FlagSpec {
  key: ConfigKey;
  flag: string;
  env: string;
  valueName: string;
  description: string;
}

// One row per setting; the flag is the kebab-case key and the variable HYPS_ + SNAKE_CASE.
export const FLAGS: readonly FlagSpec[] = [
  spec('host', 'addr', 'address to listen on'),
  spec('port', 'n', 'TCP port; 0 picks a free one'),
  spec('token', 'secret', 'require this token in HELLO (prefer HYPS_TOKEN: argv is visible)'),
  spec('usersFile', 'path', 'JSON users file for hmac auth (see PROTOCOL.md section 8)'),
  spec('maxFrameBytes', 'n', 'largest frame body accepted'),
  spec('maxChannelBytes', 'n', 'largest channel, pattern or group name'),
  spec('maxBufferedBytes', 'n', 'bytes queued per connection before deliveries are dropped'),
  spec('maxSubscriptions', 'n', 'subscriptions one connection may hold'),
  spec('maxConnections', 'n', 'open connections accepted'),
  spec('helloTimeoutMs', 'ms', 'time a new connection has to send HELLO'),
  spec('pingIntervalMs', 'ms', 'keepalive PING interval'),
  spec('frameTimeoutMs', 'ms', 'time a started frame may stay incomplete'),
  spec('shutdownTimeoutMs', 'ms', 'time to flush queued data on SIGTERM/SIGINT'),
  spec('tlsCert', 'path', 'PEM certificate (chain) to serve TLS with; needs --tls-key'),
  spec('tlsKey', 'path', 'PEM private key of --tls-cert (unencrypted)'),
  spec('tlsCa', 'path', 'PEM CA bundle: require client certificates signed by it'),
  spec('metricsPort', 'n', 'HTTP port for /metrics and /health; 0 picks a free one'),
  spec('metricsHost', 'addr', 'address for the metrics port'),
  spec('logLevel', 'level', `JSON log level on stderr: ${LOG_LEVELS.join('|')}`),
];

function spec(key: ConfigKey, valueName: string, description: string): FlagSpec {
  const words = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
  return {
    key,
    flag: '--' + words,
    env: 'HYPS_' + words.replace(/-/g, '_').toUpperCase(),
    valueName,
    description,
  };
}

/** Raw values as given (strings), before validation. */
export type RawConfig = Partial<Record<ConfigKey, string>>;
/** For each value given, where it came from: the flag (`--port`) or variable (`HYPS_PORT`). */
export type ConfigSources = Partial<Record<ConfigKey, string>>;

export type CommandLine =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; values: RawConfig; sources: ConfigSources }
  | { kind: 'invalid'; problems: string[] };

/** Reads flags and HYPS_* variables; a flag wins over its variable; empty variables count as unset. */
export function parseCommandLine(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): CommandLine {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const f of FLAGS) options[f.flag.slice(2)] = { type: 'string' };

  // Non-strict with tokens so that every problem is reported at once, not only the first.
  const { tokens } = parseArgs({
    args: [...argv],
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });

  const values: RawConfig = {};
  const sources: ConfigSources = {};
  for (const f of FLAGS) {
    const fromEnv = env[f.env];
    if (fromEnv !== undefined && fromEnv !== '') {
      values[f.key] = fromEnv;
      sources[f.key] = f.env;
    }
  }

  const problems: string[] = [];
  let help = false;
  let version = false;
  for (const token of tokens) {
    if (token.kind === 'positional') {
      problems.push(`unexpected argument "${token.value}"`);
      continue;
    }
    if (token.kind !== 'option') continue;
    if (token.name === 'help' || token.name === 'version') {
      if (token.value !== undefined) problems.push(`${token.rawName} takes no value`);
      else if (token.name === 'help') help = true;
      else version = true;
      continue;
    }
    const flag = FLAGS.find((f) => f.flag === '--' + token.name);
    if (!flag || !token.rawName.startsWith('--')) {
      problems.push(`unknown flag ${token.rawName}`);
      continue;
    }
    // parseArgs would take the next flag as this one's value (`--port --token x`); refuse that.
    if (token.value === undefined || (!token.inlineValue && token.value.startsWith('--'))) {
      problems.push(`${flag.flag} needs a value: ${flag.flag} <${flag.valueName}>`);
      continue;
    }
    values[flag.key] = token.value;
    sources[flag.key] = flag.flag;
  }

  if (help) return { kind: 'help' };
  if (problems.length > 0) return { kind: 'invalid', problems };
  if (version) return { kind: 'version' };
  return { kind: 'run', values, sources };
}

/** The --help text: every flag with its variable and default. */
export function usage(): string {
  const rows = FLAGS.map((f) => [
    `${f.flag} <${f.valueName}>`,
    f.env,
    defaultText(f.key),
    f.description,
  ]);
  rows.unshift(['-h, --help', '', '', 'print this help and exit']);
  rows.push(['-v, --version', '', '', 'print the version and exit']);
  const width = (i: number) => Math.max(...rows.map((r) => r[i].length));
  const [w0, w1, w2] = [width(0), width(1), width(2)];
  const lines = rows.map(
    ([flag, envName, def, text]) =>
      `  ${flag.padEnd(w0)}  ${envName.padEnd(w1)}  ${def.padEnd(w2)}  ${text}`.trimEnd() + '\n',
  );
  return (
    'Usage: hyps-broker [options]\n\n' +
    'The Hyps pub/sub broker. Each option can also be set by its HYPS_* environment variable;\n' +
    'the flag wins. --token and --users-file are mutually exclusive; with neither, no auth.\n' +
    '--tls-cert and --tls-key go together; --tls-ca also requires client certificates.\n' +
    'With --metrics-port, GET /metrics serves Prometheus metrics and GET /health answers 200\n' +
    'while listening, 503 while starting or draining. Logs are JSON lines on stderr.\n' +
    'SIGTERM or SIGINT drains: clients get ERR 8 SHUTTING_DOWN, then the process exits 0.\n\n' +
    `  ${'option'.padEnd(w0)}  ${'environment'.padEnd(w1)}  default\n` +
    lines.join('') +
    '\nExit status: 0 after a clean shutdown, 2 for a bad configuration, 1 for other failures.\n'
  );
}

function defaultText(key: ConfigKey): string {
  switch (key) {
    case 'token':
    case 'usersFile':
    case 'tlsCert':
    case 'tlsKey':
    case 'tlsCa':
      return '(none)';
    case 'metricsPort':
      return '(off)';
    case 'metricsHost':
      return '(--host)';
    case 'logLevel':
      return DEFAULT_LOG_LEVEL;
  }
  const value = DEFAULT_BROKER_OPTIONS[key];
  if (typeof value === 'number' && key.endsWith('Bytes') && value >= 1024 * 1024) {
    return `${value} (${value / (1024 * 1024)} MiB)`;
  }
  return String(value);
}
