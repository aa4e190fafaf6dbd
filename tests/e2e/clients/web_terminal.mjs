// A person using the browser terminal, played by headless Chromium through Playwright.
//
// Usage: node web_terminal.mjs API_URL TOKEN WORK_DIR
//
// WORK_DIR holds the files to upload: `keep` (uploaded, then downloaded), `drop` (uploaded,
// then deleted) and `huge` (over the quota). Their display names come from names.json in the
// same folder ({"keep": NAME, "drop": NAME, "huge": NAME}), since the names under test hold
// characters a file system path should not. The download lands in WORK_DIR/downloaded.
//
// Prints one JSON object of what the page showed; the caller checks it against the server.
// Exits non-zero, with the reason, when a step cannot be carried out at all.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

const [api, token, work] = process.argv.slice(2);
if (!work) {
  console.error('usage: node web_terminal.mjs API_URL TOKEN WORK_DIR');
  process.exit(2);
}
const names = JSON.parse(await readFile(join(work, 'names.json'), 'utf8'));
const STEP_TIMEOUT = 20_000;

// The flags a closed network needs: nothing in the background, no QUIC, no component updates.
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const seen = { page_errors: [] };
try {
  const context = await browser.newContext({ acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on('pageerror', (err) => seen.page_errors.push(err.message));

  const file = async (slot) => ({
    name: names[slot],
    mimeType: slot === 'keep' ? 'text/plain' : 'application/octet-stream',
    buffer: await readFile(join(work, slot)),
  });
  const transfer = (name) => page.locator('#transfers li').filter({ has: page.getByText(name, { exact: true }) });
  const row = (name) => page.locator('#file-rows tr').filter({ has: page.getByText(name, { exact: true }) });

  await page.goto(`${api}/`);

  // A wrong token: an error in the API's shape, and the page stays at the connect form.
  await page.fill('#token', 'not-a-token');
  await page.click('#connect button[type=submit]');
  await page.locator('#error').waitFor({ state: 'visible' });
  seen.bad_token_error = await page.locator('#error').textContent();
  seen.library_hidden_after_bad_token = await page.locator('#library').isHidden();

  await page.fill('#token', token);
  await page.click('#connect button[type=submit]');
  await page.locator('#account').waitFor({ state: 'visible' });
  seen.empty_list_shown = await page.locator('#no-files').isVisible();
  seen.error_hidden_after_connect = await page.locator('#error').isHidden();

  // Two files at once, each through its own signed POST form.
  await page.setInputFiles('#files-to-upload', [await file('keep'), await file('drop')]);
  await page.click('#upload button[type=submit]');
  for (const slot of ['keep', 'drop']) {
    await transfer(names[slot]).and(page.locator('[data-state=ready], [data-state=failed]')).waitFor();
  }
  await row(names.keep).waitFor();
  await row(names.drop).waitFor();
  seen.transfer_states = await page.$$eval('#transfers li', (items) =>
    items.map((li) => ({ name: li.dataset.name, state: li.dataset.state })),
  );
  seen.rows = await page.$$eval('#file-rows tr', (rows) =>
    rows.map((tr) => ({
      id: tr.dataset.fileId,
      name: tr.cells[0].textContent,
      state: tr.dataset.state,
      elements_in_name: tr.cells[0].children.length,
    })),
  );
  seen.quota_after_upload = await page.locator('#quota-text').textContent();

  // Download the one, delete the other.
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    row(names.keep).getByRole('button', { name: 'Download' }).click(),
  ]);
  seen.download_name = download.suggestedFilename();
  await download.saveAs(join(work, 'downloaded'));

  await row(names.drop).getByRole('button', { name: 'Delete' }).click();
  await row(names.drop).waitFor({ state: 'detached' });
  seen.rows_after_delete = await page.$$eval('#file-rows tr', (rows) => rows.map((tr) => tr.dataset.fileId));

  // Over the quota: refused before anything is sent, and said so.
  await page.setInputFiles('#files-to-upload', [await file('huge')]);
  await page.click('#upload button[type=submit]');
  await transfer(names.huge).and(page.locator('[data-state=failed]')).waitFor();
  seen.huge_status = await transfer(names.huge).locator('.status').textContent();
  await page.locator('#error').waitFor({ state: 'visible' });
  seen.huge_error = await page.locator('#error').textContent();
  seen.quota_at_end = await page.locator('#quota-text').textContent();

  // A reload keeps the tab's session: the list comes back without asking for the token.
  await page.reload();
  await row(names.keep).waitFor();
  seen.rows_after_reload = await page.$$eval('#file-rows tr', (rows) => rows.map((tr) => tr.dataset.fileId));
} finally {
  await browser.close();
}

console.log(JSON.stringify(seen));
