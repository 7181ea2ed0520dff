/**
 * Renders the libvirt domain XML of a VM (docs/architecture.md decision 5) and reads our `<metadata>` element back.
 *
 * Every value is validated and XML-escaped; the layout is fixed: i440fx machine `pc`, qcow2 overlay on virtio
 * `vda` (template as an explicit, never relabelled backing store), NoCloud seed as a read-only IDE CD-ROM `hdc`, virtio NICs on a bridge or a libvirt network, serial
 * console to a file (with `serialSocketPath`: on a unix socket for the interactive console, logged to the same file;
 * decision record 027), no graphics, ACPI on, data disks on virtio `vdb`, `vdc`, …, `<memory>` = the live-growth ceiling and
 * `<currentMemory>` = the boot size (virtio balloon), power-off and crash destroy the guest. Pure functions, no I/O.
 */
import { InputError } from '@kvm-crm/shared/errors';
import {
  ACTION_ID_PATTERN,
  BRIDGE_NAME_PATTERN,
  MAC_PATTERN,
  TEMPLATE_NAME_PATTERN,
  UUID_PATTERN,
  VM_NAME_PATTERN,
  assertPattern,
} from '@kvm-crm/shared/validation';

/** XML namespace of our `<metadata>` element. Changing it orphans every existing domain: never do. */
export const KVMCRM_XMLNS = 'https://kvm-crm.dev/xmlns/domain/1';

/** libvirt domain names we create: start with a letter, then `[A-Za-z0-9._-]`, 1–64 characters. */
export const LIBVIRT_DOMAIN_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

/** Smallest and largest guest memory in MiB, and most vCPUs, that {@link renderDomainXml} accepts. */
export const DOMAIN_LIMITS = { minMemoryMiB: 16, maxMemoryMiB: 1024 * 1024, maxVcpus: 255 } as const;

/** One virtual NIC: exactly one of `bridge` and `network`. */
export interface DomainNic {
  /** MAC address (written in lower case). */
  mac: string;
  /** Host Linux bridge to plug the tap into (`<interface type='bridge'>`). */
  bridge?: string;
  /** libvirt virtual network to attach to (`<interface type='network'>`), e.g. `default`. */
  network?: string;
}

/** What our `<metadata>` element records, so the agent can rebuild its state from libvirt alone. */
export interface DomainMetadata {
  /** VM UUID. */
  vmUuid: string;
  /** VM name (as the user gave it). */
  vmName: string;
  /** Project ID (as OCF sends it). */
  projectId: string;
  /** Slice ID (as OCF sends it). */
  sliceId: string;
  /** Project name, if known. */
  projectName?: string;
  /** Slice name, if known. */
  sliceName?: string;
  /** UUID of the server (host) record in the manager, if known. */
  serverUuid?: string;
  /** ID of the last action applied to this VM. */
  actionId: string;
  /** Template the disk was made from. */
  template: string;
}

