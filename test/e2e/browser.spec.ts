// A real browser (headless Debian Chromium driven by playwright-core) using the chat page:
// two pages in one room exchange messages through the UI, over SSE, over WebSocket, and mixed;
// and a reconnect shows the dropped-messages marker. Screenshots go to artifacts/.
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { REPO_ROOT, spawnBroker } from './helpers/spawn-broker.js';
import type { SpawnedBroker } from './helpers/spawn-broker.js';
import { spawnSampleApi } from './helpers/spawn-sample-api.js';
import type { SpawnedSampleApi } from './helpers/spawn-sample-api.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = `${REPO_ROOT}artifacts`;
const UI_TIMEOUT_MS = 10_000;

let broker: SpawnedBroker;
let api: SpawnedSampleApi;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  broker = await spawnBroker();
  api = await spawnSampleApi(`hyps://127.0.0.1:${broker.port}`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await broker?.stop();
}, 30_000);

type Transport = 'sse' | 'ws';

async function openChat(room: string, transport: Transport, author: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 820, height: 760 } });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(`${api.url}/?room=${room}`);
  await page.fill('#author', author);
  await page.check(transport === 'ws' ? '#transport-ws' : '#transport-sse');
  await page.click('#join');
  await page.locator('#state.state-live').waitFor();
  return page;
}

async function say(page: Page, text: string): Promise<void> {
  await page.fill('#text', text);
  await page.click('#send');
}

async function sees(page: Page, author: string, text: string): Promise<void> {
  await page
    .locator('#messages li.message', { hasText: text })
    .filter({ has: page.locator('.author', { hasText: author }) })
    .waitFor();
}

async function converse(alice: Page, bob: Page): Promise<void> {
  await say(alice, 'Hi Bob, can you see this?');
  await sees(bob, 'alice', 'Hi Bob, can you see this?');
  await say(bob, 'Loud and clear, Alice.');
  await sees(alice, 'bob', 'Loud and clear, Alice.');
  await say(alice, 'Great: one broker connection for both of us.');
  await sees(bob, 'alice', 'one broker connection');
  // Each page shows the whole conversation, its own messages included, in order.
  for (const page of [alice, bob]) {
    await expect(page.locator('#messages li.message .text').allTextContents()).resolves.toEqual([
      'Hi Bob, can you see this?',
      'Loud and clear, Alice.',
      'Great: one broker connection for both of us.',
    ]);
  }
}

async function closeAll(...pages: Page[]): Promise<void> {
  await Promise.all(pages.map((page) => page.context().close()));
}

it('two pages chat over SSE', async () => {
  const alice = await openChat('browser-sse', 'sse', 'alice');
  const bob = await openChat('browser-sse', 'sse', 'bob');
  try {
    await converse(alice, bob);
    await expect(alice.locator('#state').textContent()).resolves.toBe('live over SSE');
    // The page's stats line: both browsers share one Hyps subscription on the app server.
    await alice
      .locator('#stats', { hasText: 'local subscribers: 2 SSE, 0 WS in 1 room subscription(s)' })
      .waitFor();
    await alice.screenshot({ path: `${ARTIFACTS}/browser-sse.png` });
  } finally {
    await closeAll(alice, bob);
  }
}, 30_000);

it('two pages chat over WebSocket', async () => {
  const alice = await openChat('browser-ws', 'ws', 'alice');
  const bob = await openChat('browser-ws', 'ws', 'bob');
  try {
    await converse(alice, bob);
    await expect(bob.locator('#state').textContent()).resolves.toBe('live over WebSocket');
    await bob.screenshot({ path: `${ARTIFACTS}/browser-ws.png` });
  } finally {
    await closeAll(alice, bob);
  }
}, 30_000);

it('an SSE page and a WebSocket page share a room', async () => {
  const alice = await openChat('browser-mixed', 'sse', 'alice');
  const bob = await openChat('browser-mixed', 'ws', 'bob');
  try {
    await converse(alice, bob);
  } finally {
    await closeAll(alice, bob);
  }
}, 30_000);

it('shows an error next to the form when the server refuses a message', async () => {
  const page = await openChat('browser-errors', 'sse', 'alice');
  try {
    // Set past the input's maxlength: the server's validation is what is being shown.
    await page.locator('#author').evaluate((input, value) => {
      (input as unknown as { value: string }).value = value;
    }, 'x'.repeat(65));
    await say(page, 'hello');
    await page.locator('#error', { hasText: 'author:' }).waitFor();
    await expect(page.locator('#error').textContent()).resolves.toContain('Validation failed');
  } finally {
    await closeAll(page);
  }
}, 30_000);

it('marks the gap when the stream reconnects after the server restarted', async () => {
  const page = await openChat('browser-gap', 'sse', 'alice');
  try {
    const { port } = api;
    await api.stop();
    await page.locator('#state', { hasText: 'reconnecting' }).waitFor();
    api = await spawnSampleApi(`hyps://127.0.0.1:${broker.port}`, { PORT: String(port) });
    // EventSource reconnects by itself (retry: 1000 ms) and sends Last-Event-ID.
    await page.locator('#messages li.drop-marker', { hasText: 'Reconnected' }).waitFor();
    await expect(page.locator('#drop-banner').isVisible()).resolves.toBe(true);
    await page.locator('#state.state-live').waitFor();
    await page.screenshot({ path: `${ARTIFACTS}/browser-reconnect.png` });
  } finally {
    await closeAll(page);
  }
}, 40_000);
