/**
 * Thin builders for the rspec documents the daemons emit themselves (docs/ocf-protocol.md §6.6–§6.8). They only assemble
 * {@link Rspec} objects; serialise them with `serialiseRspec(doc, { dialect })`.
 */
import type { ActionStatus, Rspec, ServerInformation, VirtualMachine } from './model.js';

/** The only monitoring action type (docs/ocf-protocol.md §6.3). */
export const LIST_ACTIVE_VMS = 'listActiveVMs';
/** Action id of unsolicited libvirt lifecycle events (docs/ocf-protocol.md §6.8). */
export const LIBVIRT_CALLBACK_ACTION_ID = 'callback';
/** The VM uuid placeholder in agent provisioning responses (docs/ocf-protocol.md §6.6). */
export const NOT_REQUIRED_UUID = 'notRequired';
/** Longest description the manager puts in a policy rejection (docs/ocf-protocol.md §6.6). */
export const POLICY_REJECTION_DESCRIPTION_MAX = 199;

/** VM states carried by libvirt lifecycle events (docs/ocf-protocol.md §6.3, §6.8). */
export type LibvirtEventVmStatus = 'Defined' | 'Undefined' | 'Started' | 'Suspended' | 'Resumed' | 'Stopped' | 'UNKNOWN';

/** Input of {@link provisioningStatusResponse}. */
export interface ProvisioningStatusInput {
  /** The action's `@id`. */
  actionId: string;
  /** The action's `@type`; the agent omits it (§6.6), leave it undefined for the agent shape. */
  type?: string;
  status: ActionStatus;
  /** Error text for FAILED. Defaults to `''`: the agent always sends `<description></description>` (§6.6). */
  description?: string;
}

/**
 * The agent's provisioning status message (docs/ocf-protocol.md §6.6, examples §8.4):
 * `response/provisioning/action[@id]` with `server/virtual-machines/uuid` = `notRequired`, `status`, and
 * `description` (`''` unless given). `type` is added only when given.
 *
 * Serialised with the `agent` dialect this is byte-identical to the original agent's message.
 * @throws nothing; string checks (ASCII only, §6.1 rule 9) happen in `serialiseRspec`.
 */
export function provisioningStatusResponse(input: ProvisioningStatusInput): Rspec {
  return {
    response: {
      provisioning: {
        actions: [
          {
            ...(input.type !== undefined ? { type: input.type } : {}),
            id: input.actionId,
            server: { virtualMachines: [{ uuid: NOT_REQUIRED_UUID }] },
            status: input.status,
            description: input.description ?? '',
          },
        ],
      },
    },
  };
}

/** Input of {@link policyRejectionResponse}. */
export interface PolicyRejectionInput {
  actionId: string;
  /** The server uuid of the rejected action, if known. */
  serverUuid?: string;
  /** Why the policy engine refused; cut to {@link POLICY_REJECTION_DESCRIPTION_MAX} characters. */
  description: string;
}

/**
 * The manager's policy-rejection message to the plugin (docs/ocf-protocol.md §6.6, example §8.6): `type="create"` whatever
 * the real type was (kept deliberately, §9 item 10), `server/uuid`, `server/virtual-machines/uuid` = `NONE`,
 * status FAILED and the description cut to 199 characters. Serialise with the `manager` dialect.
 * @throws nothing.
 */
export function policyRejectionResponse(input: PolicyRejectionInput): Rspec {
  return {
    response: {
      provisioning: {
        actions: [
          {
            type: 'create',
            id: input.actionId,
            server: {
              ...(input.serverUuid !== undefined ? { uuid: input.serverUuid } : {}),
              virtualMachines: [{ uuid: 'NONE' }],
            },
            status: 'FAILED',
            description: input.description.slice(0, POLICY_REJECTION_DESCRIPTION_MAX),
          },
        ],
      },
    },
  };
}

