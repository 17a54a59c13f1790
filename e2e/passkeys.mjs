// A passkey registered on the profile page and used to sign in, in
// headless Chromium with its virtual authenticator (CDP WebAuthn), over
// the server's own HTTPS at https://localhost (a passkey's relying party
// is a host name).
//
// Input (environment): TURVA_URL (https://localhost:PORT), TURVA_EMAIL,
// TURVA_PASSWORD. Exit status 0 when every check passed.
import { rmSync } from 'node:fs';
import { launch } from './chromium.mjs';

const base = process.env.TURVA_URL;
const email = process.env.TURVA_EMAIL;
const password = process.env.TURVA_PASSWORD;
const failures = [];
const check = (ok, what) => {
  if (!ok) failures.push(what);
};

const { context, profile } = await launch('turva-passkeys-', { viewport: { width: 1280, height: 900 } });
try {
  const page = context.pages()[0] ?? (await context.newPage());
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2', transport: 'internal', hasResidentKey: true,
      hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true,
    },
  });

  // Signed in with the password, a passkey is added on the profile page.
  await page.goto(`${base}/sign-in`);
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForLoadState();
  await page.goto(`${base}/profile`);
  await page.getByRole('button', { name: 'Add a passkey' }).click();
  await page.waitForURL('**/profile/passkey');
  await page.waitForLoadState();
  check(await page.getByText('The passkey is added.').count() === 1, 'the passkey is added');
  check(await page.locator('ul.codes li').count() === 10, 'the first factor\'s recovery codes, once');

  // Signed out, then in with the passkey alone.
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/sign-in');
  await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15000 }).catch(async () => {
    console.error(`not signed in at ${page.url()}: ${(await page.locator('main').innerText()).slice(0, 300)}`);
  });
  check(await page.getByRole('button', { name: 'Sign out' }).count() === 1, 'signed in with the passkey');

  // The passkey as the second step after the password.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.waitForURL('**/sign-in');
  await page.getByLabel('Email address').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL('**/sign-in');
  await page.getByRole('button', { name: 'Use your passkey' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: 15000 }).catch(() => {});
  check(await page.getByRole('button', { name: 'Sign out' }).count() === 1, 'signed in with password and passkey');
  check(errors.length === 0, `page errors: ${errors.join('; ')}`);
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(failures.map((f) => `FAILED: ${f}`).join('\n'));
  process.exit(1);
}
console.log('passkeys passed');
