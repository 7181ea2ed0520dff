/**
 * The parts of a VM's libvirt definition a backup must carry to define the VM again on another host (decision
 * record 026): boot memory, ceiling, vCPUs, NICs (MAC and bridge or network) and our `<metadata>`. Read from
 * `virsh dumpxml --inactive` of a domain we rendered (domain/domain-xml.ts), which libvirt prints with KiB units (our renderer
 * writes MiB) and single-quoted attributes. Paths are not carried: the restore builds them on its own host. Pure functions.
 */
import { InputError } from '@kvm-crm/shared/errors';
import { parseDomainMetadata, type DomainMetadata, type DomainNic } from './domain-xml.js';

/** What {@link parseDomainDefinition} reads. Memory in MiB. */
export interface DomainDefinition {
  /** Boot memory (`<currentMemory>`), MiB. */
  memoryMiB: number;
  /** Live-growth ceiling (`<memory>`), MiB. */
  maxMemoryMiB: number;
  vcpus: number;
  nics: DomainNic[];
  metadata: DomainMetadata;
}

/** A memory element in MiB: libvirt prints KiB (also the default without a unit), our renderer writes MiB. */
function mibElement(xml: string, tag: string): number | undefined {
  const m = new RegExp(`<${tag}(?:\\s+unit=['"](KiB|MiB)['"])?\\s*>(\\d{1,12})</${tag}>`).exec(xml);
  if (!m) return undefined;
  return m[1] === 'MiB' ? Number(m[2]) : Math.floor(Number(m[2]) / 1024);
}

/**
 * Reads a {@link DomainDefinition} from a domain XML.
 * @throws InputError naming what is missing (no `<memory>`, no `<vcpu>`, no kvm-crm metadata, a NIC without a MAC or
 *   source), or a unit other than KiB.
 */
export function parseDomainDefinition(xml: string): DomainDefinition {
  if (/<(?:memory|currentMemory)\s+unit=['"](?!KiB|MiB)/.test(xml)) throw new InputError('domain XML: memory not in KiB or MiB');
  const maxMemoryMiB = mibElement(xml, 'memory');
  if (maxMemoryMiB === undefined) throw new InputError('domain XML has no <memory>');
  const memoryMiB = mibElement(xml, 'currentMemory') ?? maxMemoryMiB;
  const vcpuMatch = /<vcpu\b[^>]*>(\d{1,4})<\/vcpu>/.exec(xml);
  if (!vcpuMatch) throw new InputError('domain XML has no <vcpu>');
  const metadata = parseDomainMetadata(xml);
  if (!metadata) throw new InputError('domain XML has no kvm-crm metadata: not a domain of ours');
  const nics: DomainNic[] = [];
  for (const m of xml.matchAll(/<interface\s+type=['"](bridge|network)['"]\s*>([\s\S]*?)<\/interface>/g)) {
    const body = m[2]!;
    const mac = /<mac\s+address=['"]([0-9a-fA-F:]{17})['"]/.exec(body)?.[1];
    const source = new RegExp(`<source\\s+${m[1]}=['"]([^'"]{1,64})['"]`).exec(body)?.[1];
    if (!mac || !source) throw new InputError(`domain XML: interface ${nics.length} lacks a MAC or a source`);
    nics.push(m[1] === 'bridge' ? { mac: mac.toLowerCase(), bridge: source } : { mac: mac.toLowerCase(), network: source });
  }
  return { memoryMiB, maxMemoryMiB, vcpus: Number(vcpuMatch[1]), nics, metadata };
}
