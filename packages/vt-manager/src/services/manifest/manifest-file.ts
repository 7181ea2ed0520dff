/**
 * The seed-004 manifest format (issue 12 "Manifests", decision 024), parsed and merged: a JSON array of
 * `{host?, vmspecs: [{name, hostname, ipaddress, vcpus, memoryGb, maxMemoryGb, numDisks, diskSize, description}]}`,
 * accepted unchanged, plus the documented kvm-crm extras `template`, `bridges` and `sshKeys` on a vmspec. Several
 * files merge like seed-004's `mergeAllManifests.sh` (the arrays are concatenated; a host named in several files
 * gets all their vmspecs). Unknown keys are an error naming the key and the file. Pure: the caller reads the files.
 *
 * Units (decision 024): `memoryGb`/`maxMemoryGb` are GiB, turned into MiB (× 1024, a whole number of MiB);
 * `diskSize` is GiB; disk 1 is the system disk (the template's overlay grown to `diskSize` GiB), disks 2..`numDisks`
 * are empty data disks of `diskSize` GiB each (vdb, vdc, …).
 */
import { z } from 'zod';
import { GUEST_HOSTNAME_PATTERN, InputError, isIpv4, SERVER_NAME_PATTERN, BRIDGE_NAME_PATTERN, VM_NAME_PATTERN } from '@kvm-crm/shared';

/** One OpenSSH public key line (type, base64, optional comment), checked again by the agent's seed builder. */
const SSH_KEY_LINE = /^(ssh-(rsa|dss|ed25519)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com) [A-Za-z0-9+/]+={0,3}( [\x20\x21\x23-\x5b\x5d-\x7e]{1,256})?$/;

/** Largest `memoryGb`/`maxMemoryGb` (4 TiB) and `diskSize` (64 TiB), `vcpus` (512) and `numDisks` (16) accepted. */
const MAX_MEMORY_GB = 4096;
const MAX_DISK_GB = 65536;
const MAX_VCPUS = 512;
const MAX_DISKS = 16;

/** A template reference: `name` or `name/file.qcow2` (each part a template name). */
const TEMPLATE_REF_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,63})?$/;

const gib = (max: number) => z.number().positive().max(max).refine((n) => Number.isInteger(n * 1024), 'must be a whole number of MiB (GiB × 1024)');

/** One vmspec of the seed-004 format (strict: unknown keys are refused). */
const vmspecSchema = z.strictObject({
  name: z.string().regex(VM_NAME_PATTERN, 'must be 1-64 letters, digits or dashes'),
  hostname: z.string().regex(GUEST_HOSTNAME_PATTERN, 'must be a host name (dot-separated labels of letters, digits, dashes)').optional(),
  ipaddress: z.string().refine(isIpv4, 'must be an IPv4 address').optional(),
  vcpus: z.number().int().min(1).max(MAX_VCPUS),
  memoryGb: gib(MAX_MEMORY_GB),
  maxMemoryGb: gib(MAX_MEMORY_GB).optional(),
  numDisks: z.number().int().min(1).max(MAX_DISKS).default(1),
  diskSize: z.number().int().min(1).max(MAX_DISK_GB),
  description: z.string().max(255).optional(),
  /** kvm-crm extra: the template (default: vtctl's `--template`). */
  template: z.string().regex(TEMPLATE_REF_PATTERN, 'must be a template reference such as name or name/file.qcow2').optional(),
  /** kvm-crm extra: host bridges to attach NICs to (default: every bridge of the host). */
  bridges: z.array(z.string().regex(BRIDGE_NAME_PATTERN, 'must be a bridge name')).max(8).optional(),
  /** kvm-crm extra: OpenSSH public key lines for the guest. */
  sshKeys: z.array(z.string().regex(SSH_KEY_LINE, 'must be one OpenSSH public key line')).max(32).optional(),
}).refine((v) => v.maxMemoryGb === undefined || v.maxMemoryGb >= v.memoryGb, { message: 'maxMemoryGb must be at least memoryGb', path: ['maxMemoryGb'] });

const hostEntrySchema = z.strictObject({
  host: z.string().regex(SERVER_NAME_PATTERN, 'must be a server name').optional(),
  vmspecs: z.array(vmspecSchema),
});

const manifestSchema = z.array(hostEntrySchema);

/**
 * One VM of a manifest, normalised: sizes in MiB, disks split into the system disk and the data disks. `host`
 * absent: the manager places it. `source` is the file it came from.
 */
export interface ManifestVm {
  name: string;
  host?: string;
  hostname?: string;
  ip?: string;
  vcpus: number;
  memoryMiB: number;
  /** Live-growth ceiling (the domain's `<memory>`); absent: the boot memory. */
  maxMemoryMiB?: number;
  /** System disk: the template's overlay grown to this size. */
  diskMiB: number;
  /** Disks 2..numDisks, each of `diskSize`. */
  dataDisksMiB: number[];
  description?: string;
  template?: string;
  bridges?: string[];
  sshKeys?: string[];
  source: string;
}

/** A JSON path such as `[0].vmspecs[2].memoryGb` from a zod issue path. */
function jsonPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(top)';
}

/**
 * Parses one manifest file's text.
 * @param file the file's name, for messages.
 * @throws InputError naming the file and, for every problem (at most 10), the JSON path and what is wrong; an unknown
 *   key is named (`unknown key "cpu" at [0].vmspecs[1]`).
 */
