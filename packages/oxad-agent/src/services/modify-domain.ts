/** The agent's `modify` action on a domain: memory, ceiling and vCPUs (decision 017). */
import { InputError } from '@kvm-crm/shared/errors';
import type { VirtualMachine as RspecVm } from '@kvm-crm/shared/rspec';
import type { HostPorts } from './ports.js';

/**
 * modify (memory in MiB and/or vCPUs and/or the memory ceiling, from xen-configuration `memory-mb` / `vcpus` /
 * `max-memory-mb`): always written to the persistent definition (next start); memory is also changed live
 * through the balloon when the guest runs and the new size fits the maximum it was started with. A domain with a
 * ceiling (`<memory>` above `<currentMemory>`, set by `max-memory-mb`) keeps it when the new memory fits under
 * it; without one, memory sets both, as before. A new ceiling applies at the next start. The SUCCESS description
 * says which. `isRunning` is asked after the request was checked.
 */
export async function modifyDomain(domains: HostPorts['domains'], name: string, vm: RspecVm, isRunning: () => Promise<boolean>): Promise<string> {
  const memoryMiB = vm.xenConfiguration?.memoryMb;
  const vcpus = vm.xenConfiguration?.vcpus;
  const maxMemoryMiB = vm.xenConfiguration?.maxMemoryMb;
  if (memoryMiB === undefined && vcpus === undefined && maxMemoryMiB === undefined) {
    // The message predates max-memory-mb (a test and clients match it); max-memory-mb alone is accepted too.
    throw new InputError('modify needs xen-configuration/memory-mb and/or vcpus');
  }
  const running = await isRunning();
  const notes: string[] = [];
  if (maxMemoryMiB !== undefined) {
    const boot = memoryMiB ?? (await domains.configMemory(name)).currentMiB;
    if (maxMemoryMiB < boot) throw new InputError(`max-memory-mb ${maxMemoryMiB} is below the memory ${boot} MiB: the ceiling must be at least the boot memory`);
    await domains.setConfigMemory(name, maxMemoryMiB);
    await domains.setConfigCurrentMemory(name, boot);
    notes.push(`memory ceiling ${maxMemoryMiB} MiB applied at next start`);
  }
  if (memoryMiB !== undefined) {
    if (maxMemoryMiB === undefined) {
      const config = await domains.configMemory(name);
      if (config.maxMiB > config.currentMiB && memoryMiB <= config.maxMiB) await domains.setConfigCurrentMemory(name, memoryMiB);
      else await domains.setConfigMemory(name, memoryMiB);
    }
    if (running && memoryMiB <= (await domains.maxMemoryMiB(name))) {
      await domains.setLiveMemory(name, memoryMiB);
      notes.push(`memory ${memoryMiB} MiB applied live and at next start`);
    } else notes.push(`memory ${memoryMiB} MiB applied at next start${running ? ' (above the running guest\'s maximum)' : ''}`);
  }
  if (vcpus !== undefined) {
    await domains.setConfigVcpus(name, vcpus);
    notes.push(`${vcpus} vCPU(s) applied at next start`);
  }
  return notes.join('; ');
}
