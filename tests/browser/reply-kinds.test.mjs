// The web chat shows the reply kinds beyond text and contact cards, in real headless Chromium
// (Debian's package) through playwright-core.
//
//   node tests/browser/reply-kinds.test.mjs <base-url> <screenshot-path>
//
// The bot's side is played by this script: it calls the emulator's GREEN-API methods directly
// (sendFileByUpload with a small PNG, sendPoll, sendLocation, sendInteractiveButtonsReply), as any
// bot would. As "Василиса Премудрая" in her private chat, the page must show the picture inline
// (and loaded), and the poll with its options; picking an option votes (POST /sandbox/votes,
// delivered to the bot as GREEN-API's pollUpdateMessage) and marks it picked; the location shows
// its coordinates and a map link; pressing a reply button shows the person's answer.
// Exit code 0 on success, 1 with a message otherwise.
import { STEP_TIMEOUT, fail, runBrowserTest } from './harness.mjs';

const PERSON = '79001234567@c.us';
// The sandbox's default credentials (hookbot::sandbox::DEFAULT_TOKEN); the instance id is asked.
const TOKEN = 'sandbox-token';
// A 48×48 green PNG.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAADAAAAAwCAIAAADYYG7QAAAAOklEQVR42u3OQQ0AAAgEoMtgPKOY3hbOBxsBSE2/EiEhISEhISEhISEhISEhISEhISEhISEhISGhOwsUMRZ5h2K5WAAAAABJRU5ErkJggg==',
  'base64',
);

// The page and the harness's helpers, set when the test starts.
let page;
let step;
let baseUrl;

/** The URL of the emulator's GREEN-API `method`. */
async function methodUrl(method) {
  const res = await fetch(new URL('/sandbox/instance', baseUrl));
  const instance = await res.json();
  return new URL(`/waInstance${instance.idInstance}/${method}/${TOKEN}`, baseUrl).toString();
}

/** Calls a GREEN-API method of the emulator as the bot would; its JSON answer. */
async function asTheBot(method, init) {
  const res = await fetch(await methodUrl(method), { method: 'POST', ...init });
  const body = await res.json().catch(() => null);
  if (res.status !== 200 || !body || !body.idMessage) {
    fail(`${method} answered ${res.status} ${JSON.stringify(body)}`);
  }
  return body;
}

/** The message `id` in the chat, once it appears. */
async function shown(id, what) {
  const node = page.locator(`[data-testid="message"][data-id="${id}"]`);
  await node.waitFor({ timeout: STEP_TIMEOUT }).catch(async () => {
    const seen = await page.locator('[data-testid="message"]').allInnerTexts();
    fail(`${what} (${id}) never appeared; the chat shows:\n  ` + seen.map((s) => s.replace(/\s+/g, ' ')).join('\n  '));
  });
  return node;
}

