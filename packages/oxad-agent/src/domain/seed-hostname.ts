/**
 * Re-hosting an existing cloud-init NoCloud seed (decision 024 §8, `set_guest_hostname`): the same seed with a new
 * host name and the SAME instance id. A new instance id would make cloud-init treat the VM as a new instance and
 * re-run its per-instance modules (new SSH host keys, users, …); with the same id only the per-boot work runs, and
 * cloud-init's `set_hostname`/`update_hostname` modules (frequency "always") apply the datasource's name at the
 * next boot. Pure functions, no I/O.
 */
import { InputError } from '@kvm-crm/shared/errors';
import { UUID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { HOSTNAME_PATTERN, renderMetaData, renderUserData } from './cloud-init-seed.js';

/** The files of a seed as read back (name → content), e.g. by `readSeedIso`. */
export type SeedFileMap = Record<string, string>;

/**
 * The instance id of a `meta-data` file (its `instance-id:` line, as {@link renderMetaData} writes it).
 * @throws InputError when there is none or it is not a UUID (not a seed kvm-crm wrote).
 */
export function seedInstanceId(metaData: string): string {
  const m = /^instance-id:[ \t]*"?([^"\s]*)"?[ \t]*$/m.exec(metaData);
  if (!m) throw new InputError('the seed meta-data has no instance-id');
  return assertPattern(m[1]!, UUID_PATTERN, 'seed instance-id').toLowerCase();
}

/**
 * `files` with the host name replaced: `meta-data` re-rendered with the same `instance-id` and the new
 * `local-hostname`; in `user-data` the top-level `hostname:`/`fqdn:` lines replaced by what the seed builder writes
 * (`hostname: <name>`, or for a dotted name `hostname: <first label>` and `fqdn: <name>`) right after
 * `#cloud-config`, every other line kept in order. Other files are returned unchanged.
 * @throws InputError for a bad host name, a seed without `meta-data`/instance id, or a `user-data` that is not
 *   `#cloud-config`.
 */
export function rehostSeedFiles(files: SeedFileMap, hostname: string): SeedFileMap {
  const host = assertPattern(hostname, HOSTNAME_PATTERN, 'host name');
  const meta = files['meta-data'];
  if (typeof meta !== 'string') throw new InputError('the seed has no meta-data');
  const out: SeedFileMap = { ...files, 'meta-data': renderMetaData({ instanceId: seedInstanceId(meta), hostname: host }) };
  const userData = files['user-data'];
  if (typeof userData === 'string') {
    const lines = userData.split('\n');
    if (lines[0] !== '#cloud-config') throw new InputError('the seed user-data is not #cloud-config');
    const nameLines = renderHostLines(host);
    const rest = lines.slice(1).filter((l) => !/^(hostname|fqdn):/.test(l));
    out['user-data'] = ['#cloud-config', ...nameLines, ...rest].join('\n');
  }
  return out;
}

/** The `hostname:` (and `fqdn:`) lines {@link renderUserData} writes for `host` (one place for the quoting rules). */
function renderHostLines(host: string): string[] {
  return renderUserData({ hostname: host }).split('\n').slice(1).filter((l) => l !== '');
}
