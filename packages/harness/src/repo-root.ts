/**
 * Where the repository is on disk, for the harness's files outside its own package: scripts/build-test-template.sh
 * (and through it `.cache/test-template/`), test/python/, packages/<daemon>/dist/main.js.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository root. This module runs as `<repo>/packages/harness/dist/repo-root.js` (also when imported as
 * `@kvm-crm/harness`: Node resolves the workspace link to its real path), so the root is three levels up.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