async function main(harness) {
  ({ page, step, baseUrl } = harness);
  await page.locator(`[data-testid="person-select"] option[value="${PERSON}"]`).waitFor({ state: 'attached' })
    .catch(() => fail(`the person picker never offered ${PERSON}`));
  await page.getByTestId('person-select').selectOption(PERSON);
  await page.getByTestId('chat-select').selectOption({ label: 'Private chat with the bot' });
  await page.waitForFunction(
    () => document.querySelector('[data-testid="connection"]')?.textContent.trim() === 'live',
    null, { timeout: STEP_TIMEOUT },
  ).catch(() => fail('live updates never connected'));

  // 1. A picture, uploaded by the bot: shown inline and loaded from the sandbox.
  const form = new FormData();
  form.append('chatId', PERSON);
  form.append('caption', 'Our menu');
  form.append('file', new Blob([PNG], { type: 'image/png' }), 'menu.png');
  const picture = await asTheBot('sendFileByUpload', { body: form });
  step(`the bot uploaded menu.png (${picture.idMessage}) at ${picture.urlFile}`);
  const pictureNode = await shown(picture.idMessage, 'the picture');
  const image = pictureNode.getByTestId('image');
  await image.waitFor({ timeout: STEP_TIMEOUT }).catch(() => fail('the picture is not shown as an image'));
  await page.waitForFunction(
    (id) => { const img = document.querySelector(`[data-id="${id}"] img`); return img && img.complete && img.naturalWidth === 48; },
    picture.idMessage, { timeout: STEP_TIMEOUT },
  ).catch(() => fail('the picture never loaded (naturalWidth is not 48)'));
  if ((await image.getAttribute('src')) !== picture.urlFile) fail(`the image's src is not ${picture.urlFile}`);
  const caption = await pictureNode.innerText();
  if (!caption.includes('Our menu')) fail(`the caption is not shown: ${JSON.stringify(caption)}`);
  step('the picture is shown inline, loaded, with its caption');

  // A document by URL: a link with its name (not followed: the test needs no network).
  const doc = await asTheBot('sendFileByUrl', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ chatId: PERSON, urlFile: 'https://example.com/price-list.pdf', fileName: 'price-list.pdf' }),
  });
  const link = (await shown(doc.idMessage, 'the document')).getByTestId('file-link');
  if ((await link.innerText()).trim() !== 'price-list.pdf' || (await link.getAttribute('href')) !== 'https://example.com/price-list.pdf') {
    fail(`the document shows as ${JSON.stringify(await link.innerText())} → ${await link.getAttribute('href')}`);
  }
  step('the document shows as a link with its name');

  // 2. A poll: its options shown; picking one votes, and the option is marked picked.
  const poll = await asTheBot('sendPoll', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      chatId: PERSON, message: 'Tea or coffee?',
      options: [{ optionName: 'Tea' }, { optionName: 'Coffee' }], multipleAnswers: false,
    }),
  });
  const pollNode = await shown(poll.idMessage, 'the poll');
  if ((await pollNode.getAttribute('data-type')) !== 'poll') fail('the poll is not drawn as a poll');
  const options = await pollNode.getByTestId('poll-option').allInnerTexts();
  if (options.map((o) => o.trim()).join('|') !== 'Tea|Coffee') fail(`the poll shows ${JSON.stringify(options)}`);
  if (!(await pollNode.innerText()).includes('Tea or coffee?')) fail('the poll does not show its question');
  const voted = page.waitForResponse(
    (r) => r.url().endsWith('/sandbox/votes') && r.request().method() === 'POST', { timeout: STEP_TIMEOUT },
  );
  const coffee = pollNode.locator('[data-testid="poll-option"][data-option="Coffee"]');
  await coffee.click();
  const vote = await voted;
  const sent = vote.request().postDataJSON();
  if (vote.status() !== 200) fail(`the vote answered ${vote.status()} ${await vote.text()}`);
  if (sent.poll !== poll.idMessage || JSON.stringify(sent.options) !== '["Coffee"]' || sent.from !== PERSON) {
    fail(`the vote sent ${JSON.stringify(sent)}`);
  }
  await page.waitForFunction(
    (id) => document.querySelector(`[data-id="${id}"] [data-option="Coffee"]`)?.getAttribute('aria-pressed') === 'true',
    poll.idMessage, { timeout: STEP_TIMEOUT },
  ).catch(() => fail('the picked option is not marked picked'));
  if (await page.locator('#reply-banner').isVisible()) fail('voting started a reply to the poll');
  step('the poll shows Tea and Coffee; picking Coffee voted and marked it');

  // 3. A location: its name, coordinates and an OpenStreetMap link.
  const place = await asTheBot('sendLocation', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ chatId: PERSON, latitude: 55.7539, longitude: 37.6208, nameLocation: 'Red Square' }),
  });
  const placeNode = await shown(place.idMessage, 'the location');
  const coordinates = await placeNode.getByTestId('coordinates').innerText();
  if (!coordinates.includes('55.753900, 37.620800')) fail(`the location shows ${JSON.stringify(coordinates)}`);
  const map = await placeNode.getByTestId('map-link').getAttribute('href');
  if (!map.startsWith('https://www.openstreetmap.org/?mlat=55.7539&mlon=37.6208')) fail(`the map link is ${map}`);
  step(`the location shows ${coordinates.trim()} and links ${map}`);

  // 4. Reply buttons: pressing one shows the person's answer, quoting the buttons.
  const buttons = await asTheBot('sendInteractiveButtonsReply', {
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      chatId: PERSON, body: 'Delivery or pick-up?',
      buttons: [{ buttonId: 'delivery', buttonText: 'Delivery' }, { buttonId: 'pickup', buttonText: 'Pick-up' }],
    }),
  });
  const buttonsNode = await shown(buttons.idMessage, 'the buttons');
  const pressed = page.waitForResponse(
    (r) => r.url().endsWith('/sandbox/presses') && r.request().method() === 'POST', { timeout: STEP_TIMEOUT },
  );
  await buttonsNode.locator('[data-testid="reply-button"][data-button-id="pickup"]').click();
  const press = await pressed;
  if (press.status() !== 200) fail(`the press answered ${press.status()} ${await press.text()}`);
  const answer = await shown((await press.json()).idMessage, 'the pressed button');
  if ((await answer.getAttribute('data-from')) !== 'me') fail('the pressed button is not drawn as mine');
  const answerText = await answer.innerText();
  if (!answerText.includes('Pick-up') || !answerText.includes('Delivery or pick-up?')) {
    fail(`the pressed button shows ${JSON.stringify(answerText)}`);
  }
  step('pressing Pick-up shows my answer, quoting the buttons');
}

await runBrowserTest('reply-kinds', main);