/** Input of {@link renderDomainXml}. Sizes in MiB; paths absolute. */
export interface DomainSpec {
  /** libvirt domain name ({@link LIBVIRT_DOMAIN_NAME_PATTERN}), derived from the VM UUID by the caller. */
  name: string;
  /** Domain UUID: the VM's UUID. */
  uuid: string;
  /** `<title>`: the VM name. */
  title: string;
  /** `kvm` when hardware virtualisation works on this host, else `qemu` (TCG). */
  domainType: 'kvm' | 'qemu';
  /** Guest memory at boot in MiB (`<currentMemory>`). */
  memoryMiB: number;
  /**
   * The memory the guest may grow to while it runs, in MiB (`<memory>`; the balloon grows it up to this). At
   * least `memoryMiB`; omitted: equal to `memoryMiB` (no live growth).
   */
  maxMemoryMiB?: number;
  /** Number of virtual CPUs. */
  vcpus: number;
  /** Absolute path of the emulator; omitted: libvirt picks its default. */
  emulator?: string;
  /** Absolute path of the VM's qcow2 disk (an overlay of the template, or a full copy). */
  diskPath: string;
  /**
   * The disk's backing file (the template) when `diskPath` is an overlay; omit for a full copy. Rendered as an
   * explicit `<backingStore>` (chain ends there) with `<seclabel model='dac' relabel='no'/>`: libvirt then opens the
   * template read-only as it is, instead of chowning it to the qemu user for good (with relabelling, libvirt gives
   * a backing file to `libvirt-qemu` at the first start and never gives it back, so every guest's qemu could write
   * the shared template). The template must therefore be readable by the qemu user (e.g. mode 0644).
   */
  backing?: { path: string; format: 'qcow2' | 'raw' };
  /**
   * Absolute path of the NoCloud seed ISO. Rendered with `<seclabel model='dac' relabel='no'/>` (libvirt would
   * otherwise chown it to the qemu user and leave it so after the guest stops), so it must be readable by the qemu
   * user: mode 0644, as `writeSeedIso` writes it.
   */
  seedIsoPath: string;
  /** Data disks: absolute paths of qcow2 volumes, attached in order on virtio as vdb, vdc, … (at most 16). */
  dataDisks?: string[];
  /** Absolute path of the file the serial console is written to. */
  serialLogPath: string;
  /**
   * Absolute path of the unix socket (at most {@link MAX_UNIX_SOCKET_PATH_BYTES} bytes) QEMU listens on for the
   * serial console (`<serial type='unix'>` in bind mode, with `<log file=serialLogPath append='on'/>`): the agent
   * connects to it for `vtctl vm console` (decision record 027). Omitted: the serial console goes only to the log
   * file (`<serial type='file'>`, domains defined before decision 027).
   */
  serialSocketPath?: string;
  /** Virtual NICs, in guest order. */
  nics: DomainNic[];
  /** Our metadata element's content. */
  metadata: DomainMetadata;
}

/** Longest unix socket path Linux accepts (`sun_path` is 108 bytes with the terminating NUL). */
export const MAX_UNIX_SOCKET_PATH_BYTES = 107;

/** Most data disks a domain gets (vdb … vdq). */
const MAX_DATA_DISKS = 16;

/** Free-text metadata (project/slice names and IDs): printable, no control characters, at most 256 characters. */
const FREE_TEXT_PATTERN = /^[^\u0000-\u001f\u007f]{1,256}$/u;
/** Absolute normalised path without control characters. */
const PATH_PATTERN = /^\/(?!.*\/\.{1,2}(\/|$))(?!.*\/\/)[^\u0000-\u001f\u007f]{0,4094}[^/\u0000-\u001f\u007f]$/u;

/** Escapes the five XML special characters (`& < > ' "`) of a text or attribute value. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Reverses {@link xmlEscape}, plus numeric character references (`&#38;`, `&#x26;`). */
export function xmlUnescape(s: string): string {
  return s.replace(/&(amp|lt|gt|apos|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});/g, (_, e: string) => {
    switch (e) {
      case 'amp':
        return '&';
      case 'lt':
        return '<';
      case 'gt':
        return '>';
      case 'apos':
        return "'";
      case 'quot':
        return '"';
      default: {
        const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code <= 0x10ffff ? String.fromCodePoint(code) : _;
      }
    }
  });
}

/** Validates {@link DomainMetadata}. @throws InputError naming the first invalid field. */
export function validateDomainMetadata(m: DomainMetadata): void {
  if (m === null || typeof m !== 'object') throw new InputError('invalid domain metadata');
  assertPattern(m.vmUuid, UUID_PATTERN, 'VM UUID');
  assertPattern(m.vmName, VM_NAME_PATTERN, 'VM name');
  assertPattern(m.projectId, FREE_TEXT_PATTERN, 'project ID');
  assertPattern(m.sliceId, FREE_TEXT_PATTERN, 'slice ID');
  if (m.projectName !== undefined) assertPattern(m.projectName, FREE_TEXT_PATTERN, 'project name');
  if (m.sliceName !== undefined) assertPattern(m.sliceName, FREE_TEXT_PATTERN, 'slice name');
  if (m.serverUuid !== undefined) assertPattern(m.serverUuid, UUID_PATTERN, 'server UUID');
  assertPattern(m.actionId, ACTION_ID_PATTERN, 'action ID');
  assertPattern(m.template, TEMPLATE_NAME_PATTERN, 'template name');
}

