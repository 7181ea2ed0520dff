/**
 * What a create asks of the guest beyond its domain: the size to grow the system disk to (`hd-size-mb`, never a
 * shrink) and the cloud-init users and SSH keys (OCF `<users>`, kvm-crm `<ssh-keys>`; decision 017).
 */
import { InputError } from '@kvm-crm/shared/errors';
import { isPlaceholder } from '@kvm-crm/shared/rspec';
import { assertPattern } from '@kvm-crm/shared/validation';
import { MAX_DISK_MIB } from '../adapters/qemu-img.js';
import { GUEST_USER_PATTERN, type SeedUser } from '../domain/cloud-init-seed.js';

/** 1 MiB in bytes. */
const MIB = 1024 * 1024;

/**
 * The size to grow a new VM's system disk to, in MiB, from `hd-size-mb`: undefined when it is absent or equal to
 * the template's virtual size (nothing to do).
 * @throws InputError when it is not a positive integer up to {@link MAX_DISK_MIB}, or smaller than the template:
 *   disks are never shrunk.
 */
export function diskGrowth(hdSizeMb: number | undefined, templateBytes: number, templateName: string): number | undefined {
  if (hdSizeMb === undefined) return undefined;
  if (!Number.isSafeInteger(hdSizeMb) || hdSizeMb < 1 || hdSizeMb > MAX_DISK_MIB) throw new InputError(`hd-size-mb must be an integer from 1 to ${MAX_DISK_MIB}, got ${hdSizeMb}`);
  const bytes = hdSizeMb * MIB;
  if (bytes < templateBytes) {
    throw new InputError(`hd-size-mb ${hdSizeMb} is smaller than template ${templateName} (${Math.ceil(templateBytes / MIB)} MiB): disks are only grown, never shrunk`);
  }
  return bytes === templateBytes ? undefined : hdSizeMb;
}

/**
 * The cloud-init users and keys of a create: every OCF `<users>` name becomes a user with all of `sshKeys`
 * (kvm-crm `<ssh-keys>`); without users, the keys go to the image's default user. Passwords are not written (OCF
 * sends them in clear; cloud-init would need a hash): a note says so.
 * @throws InputError for a user name that is not a valid guest login (the keys are checked by renderSeedFiles).
 */
export function seedUsers(rspecUsers: Array<{ name?: string; password?: string }>, sshKeys: string[], notes: string[]): { users: SeedUser[]; defaultUserKeys: string[] } {
  const users: SeedUser[] = [];
  let passwords = 0;
  for (const [i, u] of rspecUsers.entries()) {
    if (isPlaceholder(u.name)) throw new InputError(`user ${i + 1} has no name`);
    users.push({ name: assertPattern(u.name, GUEST_USER_PATTERN, `user name ${i + 1}`), ...(sshKeys.length ? { sshAuthorizedKeys: [...sshKeys] } : {}) });
    if (!isPlaceholder(u.password)) passwords++;
  }
  if (passwords) notes.push(`${passwords} user password(s) not set: the agent writes SSH keys only`);
  return { users, defaultUserKeys: users.length ? [] : [...sshKeys] };
}
