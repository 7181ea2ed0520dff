/**
 * rspec serialiser: {@link Rspec} → XML text, byte for byte as the original generateDS bindings export it
 * (docs/ocf-protocol.md §6.1 rules 1–9, element order §6.2).
 */
import { InputError } from '../errors.js';
import {
  RSPEC_NAMESPACE,
  type Action,
  type ActionList,
  type InformationResponse,
  type Interface,
  type Query,
  type Response,
  type Rspec,
  type Server,
  type ServerInformation,
  type DataDisk,
  type User,
  type VirtualMachine,
  type XenConfiguration,
} from './model.js';

/**
 * Who is speaking (docs/ocf-protocol.md §6.1 table): the VT manager (and Expedient) emit `<rspec>` with no namespace,
 * the agent emits `<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">`.
 */
export type RspecDialect = 'manager' | 'agent';

/** Options of {@link serialiseRspec}. */
export interface SerialiseRspecOptions {
  dialect: RspecDialect;
}

/** The XML declaration line every rspec starts with, newline included (§6.1). */
export const RSPEC_XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/**
 * Serialises an rspec document exactly as the original generateDS export does (docs/ocf-protocol.md §6.1):
 *
 * - `<?xml version="1.0" encoding="UTF-8"?>` and a newline, then `<rspec>` (`manager` dialect) or
 *   `<rspec xmlns="http://www.fp7-ofelia.eu/CF/vt_am/rspec">` (`agent` dialect); never a prefix (§6.1 table);
 * - one element per line, 4 spaces of indentation per depth, every line ending in `\n`, the last included (rule 1);
 * - children in schema order (§6.2) whatever order the object's properties were set in (rule 2);
 * - attributes only on `<action>` (`type` then `id`) and `<interface>` (`ismgmt` as `"true"`/`"false"`); a value is
 *   quoted with `"`, or with `'` if it contains `"`, or with `"` and `&quot;` if it contains both; `&`, `<`, `>` are
 *   escaped (rule 3);
 * - text escapes `&`, `<` and `>` only (rule 4);
 * - `undefined` is omitted; `''` becomes `<x></x>`; a complex element without content is self-closing
 *   (`<interfaces/>`, `<resources/>`, `<server/>`, …); `server.status`, an empty complex type, is `<status/>` whenever
 *   it is defined (rule 5, §6.2);
 * - `hdSizeMb` / `memoryMb` are written in decimal (`%d`, rule 8).
 *
 * Deliberate compatibility rule: the wire is **ASCII-only** (§6.1 rule 9, §9 item 6). The original encodes every
 * string with `.encode('ascii')` and fails on anything else, so non-ASCII text is refused here too rather than sent to
 * peers that cannot re-serialise it. Control characters that XML 1.0 does not allow (anything below U+0020 except tab,
 * LF and CR) are refused as well, because the result would not be well-formed.
 *
 * @param doc the document; it is not modified.
 * @param options `{ dialect: 'manager' | 'agent' }`.
 * @returns the complete document text.
 * @throws {InputError} when a string (text or attribute) contains a non-ASCII character or a character not allowed in
 *   XML 1.0 (the message names the element), or when `hdSizeMb`/`memoryMb` is not a safe integer.
 * @throws {TypeError} when `options.dialect` is neither `'manager'` nor `'agent'`.
 */
export function serialiseRspec(doc: Rspec, options: SerialiseRspecOptions): string {
  let rootAttributes: string;
  if (options.dialect === 'manager') rootAttributes = '';
  else if (options.dialect === 'agent') rootAttributes = ` xmlns="${RSPEC_NAMESPACE}"`;
  else throw new TypeError(`serialiseRspec: unknown dialect ${JSON.stringify(options.dialect)}`);
  const w = new Writer();
  w.element(0, 'rspec', rootAttributes, (level) => {
    if (doc.query !== undefined) writeQuery(w, level, doc.query);
    if (doc.response !== undefined) writeResponse(w, level, doc.response);
  });
  return RSPEC_XML_DECLARATION + w.toString();
}

