/**
 * rspec parser: XML text → {@link Rspec}, with the tolerance of the original generateDS bindings
 * (docs/ocf-protocol.md §6.1 rule 10, §6.2, §9 items 1–5) and hard limits against hostile input.
 */
import { InputError } from '../errors.js';
import type {
  Action,
  ActionList,
  InformationResponse,
  Interface,
  Query,
  Response,
  Rspec,
  Server,
  ServerInformation,
  User,
  DataDisk,
  VirtualMachine,
  XenConfiguration,
} from './model.js';
import { readXml, type XmlElement } from './xml-reader.js';

/** Resource limits for {@link parseRspec}; every field is optional and defaults to {@link DEFAULT_RSPEC_PARSE_LIMITS}. */
export interface RspecParseLimits {
  /** Maximum document size in UTF-8 bytes. Default 4 MiB. */
  maxBytes?: number;
  /** Maximum element nesting depth, the root element counting as 1. Default 32 (a full create query needs 10). */
  maxDepth?: number;
  /** Maximum number of elements. Default 20000. */
  maxElements?: number;
}

/** Default limits of {@link parseRspec}. */
export const DEFAULT_RSPEC_PARSE_LIMITS: Readonly<Required<RspecParseLimits>> = Object.freeze({
  maxBytes: 4 * 1024 * 1024,
  maxDepth: 32,
  maxElements: 20000,
});

/**
 * Parses an rspec document (docs/ocf-protocol.md §6) into the {@link Rspec} model.
 *
 * Tolerance, as in the original (§6.1 rule 10, §9 items 1–3):
 * - namespace-agnostic: default namespace, a prefixed namespace or none are all accepted; local names are
 *   case-sensitive;
 * - unknown elements and attributes are ignored; an unknown root element is parsed as if it were `<rspec>`;
 * - text is kept verbatim (no trimming); comments are dropped; for a singular child the last occurrence wins, repeated
 *   elements (`action`, `virtual-machines`, `virtual-machine`, `server` in resources, `interface`, `user`) append;
 * - an empty leaf (`<x></x>`, `<x/>`) is `undefined` (§6.1 rule 6); a present but empty container is `[]`
 *   (`<interfaces/>`, `<resources/>`, `<users/>`) or an object with no fields (`<server/>`, `<xen-configuration/>`);
 * - inside actions each VM is `<virtual-machines>` (plural), inside `information/resources/server` it is
 *   `<virtual-machine>` (singular) (§6.2); the other spelling is an unknown element there and is ignored;
 * - legacy layouts with `<virtual-machine>` directly under `<action>` parse without error but leave `action.server`
 *   undefined, as the original did (§10);
 * - `server/status` (an empty complex type, §6.2) is recorded as `''` when present, whatever it contains;
 * - `query/information` is a plain string element (§6.2).
 *
 * Strictness, also as in the original (§6.1 rules 7–8, §9 item 5): the whole document is rejected when
 * - `hd-size-mb` or `memory-mb` is not an integer in Python `int()` syntax (optional surrounding ASCII whitespace,
 *   optional sign, ASCII digits; an empty element is rejected too, as `int(None)` fails). Deliberate addition: values
 *   outside ±(2^53 − 1) are rejected because they cannot be represented exactly;
 * - `interface/@ismgmt` is not exactly `true`, `false`, `1` or `0`.
 *
 * Security (checked before any parsing work, see `xml-reader.ts`): size against `limits.maxBytes`, no `<!DOCTYPE` or
 * `<!ENTITY` anywhere (XXE, billion laughs), only the five predefined entities and numeric character references are
 * expanded, and depth/element-count limits are enforced while scanning.
 *
 * @param xml the document, already decoded to a string (as carried in the XML-RPC string parameter).
 * @param limits optional resource limits, see {@link RspecParseLimits}.
 * @returns the document model; `{}` when the root has neither `query` nor `response`.
 * @throws {InputError} when the input is too large, too deep, has too many elements, contains a DTD or entity
 *   declaration, is not well-formed (the message starts with `not well-formed XML:` and gives line and column), or
 *   when a typed field is invalid (the message names the field, e.g. `memory-mb`, and its line).
 * @throws {RangeError} when a given limit is not a positive integer (a programming error, not bad input).
 */
