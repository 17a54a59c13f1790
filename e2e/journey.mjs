// The whole journey of issue 8 in headless Chromium, through the pages
// only: on a fresh installation the first operator is made through the
// set-up link, signs in, is held to adding an authenticator app, and
// creates a company; its
// owner accepts the invitation; a folder from a folder template; a
// document with a photo; shared with a guest until a day; the guest signs
// in and sees only that document; the owner revokes; the guest loses it;
// the owner finds the guest's views in the audit log; the owner adds an
// authenticator app on the profile page and signs in with its code.
//
// What only the server's side knows (emailed links, TOTP codes) is asked
// of crates/testkit/tests/it/browser.rs over stdout/stdin: a line
// `NEED <what> <arg>` is answered with one line.
//
// On the way, axe-core checks the pages only this journey reaches (set-up,
// enrolment, platform, invitation, the guest's home) at both widths, with
// screenshots when TURVA_SCREENSHOTS names a directory.
//
// Input (environment): TURVA_URL, TURVA_PASSWORD, TURVA_OPERATOR,
// TURVA_SETUP (the set-up link's path), TURVA_SCREENSHOTS (optional).
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch } from './chromium.mjs';
import { createInterface } from 'node:readline';
import { auditor, widths } from './axe.mjs';

const base = process.env.TURVA_URL;
const password = process.env.TURVA_PASSWORD;
const operator = process.env.TURVA_OPERATOR;
const setup = process.env.TURVA_SETUP;
const owner = 'journey.owner@example.test';
const guest = 'journey.guest@example.test';

const answers = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const need = async (what, arg) => {
  console.log(`NEED ${what} ${arg}`);
  const { value, done } = await answers.next();
  if (done || !value) throw new Error(`no answer for ${what}`);
  return value.trim();
};

const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

