// Turva's pages in headless Chromium, driven by playwright-core against the
// real server that crates/testkit/tests/it/browser.rs started and filled.
// It signs in through the page, walks company → folder → document, checks
// that a script payload in a name, and typed into every text field of ten
// forms, is shown as text and never runs, runs
// axe-core on each page at phone and desktop width (no serious or critical
// violation), and saves screenshots.
//
// Input (environment): TURVA_URL, TURVA_EMAIL, TURVA_PASSWORD,
// TURVA_COMPANY, TURVA_FOLDER, TURVA_DOCUMENT, TURVA_PAYLOAD, TURVA_SCREENSHOTS (a
// directory, optional). Exit status 0 when every check passed.
import { rmSync } from 'node:fs';
import { launch } from './chromium.mjs';
import { auditor, widths } from './axe.mjs';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('TURVA_URL');
const shots = process.env.TURVA_SCREENSHOTS || '';
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

const { context, profile } = await launch('turva-chromium-', {
  // axe-core is injected as a script: Turva's CSP would (rightly) refuse it.
  bypassCSP: true,
  viewport: widths[1],
});
try {
  const page = context.pages()[0] ?? (await context.newPage());
  let dialogs = 0;
  page.on('dialog', async (d) => {
    dialogs += 1;
    await d.dismiss();
  });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));

  // axe on the page as it is, at both widths; a screenshot of each.
  const audit = auditor(page, check, shots);

  // Not signed in: the forgotten-password page.
  await page.goto(`${base}/forgot-password`);
  check(await page.locator('form[action="/forgot-password"]').count() === 1, 'forgotten password page shown');
  await audit('forgot-password');

  // Not signed in: the folder's address leads to the sign-in page.
  await page.goto(`${base}/folders/${env('TURVA_FOLDER')}`);
  check(await page.locator('form[action="/sign-in"]').count() === 1, 'sign-in page shown');
  await audit('sign-in');

  // A wrong password: a message on the page, next to the form.
  await page.getByLabel('Email address').fill(env('TURVA_EMAIL'));
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  check(await page.getByRole('alert').count() === 1, 'wrong password shows an alert');

  // Signed in with the keyboard: back to the folder.
  await page.getByLabel('Password').fill(env('TURVA_PASSWORD'));
  await page.getByLabel('Password').press('Enter');
  await page.waitForURL(`**/folders/${env('TURVA_FOLDER')}`);
  const payload = env('TURVA_PAYLOAD');
  check((await page.locator('h1').innerText()).includes(payload), 'the payload is shown as text');
  check(await page.locator('main img').count() === 0, 'the payload made no element');
  await audit('folder');

  // The document.
  await page.getByRole('link', { name: /Tarkastus/ }).click();
  await page.waitForURL(`**/documents/${env('TURVA_DOCUMENT')}`);
  check(await page.getByText('Pinta-ala').count() === 1, 'a field label is shown');
  await audit('document');

  // Its form: a value typed, saved as a new version.
  await page.getByRole('link', { name: 'Edit' }).click();
  await page.waitForURL(`**/documents/${env('TURVA_DOCUMENT')}/edit`);
  await audit('document-edit');
  await page.getByLabel('Pinta-ala').fill('99,5');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(`**/documents/${env('TURVA_DOCUMENT')}`);
  check(await page.getByText('99.5').count() === 1, 'the saved value is shown');
  await page.getByRole('link', { name: 'Version history' }).click();
  await page.getByRole('button', { name: 'Compare the two chosen' }).click();
  check(await page.locator('td.after', { hasText: '99.5' }).count() === 1, 'the comparison shows the change');
  check(await page.locator('td.after').count() === 1, 'and only it (a textarea\'s line breaks are no change)');
  await audit('history');

  // The company's folders and its audit log, where the views just made
  // are on record; then a page that does not exist.
  await page.goto(`${base}/`);
  await audit('company');
  await page.getByRole('link', { name: 'Folder tree' }).click();
  await page.waitForURL('**/tree');
  check(await page.locator('ul.tree a').count() >= 1, 'the folder tree lists the folder');
  await audit('folder-tree');
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.waitForURL(`**/c/${env('TURVA_COMPANY')}/audit`);
  check(await page.locator('code', { hasText: 'document.view' }).count() > 0, 'the document views are in the log');
  await audit('audit-log');
  await page.goto(`${base}/profile`);
  await audit('profile');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/members`);
  await audit('members');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/templates`);
  await page.getByRole('link', { name: 'Tarkastus' }).click();
  await page.waitForURL('**/templates/*/edit');
  await audit('template-editor');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/templates`);
  await page.getByRole('link', { name: 'Työmaa' }).click();
  await page.waitForURL('**/folder-templates/*/edit');
  check(await page.getByLabel('Sub-folders it makes (one a line)').inputValue() === 'Kuvat', 'the folder template\'s sub-folders');
  await audit('folder-template-editor');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/usage`);
  check(await page.locator('svg.bars rect.bar').count() >= 90, 'three charts of 30 days');
  await audit('usage');
  await page.goto(`${base}/documents/${env('TURVA_DOCUMENT')}/sharing`);
  await audit('sharing');
  await page.goto(`${base}/folders/${env('TURVA_FOLDER')}/settings`);
  await audit('folder-settings');
  await page.getByRole('link', { name: 'Choose where to move it' }).click();
  await page.waitForURL('**/move');
  check(await page.getByRole('heading', { name: /Destination/ }).count() === 1, 'the move browser');
  await audit('folder-move');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/trash`);
  await audit('trash');
  await page.goto(`${base}/c/${env('TURVA_COMPANY')}/new-folder`);
  await audit('new-folder');
  await page.goto(`${base}/folders/${env('TURVA_FOLDER')}/new-document`);
  await audit('new-document');
  await page.goto(`${base}/search?q=Tarkastus`);
  check(await page.locator('mark').count() > 0, 'search marks the words found');
  await audit('search');
  await page.goto(`${base}/no-such-page`);
  check((await page.locator('h1').innerText()) === 'Not found', 'the 404 page');
  await audit('not-found');

  // Keyboard: the skip link is the first stop and shows when focused.
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => document.activeElement?.className);
  check(focused === 'skip', `the first Tab stop is the skip link (got ${focused})`);

  // The payload typed into every text field of the main forms (inputs
  // with a pattern excepted: the browser would not send those) is shown
  // as text, makes no element and never runs, saved or sent back with a
  // refusal. The CSP is bypassed here, so escaping alone must hold.
  const everyField = [
    [`/folders/${env('TURVA_FOLDER')}`, 'form[action$="/folders"]'],
    [`/folders/${env('TURVA_FOLDER')}/new-document`, 'form[action$="/new-document"]'],
    [`/documents/${env('TURVA_DOCUMENT')}/edit`, 'form[action$="/edit"]'],
    [`/folders/${env('TURVA_FOLDER')}/settings`, 'form[action$="/rename"]'],
    [`/c/${env('TURVA_COMPANY')}/audit`, 'form.filters'],
    [`/c/${env('TURVA_COMPANY')}/templates`, 'form[action$="/folder-templates"]'],
    [`/c/${env('TURVA_COMPANY')}/templates`, 'form[action$="/templates"]'],
    ['/profile', 'form[action="/profile/tokens"]'],
    ['/profile', 'form[action="/profile"]'],
    ['/', 'form[role="search"]'],
  ];
  for (const [path, selector] of everyField) {
    await page.goto(`${base}${path}`);
    const form = page.locator(selector).first();
    const fields = form.locator(
      'input[type="text"]:not([readonly]):not([pattern]), input[type="search"], textarea');
    const n = await fields.count();
    check(n > 0, `${path} ${selector}: no text field to type into`);
    for (let i = 0; i < n; i += 1) await fields.nth(i).fill(payload);
    const dates = form.locator('input[type="date"][required]');
    for (let i = 0; i < await dates.count(); i += 1) await dates.nth(i).fill(new Date(Date.now() + 30 * 864e5).toISOString().slice(0, 10));
    await form.locator('button[type="submit"]').first().click();
    await page.waitForLoadState();
    const html = await page.content();
    check(html.includes("&lt;img src=x onerror=alert(1)&gt;"), `${path} ${selector}: the payload is not shown as text on ${page.url()} (${await page.title()}: ${(await page.locator("main").innerText()).slice(0, 300)})`);
    check(await page.locator('img[src="x"]').count() === 0, `${path} ${selector}: the payload made an element`);
  }
  check(dialogs === 0, `a payload ran: ${dialogs} dialogs`);

  // Sign out.
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/sign-in');

  check(dialogs === 0, `a script ran: ${dialogs} dialogs`);
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(failures.map((f) => `FAILED: ${f}`).join('\n'));
  process.exit(1);
}
console.log('browser checks passed');