/** One VM in a monitoring result: `name` and `uuid`; `status` only in libvirt events (§6.8). */
export interface MonitoredVm {
  name: string;
  uuid: string;
  status?: LibvirtEventVmStatus | string;
}

/** Input of {@link monitoringResponse}, by status (docs/ocf-protocol.md §6.8). */
export type MonitoringResponseInput =
  | { status: 'ONGOING'; actionId: string }
  | { status: 'SUCCESS'; actionId: string; vms: readonly MonitoredVm[] }
  | { status: 'FAILED'; actionId: string; description: string };

/**
 * The agent's `listActiveVMs` messages (docs/ocf-protocol.md §6.8, examples §8.8–§8.9), all with
 * `action[@type="listActiveVMs"][@id]`:
 * - `ONGOING`: status and an empty description, no server;
 * - `SUCCESS`: a `<server>` holding one `<virtual-machines>` (name, uuid, and status if given) per VM, no
 *   description; with no VM the server is `<server/>`, which the manager reads as "no VM running";
 * - `FAILED`: status and the error text, no server.
 *
 * A libvirt lifecycle event is a SUCCESS with `actionId` `callback` and one VM with its status: see
 * {@link libvirtEventResponse}. Serialise with the `agent` dialect.
 * @throws nothing; string checks happen in `serialiseRspec`.
 */
export function monitoringResponse(input: MonitoringResponseInput): Rspec {
  const base = { type: LIST_ACTIVE_VMS, id: input.actionId };
  let action;
  switch (input.status) {
    case 'ONGOING':
      action = { ...base, status: 'ONGOING', description: '' };
      break;
    case 'SUCCESS':
      action = { ...base, server: { virtualMachines: input.vms.map(monitoredVm) }, status: 'SUCCESS' };
      break;
    case 'FAILED':
      action = { ...base, status: 'FAILED', description: input.description };
      break;
  }
  return { response: { monitoring: { actions: [action] } } };
}

function monitoredVm(vm: MonitoredVm): VirtualMachine {
  return { name: vm.name, uuid: vm.uuid, ...(vm.status !== undefined ? { status: vm.status } : {}) };
}

/**
 * An unsolicited libvirt lifecycle event (docs/ocf-protocol.md §6.8, example §8.9):
 * `monitoringResponse({ status: 'SUCCESS', actionId: 'callback', vms: [vm] })`. Serialise with the `agent` dialect;
 * the manager forwards it unchanged in the `manager` dialect.
 * @throws nothing.
 */
export function libvirtEventResponse(vm: { name: string; uuid: string; status: LibvirtEventVmStatus | string }): Rspec {
  return monitoringResponse({ status: 'SUCCESS', actionId: LIBVIRT_CALLBACK_ACTION_ID, vms: [vm] });
}

/**
 * The manager's periodic monitoring query to an agent (docs/ocf-protocol.md §6.8, example §8.7):
 * `query/monitoring/action[@type="listActiveVMs"][@id]/server/virtualization-type`. Serialise with the `manager`
 * dialect.
 * @throws nothing.
 */
export function listActiveVmsQuery(input: { actionId: string; virtualizationType: string }): Rspec {
  return {
    query: {
      monitoring: {
        actions: [
          {
            type: LIST_ACTIVE_VMS,
            id: input.actionId,
            server: { virtualizationType: input.virtualizationType, virtualMachines: [] },
          },
        ],
      },
    },
  };
}

/**
 * The `listResources` payload (docs/ocf-protocol.md §6.7, examples §8.10–§8.11): `response/information/resources` with
 * one `<server>` (server-information-type, VMs spelled `<virtual-machine>`) per entry. With no server the result
 * serialises as `<resources/>`. The array is copied; the server objects are not. Serialise with the `manager`
 * dialect.
 * @throws nothing.
 */
export function informationResponse(servers: readonly ServerInformation[]): Rspec {
  return { response: { information: { resources: [...servers] } } };
}
