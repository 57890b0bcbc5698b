// GraphiQL in headless Chromium (Debian's `chromium`, driven by playwright-core), used by
// tests/graphiql.rs. Every request to anywhere but the server is refused, as on a machine
// with no internet. It runs the pre-filled query, opens Docs, then starts a subscription:
// it prints `subscribed` once the subscribe message is on the websocket and waits for an
// event to show in the result pane (the Rust test sends webhooks until it does).
// Screenshots go to the directory given.
//
//   node tests/js/graphiql.mjs URL SCREENSHOT_DIR
import { mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';

const [url, dir] = process.argv.slice(2);
mkdirSync(dir, { recursive: true });
const fail = (message) => {
  console.error(message);
  process.exit(1);
};
const timeout = 30_000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
try {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const origin = new URL(url).origin;
  const foreign = [];
  await context.route('**/*', (route) => {
    const requested = route.request().url();
    if (requested.startsWith(origin) || requested.startsWith('data:')) return route.continue();
    foreign.push(requested);
    return route.abort('internetdisconnected');
  });
  const page = await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  const sent = [];
  page.on('websocket', (ws) => ws.on('framesent', (frame) => sent.push(String(frame.payload))));
  const response = () => page.evaluate(() => document.querySelector('.graphiql-response .CodeMirror').CodeMirror.getValue());

  await page.goto(`${url}/`);
  await page.waitForSelector('.graphiql-execute-button', { timeout });

  // 1. The pre-filled query, as a new user would run it.
  await page.click('.graphiql-execute-button');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('"dashboard"'),
    null, { timeout },
  );
  const overview = JSON.parse(await response());
  if (overview.errors) fail(`the pre-filled query failed: ${JSON.stringify(overview.errors)}`);
  if (!overview.data.brand.name || !(overview.data.dashboard.orders > 0)) fail(`unexpected answer: ${await response()}`);
  await page.screenshot({ path: `${dir}/1-prefilled-query.png` });

  // 2. Docs: the schema loaded by introspection, browsable down to a field's description.
  await page.click('button[aria-label$="Documentation Explorer"]');
  await page.waitForSelector('.graphiql-doc-explorer', { timeout });
  await page.getByText('Root Types').waitFor({ timeout });
  if (await page.getByText('Error fetching schema').count()) fail('Docs: error fetching schema');
  await page.locator('.graphiql-doc-explorer a', { hasText: /^Query$/ }).first().click();
  await page.locator('.graphiql-doc-explorer', { hasText: 'dashboard' }).waitFor({ timeout });
  await page.screenshot({ path: `${dir}/2-docs.png` });

  // 3. A subscription, answered by a webhook.
  const subscription = 'subscription Live {\n  orderStatusChanged {\n    status\n    order { externalId amount creator { name } }\n  }\n}\n';
  await page.evaluate((text) => document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror.setValue(text),
    subscription);
  // GraphiQL reads the operation's name from the editor a moment after a change.
  await page.waitForTimeout(1000);
  await page.click('.graphiql-execute-button');
  const deadline = Date.now() + timeout;
  while (!sent.some((m) => m.includes('"subscribe"') && m.includes('orderStatusChanged'))) {
    if (Date.now() > deadline) await page.screenshot({ path: `${dir}/failed.png` }), fail(`no subscribe message on the websocket; sent: ${JSON.stringify(sent)}`);
    await page.waitForTimeout(50);
  }
  console.log('subscribed');
  await page.waitForFunction(
    () => document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror.getValue().includes('"orderStatusChanged"'),
    null, { timeout },
  );
  const event = JSON.parse(await response());
  if (event.errors || event.data.orderStatusChanged.status !== 'PAID') fail(`unexpected event: ${await response()}`);
  await page.screenshot({ path: `${dir}/3-subscription.png` });

  if (foreign.length) fail(`the page asked for files elsewhere: ${foreign.join(', ')}`);
  if (pageErrors.length) fail(`errors on the page: ${pageErrors.join('; ')}`);
  console.log(`event ${event.data.orderStatusChanged.order.externalId}`);
} finally {
  await browser.close();
}
