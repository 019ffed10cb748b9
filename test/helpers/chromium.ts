/**
 * A real headless Chromium for the dashboard's test: Debian's `chromium`, driven by
 * playwright-core (which downloads no browser). As root, scripts/ensure-chromium first installs
 * it when it is missing. In CI (`CI=true`) a machine that cannot run it registers one failing
 * test; elsewhere one skipped test that says why.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensuredTool, withTool } from './system-tool.js';

/** The browser to run, or why there is none. */
export const chromiumBin = ensuredTool('ensure-chromium', "Debian's chromium is not installed");

/** Registers `register`'s tests when Chromium runs; else a failure (CI) or a skip saying why. */
export function withChromium(prefix: string, register: (bin: string) => void): void {
  withTool(chromiumBin(), prefix, 'a headless Chromium runs', register);
}

/**
 * A fresh browser profile in a temporary directory. Chromium's own background traffic (updates,
 * sync, field trials, QUIC) is turned off: it would only wait on a network the tests do not have.
 */
export async function launchChromium(bin: string): Promise<{ context: BrowserContext; close(): Promise<void> }> {
  const profile = mkdtempSync(join(tmpdir(), 'novactor-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: bin,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox', // tests run as root, where Chromium's sandbox cannot start
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    timeout: 60_000,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
