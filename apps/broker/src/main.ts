// hyps-broker entry point: read flags and HYPS_* variables, validate, host the Broker in a Nest
// application context, and drain on SIGTERM/SIGINT.
import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { BrokerConfigError, BrokerOptions } from '@hyps/transport';
import { parseCommandLine, usage } from './cli.js';
import { toBrokerOptions, validateBrokerConfig } from './broker-config.js';

/** Exit status for a configuration the broker refuses (PROTOCOL.md section 6). */
const EXIT_BAD_CONFIG = 2;

function brokerVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  return String((pkg as { version?: unknown }).version ?? '0.0.0');
}

function refuse(problems: string[]): never {
  process.stderr.write(
    'hyps-broker: invalid configuration:\n' +
      problems.map((p) => `  ${p}\n`).join('') +
      'Run hyps-broker --help for the options.\n',
  );
  process.exit(EXIT_BAD_CONFIG);
}

/** Parses and validates; exits (0 for --help/--version, 2 for bad input) unless it can run. */
function configure(version: string): BrokerOptions {
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
  try {
    return toBrokerOptions(checked.config, version);
  } catch (error) {
    // Only loading the users file can fail here.
    const flag = cli.sources.usersFile ?? '--users-file';
    if (error instanceof BrokerConfigError) refuse([`${flag}: ${error.message}`]);
    throw error;
  }
}

async function main(): Promise<void> {
  const version = brokerVersion();
  const options = configure(version);
  // Loading Nest takes about half a second; --help and bad configurations need not wait for it.
  const { NestFactory } = await import('@nestjs/core');
  const { BrokerModule } = await import('./broker.module.js');
  const { BrokerHost } = await import('./broker-host.service.js');
  const app = await NestFactory.createApplicationContext(BrokerModule.forRoot(options), {
    logger: ['warn', 'error', 'fatal'],
    // Let startup errors reach the catch below instead of process.abort().
    abortOnError: false,
  });
  // process.exit(0) after the shutdown hooks, rather than re-raising the signal, so that a
  // drained broker exits with status 0.
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  // Announced only now, so whoever waits for this line can already signal a graceful drain.
  const { host, port } = app.get(BrokerHost).address;
  process.stdout.write(
    `hyps-broker ${version} listening on ${host}:${port} (auth: ${app.get(BrokerHost).authMode})\n`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof BrokerConfigError) refuse([error.message]);
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`hyps-broker: failed to start: ${message}\n`);
  process.exit(1);
});
