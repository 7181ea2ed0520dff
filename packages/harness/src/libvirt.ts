/**
 * `virsh` on the system libvirt connection, for tests and tools that check or clean up the domains of a run (always
 * by name prefix, never touching others).
 */
import { execa } from 'execa';

/** The libvirt connection every test cluster uses. */
export const LIBVIRT_URI = 'qemu:///system';

/** `virsh` with argv, on the system connection. */
export async function virsh(...args: string[]): Promise<{ stdout: string; exitCode: number; stderr: string }> {
  const r = await execa('virsh', ['-c', LIBVIRT_URI, ...args], { reject: false, timeout: 60_000 });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode ?? -1 };
}

/** Names of all domains (any state) whose name starts with `prefix`. */
export async function domainsWithPrefix(prefix: string): Promise<string[]> {
  const r = await virsh('list', '--all', '--name');
  return r.stdout.split('\n').map((s) => s.trim()).filter((n) => n.startsWith(prefix));
}

/** Destroys and undefines every domain whose name starts with `prefix` (never others). */
export async function removeDomains(prefix: string): Promise<void> {
  for (const name of await domainsWithPrefix(prefix)) {
    await virsh('destroy', name);
    await virsh('undefine', name, '--nvram');
    await virsh('undefine', name);
  }
}
