/**
 * Builds the `listResources` information document (docs/ocf-protocol.md §6.7) for one view, server by server, in
 * linear time: VMs come from the database in pages ordered by (server, id) and are matched to servers in one merge
 * pass; each server is serialised alone (shared `serialiseServerInformation`, byte for byte what `serialiseRspec`
 * writes) and at once hashed (SHA-256 of the raw document) and escaped for the XML-RPC `<string>` the answer
 * carries. The loop yields to the event loop every few milliseconds (decision 031), so concurrent requests (a `ping`)
 * wait at most about one server's work plus one page read.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  escapeXmlRpcText,
  INFORMATION_DOCUMENT_EMPTY,
  INFORMATION_DOCUMENT_HEAD,
  INFORMATION_DOCUMENT_TAIL,
  serialiseServerInformation,
} from '@kvm-crm/shared';
import type { ListedServer, ListedVm, ListingFilter, ListingRepository } from '../repositories/listing-repository.js';
import { serverToInformation } from './rspec-mapping.js';

/** How {@link buildInformationDocument} works. */
export interface BuildOptions {
  /** Also return the raw document text (tests, internal callers); the wire needs only the escaped chunks. */
  keepXml: boolean;
  /** VMs read per query. */
  pageSize: number;
  /** Longest stretch of work in ms before yielding to the event loop. */
  sliceMs: number;
}

/** A built document: its hash, its escaped text in UTF-8 chunks, and (with `keepXml`) its raw text. */
export interface BuiltDocument {
  /** SHA-256 (hex) of the raw document (§2.2.3: opaque, equal for equal content). */
  hash: string;
  /** The document escaped as the XML-RPC `<string>` content (see shared `escapeXmlRpcText`). */
  escaped: Buffer[];
  /** Bytes in `escaped`. */
  escapedBytes: number;
  /** The raw document, when asked for. */
  xml?: string;
}

/** Escaped text is gathered into chunks of about this many characters before it becomes a Buffer. */
const CHUNK_CHARS = 256 * 1024;

/**
 * The information document of every server with the VMs of `filter`, read through `repo`.
 * @throws InputError when a stored string cannot be serialised (non-ASCII; shared serialiser), or the driver's error.
 */
export async function buildInformationDocument(repo: ListingRepository, filter: ListingFilter, options: BuildOptions): Promise<BuiltDocument> {
  const sha = createHash('sha256');
  const raw: string[] = [];
  const escaped: Buffer[] = [];
  let escapedBytes = 0;
  let pending = '';
  const emit = (text: string) => {
    sha.update(text);
    if (options.keepXml) raw.push(text);
    pending += escapeXmlRpcText(text);
    if (pending.length >= CHUNK_CHARS) flushPending();
  };
  const flushPending = () => {
    if (pending === '') return;
    const b = Buffer.from(pending, 'latin1'); // the document is ASCII (serialiser rule 9), so latin1 = UTF-8
    escaped.push(b);
    escapedBytes += b.length;
    pending = '';
  };
  let lastYield = performance.now();
  const maybeYield = async () => {
    if (performance.now() - lastYield < options.sliceMs) return;
    await yieldToLoop();
    lastYield = performance.now();
  };

  const servers = await repo.servers();
  if (servers.length === 0) {
    emit(INFORMATION_DOCUMENT_EMPTY);
  } else {
    emit(INFORMATION_DOCUMENT_HEAD);
    let at = 0; // next server to write
    let current: ListedVm[] = []; // VMs of servers[at]
    const writeServer = (s: ListedServer, vms: readonly ListedVm[]) => emit(serialiseServerInformation(serverToInformation(s, vms)));
    let page = await repo.vmPage(filter, undefined, options.pageSize);
    while (page.length > 0) {
      for (const vm of page) {
        while (at < servers.length && servers[at]!.id < vm.serverId) {
          writeServer(servers[at]!, current);
          current = [];
          at += 1;
          await maybeYield();
        }
        if (at < servers.length && servers[at]!.id === vm.serverId) current.push(vm);
      }
      const last = page[page.length - 1]!;
      if (page.length < options.pageSize) break;
      await maybeYield();
      page = await repo.vmPage(filter, { serverId: last.serverId, id: last.id }, options.pageSize);
    }
    for (; at < servers.length; at += 1) {
      writeServer(servers[at]!, current);
      current = [];
      await maybeYield();
    }
    emit(INFORMATION_DOCUMENT_TAIL);
  }
  flushPending();
  return { hash: sha.digest('hex'), escaped, escapedBytes, ...(options.keepXml ? { xml: raw.join('') } : {}) };
}
