/**
 * The manager forwards the guest options (issue 10 "Disks, keys and boot", decision 020): an OCF create's
 * `hd-size-mb`, `<users>` (names; passwords are never stored), `max-memory-mb`, `data-disks` and `ssh-keys` are stored
 * with the VM and reach the agent with the create (the query is built from the VM row); only the create carries them; a delete's `keep-disks` reaches the agent; invalid options are refused before anything is
 * stored.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CLIENT_CB, addHost, agentStatus, createAction, lifecycleAction, modifyAction, openWorld, query, SERVER_UUID, waitFor } from '../../dist/testing/fakes.js';
import { forEachEngine } from '../../dist/testing/test-databases.js';
import { VirtualMachine } from '../../dist/db/entities/virtual-machine.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGcZ3Bv9v2sCtq2mBEX8d6x4l0bqNcQm3Fmb8z9iT8Y1 ops@example';

forEachEngine('OCF users, max memory, data disks, SSH keys and hd-size-mb reach the agent with the create only; keep-disks with the delete', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'kvm1', SERVER_UUID, 1);
  const a = createAction();
  const cfg = a.server!.virtualMachines[0]!.xenConfiguration!;
  Object.assign(cfg, { maxMemoryMb: 1024, users: [{ name: 'alice', password: 'clear-text' }, { name: 'bob' }], dataDisks: [{ sizeMb: 2048 }], sshKeys: [KEY] });
  await w.provisioning.submit(CLIENT_CB, query(a));
  await waitFor('the create to reach the agent', () => w.agent.sent.length === 1);
  const sent = w.agent.action(0).server?.virtualMachines[0]?.xenConfiguration;
  assert.deepEqual([sent?.hdSizeMb, sent?.maxMemoryMb, sent?.users, sent?.dataDisks, sent?.sshKeys, sent?.keepDisks],
    [8200, 1024, [{ name: 'alice' }, { name: 'bob' }], [{ sizeMb: 2048 }], [KEY], undefined]);
  assert.ok(!w.agent.sent[0]!.xml.includes('clear-text'), 'OCF user passwords are neither stored nor sent');
  const stored = await w.tx.dataSource.getRepository(VirtualMachine).findOneByOrFail({ uuid: a.vmUuid });
  assert.ok(!JSON.stringify(stored).includes('clear-text'));
  await w.provisioning.handleAgentStatus(agentStatus(a.id, 'SUCCESS'));

  for (const [i, action] of [lifecycleAction('start', a.vmUuid), modifyAction(a.vmUuid, { memoryMb: 512 })].entries()) {
    await w.provisioning.submit(CLIENT_CB, query(action));
    await waitFor(`${action.type} to reach the agent`, () => w.agent.sent.length === 2 + i);
    const c = w.agent.action(1 + i).server?.virtualMachines[0]?.xenConfiguration;
    assert.deepEqual([c?.maxMemoryMb, c?.users, c?.dataDisks, c?.sshKeys, c?.keepDisks], [undefined, undefined, undefined, undefined, undefined], action.type);
    await w.provisioning.handleAgentStatus(agentStatus(action.id, 'SUCCESS'));
  }

  const del = lifecycleAction('delete', a.vmUuid);
  del.server!.virtualMachines[0]!.xenConfiguration = { keepDisks: true };
  await w.provisioning.submit(CLIENT_CB, query(del));
  await waitFor('the delete to reach the agent', () => w.agent.sent.length === 4);
  assert.equal(w.agent.action(3).server?.virtualMachines[0]?.xenConfiguration?.keepDisks, true);
});

forEachEngine('invalid guest options refuse the create before anything is stored', async (t, engine) => {
  const w = await openWorld(t, { engine });
  await addHost(w, 'kvm1', SERVER_UUID, 1);
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxMemoryMb: 128 }, /max-memory-mb 128 is below memory-mb 256/],
    [{ dataDisks: [{ sizeMb: 0 }] }, /data disk 1: size-mb must be an integer/],
    [{ dataDisks: Array.from({ length: 17 }, () => ({ sizeMb: 1 })) }, /17 data disks asked, at most 16/],
    [{ sshKeys: ['not a key'] }, /SSH key 1 is not an OpenSSH public key line/],
    [{ users: [{ name: 'Root; rm -rf' }] }, /user name 1/],
  ];
  for (const [options, reason] of cases) {
    const a = createAction({ actionId: randomUUID() });
    Object.assign(a.server!.virtualMachines[0]!.xenConfiguration!, options);
    const { handedOver } = await w.provisioning.submit('', query(a), { allowNoCallback: true });
    assert.match((await handedOver).get(a.id) ?? '', reason);
  }
  assert.equal(w.agent.sent.length, 0);
  assert.equal(await w.tx.dataSource.getRepository(VirtualMachine).count(), 0);
});
