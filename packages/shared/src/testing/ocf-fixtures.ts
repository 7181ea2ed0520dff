/**
 * Test support: where the OCF fixtures live (`shared/ocf-fixtures/`, a sibling of the repository) and how to read
 * them. Exported as `@kvm-crm/shared/testing` for the tests of every package; never imported by production code.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The fixtures folder: `$OCF_FIXTURES_DIR` if set, else `<repo>/../shared/ocf-fixtures`, resolved from this file's
 * location (`packages/shared/dist/testing/`).
 * @throws {Error} when the folder does not exist, so that fixture tests fail instead of silently passing.
 */
export function fixturesDir(): string {
  const dir = process.env['OCF_FIXTURES_DIR'] ?? fileURLToPath(new URL('../../../../../shared/ocf-fixtures/', import.meta.url));
  if (!existsSync(join(dir, 'README.md'))) {
    throw new Error(`OCF fixtures not found in ${dir} (set OCF_FIXTURES_DIR to the shared/ocf-fixtures folder)`);
  }
  return dir;
}

/** Every `.xml` file under the fixtures folder, as sorted `/`-separated relative paths. */
export function listXmlFixtures(dir: string = fixturesDir()): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith('.xml')) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** A fixture's content, read as UTF-8 (byte-exact for these ASCII files). */
export function readFixture(rel: string, dir: string = fixturesDir()): string {
  return readFileSync(join(dir, rel), 'utf8');
}
