// sample-api entry point: a Nest HTTP app that streams Hyps rooms to browsers over SSE and
// WebSocket, and serves the chat page from ./public.
import 'reflect-metadata';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { WsAdapter } from '@nestjs/platform-ws';
import { AppModule } from './app.module.js';
import { readConfig, SampleApiConfigError } from './config.js';
import { parseWsMessage } from './chat/ws-protocol.js';

/** The page's files stay in src/public; from dist/main.js and src/main.ts alike that is here. */
const PUBLIC_DIR = fileURLToPath(new URL('../src/public/', import.meta.url));

async function main(): Promise<void> {
  const config = readConfig();
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    // Quiet start (the route table is in the README); warnings and errors still show.
    logger: ['warn', 'error', 'fatal'],
    abortOnError: false,
    // Open SSE streams would otherwise hold the HTTP server's close() forever.
    forceCloseConnections: true,
  });
  app.useWebSocketAdapter(new WsAdapter(app, { messageParser: parseWsMessage }));
  app.useStaticAssets(PUBLIC_DIR);
  app.enableShutdownHooks(['SIGTERM', 'SIGINT'], { useProcessExit: true });
  await app.listen(config.port, config.host);
  const { port } = app.getHttpServer().address() as AddressInfo;
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  process.stdout.write(
    `sample-api listening on http://${shown}:${port} (hyps: ${config.hypsUrl})\n`,
  );
}

main().catch((error: unknown) => {
  if (error instanceof SampleApiConfigError) {
    process.stderr.write(`sample-api: ${error.message}\n`);
    process.exit(2);
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`sample-api: failed to start: ${message}\n`);
  process.exit(1);
});