/**
 * The information document (`informationResponse(servers)`, manager dialect) in pieces, so a large one can be built
 * server by server: `head + serialiseServerInformation(s1) + … + tail`, or {@link INFORMATION_DOCUMENT_EMPTY} when
 * there is no server. The concatenation equals `serialiseRspec(informationResponse(servers), { dialect: 'manager' })`
 * byte for byte (a test compares them on random inventories).
 */
export const INFORMATION_DOCUMENT_HEAD = `${RSPEC_XML_DECLARATION}<rspec>\n    <response>\n        <information>\n            <resources>\n`;
/** See {@link INFORMATION_DOCUMENT_HEAD}. */
export const INFORMATION_DOCUMENT_TAIL = '            </resources>\n        </information>\n    </response>\n</rspec>\n';
/** The information document with no server (`<resources/>`). */
export const INFORMATION_DOCUMENT_EMPTY = `${RSPEC_XML_DECLARATION}<rspec>\n    <response>\n        <information>\n            <resources/>\n        </information>\n    </response>\n</rspec>\n`;

/**
 * One `<server>` of the information document (§6.7), indented at its depth there (4), as {@link serialiseRspec}
 * writes it. @throws {InputError} as {@link serialiseRspec} does.
 */
export function serialiseServerInformation(server: ServerInformation): string {
  const w = new Writer();
  writeServer(w, 4, 'server', server, 'virtual-machine');
  return w.toString();
}

/** Line-oriented writer mirroring generateDS's `showIndent` + `export` pattern. */
class Writer {
  private readonly parts: string[] = [];

  toString(): string {
    return this.parts.join('');
  }

  /** `<name attrs>` … `</name>`, or `<name attrs/>` when `children` writes nothing (generateDS `hasContent_`). */
  element(level: number, name: string, attributes: string, children: (level: number) => void): void {
    const indent = '    '.repeat(level);
    const openAt = this.parts.length;
    this.parts.push(`${indent}<${name}${attributes}>\n`);
    const contentAt = this.parts.length;
    children(level + 1);
    if (this.parts.length === contentAt) this.parts[openAt] = `${indent}<${name}${attributes}/>\n`;
    else this.parts.push(`${indent}</${name}>\n`);
  }

  /** `<name>text</name>` for a string leaf; nothing for `undefined`; `<name></name>` for `''`. */
  text(level: number, name: string, value: string | undefined): void {
    if (value === undefined) return;
    this.parts.push(`${'    '.repeat(level)}<${name}>${escapeText(checkWireString(value, name))}</${name}>\n`);
  }

  /** `<name>%d</name>` for an integer leaf. */
  integer(level: number, name: string, value: number | undefined): void {
    if (value === undefined) return;
    if (!Number.isSafeInteger(value)) {
      throw new InputError(`cannot serialise rspec: ${name} must be an integer, got ${String(value)}`);
    }
    this.parts.push(`${'    '.repeat(level)}<${name}>${value === 0 ? 0 : value}</${name}>\n`);
  }
}

/** Characters XML 1.0 does not allow, plus everything outside ASCII (§6.1 rule 9). */
const NOT_WIRE_SAFE_RE = /[^\t\n\r\x20-\x7f]/u;

function checkWireString(value: string, where: string): string {
  const bad = NOT_WIRE_SAFE_RE.exec(value);
  if (bad) {
    const cp = bad[0].codePointAt(0) ?? 0;
    const u = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
    throw new InputError(
      cp > 0x7f
        ? `cannot serialise rspec: ${where} contains the non-ASCII character ${u}; the OCF wire format is ASCII-only (ocf-protocol.md §6.1 rule 9)`
        : `cannot serialise rspec: ${where} contains the control character ${u}, which XML 1.0 does not allow`,
    );
  }
  return value;
}

