/**
 * Provisioning queries shaped exactly as the Expedient VT plugin sends them (docs/ocf-protocol.md §6.4, §8.1, §8.2):
 * NONE placeholders, `hd-size-mb` 8200, configurator NONE, and server virtualization-type `xen` for lifecycle
 * actions on KVM servers.
 */
import { randomUUID } from 'node:crypto';
import { serialiseRspec } from '@kvm-crm/shared';

export interface CreateQueryInput {
  actionId?: string;
  serverUuid: string;
  vmUuid?: string;
  name: string;
  projectId?: string;
  sliceId?: string;
  template: string;
  memoryMb?: number;
}

export const PROJECT_ID = '11111111-2222-4333-8444-555555555555';
export const SLICE_ID = '66666666-7777-4888-9999-000000000000';

/** A create query (§8.1). Returns the XML and the ids used. */
export function createQuery(input: CreateQueryInput): { xml: string; actionId: string; vmUuid: string } {
  const actionId = input.actionId ?? randomUUID();
  const vmUuid = input.vmUuid ?? randomUUID();
  const xml = serialiseRspec(
    {
      query: {
        provisioning: {
          actions: [
            {
              type: 'create',
              id: actionId,
              server: {
                uuid: input.serverUuid,
                virtualizationType: 'kvm',
                virtualMachines: [
                  {
                    name: input.name, uuid: vmUuid, status: 'on queue', projectId: input.projectId ?? PROJECT_ID, projectName: 'demo-project',
                    sliceId: input.sliceId ?? SLICE_ID, sliceName: 'demo-slice', operatingSystemType: 'GNU/Linux', operatingSystemVersion: '12',
                    operatingSystemDistribution: 'Debian', serverId: input.serverUuid, virtualizationType: 'kvm',
                    xenConfiguration: {
                      hdSetupType: 'file-image', hdSizeMb: 8200, hdOriginPath: input.template, configurator: 'NONE', virtualizationSetupType: 'hvm',
                      memoryMb: input.memoryMb ?? 128,
                      interfaces: [{ ismgmt: true, name: 'NONE', mac: 'NONE', ip: 'NONE', mask: 'NONE', gw: 'NONE', dns1: 'NONE', dns2: 'NONE', switchId: 'NONE' }],
                    },
                  },
                ],
              },
            },
          ],
        },
      },
    },
    { dialect: 'manager' },
  );
  return { xml, actionId, vmUuid };
}

/** A start/stop/hardStop/reboot/delete query (§8.2): server virtualization-type `xen`, as Expedient sends it. */
export function lifecycleQuery(type: string, input: { serverUuid: string; vmUuid: string; name: string; actionId?: string }): { xml: string; actionId: string } {
  const actionId = input.actionId ?? randomUUID();
  const xml = serialiseRspec(
    {
      query: {
        provisioning: {
          actions: [
            {
              type,
              id: actionId,
              server: {
                uuid: input.serverUuid,
                virtualizationType: 'xen',
                virtualMachines: [
                  {
                    name: input.name, uuid: input.vmUuid, projectId: PROJECT_ID, projectName: 'demo-project', sliceId: SLICE_ID, sliceName: 'demo-slice',
                    virtualizationType: 'kvm', xenConfiguration: { hdSetupType: 'file-image' },
                  },
                ],
              },
            },
          ],
        },
      },
    },
    { dialect: 'manager' },
  );
  return { xml, actionId };
}
