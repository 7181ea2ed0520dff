/**
 * Debian's Chromium (`/usr/bin/chromium`, installed by scripts/setup-host.sh) driven by playwright-core, for the
 * dashboard's browser test and load benchmark (decision record 029). Playwright downloads no browser here.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { chromium, type BrowserContext } from 'playwright-core';

/** The system Chromium. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Launch arguments: headless, as root (no sandbox), and nothing that reaches out to the network (the machines have
 * none besides the registries: without these flags Chromium opens many refused connections at each start).
 */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Options of {@link launchChromium}. */
export interface ChromiumOptions {
  /**
   * Run the browser in this network namespace (a name under /run/netns, e.g. from `createBrowserNetwork`), entered
   * with `nsenter --net` (only the network namespace changes). Default: the caller's namespace.
   */
  netns?: string;
}

/**
 * Starts Chromium with a fresh profile in `profileDir` (the caller removes it) that accepts our test CA's
 * certificates (HTTPS errors ignored). Viewport 1280 × 800 CSS pixels. With `netns`, Playwright starts a launcher
 * written next to the profile (`<profileDir>.launcher`, a file beside the profile folder: the caller removes it with the folder's parent) that execs
 * `nsenter --net=/run/netns/<netns> -- /usr/bin/chromium <Playwright's arguments>`; nsenter and Chromium keep its PID.
 * @throws when /usr/bin/chromium is missing or does not start, or when `netns` is not a plain name of an existing
 * namespace.
 */
export async function launchChromium(profileDir: string, options: ChromiumOptions = {}): Promise<BrowserContext> {
  let executablePath = CHROMIUM_PATH;
  if (options.netns !== undefined) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(options.netns) || !existsSync(`/run/netns/${options.netns}`)) {
      throw new Error(`launchChromium: no network namespace ${JSON.stringify(options.netns)}`);
    }
    executablePath = `${profileDir}.launcher`;
    await writeFile(executablePath, `#!/bin/sh\nexec nsenter --net=/run/netns/${options.netns} -- ${CHROMIUM_PATH} "$@"\n`, { mode: 0o755 });
  }
  return chromium.launchPersistentContext(profileDir, { executablePath, headless: true, args: CHROMIUM_ARGS, ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
}

