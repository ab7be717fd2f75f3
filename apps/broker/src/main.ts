// hyps-broker entry point: read flags and HYPS_* variables, validate, host the Broker in a Nest
// application context, and drain on SIGTERM/SIGINT.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { BrokerConfigError } from '@hyps/transport';
import { parseCommandLine, usage } from './cli.js';
import { AppConfig, toAppConfig, validateBrokerConfig } from './broker-config.js';
import { JsonLogger, NestJsonLogger } from './json-logger.js';

/** Exit status for a configuration the broker refuses (PROTOCOL.md section 6). */
const EXIT_BAD_CONFIG = 2;

function brokerVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String((pkg as { version?: unknown }).version ?? '0.0.0');
}

// Configuration problems stay human-readable: whoever reads them is at a terminal, not a log
// pipeline, and the broker never started.
function refuse(problems: string[]): never {
  process.stderr.write(
    'hyps-broker: invalid configuration:\n' +
      problems.map((p) => `  ${p}\n`).join('') +
      'Run hyps-broker --help for the options.\n',
  );
  process.exit(EXIT_BAD_CONFIG);
}

/** Parses and validates; exits (0 for --help/--version, 2 for bad input) unless it can run. */
function configure(version: string): AppConfig {
  const cli = parseCommandLine(process.argv.slice(2), process.env);
  if (cli.kind === 'help') {
    process.stdout.write(usage());
    process.exit(0);
  }
  if (cli.kind === 'version') {
    process.stdout.write(`hyps-broker ${version}\n`);
    process.exit(0);
  }
  if (cli.kind === 'invalid') refuse(cli.problems);
  const checked = validateBrokerConfig(cli.values, cli.sources);
  if (!checked.ok) refuse(checked.problems);
  const loaded = toAppConfig(checked.config, cli.sources, version);
  if (!loaded.ok) refuse(loaded.problems);
  return loaded.app;
}

/** What the debug log shows of the configuration: everything but secrets and PEM contents. */
function describeConfig(config: AppConfig): Record<string, unknown> {
  const { auth, tls, ...limits } = config.broker;
  return {
    ...limits,
    auth: auth.mode,
    users: auth.mode === 'hmac' ? auth.users.length : undefined,
    tls: tls ? (tls.ca === undefined ? 'on' : 'client-certificates') : 'off',
    metrics: config.metrics,
    logLevel: config.logLevel,
  };
}

async function main(logger: JsonLogger, config: AppConfig, version: string): Promise<void> {
  logger.info('started', { version, pid: process.pid, node: process.version });
  logger.debug('configuration', describeConfig(config));
  // Loading Nest takes about half a second; --help and bad configurations need not wait for it.
  const { NestFactory } = await import('@nestjs/core');
  const { BrokerModule } = await import('./broker.module.js');
  const { BrokerHost } = await import('./broker-host.service.js');
  const { MetricsServer } = await import('./metrics-server.js');
  const app = await NestFactory.createApplicationContext(BrokerModule.forRoot(config, logger), {
    logger: new NestJsonLogger(logger),
    // Let startup errors reach the catch below instead of process.abort().
    abortOnError: false,
  });
  // process.exit(0) after the shutdown hooks, rather than re-raising the signal, so that a
  // drained broker exits with status 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  // Printed before the listening line, so whoever waits for that line has this one too.
  if (config.metrics) process.stdout.write(`metrics on ${app.get(MetricsServer).url}\n`);
  // Announced only now, so whoever waits for this line can already signal a graceful drain.
  const host = app.get(BrokerHost);
  const { address } = host;
  const tls = host.tls === 'off' ? '' : ' (tls)';
  const auth = host.authMode + (host.tls === 'client-certificates' ? ', client certificates' : '');
  process.stdout.write(
    `hyps-broker ${version} listening on ${address.host}:${address.port}${tls} (auth: ${auth})\n`,
  );
}

const version = brokerVersion();
const config = configure(version);
const logger = new JsonLogger(config.logLevel);
main(logger, config, version).catch((error: unknown) => {
  if (error instanceof BrokerConfigError) refuse([error.message]);
  const message = error instanceof Error ? error.message : String(error);
  logger.error('failed to start', { error: message });
  process.exit(1);
});
