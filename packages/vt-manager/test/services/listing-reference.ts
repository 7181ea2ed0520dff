/**
 * Test helper (not a test): the information document as it was rendered before decision 031 (every VM loaded and
 * filtered per server), the reference the listing tests compare the cached, pieced build with byte for byte.
 */
import { createHash } from 'node:crypto';
import { escapeXmlRpcText, informationResponse, INFORMATION_DOCUMENT_EMPTY, INFORMATION_DOCUMENT_HEAD, INFORMATION_DOCUMENT_TAIL, serialiseRspec } from '@kvm-crm/shared';
import type { EntityManager } from 'typeorm';
import { serverToInformation } from '../../dist/services/rspec-mapping.js';
import { ServerRepository } from '../../dist/repositories/server-repository.js';
import { VmRepository } from '../../dist/repositories/vm-repository.js';
import { ProjectOwnerRepository } from '../../dist/repositories/project-owner-repository.js';

/** The raw (unescaped) document of the view (project, slice, principal's owned projects) read through `em`. */
export async function referenceRendering(em: EntityManager, projectId?: string, sliceId?: string, principal?: string): Promise<string> {
  const servers = await new ServerRepository(em).listWithBridges('id');
  const vms = await new VmRepository(em).listWithInterfaces({ projectId, sliceId }, 'id');
  const owned = principal === undefined ? undefined : await new ProjectOwnerRepository(em).projectsOf(principal);
  const visible = owned ? vms.filter((v) => owned.has(v.projectId)) : vms;
  return serialiseRspec(informationResponse(servers.map((s) => serverToInformation(s, visible.filter((v) => v.serverId === s.id)))), { dialect: 'manager' });
}

const sha256 = (text: string) => createHash('sha256').update(Buffer.from(text, 'utf8')).digest();

/**
 * The hash `listResources` must give the raw document `xml` (decision 035, amended 2026-12-05), computed here on its
 * own: the document cut into its head, each `<server>` element (depth 4: 16 spaces of indent) and its tail (or the
 * one piece of the empty document), each piece escaped as on the wire, and the SHA-256 of their SHA-256 digests
 * concatenated in order (hex). Throws when the document does not have that shape.
 */
export function referenceHash(xml: string): string {
  let pieces: string[];
  if (xml === INFORMATION_DOCUMENT_EMPTY) {
    pieces = [xml];
  } else {
    if (!xml.startsWith(INFORMATION_DOCUMENT_HEAD) || !xml.endsWith(INFORMATION_DOCUMENT_TAIL)) throw new Error('not an information document');
    const middle = xml.slice(INFORMATION_DOCUMENT_HEAD.length, xml.length - INFORMATION_DOCUMENT_TAIL.length);
    const servers = middle.match(/ {16}<server>[\s\S]*?\n {16}<\/server>\n/g) ?? [];
    if (servers.join('') !== middle) throw new Error('the document is not a sequence of <server> elements');
    pieces = [INFORMATION_DOCUMENT_HEAD, ...servers, INFORMATION_DOCUMENT_TAIL];
  }
  return createHash('sha256').update(Buffer.concat(pieces.map((p) => sha256(escapeXmlRpcText(p))))).digest('hex');
}
