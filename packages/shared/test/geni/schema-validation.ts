/**
 * Test support: validate an RSpec against the GENI v3 XSDs with `xmllint --schema` (Debian libxml2-utils), offline
 * (`--nonet`; the schemas include each other by relative path).
 *
 * Schemas are read from `GENI_SCHEMAS_DIR`, else `shared/geni-fixtures/schemas` beside the repository. That folder
 * holds the request schema; the advertisement (ad.xsd, ad-common.xsd) and manifest (manifest.xsd,
 * manifest-request.xsd, manifest-common.xsd) schemas must be added there too: {@link missingSchemas} names what is
 * absent so the tests can say so instead of passing.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const fixturesDir = process.env.GENI_FIXTURES_DIR ?? path.resolve(here, '../../../../../shared/geni-fixtures');
export const schemasDir = process.env.GENI_SCHEMAS_DIR ?? path.join(fixturesDir, 'schemas');

/** The files each schema needs (its includes), by the schema's entry file. */
export const SCHEMA_FILES: Record<'ad' | 'manifest' | 'request', { entry: string; files: string[] }> = {
  ad: { entry: 'ad.xsd', files: ['ad.xsd', 'ad-common.xsd', 'any-extension-schema.xsd'] },
  manifest: { entry: 'manifest.xsd', files: ['manifest.xsd', 'manifest-request.xsd', 'manifest-common.xsd', 'any-extension-schema.xsd'] },
  request: { entry: 'geni-rspec3-request.xsd', files: ['geni-rspec3-request.xsd', 'request-common.xsd', 'any-extension-schema.xsd'] },
};

/** The files of `kind`'s schema missing from {@link schemasDir}. */
export function missingSchemas(kind: keyof typeof SCHEMA_FILES): string[] {
  return SCHEMA_FILES[kind].files.filter((f) => !existsSync(path.join(schemasDir, f)));
}

/** Why schema tests must be skipped, or undefined when they can run. */
export function schemaSkipReason(kind: keyof typeof SCHEMA_FILES): string | undefined {
  const missing = missingSchemas(kind);
  return missing.length === 0 ? undefined : `GENI v3 ${kind} schema files missing in ${schemasDir}: ${missing.join(', ')} (set GENI_SCHEMAS_DIR)`;
}

/** Throws (with xmllint's own message) unless `xml` is valid against the `kind` schema. */
export function assertSchemaValid(kind: keyof typeof SCHEMA_FILES, xml: string): void {
  const probe = spawnSync('xmllint', ['--version'], { encoding: 'utf8' });
  if (probe.error) throw new Error('xmllint not found: install Debian package libxml2-utils (scripts/setup-host.sh)');
  try {
    execFileSync('xmllint', ['--nonet', '--noout', '--schema', path.join(schemasDir, SCHEMA_FILES[kind].entry), '-'], {
      input: xml, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'],
    });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`not valid against the GENI v3 ${kind} schema:\n${e.stderr ?? e.message}`);
  }
}
