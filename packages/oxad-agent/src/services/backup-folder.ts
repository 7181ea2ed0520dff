/** Reading a backup folder: its `vm.json`, stamps, sizes (decision record 026); used by {@link BackupService}. */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '@kvm-crm/shared/errors';
import { UUID_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { validateDomainMetadata } from '../domain/domain-xml.js';
import type { BackupDefinition } from './backup-service.js';

/** The `format` of a backup's `vm.json`. */
export const BACKUP_FORMAT = 'kvm-crm-backup/1';
/** Disk file names a backup may hold: the system disk, then data disks. */
export const BACKUP_DISK_PATTERN = /^(disk|data-vd[b-q])\.qcow2$/;
/** Largest `vm.json` read (bytes). */
const MAX_DEFINITION_BYTES = 256 * 1024;

/** Orders stamps by time, then by their `-n` suffix. */
export function compareStamps(a: string, b: string): number {
  const [ta, na] = a.split('-');
  const [tb, nb] = b.split('-');
  return ta!.localeCompare(tb!) || Number(na ?? 0) - Number(nb ?? 0);
}

/** `vm.json` of a backup folder, checked field by field. @throws InputError naming what is wrong. */
export async function readDefinition(dir: string): Promise<BackupDefinition> {
  const file = path.join(dir, 'vm.json');
  if ((await stat(file)).size > MAX_DEFINITION_BYTES) throw new InputError(`backup ${dir}: vm.json is too large`);
  let d: BackupDefinition;
  try {
    d = JSON.parse(await readFile(file, 'utf8')) as BackupDefinition;
  } catch (cause) {
    throw new InputError(`backup ${dir}: vm.json is not JSON`, { cause });
  }
  if (d?.format !== BACKUP_FORMAT) throw new InputError(`backup ${dir}: vm.json format is not ${BACKUP_FORMAT}`);
  assertPattern(d.vmUuid, UUID_PATTERN, 'backup VM uuid');
  d.vmUuid = d.vmUuid.toLowerCase();
  validateDomainMetadata(d.metadata);
  if (d.metadata.vmUuid.toLowerCase() !== d.vmUuid) throw new InputError(`backup ${dir}: vm.json names two VM uuids`);
  if (!Array.isArray(d.disks) || d.disks.length < 1 || d.disks[0] !== 'disk.qcow2' || !d.disks.every((x) => typeof x === 'string' && BACKUP_DISK_PATTERN.test(x)) || new Set(d.disks).size !== d.disks.length) {
    throw new InputError(`backup ${dir}: vm.json disks must start with disk.qcow2 and name only data-vd?.qcow2 after it`);
  }
  if (!Array.isArray(d.nics)) throw new InputError(`backup ${dir}: vm.json nics must be a list`);
  return d;
}

export function xmlDomainType(xml: string): string {
  return /<domain\s+type=['"](\w+)['"]/.exec(xml)?.[1] ?? 'unknown';
}

export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false; // absent (or unreadable): the backup goes without it
  }
}

export async function folderBytes(dir: string, files: string[]): Promise<number> {
  let n = 0;
  // A file missing from the sum (no seed.iso) counts 0: the size is informative, the checksums are the check.
  for (const f of files) n += (await stat(path.join(dir, f)).catch(() => ({ size: 0 }))).size;
  return n;
}