export function parseRspec(xml: string, limits?: RspecParseLimits): Rspec {
  const resolved = resolveLimits(limits);
  const { root } = readXml(xml, resolved);
  return rspecFrom(root);
}

function resolveLimits(limits: RspecParseLimits | undefined): Required<RspecParseLimits> {
  const out = { ...DEFAULT_RSPEC_PARSE_LIMITS };
  for (const key of ['maxBytes', 'maxDepth', 'maxElements'] as const) {
    const value = limits?.[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`parseRspec: limits.${key} must be a positive integer`);
    out[key] = value;
  }
  return out;
}

/** A leaf's text: `undefined` when empty (§6.1 rule 6), verbatim otherwise. */
function leaf(el: XmlElement): string | undefined {
  return el.text === '' ? undefined : el.text;
}

/** Python 2 `int()` on a byte string: optional ASCII whitespace around an optionally signed run of ASCII digits. */
const PY_INT_RE = /^[ \t\n\v\f\r]*([+-]?[0-9]+)[ \t\n\v\f\r]*$/;

function integer(el: XmlElement): number {
  return integerText(el.text, el.name, el.line);
}

/** {@link PY_INT_RE} on `text` (an element's text or an attribute value named `what`). */
function integerText(text: string, what: string, line: number): number {
  const m = PY_INT_RE.exec(text);
  const value = m ? Number(m[1]) : NaN;
  if (!m) {
    const shown = text === '' ? 'an empty element' : JSON.stringify(text.slice(0, 40));
    throw new InputError(`invalid rspec: ${what} must be an integer, got ${shown} (line ${line})`);
  }
  if (!Number.isSafeInteger(value)) {
    throw new InputError(`invalid rspec: ${what} is out of range: ${JSON.stringify(m[1]!.slice(0, 40))} (line ${line})`);
  }
  return value === 0 ? 0 : value; // no -0
}

function boolean(el: XmlElement, attribute: string): boolean | undefined {
  const value = el.attributes.get(attribute);
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InputError(
    `invalid rspec: ${el.name}@${attribute} must be true, false, 1 or 0, got ${JSON.stringify(value.slice(0, 40))} (line ${el.line})`,
  );
}

function rspecFrom(root: XmlElement): Rspec {
  const doc: Rspec = {};
  for (const c of root.children) {
    if (c.name === 'query') doc.query = queryFrom(c);
    else if (c.name === 'response') doc.response = responseFrom(c);
  }
  return doc;
}

function queryFrom(el: XmlElement): Query {
  const q: Query = {};
  for (const c of el.children) {
    if (c.name === 'provisioning') q.provisioning = actionListFrom(c);
    else if (c.name === 'monitoring') q.monitoring = actionListFrom(c);
    else if (c.name === 'information') setOrDelete(q, 'information', leaf(c));
  }
  return q;
}

function responseFrom(el: XmlElement): Response {
  const r: Response = {};
  for (const c of el.children) {
    if (c.name === 'provisioning') r.provisioning = actionListFrom(c);
    else if (c.name === 'monitoring') r.monitoring = actionListFrom(c);
    else if (c.name === 'information') r.information = informationFrom(c);
  }
  return r;
}

function actionListFrom(el: XmlElement): ActionList {
  const actions: Action[] = [];
  for (const c of el.children) if (c.name === 'action') actions.push(actionFrom(c));
  return { actions };
}