const NEEDS_ESCAPE_RE = /[&<>]/;

/** generateDS `quote_xml`: `&`, `<`, `>` only. */
function escapeText(s: string): string {
  if (!NEEDS_ESCAPE_RE.test(s)) return s;
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** generateDS `quote_attrib`: escape `&<>`, then pick the quote character. */
function quoteAttribute(s: string): string {
  const e = escapeText(s);
  if (!e.includes('"')) return `"${e}"`;
  if (!e.includes("'")) return `'${e}'`;
  return `"${e.replace(/"/g, '&quot;')}"`;
}

function attribute(name: string, value: string | undefined, where: string): string {
  return value === undefined ? '' : ` ${name}=${quoteAttribute(checkWireString(value, `${where}@${name}`))}`;
}

function writeQuery(w: Writer, level: number, q: Query): void {
  w.element(level, 'query', '', (l) => {
    if (q.provisioning !== undefined) writeActionList(w, l, 'provisioning', q.provisioning);
    if (q.monitoring !== undefined) writeActionList(w, l, 'monitoring', q.monitoring);
    w.text(l, 'information', q.information);
  });
}

function writeResponse(w: Writer, level: number, r: Response): void {
  w.element(level, 'response', '', (l) => {
    if (r.provisioning !== undefined) writeActionList(w, l, 'provisioning', r.provisioning);
    if (r.monitoring !== undefined) writeActionList(w, l, 'monitoring', r.monitoring);
    if (r.information !== undefined) writeInformation(w, l, r.information);
  });
}

function writeActionList(w: Writer, level: number, name: string, list: ActionList): void {
  w.element(level, name, '', (l) => {
    for (const a of list.actions) writeAction(w, l, a);
  });
}

function writeAction(w: Writer, level: number, a: Action): void {
  const attrs = attribute('type', a.type, 'action') + attribute('id', a.id, 'action');
  w.element(level, 'action', attrs, (l) => {
    if (a.server !== undefined) writeServer(w, l, 'server', a.server, 'virtual-machines');
    w.text(l, 'status', a.status);
    w.text(l, 'description', a.description);
  });
}

function writeInformation(w: Writer, level: number, info: InformationResponse): void {
  w.element(level, 'information', '', (l) => {
    const resources = info.resources;
    if (resources !== undefined) {
      w.element(l, 'resources', '', (ll) => {
        for (const s of resources) writeServer(w, ll, 'server', s, 'virtual-machine');
      });
    }
  });
}

/** server-type and server-information-type differ only in the VM element's spelling (§6.2). */
function writeServer(
  w: Writer,
  level: number,
  name: string,
  s: Server | ServerInformation,
  vmElement: 'virtual-machines' | 'virtual-machine',
): void {
  w.element(level, name, '', (l) => {
    w.text(l, 'name', s.name);
    w.text(l, 'id', s.id);
    w.text(l, 'uuid', s.uuid);
    w.text(l, 'operating-system-type', s.operatingSystemType);
    w.text(l, 'operating-system-version', s.operatingSystemVersion);
    w.text(l, 'operating-system-distribution', s.operatingSystemDistribution);
    w.text(l, 'virtualization-type', s.virtualizationType);
    w.integer(l, 'number-of-cpus', s.numberOfCpus);
    w.integer(l, 'cpu-frequency', s.cpuFrequency);
    w.integer(l, 'memory', s.memory);
    w.integer(l, 'disc-space-gb', s.discSpaceGb);
    if (s.interfaces !== undefined) writeInterfaces(w, l, s.interfaces);
    for (const vm of s.virtualMachines) writeVirtualMachine(w, l, vmElement, vm);
    if (s.status !== undefined) w.element(l, 'status', '', () => {}); // empty complex type
  });
}

function writeVirtualMachine(w: Writer, level: number, name: string, vm: VirtualMachine): void {
  w.element(level, name, '', (l) => {
    w.text(l, 'name', vm.name);
    w.text(l, 'uuid', vm.uuid);
    w.text(l, 'status', vm.status);
    w.text(l, 'project-id', vm.projectId);
    w.text(l, 'project-name', vm.projectName);
    w.text(l, 'slice-id', vm.sliceId);
    w.text(l, 'slice-name', vm.sliceName);
    w.text(l, 'operating-system-type', vm.operatingSystemType);
    w.text(l, 'operating-system-version', vm.operatingSystemVersion);
    w.text(l, 'operating-system-distribution', vm.operatingSystemDistribution);
    w.text(l, 'server-id', vm.serverId);
    w.text(l, 'virtualization-type', vm.virtualizationType);
    if (vm.xenConfiguration !== undefined) writeXenConfiguration(w, l, vm.xenConfiguration);
  });
}

function writeXenConfiguration(w: Writer, level: number, x: XenConfiguration): void {
  w.element(level, 'xen-configuration', '', (l) => {
    w.text(l, 'hd-setup-type', x.hdSetupType);
    w.integer(l, 'hd-size-mb', x.hdSizeMb);
    w.text(l, 'hd-origin-path', x.hdOriginPath);
    w.text(l, 'configurator', x.configurator);
    w.text(l, 'virtualization-setup-type', x.virtualizationSetupType);
    w.integer(l, 'memory-mb', x.memoryMb);
    w.integer(l, 'vcpus', x.vcpus);
    w.integer(l, 'max-memory-mb', x.maxMemoryMb);
    if (x.interfaces !== undefined) writeInterfaces(w, l, x.interfaces);
    if (x.users !== undefined) writeUsers(w, l, x.users);
    // kvm-crm extensions (absent unless set; OCF peers ignore unknown elements, §6.1 rule 10)
    if (x.dataDisks !== undefined) writeDataDisks(w, l, x.dataDisks);
    if (x.sshKeys !== undefined) w.element(l, 'ssh-keys', '', (ll) => x.sshKeys!.forEach((k) => w.text(ll, 'key', k)));
    w.text(l, 'hostname', x.hostname);
    if (x.keepDisks !== undefined) w.text(l, 'keep-disks', x.keepDisks ? 'true' : 'false');
  });
}

function writeDataDisks(w: Writer, level: number, list: readonly DataDisk[]): void {
  w.element(level, 'data-disks', '', (l) => {
    for (const d of list) {
      if (d.sizeMb !== undefined && !Number.isSafeInteger(d.sizeMb)) {
        throw new InputError(`cannot serialise rspec: data-disks/disk@size-mb must be an integer, got ${String(d.sizeMb)}`);
      }
      w.element(l, 'disk', d.sizeMb === undefined ? '' : ` size-mb="${d.sizeMb === 0 ? 0 : d.sizeMb}"`, () => {});
    }
  });
}

function writeInterfaces(w: Writer, level: number, list: readonly Interface[]): void {
  w.element(level, 'interfaces', '', (l) => {
    for (const i of list) {
      const attrs = i.ismgmt === undefined ? '' : ` ismgmt="${i.ismgmt ? 'true' : 'false'}"`;
      w.element(l, 'interface', attrs, (ll) => {
        w.text(ll, 'name', i.name);
        w.text(ll, 'mac', i.mac);
        w.text(ll, 'ip', i.ip);
        w.text(ll, 'mask', i.mask);
        w.text(ll, 'gw', i.gw);
        w.text(ll, 'dns1', i.dns1);
        w.text(ll, 'dns2', i.dns2);
        w.text(ll, 'switch-id', i.switchId);
        w.text(ll, 'switch-port', i.switchPort);
      });
    }
  });
}

function writeUsers(w: Writer, level: number, list: readonly User[]): void {
  w.element(level, 'users', '', (l) => {
    for (const u of list) {
      w.element(l, 'user', '', (ll) => {
        w.text(ll, 'name', u.name);
        w.text(ll, 'password', u.password);
      });
    }
  });
}
