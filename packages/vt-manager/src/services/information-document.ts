/**
 * Builds the `listResources` information document (docs/ocf-protocol.md §6.7) for one view, server by server, in
 * linear time: the VMs of a batch of servers come from the database in one query ordered by (server, id) and are
 * split per server in one pass; each server is serialised alone (shared `serialiseServerInformation`, byte for byte what `serialiseRspec`
 * writes) and at once hashed (SHA-256 of the raw document) and escaped for the XML-RPC `<string>` the answer
 * carries. The loop yields to the event loop every few milliseconds (decision 031), so concurrent requests (a `ping`)
 * wait at most about one server's work plus one page read.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  EscapedChunkWriter,
  INFORMATION_DOCUMENT_EMPTY,
  INFORMATION_DOCUMENT_HEAD,
  INFORMATION_DOCUMENT_TAIL,
  serialiseServerInformation,
} from '@kvm-crm/shared';
import type { ListingFilter, ListingRepository } from '../repositories/listing-repository.js';
import { serverToInformation } from './rspec-mapping.js';

/** How {@link buildInformationDocument} works. */
export interface BuildOptions {
  /** Also return the raw document text (tests, internal callers); the wire needs only the escaped chunks. */
  keepXml: boolean;
  /** Servers whose VMs are read per query. */
  serversPerPage: number;
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

/**
 * The information document of every server with the VMs of `filter`, read through `repo`.
 * @throws InputError when a stored string cannot be serialised (non-ASCII; shared serialiser), or the driver's error.
 */
export async function buildInformationDocument(repo: ListingRepository, filter: ListingFilter, options: BuildOptions): Promise<BuiltDocument> {
  const sha = createHash('sha256');
  const raw: string[] = [];
  const escaper = new EscapedChunkWriter();
  // one scratch buffer for every piece: a fresh Buffer per server would leave ~1 byte of garbage per document byte
  let scratch = Buffer.allocUnsafe(256 * 1024);
  const emit = (text: string) => {
    if (text.length > scratch.length) scratch = Buffer.allocUnsafe(text.length * 2);
    const bytes = scratch.subarray(0, scratch.write(text, 'latin1')); // the document is ASCII (serialiser rule 9), so latin1 = UTF-8
    sha.update(bytes);
    if (options.keepXml) raw.push(text);
    escaper.append(bytes);
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
    for (let from = 0; from < servers.length; from += options.serversPerPage) {
      const batch = servers.slice(from, from + options.serversPerPage);
      const vms = await repo.vmsOnServers(filter, batch[0]!.id, batch[batch.length - 1]!.id);
      let v = 0;
      for (const s of batch) {
        while (v < vms.length && vms[v]!.serverId < s.id) v += 1; // a server added after the server list was read
        const start = v;
        while (v < vms.length && vms[v]!.serverId === s.id) v += 1;
        emit(serialiseServerInformation(serverToInformation(s, vms.slice(start, v))));
        await maybeYield();
      }
    }
    emit(INFORMATION_DOCUMENT_TAIL);
  }
  const escaped = escaper.finish();
  return { hash: sha.digest('hex'), escaped: escaped.chunks, escapedBytes: escaped.bytes, ...(options.keepXml ? { xml: raw.join('') } : {}) };
}
