// The VM page: filter (name/uuid/address, state, host), one page of VMs at a time (the API pages: 1,000s of VMs),
// and (admin) start, stop and delete behind a confirmation.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { get, num, post, stateClass, type Session } from './api.js';
import type { ConfirmRequest } from './confirm-dialog.js';
import { usePolling } from './poll.js';

interface Nic { name: string; mac: string; ip: string; bridge: string }
interface Vm { uuid: string; name: string; state: string; stateNote?: string; server: string; ip: string; interfaces: Nic[]; memoryMb: number; vcpus: number }
interface VmPage { total: number; offset: number; limit: number; items: Vm[] }

const PAGE = 50;
const STATES = ['', 'on queue', 'creating...', 'created (stopped)', 'starting...', 'running', 'stopping...', 'stopped', 'rebooting...', 'deleting...', 'failed', 'unknown'];
const VERBS = [
  { verb: 'start', label: 'Start', message: 'The VM will be started.' },
  { verb: 'stop', label: 'Stop', message: 'The guest is asked to shut down.' },
  { verb: 'delete', label: 'Delete', message: 'The VM and its disks are deleted. This cannot be undone.' },
] as const;

/** The VM page. */
export function VmsPage(props: { session: Session; confirm: (r: ConfirmRequest) => void }) {
  const [q, setQ] = useState('');
  const [state, setState] = useState('');
  const [offset, setOffset] = useState(0);
  const { data, error, refresh } = usePolling(() => get<VmPage>('vms', { q, state, offset, limit: PAGE }), [q, state, offset]);
  const admin = props.session.role === 'admin';
  const act = (vm: Vm, v: (typeof VERBS)[number]) =>
    props.confirm({
      title: `${v.label} VM ${vm.name}?`,
      message: `${v.message} Host ${vm.server}.`,
      confirmLabel: `${v.label} VM`,
      run: async () => {
        await post(`vms/${encodeURIComponent(vm.uuid)}/${v.verb}`);
        await refresh();
      },
    });
  const total = data?.total ?? 0;
  return html`<section aria-labelledby="page-title">
    <form class="filters" role="search" onSubmit=${(e: Event) => e.preventDefault()}>
      <label for="vm-q">Search name, uuid, IP or MAC</label>
      <input id="vm-q" type="search" value=${q} onInput=${(e: Event) => { setQ((e.target as HTMLInputElement).value); setOffset(0); }} />
      <label for="vm-state">State</label>
      <select id="vm-state" value=${state} onChange=${(e: Event) => { setState((e.target as HTMLSelectElement).value); setOffset(0); }}>
        ${STATES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}
      </select>
    </form>
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <p aria-live="polite">${data ? `Showing ${total ? offset + 1 : 0}–${Math.min(offset + PAGE, total)} of ${num(total)} VMs` : 'Loading VMs…'}</p>
    <table id="vm-table">
      <caption class="visually-hidden">Virtual machines, newest first</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">State</th><th scope="col">Host</th><th scope="col">Addresses</th><th scope="col">Size</th>${admin ? html`<th scope="col">Actions</th>` : null}</tr></thead>
      <tbody>
        ${(data?.items ?? []).map((vm) => html`<tr key=${vm.uuid} data-vm=${vm.name}>
          <th scope="row">${vm.name}<br /><small>${vm.uuid}</small></th>
          <td class=${`state state-${stateClass(vm.state)}`} data-state=${vm.state}>${vm.state}${vm.stateNote ? html`<br /><small>${vm.stateNote}</small>` : null}</td>
          <td>${vm.server}</td>
          <td>${vm.interfaces.map((n) => html`<div>${n.ip || '(no IP)'} <small>${n.mac} on ${n.bridge}</small></div>`)}</td>
          <td>${vm.vcpus} vCPU, ${num(vm.memoryMb)} MiB</td>
          ${admin ? html`<td class="buttons">${VERBS.map((v) => html`<button type="button" class=${v.verb === 'delete' ? 'danger' : ''} onClick=${() => act(vm, v)}>${v.label}<span class="visually-hidden"> ${vm.name}</span></button>`)}</td>` : null}
        </tr>`)}
      </tbody>
    </table>
    <nav aria-label="VM pages" class="buttons">
      <button type="button" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous page</button>
      <button type="button" disabled=${offset + PAGE >= total} onClick=${() => setOffset(offset + PAGE)}>Next page</button>
    </nav>
  </section>`;
}
