/**
 * A fake of the agents' migration methods (services/migration/migration-ports.ts) for unit tests of the manager's
 * migration runner: it records every call in order and answers what the test set up. Test support only.
 */
import { createHash } from 'node:crypto';
import type { TransferTicket } from '@kvm-crm/shared';
import type { Server } from '../db/entities/server.js';
import type { ExportedVm, MigrationAgents, SendProgress } from '../services/migration/migration-ports.js';

/** See the file comment. Set `fail[step]` to make that call throw; `sendOutcome` to end the copy otherwise. */
export class FakeMigrationAgents implements MigrationAgents {
  readonly calls: string[] = [];
  readonly fail: Partial<Record<'export' | 'accept' | 'send' | 'detach' | 'reattach' | 'import' | 'release' | 'abort', Error>> = {};
  /** What the copy ends with after `pollsUntilEnd` status calls. */
  sendOutcome: SendProgress['state'] = 'done';
  sendError = 'socket hang up';
  pollsUntilEnd = 2;
  /** The ticket the target accepted. */
  ticket: TransferTicket | undefined;
  private polls = 0;
  readonly files = [
    { name: 'disk.qcow2', sizeBytes: 3 * 1024 * 1024, sha256: createHash('sha256').update('disk').digest('hex') },
    { name: 'data-vdb.qcow2', sizeBytes: 200 * 1024, sha256: createHash('sha256').update('data').digest('hex') },
    { name: 'seed.iso', sizeBytes: 4096, sha256: createHash('sha256').update('seed').digest('hex') },
  ];

  private step(name: keyof FakeMigrationAgents['fail'], server: Server): void {
    this.calls.push(`${name}@${server.name}`);
    const e = this.fail[name];
    if (e) throw e;
  }

  async exportVm(source: Server, _ticketId: string, _vmUuid: string, flatten: boolean): Promise<ExportedVm> {
    this.step('export', source);
    return { files: this.files.map((f) => ({ ...f })), domainXml: '<domain/>', template: flatten ? '' : 'tiny', sourceDir: '/srv/src/vms/x' };
  }

  async accept(target: Server, ticket: TransferTicket): Promise<void> {
    this.step('accept', target);
    this.ticket = ticket;
  }

  private total(): number {
    return this.files.reduce((s, f) => s + f.sizeBytes, 0);
  }

  async send(source: Server): Promise<SendProgress> {
    this.step('send', source);
    this.polls = 0;
    return { state: 'sending', bytes: 0, totalBytes: this.total(), error: '' };
  }

  async status(source: Server): Promise<SendProgress> {
    this.calls.push(`status@${source.name}`);
    this.polls++;
    const total = this.total();
    if (this.polls < this.pollsUntilEnd) return { state: 'sending', bytes: Math.floor((total * this.polls) / this.pollsUntilEnd), totalBytes: total, error: '' };
    return this.sendOutcome === 'done'
      ? { state: 'done', bytes: total, totalBytes: total, error: '' }
      : { state: this.sendOutcome, bytes: Math.floor(total / 3), totalBytes: total, error: this.sendError };
  }

  async importVm(target: Server): Promise<void> {
    this.step('import', target);
  }

  async detach(source: Server): Promise<void> {
    this.step('detach', source);
  }

  async reattach(source: Server): Promise<void> {
    this.step('reattach', source);
  }

  async release(source: Server): Promise<void> {
    this.step('release', source);
  }

  async abort(server: Server): Promise<void> {
    this.step('abort', server);
  }
}