/** Validates a {@link DomainSpec}. @throws InputError naming the first invalid field. */
export function validateDomainSpec(spec: DomainSpec): void {
  if (spec === null || typeof spec !== 'object') throw new InputError('invalid domain spec');
  assertPattern(spec.name, LIBVIRT_DOMAIN_NAME_PATTERN, 'libvirt domain name');
  assertPattern(spec.uuid, UUID_PATTERN, 'domain UUID');
  assertPattern(spec.title, VM_NAME_PATTERN, 'domain title');
  if (spec.domainType !== 'kvm' && spec.domainType !== 'qemu') {
    throw new InputError(`invalid domain type: ${JSON.stringify(String(spec.domainType).slice(0, 20))}`);
  }
  const { minMemoryMiB, maxMemoryMiB, maxVcpus } = DOMAIN_LIMITS;
  if (!Number.isSafeInteger(spec.memoryMiB) || spec.memoryMiB < minMemoryMiB || spec.memoryMiB > maxMemoryMiB) {
    throw new InputError(`invalid memory: ${String(spec.memoryMiB)} MiB (need an integer ${minMemoryMiB}–${maxMemoryMiB})`);
  }
  if (spec.maxMemoryMiB !== undefined && (!Number.isSafeInteger(spec.maxMemoryMiB) || spec.maxMemoryMiB < spec.memoryMiB || spec.maxMemoryMiB > maxMemoryMiB)) {
    throw new InputError(`invalid maximum memory: ${String(spec.maxMemoryMiB)} MiB (need an integer ${spec.memoryMiB}–${maxMemoryMiB}, at least the boot memory)`);
  }
  if (spec.dataDisks !== undefined) {
    if (!Array.isArray(spec.dataDisks) || spec.dataDisks.length > MAX_DATA_DISKS) throw new InputError(`invalid data disks: need a list of at most ${MAX_DATA_DISKS}`);
    for (const d of spec.dataDisks) assertPattern(d, PATH_PATTERN, 'data disk path');
  }
  if (!Number.isSafeInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > maxVcpus) {
    throw new InputError(`invalid vCPU count: ${String(spec.vcpus)} (need an integer 1–${maxVcpus})`);
  }
  if (spec.emulator !== undefined) assertPattern(spec.emulator, PATH_PATTERN, 'emulator path');
  assertPattern(spec.diskPath, PATH_PATTERN, 'disk path');
  if (spec.backing !== undefined) {
    if (spec.backing === null || typeof spec.backing !== 'object') throw new InputError('invalid backing file');
    assertPattern(spec.backing.path, PATH_PATTERN, 'backing file path');
    if (spec.backing.format !== 'qcow2' && spec.backing.format !== 'raw') {
      throw new InputError(`invalid backing file format: ${JSON.stringify(String(spec.backing.format).slice(0, 20))}`);
    }
  }
  assertPattern(spec.seedIsoPath, PATH_PATTERN, 'seed ISO path');
  assertPattern(spec.serialLogPath, PATH_PATTERN, 'serial log path');
  if (spec.serialSocketPath !== undefined) {
    assertPattern(spec.serialSocketPath, PATH_PATTERN, 'serial socket path');
    const bytes = Buffer.byteLength(spec.serialSocketPath);
    if (bytes > MAX_UNIX_SOCKET_PATH_BYTES) {
      throw new InputError(`serial socket path is ${bytes} bytes, longer than a unix socket path may be (${MAX_UNIX_SOCKET_PATH_BYTES}): use a shorter storage root`);
    }
  }
  if (!Array.isArray(spec.nics) || spec.nics.length > 32) throw new InputError('invalid nics: need a list of at most 32');
  const macs = new Set<string>();
  for (const nic of spec.nics) {
    if (nic === null || typeof nic !== 'object') throw new InputError('invalid nic');
    assertPattern(nic.mac, MAC_PATTERN, 'MAC address');
    if (macs.has(nic.mac.toLowerCase())) throw new InputError(`duplicate MAC address: ${nic.mac.toLowerCase()}`);
    macs.add(nic.mac.toLowerCase());
    if ((nic.bridge === undefined) === (nic.network === undefined)) {
      throw new InputError(`nic ${nic.mac}: give exactly one of bridge and network`);
    }
    if (nic.bridge !== undefined) assertPattern(nic.bridge, BRIDGE_NAME_PATTERN, 'bridge name');
    if (nic.network !== undefined) assertPattern(nic.network, BRIDGE_NAME_PATTERN, 'libvirt network name');
  }
  validateDomainMetadata(spec.metadata);
}

