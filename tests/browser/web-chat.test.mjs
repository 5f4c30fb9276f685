// Drives the sandbox web chat in real headless Chromium (Debian's package) through playwright-core.
//
//   node tests/browser/web-chat.test.mjs <base-url> <screenshot-path>
//
// As "Василиса Премудрая" in her private chat with contact-card-bot: sends `contact иван`, expects the
// bot's contact card for Иван quoting the request, takes a screenshot; then sends `contact nobody-such`
// and expects a short quoted text reply. Exit code 0 on success, 1 with a message otherwise.
import { STEP_TIMEOUT, fail, runBrowserTest } from './harness.mjs';

const PERSON = '79001234567@c.us';
const PERSON_NAME = 'Василиса Премудрая';

// The page and the harness's helpers, set when the test starts.
let page;
let step;
let baseUrl;

/** Sends `text` through the composer; answers the new message's id (from the page's own POST). */
async function send(text, how) {
  const input = page.getByTestId('message-input');
  await input.fill(text);
  const posted = page.waitForResponse(
    (r) => r.url().endsWith('/sandbox/messages') && r.request().method() === 'POST',
    { timeout: STEP_TIMEOUT },
  );
  if (how === 'enter') await input.press('Enter');
  else await page.getByTestId('send-button').click();
  const res = await posted;
  const body = await res.json().catch(() => null);
  if (res.status() !== 200 || !body || !body.idMessage) {
    fail(`POST /sandbox/messages for ${JSON.stringify(text)} answered ${res.status()} ${JSON.stringify(body)}`);
  }
  // The person's own bubble appears (through the live updates).
  const mine = page.locator(`[data-testid="message"][data-id="${body.idMessage}"]`);
  await mine.waitFor({ timeout: STEP_TIMEOUT }).catch(() =>
    fail(`my message ${body.idMessage} (${JSON.stringify(text)}) never appeared in the chat`));
  if ((await mine.getAttribute('data-from')) !== 'me') fail(`my message is not drawn as mine (data-from="me")`);
  return body.idMessage;
}

/** The bot's reply quoting message `id`, once it appears. */
async function botReplyTo(id, what) {
  const reply = page.locator(
    `[data-testid="message"][data-from="bot"]:has([data-testid="quoted"][data-quoted-id="${id}"])`,
  ).last();
  await reply.waitFor({ timeout: STEP_TIMEOUT }).catch(async () => {
    const seen = await page.locator('[data-testid="message"]').allInnerTexts();
    fail(`no bot reply quoting ${id} (${what}) within ${STEP_TIMEOUT / 1000} s; the chat shows:\n  ` +
      seen.map((s) => s.replace(/\s+/g, ' ')).join('\n  '));
  });
  return reply;
}

async function main(harness) {
  ({ page, step, baseUrl } = harness);

  // Who am I: Василиса Премудрая, in her private chat with the bot.
  const person = page.getByTestId('person-select');
  await page.locator(`[data-testid="person-select"] option[value="${PERSON}"]`).waitFor({ state: 'attached' })
    .catch(() => fail(`the person picker never offered ${PERSON}`));
  const label = await page.locator(`[data-testid="person-select"] option[value="${PERSON}"]`).textContent();
  if (!label.includes(PERSON_NAME)) fail(`the picker shows ${PERSON} as ${JSON.stringify(label)}, not ${PERSON_NAME}`);
  await person.selectOption(PERSON);
  await page.getByTestId('chat-select').selectOption({ label: 'Private chat with the bot' });
  step(`picked ${PERSON_NAME} (${PERSON}), private chat`);

  const connection = page.getByTestId('connection');
  await page.waitForFunction(
    () => document.querySelector('[data-testid="connection"]')?.textContent.trim() === 'live',
    null, { timeout: STEP_TIMEOUT },
  ).catch(async () => fail(`live updates never connected: the page says ${JSON.stringify(await connection.textContent())}`));

  // 1. A match: the contact card of Иван, quoting the request.
  const askId = await send('contact иван', 'click');
  step(`sent "contact иван" (${askId}); waiting for the bot's card`);
  const card = await botReplyTo(askId, 'contact иван');
  if ((await card.getAttribute('data-type')) !== 'contact') {
    fail(`the bot answered "contact иван" with ${await card.getAttribute('data-type')}: ${await card.innerText()}`);
  }
  const cardText = await card.getByTestId('contact-card').innerText();
  if (!cardText.includes('Иван')) fail(`the contact card does not show Иван: ${JSON.stringify(cardText)}`);
  const quote = await card.getByTestId('quoted').innerText();
  if (!quote.includes('contact иван')) fail(`the card's quote does not show the request: ${JSON.stringify(quote)}`);
  step(`card: ${cardText.replace(/\s+/g, ' ')} | quote: ${quote.replace(/\s+/g, ' ')}`);

  // 2. No match: a short text reply, quoted. Sent with Enter this time.
  const missId = await send('contact nobody-such', 'enter');
  step(`sent "contact nobody-such" (${missId}); waiting for the bot's text`);
  const miss = await botReplyTo(missId, 'contact nobody-such');
  const missType = await miss.getAttribute('data-type');
  const missText = (await miss.locator('.text').innerText().catch(() => '')).trim();
  if (missType !== 'text' || !missText) fail(`expected a text reply to "contact nobody-such", got ${missType}: ${await miss.innerText()}`);
  step(`no-match reply: ${JSON.stringify(missText)}`);
}

await runBrowserTest('web-chat', main);
