/**
 * The domain XML of a migrated VM on its new host (decision record 025): the source's persistent definition with
 * the host-specific parts replaced, nothing else changed (same UUID, name, MACs, memory, CPUs, devices, metadata).
 * Pure string work on libvirt's own output, no I/O.
 */
import { InputError } from '@kvm-crm/shared/errors';
import { BRIDGE_NAME_PATTERN, assertPattern } from '@kvm-crm/shared/validation';
import { xmlEscape } from './domain-xml.js';

/** What changes between the two hosts. Paths absolute. */
export interface HostRewrite {
  /** The domain's name here (this agent's prefix + the VM uuid). */
  name: string;
  /** The VM folder on the source; every path under it moves to `targetDir`. */
  sourceDir: string;
  targetDir: string;
  /** This host's domain type (kvm or TCG). */
  domainType: 'kvm' | 'qemu';
  /** Source bridge → target bridge, for every `<source bridge=…/>` of the XML. */
  bridges: Record<string, string>;
  /** The system disk's backing template here; undefined: the disk is standalone (its `<backingStore>` goes). */
  backing?: { path: string; format: string };
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The source's domain XML rewritten for this host (see {@link HostRewrite}).
 * @throws InputError when the XML attaches a bridge the map does not cover, or has no system disk under `sourceDir`.
 */
export function rewriteDomainXmlForHost(xml: string, r: HostRewrite): string {
  const src = xmlEscape(r.sourceDir);
  if (!xml.includes(`${src}/disk.qcow2`)) throw new InputError('the domain XML has no system disk in the source VM folder');
  let out = xml.split(`${src}/`).join(`${xmlEscape(r.targetDir)}/`);
  out = out.replace(/<domain(\s+)type=(['"])(kvm|qemu)\2/, `<domain$1type='${r.domainType}'`);
  out = out.replace(/<name>[^<]*<\/name>/, `<name>${xmlEscape(r.name)}</name>`);
  out = out.replace(/<source(\s+)bridge=(['"])([^'"]*)\2/g, (_m, sp: string, _q: string, name: string) => {
    const to = r.bridges[name];
    if (to === undefined) throw new InputError(`the VM is attached to bridge ${name}, which has no counterpart on this host`);
    return `<source${sp}bridge='${xmlEscape(assertPattern(to, BRIDGE_NAME_PATTERN, 'bridge name'))}'`;
  });
  const diskPath = escapeRe(`${xmlEscape(r.targetDir)}/disk.qcow2`);
  out = out.replace(new RegExp(`<disk\\b(?:(?!<\\/disk>)[\\s\\S])*?${diskPath}[\\s\\S]*?<\\/disk>`), (disk) => {
    const block = /<backingStore\s+type=(['"])file\1[^>]*>[\s\S]*?<\/backingStore>/;
    if (!r.backing) return disk.replace(block, '<backingStore/>');
    const b = r.backing;
    if (!block.test(disk)) throw new InputError('the system disk has no backing store to point at the template');
    return disk.replace(block, (inner) =>
      inner
        .replace(/<format(\s+)type=(['"])[^'"]*\2/, `<format$1type='${xmlEscape(b.format)}'`)
        .replace(/<source(\s+)file=(['"])[^'"]*\2/, `<source$1file='${xmlEscape(b.path)}'`));
  });
  return out;
}
