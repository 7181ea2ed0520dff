/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by scripts/setup-host.sh) driven by playwright-core, for the
 * dashboard's browser test and load benchmark (decision record 029). Playwright downloads no browser here.
 */
import { chromium, type BrowserContext } from 'playwright-core';

/** The system Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Launch arguments: headless, as root (no sandbox), and nothing that reaches out to the network (the machines have
 * none besides the registries: without these flags Chromium opens many refused connections at each start).
 */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Starts Chromium with a fresh profile in `profileDir` (the caller removes it) that accepts our test CA's
 * certificates (HTTPS errors ignored). Viewport 1280 × 800 CSS pixels.
 * @throws when /usr/bin/chromium is missing or does not start.
 */
export async function launchChromium(profileDir: string): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profileDir, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
}
