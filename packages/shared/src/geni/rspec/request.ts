/**
 * The GENI v3 request RSpec of `Allocate` (docs/geni-v3.md §6.4, §7.2): which VMs a client asks for.
 *
 * Two shapes arrive and both parse the same way:
 * - the FELIX RO's (`RU/crm/request_formatter.py`): no XML declaration, the XSI namespace bound to `xs`, every node
 *   bound (`component_id`) and `<sliver_type name="emulab-xen">` with a `disk_image` and an `emulab:xen cores ram disk`;
 * - omni's / jFed's: written by hand, usually with an XML declaration, often unbound (no `component_id`), other
 *   `sliver_type` names (`default-vm`, ...), no `emulab:xen`.
 *
 * Parsing is namespace-aware (unlike the original's minidom parser): only `node`, `sliver_type` and `disk_image`
 * elements of the GENI v3 namespace and `xen` of the emulab extension namespace are read, whatever prefixes bind them;
 * everything else (links, interfaces, services, other extensions) is ignored. The XML reader is the hardened one of
 * the OCF rspec codec (`rspec/xml-reader.ts`: no DTD or entity declarations, size/depth/element limits, strict XML 1.0).
 */
import { InputError } from '../../errors.js';
import { readXml, type XmlElement } from '../../rspec/xml-reader.js';
import { VM_NAME_PATTERN } from '../../validation.js';
import { parseUrn } from '../urn.js';
import { componentManagerUrn, isComponentManagerUrn, serverNameOfNodeUrn } from '../identifiers.js';
import { EMULAB_EXTENSION_NAMESPACE, GENI_RSPEC_3_NAMESPACE } from './namespaces.js';

/** One node of this component manager in a request RSpec (§7.2). */
export interface RequestedNode {
  /** `client_id`: the VM name (checked against {@link VM_NAME_PATTERN}); not checked for uniqueness here. */
  clientId: string;
  /** The server named by `component_id` (a node URN of this CM); `undefined` = unbound, the caller places the VM. */
  serverName?: string;
  /** `sliver_type@name` as sent (`emulab-xen`, `default-vm`, ...); `undefined` without a `sliver_type`. */
  sliverType?: string;
  /** `disk_image@name` as sent (resolve with {@link templateNameOfDiskImage}); `undefined` without a `disk_image`. */
  diskImage?: string;
  /** `emulab:xen@ram`, MiB (the emulab extension says MB), 1–{@link MAX_REQUESTED_RAM_MB}. */
  ramMb?: number;
  /** `emulab:xen@cores`, virtual CPUs, 1–{@link MAX_REQUESTED_CORES}. */
  cores?: number;
  /** `emulab:xen@disk`, GiB (the emulab extension says GB), 1–{@link MAX_REQUESTED_DISK_GB}. */
  diskGb?: number;
}

/** Request RSpec limits: a request for a few VMs is a few KB; these leave ample room and stop hostile input early. */
export const REQUEST_RSPEC_LIMITS = Object.freeze({
  /** Maximum size, UTF-8 bytes (1 MiB). */
  maxBytes: 1024 * 1024,
  /** Maximum element nesting depth (a request node needs 4: rspec/node/sliver_type/disk_image). */
  maxDepth: 32,
  /** Maximum number of elements. */
  maxElements: 10000,
});
/** Most nodes of this CM one request may name. */
export const MAX_REQUESTED_NODES = 256;
/** Upper bound of `emulab:xen@cores` (sanity only; policy limits are the caller's). */
export const MAX_REQUESTED_CORES = 1024;
/** Upper bound of `emulab:xen@ram`, MiB (16 TiB; sanity only). */
export const MAX_REQUESTED_RAM_MB = 16 * 1024 * 1024;
/** Upper bound of `emulab:xen@disk`, GiB (64 TiB; sanity only). */
export const MAX_REQUESTED_DISK_GB = 64 * 1024;
/** Longest `disk_image@name` / `sliver_type@name` accepted (characters). */
const MAX_NAME_LENGTH = 512;
/** Printable ASCII, no blanks: what a sliver type or image name may hold (it reaches messages and the DB). */
const PRINTABLE_NAME = /^[\x21-\x7e]+$/;