/**
 * Renders the libvirt domain XML for `virsh define`.
 * @throws InputError naming the first invalid field of `spec`.
 */
export function renderDomainXml(spec: DomainSpec): string {
  validateDomainSpec(spec);
  const e = xmlEscape;
  const m = spec.metadata;
  const meta: Array<[string, string | undefined]> = [
    ['vm-uuid', m.vmUuid.toLowerCase()],
    ['vm-name', m.vmName],
    ['project-id', m.projectId],
    ['project-name', m.projectName],
    ['slice-id', m.sliceId],
    ['slice-name', m.sliceName],
    ['server-uuid', m.serverUuid?.toLowerCase()],
    ['action-id', m.actionId],
    ['template', m.template],
  ];
  const lines: string[] = [
    `<domain type='${spec.domainType}'>`,
    `  <name>${e(spec.name)}</name>`,
    `  <uuid>${spec.uuid.toLowerCase()}</uuid>`,
    `  <title>${e(spec.title)}</title>`,
    '  <metadata>',
    `    <kvmcrm:instance xmlns:kvmcrm="${KVMCRM_XMLNS}">`,
    ...meta.filter(([, v]) => v !== undefined).map(([k, v]) => `      <kvmcrm:${k}>${e(v!)}</kvmcrm:${k}>`),
    '    </kvmcrm:instance>',
    '  </metadata>',
    `  <memory unit='MiB'>${spec.maxMemoryMiB ?? spec.memoryMiB}</memory>`,
    `  <currentMemory unit='MiB'>${spec.memoryMiB}</currentMemory>`,
    `  <vcpu placement='static'>${spec.vcpus}</vcpu>`,
    '  <os>',
    "    <type arch='x86_64' machine='pc'>hvm</type>",
    "    <boot dev='hd'/>",
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '    <apic/>',
    '  </features>',
    // virt-install's x86 timers (no HPET: measured under TCG, 2-3 % less QEMU CPU to the guest's ready line).
    "  <clock offset='utc'>",
    "    <timer name='rtc' tickpolicy='catchup'/>",
    "    <timer name='pit' tickpolicy='delay'/>",
    "    <timer name='hpet' present='no'/>",
    '  </clock>',
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>restart</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...(spec.emulator !== undefined ? [`    <emulator>${e(spec.emulator)}</emulator>`] : []),
    "    <disk type='file' device='disk'>",
    "      <driver name='qemu' type='qcow2'/>",
    `      <source file='${e(spec.diskPath)}'/>`,
    ...(spec.backing !== undefined
      ? [
          "      <backingStore type='file'>",
          `        <format type='${spec.backing.format}'/>`,
          `        <source file='${e(spec.backing.path)}'>`,
          "          <seclabel model='dac' relabel='no'/>",
          '        </source>',
          '        <backingStore/>',
          '      </backingStore>',
        ]
      : []),
    "      <target dev='vda' bus='virtio'/>",
    '    </disk>',
    ...(spec.dataDisks ?? []).flatMap((d, i) => [
      "    <disk type='file' device='disk'>",
      "      <driver name='qemu' type='qcow2'/>",
      `      <source file='${e(d)}'/>`,
      `      <target dev='vd${String.fromCharCode(0x62 + i)}' bus='virtio'/>`,
      '    </disk>',
    ]),
    ...seedCdromLines(spec.seedIsoPath),
    ...spec.nics.flatMap((nic) => [
      nic.bridge !== undefined ? "    <interface type='bridge'>" : "    <interface type='network'>",
      `      <mac address='${nic.mac.toLowerCase()}'/>`,
      nic.bridge !== undefined ? `      <source bridge='${e(nic.bridge)}'/>` : `      <source network='${e(nic.network!)}'/>`,
      "      <model type='virtio'/>",
      '    </interface>',
    ]),
    ...(spec.serialSocketPath !== undefined
      ? [
          // Decision record 027: QEMU listens on the socket (one client at a time) and logs what the guest writes.
          "    <serial type='unix'>",
          `      <source mode='bind' path='${e(spec.serialSocketPath)}'/>`,
          `      <log file='${e(spec.serialLogPath)}' append='on'/>`,
          "      <target port='0'/>",
          '    </serial>',
          "    <console type='unix'>",
          `      <source mode='bind' path='${e(spec.serialSocketPath)}'/>`,
          `      <log file='${e(spec.serialLogPath)}' append='on'/>`,
          "      <target type='serial' port='0'/>",
          '    </console>',
        ]
      : [
          "    <serial type='file'>",
          `      <source path='${e(spec.serialLogPath)}' append='on'/>`,
          "      <target port='0'/>",
          '    </serial>',
          "    <console type='file'>",
          `      <source path='${e(spec.serialLogPath)}' append='on'/>`,
          "      <target type='serial' port='0'/>",
          '    </console>',
        ]),
    "    <memballoon model='virtio'/>",
    '  </devices>',
    '</domain>',
  ];
  return `${lines.join('\n')}\n`;
}