const { context, profile } = await launch('turva-journey-', {
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
  const audit = auditor(page, check, process.env.TURVA_SCREENSHOTS || '');

  const signIn = async (email) => {
    await page.goto(`${base}/sign-in`);
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password').fill(password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForLoadState();
  };
  const signOut = async () => {
    await page.goto(`${base}/`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/sign-in');
  };

  // 1. First run: the operator through the set-up link; held to adding
  // an authenticator app; then a company.
  await page.goto(`${base}/sign-in`);
  check(await page.getByText('This server has no operator yet').count() === 1, 'the sign-in page says no operator yet');
  await page.goto(`${base}${setup}`);
  await audit('setup');
  await page.getByLabel('Email address').fill(operator);
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('Repeat the password').fill(password);
  await page.getByRole('button', { name: 'Create the operator' }).click();
  await page.waitForURL('**/sign-in?notice=operator-ready');
  await signIn(operator);
  check(page.url().includes('/profile'), `the operator is held to enrolling (${page.url()})`);
  await audit('enrolment');
  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  const operatorSecret = (await page.locator('code.secret').innerText()).trim();
  await page.getByLabel('Code').fill(await need('code', operatorSecret));
  await page.getByRole('button', { name: 'Verify' }).click();
  check(await page.locator('ul.codes li').count() === 10, 'the operator\'s recovery codes');
  await page.goto(`${base}/`);
  await page.getByRole('link', { name: 'Platform' }).click();
  await page.getByLabel('Company name').fill('Rakennus Oy');
  await page.getByLabel("Owner's email address").fill(owner);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL('**/admin?done=company');
  check(await page.getByText('The company is created').count() === 1, 'the company is created');
  check(await page.getByRole('heading', { name: 'Rakennus Oy' }).count() === 1, 'and listed');
  await audit('platform');
  await signOut();

  // 2. The owner accepts the invitation and is signed in.
  await page.goto(`${base}/accept-invite?token=${await need('invite', owner)}`);
  check(await page.getByText('Rakennus Oy').count() > 0, 'the invitation names the company');
  await audit('accept-invite');
  await page.getByLabel('Your name').fill('Olli Omistaja');
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('Repeat the password').fill(password);
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.waitForURL('**/c/*');
  const company = page.url().split('/c/')[1];
  // The owner's templates, made through the API by the test.
  await need('templates', company);

  // 3. A folder from the folder template.
  await page.goto(`${base}/c/${company}/new-folder`);
  await page.getByLabel('Folder template').selectOption({ label: 'Työmaa' });
  await page.getByRole('button', { name: 'Use this template' }).click();
  await page.getByLabel('Site number').fill('T-100');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL('**/folders/*');
  check((await page.locator('h1').innerText()).includes('T-100'), 'the folder is named by its identifier');
  await page.getByRole('link', { name: 'Kuvat' }).click();
  await page.waitForURL('**/folders/*');

  // 4. A document with a photo.
  await page.getByRole('link', { name: 'New document' }).click();
  await page.getByLabel('Title').fill('Julkisivu');
  await page.getByLabel('Template').selectOption({ label: 'Kuvaus' });
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL('**/edit');
  const documentUrl = page.url().replace(/\/edit$/, '');
  const document = documentUrl.split('/documents/')[1];
  await page.getByLabel('Kohde').fill('Itäjulkisivu');
  // A signature drawn on the pad.
  await page.getByLabel("Signer's name").fill('Olli Omistaja');
  // From the keyboard: the typed name written on the pad; then cleared.
  await page.getByRole('button', { name: 'Sign with the typed name' }).press('Enter');
  check((await page.locator('[data-signature-image]').inputValue()).startsWith('data:image/png;base64,'), 'the typed name signs');
  await page.getByRole('button', { name: 'Clear the signature' }).click();
  check(await page.locator('[data-signature-image]').inputValue() === '', 'the signature is cleared');
  const pad = await page.locator('[data-signature-pad] canvas').boundingBox();
  await page.mouse.move(pad.x + 20, pad.y + pad.height / 2);
  await page.mouse.down();
  await page.mouse.move(pad.x + pad.width / 3, pad.y + 10, { steps: 8 });
  await page.mouse.move(pad.x + pad.width / 2, pad.y + pad.height - 10, { steps: 8 });
  await page.mouse.up();
  check((await page.locator('[data-signature-image]').inputValue()).startsWith('data:image/png;base64,'), 'the drawing is in the form');
  await audit('document-form-signature');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.waitForURL(documentUrl);
  check(await page.locator('figure.signature img').count() === 1, 'the signature is shown');
  const photo = join(profile, 'julkisivu.png');
  // A 1×1 PNG.
  writeFileSync(photo, Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==', 'base64'));
  await page.getByLabel('Kuvat: Take or choose a photo').setInputFiles(photo);
  // The script sends it with a progress bar, then goes to the document
  // (held back half a second here, so that the bar can be seen).
  await page.route('**/files', async (route) => {
    await new Promise((done) => setTimeout(done, 500));
    await route.continue();
  });
  await page.getByRole('button', { name: 'Upload' }).nth(1).click();
  check(await page.locator('[data-upload-progress]').nth(1).isVisible(), 'the upload shows its progress');
  await page.locator('img.thumb').waitFor();
  await page.unroute('**/files');
  check(await page.locator('img.thumb').count() === 1, 'the photo is shown');

  // 5. Shared with a guest until a day.
  await page.getByRole('link', { name: 'Sharing' }).click();
  await page.getByLabel('Share with (email address)').fill(guest);
  await page.getByLabel('Expires').fill('2099-06-30');
  await page.getByRole('button', { name: 'Share' }).click();
  await page.waitForURL('**/sharing?done=shared');
  check(await page.getByRole('cell', { name: guest, exact: true }).count() === 1, 'the share is listed');
  await signOut();

  // 6. The guest accepts, signs in, sees only that document.
  await page.goto(`${base}/accept-invite?token=${await need('invite', guest)}`);
  await page.getByLabel('Your name').fill('Vera Vieras');
  await page.getByLabel('New password').fill(password);
  await page.getByLabel('Repeat the password').fill(password);
  await page.getByRole('button', { name: 'Accept' }).click();
  await page.waitForLoadState();
  check(await page.getByRole('link', { name: 'Julkisivu' }).count() === 1, 'the guest sees the document');
  await audit('guest-home');
  check(await page.locator('main a[href^="/folders/"]').count() === 0, 'and no folder');
  await page.getByRole('link', { name: 'Julkisivu' }).click();
  await page.waitForURL(documentUrl);
  check(await page.getByText('Itäjulkisivu').count() === 1, 'the guest reads it');
  await signOut();

  // 7. The owner revokes; the guest loses it.
  await signIn(owner);
  await page.goto(`${documentUrl}/sharing`);
  await page.getByRole('button', { name: `Revoke: ${guest}` }).click();
  await page.waitForURL('**/sharing?done=revoked');
  check(await page.getByText('The share is revoked.').count() === 1, 'revoked');
  await signOut();
  await signIn(guest);
  check(await page.getByRole('link', { name: 'Julkisivu' }).count() === 0, 'the guest lost it');
  const gone = await page.goto(documentUrl);
  check(gone.status() === 404, `the document answers 404 to the guest (${gone.status()})`);
  await signOut();

  // 8. The owner finds the guest's views in the audit log.
  await signIn(owner);
  await page.goto(`${base}/c/${company}/audit?action=document.view&actor=${encodeURIComponent(guest)}`);
  check(await page.locator('tbody tr').count() >= 1, 'the guest\'s views are in the log');
  check(await page.getByText(`document ${document}`).count() >= 1, 'naming the document');

  // 9. The owner adds an authenticator app on the profile page, and the
  // next sign-in asks for its code.
  await page.getByRole('link', { name: 'Olli Omistaja' }).click();
  await page.getByRole('button', { name: 'Add an authenticator app' }).click();
  check(await page.locator('img.qr').count() === 1, 'the QR code is shown');
  const secret = (await page.locator('code.secret').innerText()).trim();
  await page.getByLabel('Code').fill(await need('code', secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  check(await page.locator('ul.codes li').count() === 10, 'ten recovery codes, shown once');
  await signOut();
  await signIn(owner);
  await page.getByLabel('Code').fill(await need('code', secret));
  await page.getByRole('button', { name: 'Verify' }).click();
  await page.waitForURL(`**/c/${company}`);
  check(dialogs === 0, `a script ran: ${dialogs} dialogs`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(failures.map((f) => `FAILED: ${f}`).join('\n'));
  process.exit(1);
}
console.log('journey passed');
process.exit(0);