/**
 * Parses a request RSpec and returns the nodes of this component manager, in document order (§6.4, §7.2).
 *
 * Which nodes are ours: a node whose `component_manager_id` is this CM's URN ({@link componentManagerUrn}); a node
 * without `component_manager_id` when its `component_id` is absent (unbound, sent to us directly, as omni does for a
 * single aggregate) or a node URN of this CM. Nodes of other CMs are skipped, as the original did; `<link>` elements
 * are ignored (§12 item 11).
 *
 * Binding: `component_id` names the server. `component_name` (which the original let overwrite `component_id`) is only
 * a fallback, used when `component_id` is absent and `component_name` is a node URN of this CM, the form our own
 * advertisement writes there (§7.1); a plain `component_name` (a display name, as jFed writes) is ignored. When both
 * are node URNs of this CM and name different servers the request is refused as contradictory.
 *
 * Not checked here (the caller's job, with the right GENI code): whether two nodes share a `client_id` (both are
 * returned; ALREADYEXISTS), whether the server exists (BADARGS/SEARCHFAILED) and whether the image exists (BADARGS).
 * `exclusive` is ignored (VMs are never exclusive).
 *
 * @param xml the request RSpec text (the XML-RPC string, already decompressed).
 * @param authorityHrn the aggregate's authority HRN (`geni.authorityHrn`, e.g. `ocf.i2cat`).
 * @returns the nodes of this CM; `[]` when none is left (the caller answers BADARGS).
 * @throws InputError (→ BADARGS) for input that is not a string, too large, with a DTD/entity declaration, not
 *   well-formed, too deep or with too many elements; a root that is not a GENI v3 `<rspec>` or whose `type` is not
 *   `request`; a node of this CM without `client_id` or whose `client_id` is not a VM name; a `component_id` of this
 *   CM's authority that is not a node URN (or a node of another authority under our `component_manager_id`); two
 *   `sliver_type`s, two `disk_image`s or two `emulab:xen` in one node; an `emulab:xen` figure that is not a whole
 *   number in range; more than {@link MAX_REQUESTED_NODES} nodes of this CM.
 */
export function parseRequestRspec(xml: string, authorityHrn: string): RequestedNode[] {
  const cmUrn = componentManagerUrn(authorityHrn);
  if (typeof xml !== 'string') throw new InputError('request RSpec must be a string');
  const { root } = readXml(xml, REQUEST_RSPEC_LIMITS);
  if (root.name !== 'rspec' || root.namespace !== GENI_RSPEC_3_NAMESPACE) {
    throw new InputError(
      `not a GENI v3 request RSpec: the root element must be <rspec xmlns="${GENI_RSPEC_3_NAMESPACE}">, got <${root.name}>` +
        (root.namespace ? ` in namespace ${JSON.stringify(root.namespace)}` : ' without a namespace'),
    );
  }
  const type = root.attributes.get('type');
  if (type !== undefined && type !== 'request') {
    throw new InputError(`not a request RSpec: <rspec type=${JSON.stringify(clip(type))}> (expected type="request")`);
  }
  const nodes: RequestedNode[] = [];
  for (const el of root.children) {
    if (el.name !== 'node' || el.namespace !== GENI_RSPEC_3_NAMESPACE) continue;
    const node = nodeOfThisCm(el, authorityHrn, cmUrn);
    if (!node) continue;
    nodes.push(node);
    if (nodes.length > MAX_REQUESTED_NODES) {
      throw new InputError(`request RSpec names more than ${MAX_REQUESTED_NODES} nodes of ${cmUrn}`);
    }
  }
  return nodes;
}

/** The node, or `undefined` when it belongs to another component manager. */
function nodeOfThisCm(el: XmlElement, authorityHrn: string, cmUrn: string): RequestedNode | undefined {
  const cm = el.attributes.get('component_manager_id');
  const componentId = el.attributes.get('component_id');
  const componentName = el.attributes.get('component_name');
  const where = `node on line ${el.line}`;

  if (cm !== undefined && !isComponentManagerUrn(authorityHrn, cm)) return undefined;
  if (cm === undefined && componentId !== undefined && !ownsAuthorityOf(authorityHrn, componentId, cmUrn)) return undefined;

  let serverName: string | undefined;
  if (componentId !== undefined) {
    serverName = serverNameOfNodeUrn(authorityHrn, componentId);
    if (serverName === undefined) {
      throw new InputError(`${where}: component_id ${show(componentId)} is not a node of ${cmUrn} (expected …+node+<server>)`);
    }
  }
  if (componentName !== undefined) {
    const named = serverNameOfNodeUrn(authorityHrn, componentName);
    if (named !== undefined && serverName !== undefined && named !== serverName) {
      throw new InputError(`${where}: component_id names server ${serverName} but component_name names server ${named}`);
    }
    serverName ??= named;
  }

  const clientId = el.attributes.get('client_id');
  if (clientId === undefined || clientId === '') throw new InputError(`${where}: client_id is required (GENI v3 request)`);
  if (!VM_NAME_PATTERN.test(clientId)) {
    throw new InputError(`${where}: client_id ${show(clientId)} is not a valid VM name (letters, digits and dashes, 1-64 characters)`);
  }

  const node: RequestedNode = { clientId };
  if (serverName !== undefined) node.serverName = serverName;

  const sliverType = single(el.children, GENI_RSPEC_3_NAMESPACE, 'sliver_type', `${where} (client_id ${clientId})`);
  if (sliverType) {
    const what = `${where} (client_id ${clientId})`;
    node.sliverType = nameAttribute(sliverType, `${what}: sliver_type`);
    const image = single(sliverType.children, GENI_RSPEC_3_NAMESPACE, 'disk_image', what);
    if (image) node.diskImage = nameAttribute(image, `${what}: disk_image`);
    const xen = single(sliverType.children, EMULAB_EXTENSION_NAMESPACE, 'xen', what);
    if (xen) {
      const cores = wholeNumber(xen, 'cores', MAX_REQUESTED_CORES, what);
      const ramMb = wholeNumber(xen, 'ram', MAX_REQUESTED_RAM_MB, what);
      const diskGb = wholeNumber(xen, 'disk', MAX_REQUESTED_DISK_GB, what);
      if (cores !== undefined) node.cores = cores;
      if (ramMb !== undefined) node.ramMb = ramMb;
      if (diskGb !== undefined) node.diskGb = diskGb;
    }
  }
  return node;
}