function actionFrom(el: XmlElement): Action {
  const a: Action = {};
  const type = el.attributes.get('type');
  const id = el.attributes.get('id');
  if (type !== undefined) a.type = type;
  if (id !== undefined) a.id = id;
  for (const c of el.children) {
    if (c.name === 'server') a.server = serverFrom(c);
    else if (c.name === 'status') setOrDelete(a, 'status', leaf(c));
    else if (c.name === 'description') setOrDelete(a, 'description', leaf(c));
  }
  return a;
}

/** Text fields shared by server-type and server-information-type, in schema order (§6.2). */
const SERVER_TEXT_FIELDS = {
  name: 'name',
  id: 'id',
  uuid: 'uuid',
  'operating-system-type': 'operatingSystemType',
  'operating-system-version': 'operatingSystemVersion',
  'operating-system-distribution': 'operatingSystemDistribution',
  'virtualization-type': 'virtualizationType',
} as const satisfies Record<string, keyof Server & keyof ServerInformation>;

function serverFrom(el: XmlElement): Server {
  return serverLike(el, 'virtual-machines');
}

function serverInformationFrom(el: XmlElement): ServerInformation {
  return serverLike(el, 'virtual-machine');
}

function serverLike(el: XmlElement, vmElement: 'virtual-machines' | 'virtual-machine'): Server & ServerInformation {
  const s: Server & ServerInformation = { virtualMachines: [] };
  for (const c of el.children) {
    const field = lookup(SERVER_TEXT_FIELDS, c.name);
    if (field) setOrDelete(s, field, leaf(c));
    else if (c.name === 'number-of-cpus') s.numberOfCpus = integer(c);
    else if (c.name === 'cpu-frequency') s.cpuFrequency = integer(c);
    else if (c.name === 'memory') s.memory = integer(c);
    else if (c.name === 'disc-space-gb') s.discSpaceGb = integer(c);
    else if (c.name === 'interfaces') s.interfaces = interfacesFrom(c);
    else if (c.name === vmElement) s.virtualMachines.push(virtualMachineFrom(c));
    else if (c.name === 'status') s.status = ''; // empty complex type: presence only
  }
  return s;
}

function informationFrom(el: XmlElement): InformationResponse {
  const info: InformationResponse = {};
  for (const c of el.children) {
    if (c.name === 'resources') {
      const servers: ServerInformation[] = [];
      for (const s of c.children) if (s.name === 'server') servers.push(serverInformationFrom(s));
      info.resources = servers;
    }
  }
  return info;
}

const VM_TEXT_FIELDS = {
  name: 'name',
  uuid: 'uuid',
  status: 'status',
  'project-id': 'projectId',
  'project-name': 'projectName',
  'slice-id': 'sliceId',
  'slice-name': 'sliceName',
  'operating-system-type': 'operatingSystemType',
  'operating-system-version': 'operatingSystemVersion',
  'operating-system-distribution': 'operatingSystemDistribution',
  'server-id': 'serverId',
  'virtualization-type': 'virtualizationType',
} as const satisfies Record<string, keyof VirtualMachine>;

function virtualMachineFrom(el: XmlElement): VirtualMachine {
  const vm: VirtualMachine = {};
  for (const c of el.children) {
    const field = lookup(VM_TEXT_FIELDS, c.name);
    if (field) setOrDelete(vm, field, leaf(c));
    else if (c.name === 'xen-configuration') vm.xenConfiguration = xenConfigurationFrom(c);
  }
  return vm;
}

const XEN_TEXT_FIELDS = {
  'hd-setup-type': 'hdSetupType',
  'hd-origin-path': 'hdOriginPath',
  configurator: 'configurator',
  'virtualization-setup-type': 'virtualizationSetupType',
  hostname: 'hostname',
} as const satisfies Record<string, keyof XenConfiguration>;

