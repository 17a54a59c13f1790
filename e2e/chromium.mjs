// What the browser scripts share: Debian's Chromium (or CHROMIUM), headless,
// with the flags this machine needs, in a fresh profile directory.
import { chromium } from 'playwright-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A persistent context in a new profile under `prefix`; `options` are
// added to (or override) the shared ones. The caller removes `profile`.
export const launch = async (prefix, options = {}) => {
  const profile = mkdtempSync(join(tmpdir(), prefix));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    ignoreHTTPSErrors: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    ...options,
  });
  return { context, profile };
};