/**
 * For a node without `component_manager_id`: is its `component_id` within this CM's authority? A malformed
 * `component_id` is refused, since we cannot tell whose it is.
 */
function ownsAuthorityOf(authorityHrn: string, componentId: string, cmUrn: string): boolean {
  let authority: string;
  try {
    authority = parseUrn(componentId).authority;
  } catch (err) {
    throw new InputError(`component_id ${show(componentId)} is not a GENI URN (${(err as Error).message})`);
  }
  return authority === parseUrn(cmUrn).authority;
}

/** The only child `ns`:`name`, `undefined` if none. @throws InputError when there are several. */
function single(children: readonly XmlElement[], ns: string, name: string, where: string): XmlElement | undefined {
  const found = children.filter((c) => c.name === name && c.namespace === ns);
  if (found.length > 1) {
    const shown = ns === EMULAB_EXTENSION_NAMESPACE ? `emulab:${name}` : name;
    throw new InputError(`${where}: more than one <${shown}> (lines ${found.map((f) => f.line).join(', ')}); send one`);
  }
  return found[0];
}

/** The `name` attribute (required by the schema): printable ASCII without blanks, at most 512 characters. */
function nameAttribute(el: XmlElement, where: string): string {
  const name = el.attributes.get('name');
  if (name === undefined || name === '') throw new InputError(`${where} has no name attribute`);
  if (name.length > MAX_NAME_LENGTH || !PRINTABLE_NAME.test(name)) {
    throw new InputError(`${where} name ${show(name)} must be 1-${MAX_NAME_LENGTH} printable ASCII characters without blanks`);
  }
  return name;
}

/** An `emulab:xen` attribute: absent → undefined; else a decimal whole number 1..max (blanks around allowed). */
function wholeNumber(el: XmlElement, attribute: string, max: number, where: string): number | undefined {
  const raw = el.attributes.get(attribute);
  if (raw === undefined) return undefined;
  const text = raw.trim();
  const value = /^[0-9]{1,10}$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw new InputError(`${where}: emulab:xen ${attribute}=${show(raw)} must be a whole number from 1 to ${max}`);
  }
  return value;
}

/**
 * `disk_image@name` → the template name to look up (§7.2):
 * - absent or `default` (what the RO sends when the experimenter named none) → `undefined`: use `geni.defaultTemplate`;
 * - an image URN `…+image+<x>` → `<x>`, and if `<x>` contains `//` the part after the last `//`
 *   (`urn:publicid:IDN+wall2.ilabt.iminds.be+image+emulab-ops//DEB60_64-VLAN` → `DEB60_64-VLAN`);
 * - anything else (a plain name, a URN of another type) → itself.
 * The result is not checked against the catalogue: the caller looks it up and answers BADARGS naming the templates
 * it has when it is unknown (issue #11; no silent fallback).
 */
export function templateNameOfDiskImage(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const trimmed = name.trim();
  if (trimmed === '' || trimmed === 'default') return undefined;
  let image: string | undefined;
  try {
    const urn = parseUrn(trimmed);
    if (urn.type === 'image') image = urn.name;
  } catch {
    image = undefined;
  }
  if (image === undefined) return trimmed;
  const cut = image.lastIndexOf('//');
  return cut === -1 || cut + 2 === image.length ? image : image.slice(cut + 2);
}

function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function show(s: string): string {
  return JSON.stringify(clip(s));
}