function xenConfigurationFrom(el: XmlElement): XenConfiguration {
  const x: XenConfiguration = {};
  for (const c of el.children) {
    const field = lookup(XEN_TEXT_FIELDS, c.name);
    if (field) setOrDelete(x, field, leaf(c));
    else if (c.name === 'hd-size-mb') x.hdSizeMb = integer(c);
    else if (c.name === 'memory-mb') x.memoryMb = integer(c);
    else if (c.name === 'vcpus') x.vcpus = integer(c);
    else if (c.name === 'max-memory-mb') x.maxMemoryMb = integer(c);
    else if (c.name === 'interfaces') x.interfaces = interfacesFrom(c);
    else if (c.name === 'users') x.users = usersFrom(c);
    else if (c.name === 'data-disks') x.dataDisks = dataDisksFrom(c);
    else if (c.name === 'ssh-keys') x.sshKeys = sshKeysFrom(c);
    else if (c.name === 'keep-disks') x.keepDisks = booleanText(c);
  }
  return x;
}

/** kvm-crm extension `<data-disks><disk size-mb="N"/>…</data-disks>`; a `disk` without `size-mb` has no size. */
function dataDisksFrom(el: XmlElement): DataDisk[] {
  const list: DataDisk[] = [];
  for (const c of el.children) {
    if (c.name !== 'disk') continue;
    const size = c.attributes.get('size-mb');
    list.push(size === undefined ? {} : { sizeMb: integerText(size, `${c.name}@size-mb`, c.line) });
  }
  return list;
}

/** kvm-crm extension `<ssh-keys><key>…</key>…</ssh-keys>`: the text of every non-empty `key`, verbatim. */
function sshKeysFrom(el: XmlElement): string[] {
  const list: string[] = [];
  for (const c of el.children) {
    const text = c.name === 'key' ? leaf(c) : undefined;
    if (text !== undefined) list.push(text);
  }
  return list;
}

/** A leaf holding `true`/`false`/`1`/`0` (like `ismgmt`); empty means absent. */
function booleanText(el: XmlElement): boolean | undefined {
  const value = leaf(el);
  if (value === undefined) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new InputError(`invalid rspec: ${el.name} must be true, false, 1 or 0, got ${JSON.stringify(value.slice(0, 40))} (line ${el.line})`);
}

const INTERFACE_TEXT_FIELDS = {
  name: 'name',
  mac: 'mac',
  ip: 'ip',
  mask: 'mask',
  gw: 'gw',
  dns1: 'dns1',
  dns2: 'dns2',
  'switch-id': 'switchId',
  'switch-port': 'switchPort',
} as const satisfies Record<string, keyof Interface>;

function interfacesFrom(el: XmlElement): Interface[] {
  const list: Interface[] = [];
  for (const c of el.children) {
    if (c.name !== 'interface') continue;
    const iface: Interface = {};
    const ismgmt = boolean(c, 'ismgmt');
    if (ismgmt !== undefined) iface.ismgmt = ismgmt;
    for (const f of c.children) {
      const field = lookup(INTERFACE_TEXT_FIELDS, f.name);
      if (field) setOrDelete(iface, field, leaf(f));
    }
    list.push(iface);
  }
  return list;
}

function usersFrom(el: XmlElement): User[] {
  const list: User[] = [];
  for (const c of el.children) {
    if (c.name !== 'user') continue;
    const user: User = {};
    for (const f of c.children) {
      if (f.name === 'name' || f.name === 'password') setOrDelete(user, f.name, leaf(f));
    }
    list.push(user);
  }
  return list;
}

/** `table[name]` for own keys only (element names such as `constructor` must not hit the prototype). */
function lookup<T extends Record<string, string>>(table: T, name: string): T[keyof T] | undefined {
  return Object.prototype.hasOwnProperty.call(table, name) ? (table[name] as T[keyof T]) : undefined;
}

/**
 * Last occurrence wins, including an empty one: `<name>a</name><name/>` leaves `name` absent, as generateDS assigns
 * `None` for the second element.
 */
function setOrDelete<T extends object, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value === undefined) delete target[key];
  else target[key] = value;
}
