// The frame every browser test of the web chat shares: its arguments, a watchdog, Debian's
// headless Chromium through playwright-core (with the flags this machine's closed network
// needs), the page opened at the sandbox, a screenshot at the end (and of a failure), and the
// exit code: 0 on success, 1 with a message otherwise, 2 for wrong arguments.
//
//   node tests/browser/<name>.test.mjs <base-url> <screenshot-path>
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** How long one step (a click, an answer, a message appearing) may take. */
export const STEP_TIMEOUT = 15_000;
/** How long a whole test may take. */
const OVERALL_TIMEOUT = 90_000;

/** Ends the test with `msg`. */
export const fail = (msg) => { throw new Error(msg); };

/**
 * Runs the browser test `name`: `test({ page, baseUrl, step })` drives the page, already opened
 * at the sandbox's web chat; then the page must not have thrown, and the whole page is saved
 * as the screenshot. Exits the process.
 */
export async function runBrowserTest(name, test) {
  const [baseUrl, screenshotPath] = process.argv.slice(2);
  if (!baseUrl || !screenshotPath) {
    console.error(`usage: node ${name}.test.mjs <base-url> <screenshot-path>`);
    process.exit(2);
  }
  const step = (msg) => console.log(`[${name}] ${msg}`);

  // Whatever happens, the test ends by itself.
  const watchdog = setTimeout(() => {
    console.error(`[${name}] FAIL: the whole test took over ${OVERALL_TIMEOUT / 1000} s`);
    process.exit(1);
  }, OVERALL_TIMEOUT);
  watchdog.unref();

  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hookbot-chromium-'));
  let context;
  let page;
  const pageErrors = [];
  let code = 0;
  try {
    const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
    step(`launching ${executablePath}`);
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: { width: 1280, height: 820 },
      locale: 'en-GB',
      timeout: STEP_TIMEOUT * 2,
    });
    context.setDefaultTimeout(STEP_TIMEOUT);
    page = context.pages()[0] || (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => { if (m.type() === 'error') console.log(`[browser console] ${m.text()}`); });

    step(`opening ${baseUrl}`);
    const res = await page.goto(baseUrl, { waitUntil: 'domcontentloaded', timeout: STEP_TIMEOUT });
    if (!res || !res.ok()) fail(`GET ${baseUrl} answered ${res ? res.status() : 'nothing'}`);

    await test({ page, baseUrl, step });

    if (pageErrors.length) fail(`the page threw: ${pageErrors.join(' | ')}`);
    fs.mkdirSync(path.dirname(path.resolve(screenshotPath)), { recursive: true });
    await page.screenshot({ path: screenshotPath, fullPage: true });
    step(`PASS (screenshot: ${screenshotPath})`);
  } catch (err) {
    code = 1;
    console.error(`[${name}] FAIL: ${err && err.message ? err.message : err}`);
    if (pageErrors.length) console.error(`[${name}] page errors: ${pageErrors.join(' | ')}`);
    if (page) {
      const failShot = screenshotPath.replace(/(\.png)?$/, '.failure.png');
      try {
        fs.mkdirSync(path.dirname(path.resolve(failShot)), { recursive: true });
        await page.screenshot({ path: failShot, fullPage: true, timeout: 5_000 });
        console.error(`[${name}] screenshot of the failure: ${failShot}`);
      } catch (_) { /* best effort */ }
    }
  } finally {
    if (context) await Promise.race([context.close(), new Promise((r) => setTimeout(r, 10_000))]).catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
  process.exit(code);
}