const META_FIELDS: Array<[string, keyof DomainMetadata]> = [
  ['vm-uuid', 'vmUuid'],
  ['vm-name', 'vmName'],
  ['project-id', 'projectId'],
  ['project-name', 'projectName'],
  ['slice-id', 'sliceId'],
  ['slice-name', 'sliceName'],
  ['server-uuid', 'serverUuid'],
  ['action-id', 'actionId'],
  ['template', 'template'],
];

/**
 * Reads our `<metadata>` element (namespace {@link KVMCRM_XMLNS}, any prefix or a default namespace) back from a
 * domain XML as `virsh dumpxml` prints it.
 *
 * @returns the metadata, or undefined when the XML has no such element (a domain that is not ours).
 * @throws InputError when the element exists but a required field is missing or invalid (a damaged domain).
 */
export function parseDomainMetadata(domainXml: string): DomainMetadata | undefined {
  const ns = KVMCRM_XMLNS.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const open = new RegExp(`<(?:([A-Za-z_][\\w.-]*):)?instance\\b[^>]*?\\bxmlns(?::([A-Za-z_][\\w.-]*))?\\s*=\\s*(["'])${ns}\\3[^>]*>`);
  const start = open.exec(domainXml);
  if (!start) return undefined;
  const prefix = start[1];
  if ((start[2] ?? undefined) !== prefix) return undefined;
  const q = prefix !== undefined ? `${prefix}:` : '';
  const closeTag = `</${q}instance>`;
  const bodyStart = start.index + start[0].length;
  const bodyEnd = domainXml.indexOf(closeTag, bodyStart);
  if (bodyEnd < 0) throw new InputError('damaged kvm-crm metadata: unclosed instance element');
  const body = domainXml.slice(bodyStart, bodyEnd);

  const out: Partial<Record<keyof DomainMetadata, string>> = {};
  for (const [tag, key] of META_FIELDS) {
    const re = new RegExp(`<${q}${tag}\\s*(?:/>|>([^<]*)</${q}${tag}\\s*>)`);
    const hit = re.exec(body);
    if (hit && hit[1] !== undefined && hit[1] !== '') out[key] = xmlUnescape(hit[1]);
  }
  const meta = out as DomainMetadata;
  try {
    validateDomainMetadata(meta);
  } catch (err) {
    throw new InputError(`damaged kvm-crm metadata: ${(err as Error).message}`);
  }
  return meta;
}

/**
 * The `<disk device='cdrom'>` element of the NoCloud seed (IDE `hdc`, read-only, raw, never relabelled: see
 * {@link DomainSpec.seedIsoPath}), indented for a `<devices>` list. `seedIsoPath` null: the drive without a medium
 * (an ejected tray), for `virsh update-device` (GuestHostnameService swaps the medium of a running guest).
 * @throws InputError for a path that is not absolute and plain.
 */
export function seedCdromLines(seedIsoPath: string | null): string[] {
  const source = seedIsoPath === null ? [] : [
    `      <source file='${xmlEscape(assertPattern(seedIsoPath, PATH_PATTERN, 'seed ISO path'))}'>`,
    "        <seclabel model='dac' relabel='no'/>",
    '      </source>',
  ];
  return ["    <disk type='file' device='cdrom'>", "      <driver name='qemu' type='raw'/>", ...source, "      <target dev='hdc' bus='ide'/>", '      <readonly/>', '    </disk>'];
}
