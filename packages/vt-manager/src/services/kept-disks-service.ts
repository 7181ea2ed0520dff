/**
 * The disks agents keep of VMs deleted with keep-disks (decision records 017 and 021), for the operator: list them
 * per host and purge one folder. The manager holds no record of them; each call asks the host's agent.
 */
import { InputError, UpstreamError } from '@kvm-crm/shared';
import type { TransactionRunner } from '../db/transaction-runner.js';
import type { InventoryService } from './inventory-service.js';
import type { AgentGateway, KeptDisks } from './ports.js';

/**
 * A kept-disks id: `<vm uuid>` or `<vm uuid>-<n>` (n from 1), lower case, as the agent names the folders. Checked
 * here too, so a bad id fails fast with a clear message before any call to an agent.
 */
export const KEPT_DISKS_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:-[1-9][0-9]{0,5})?$/;

/** Lists and purges the kept disks of a host through its agent. */
export class KeptDisksService {
  constructor(
    private readonly tx: TransactionRunner,
    private readonly inventory: InventoryService,
    private readonly agents: AgentGateway,
  ) {}

  /**
   * The kept-disks folders of host `serverRef` (name or uuid), oldest first.
   * @throws NotFoundError for an unknown server; UpstreamError when its agent cannot be reached, is legacy or
   *   answers something malformed.
   */
  async list(serverRef: string): Promise<{ host: string; keptDisks: KeptDisks[] }> {
    const server = await this.inventory.getServer(this.tx.manager, serverRef);
    if (!this.agents.listKeptDisks) throw new UpstreamError('this manager cannot list kept disks');
    return { host: server.name, keptDisks: await this.agents.listKeptDisks(server) };
  }

  /**
   * Removes the kept-disks folder `id` on host `serverRef`; resolves with the image names removed.
   * @throws InputError for an id that is not `<vm uuid>[-n]`; NotFoundError for an unknown server; the agent's
   *   fault (no such folder) or an UpstreamError otherwise.
   */
  async purge(serverRef: string, id: string): Promise<{ host: string; id: string; files: string[] }> {
    if (!KEPT_DISKS_ID_PATTERN.test(id)) throw new InputError(`invalid kept-disks id ${JSON.stringify(id.slice(0, 80))}: expected <vm uuid> or <vm uuid>-<n> as \`vtctl host kept-disks\` lists it`);
    const server = await this.inventory.getServer(this.tx.manager, serverRef);
    if (!this.agents.purgeKeptDisks) throw new UpstreamError('this manager cannot purge kept disks');
    return { host: server.name, id, files: await this.agents.purgeKeptDisks(server, id) };
  }
}
