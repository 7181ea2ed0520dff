/** Which data disks a migrated domain attaches (decision record 025): read from its domain XML. */
import { xmlEscape } from './domain-xml.js';

/** The data-disk file names (`data-vdX.qcow2`) the domain XML attaches from `vmDir`, in order. */
export function dataDiskNames(domainXml: string, vmDir: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`${escapeRe(xmlEscape(vmDir))}/(data-vd[b-q]\\.qcow2)['"]`, 'g');
  for (const m of domainXml.matchAll(re)) if (!out.includes(m[1]!)) out.push(m[1]!);
  return out;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