export function parseManifestFile(text: string, file: string): ManifestVm[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new InputError(`${file}: not JSON: ${(err as Error).message}`);
  }
  const r = manifestSchema.safeParse(json);
  if (!r.success) {
    const lines = r.error.issues.slice(0, 10).map((i) => {
      if (i.code === 'unrecognized_keys') return `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => JSON.stringify(k)).join(', ')} at ${jsonPath(i.path)} (allowed: host, vmspecs; in a vmspec: ${Object.keys(vmspecSchema.shape).join(', ')})`;
      return `${jsonPath(i.path)}: ${i.message}`;
    });
    throw new InputError(`${file}: ${lines.join('; ')}`);
  }
  return r.data.flatMap((entry) =>
    entry.vmspecs.map((s): ManifestVm => ({
      name: s.name,
      ...(entry.host !== undefined ? { host: entry.host } : {}),
      ...(s.hostname !== undefined ? { hostname: s.hostname } : {}),
      ...(s.ipaddress !== undefined ? { ip: s.ipaddress } : {}),
      vcpus: s.vcpus,
      memoryMiB: s.memoryGb * 1024,
      ...(s.maxMemoryGb !== undefined ? { maxMemoryMiB: s.maxMemoryGb * 1024 } : {}),
      diskMiB: s.diskSize * 1024,
      dataDisksMiB: Array.from({ length: s.numDisks - 1 }, () => s.diskSize * 1024),
      ...(s.description !== undefined ? { description: s.description } : {}),
      ...(s.template !== undefined ? { template: s.template } : {}),
      ...(s.bridges !== undefined ? { bridges: s.bridges } : {}),
      ...(s.sshKeys !== undefined ? { sshKeys: s.sshKeys } : {}),
      source: file,
    })),
  );
}

/**
 * Merges the VMs of several parsed files in order (like `mergeAllManifests.sh`: concatenation). A VM name may
 * appear once; an IP address once.
 * @throws InputError naming both files for a duplicate VM name or IP address, or when there is no VM at all.
 */
export function mergeManifests(files: ReadonlyArray<ManifestVm[]>): ManifestVm[] {
  const byName = new Map<string, ManifestVm>();
  const byIp = new Map<string, ManifestVm>();
  const all: ManifestVm[] = [];
  for (const vm of files.flat()) {
    const same = byName.get(vm.name);
    if (same) throw new InputError(`VM ${vm.name} is in the manifest twice (${same.source} and ${vm.source})`);
    const sameIp = vm.ip !== undefined ? byIp.get(vm.ip) : undefined;
    if (sameIp) throw new InputError(`address ${vm.ip} is given to ${sameIp.name} (${sameIp.source}) and ${vm.name} (${vm.source})`);
    byName.set(vm.name, vm);
    if (vm.ip !== undefined) byIp.set(vm.ip, vm);
    all.push(vm);
  }
  if (all.length === 0) throw new InputError('the manifest has no VM');
  return all;
}

/** Applies the default template to VMs without one. @throws InputError naming the first VM that has none. */
export function withTemplate(vms: ManifestVm[], fallback: string | undefined): Array<ManifestVm & { template: string }> {
  return vms.map((vm) => {
    const template = vm.template ?? fallback;
    if (!template) throw new InputError(`VM ${vm.name} (${vm.source}) has no template: give "template" in its vmspec or --template`);
    if (!TEMPLATE_REF_PATTERN.test(template)) throw new InputError(`--template ${JSON.stringify(template)} is not a template reference`);
    return { ...vm, template };
  });
}

/** A manifest VM as vtctl sends it to the manager (`manifest.*` admin methods): normalised, template resolved. */
const resolvedVmSchema = z.strictObject({
  name: z.string().regex(VM_NAME_PATTERN),
  host: z.string().regex(SERVER_NAME_PATTERN).optional(),
  hostname: z.string().regex(GUEST_HOSTNAME_PATTERN).optional(),
  ip: z.string().refine(isIpv4, 'must be an IPv4 address').optional(),
  vcpus: z.number().int().min(1).max(MAX_VCPUS),
  memoryMiB: z.number().int().min(1).max(MAX_MEMORY_GB * 1024),
  maxMemoryMiB: z.number().int().min(1).max(MAX_MEMORY_GB * 1024).optional(),
  diskMiB: z.number().int().min(1).max(MAX_DISK_GB * 1024),
  dataDisksMiB: z.array(z.number().int().min(1).max(MAX_DISK_GB * 1024)).max(MAX_DISKS - 1),
  description: z.string().max(255).optional(),
  template: z.string().regex(TEMPLATE_REF_PATTERN),
  bridges: z.array(z.string().regex(BRIDGE_NAME_PATTERN)).max(8).optional(),
  sshKeys: z.array(z.string().regex(SSH_KEY_LINE)).max(32).optional(),
  source: z.string().max(4096),
});

/**
 * Checks the VM list of a `manifest.*` admin call (what {@link withTemplate} made of the files).
 * @throws InputError naming the first problems (`vms[2].memoryMiB: …`); duplicate names or addresses as
 *   {@link mergeManifests}.
 */
export function checkResolvedVms(value: unknown): Array<ManifestVm & { template: string }> {
  const r = z.array(resolvedVmSchema).max(10000).safeParse(value);
  if (!r.success) throw new InputError(`manifest: ${r.error.issues.slice(0, 5).map((i) => `vms${jsonPath(i.path).replace(/^(?=[^[])/, '.')}: ${i.message}`).join('; ')}`);
  const vms = r.data.map((v) => Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) as unknown as ManifestVm & { template: string });
  mergeManifests([vms]);
  return vms;
}
