/**
 * `virsh` on the system libvirt connection, for tests and tools that check or clean up the domains of a run (always
 * by name prefix, never touching others).
 */
import { existsSync, readFileSync } from 'node:fs';
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

/**
 * Restarts the machine's libvirtd, as after a host reboot but without the boot: `systemctl restart libvirtd` under
 * systemd; otherwise (containers, as scripts/setup-host.sh starts it) SIGTERM to the PID in /run/libvirtd.pid (only
 * when that process is libvirtd), wait until it has exited, `/usr/sbin/libvirtd -d`, and wait until `virsh version`
 * answers. Running guests (of every test) keep running: their qemu processes are not libvirtd's children, and the
 * new libvirtd reconnects to them. libvirtd does not start autostart domains again: it does that once per host boot
 * (its marker /run/libvirt/qemu/autostarted stays). Every inactive domain's state reason becomes `unknown`.
 * @throws when libvirtd is not found running or does not answer within 30 s.
 */
export async function restartLibvirtd(): Promise<void> {
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  if (existsSync('/run/systemd/system')) {
    await execa('systemctl', ['restart', 'libvirtd'], { timeout: 60_000 });
  } else {
    const pid = Number(readFileSync('/run/libvirtd.pid', 'utf8').trim());
    const comm = Number.isSafeInteger(pid) && pid > 1 ? readFileSync(`/proc/${pid}/comm`, 'utf8').trim() : '';
    if (comm !== 'libvirtd') throw new Error(`restartLibvirtd: /run/libvirtd.pid names ${pid}, which is not libvirtd (${JSON.stringify(comm)})`);
    process.kill(pid, 'SIGTERM');
    // Gone, or a zombie its parent has not reaped yet: either way it no longer holds the socket.
    const alive = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; alive(); i++) {
      if (i > 300) throw new Error(`restartLibvirtd: libvirtd ${pid} did not exit within 30 s`);
      await sleep(100);
    }
    await execa('/usr/sbin/libvirtd', ['-d'], { timeout: 30_000 });
  }
  for (let i = 0; ; i++) {
    if ((await virsh('version')).exitCode === 0) return;
    if (i > 300) throw new Error('restartLibvirtd: libvirtd does not answer 30 s after its restart');
    await sleep(100);
  }
}
