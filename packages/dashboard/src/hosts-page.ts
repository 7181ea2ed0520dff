// The hosts page: capacity bars (vCPUs, memory, disk: promised / total), state, agent reachability, and (admin)
// enable/disable behind a confirmation.
import { html } from 'htm/preact';
import { get, num, post, stateClass, type Session } from './api.js';
import type { ConfirmRequest } from './confirm-dialog.js';
import { usePolling } from './poll.js';

interface Amount { total: number | null; used: number; available: number | null }
interface Host {
  host: string; state: string; enabled: boolean; agentReachable: boolean; draining: boolean; vms: number;
  cpus: Amount | null; memoryMiB: Amount | null; diskGiB: Amount | null; refreshedAt: string;
}

function Bar(props: { label: string; amount: Amount | null; unit: string }) {
  const a = props.amount;
  if (!a || a.total === null) return html`<span>${num(a?.used)} ${props.unit} promised (size not reported)</span>`;
  const text = `${num(a.used)} of ${num(a.total)} ${props.unit}`;
  return html`<span class="bar"><meter min="0" max=${a.total} value=${a.used} high=${a.total * 0.9} aria-label=${`${props.label}: ${text}`}></meter> <span>${text}</span></span>`;
}

/** The hosts page. */
export function HostsPage(props: { session: Session; confirm: (r: ConfirmRequest) => void }) {
  const { data, error, refresh } = usePolling(() => get<Host[]>('hosts'), []);
  const admin = props.session.role === 'admin';
  const toggle = (h: Host) =>
    props.confirm({
      title: `${h.enabled ? 'Disable' : 'Enable'} host ${h.host}?`,
      message: h.enabled ? 'A disabled host keeps its VMs but gets no new one.' : 'The host will get new VMs again.',
      confirmLabel: h.enabled ? 'Disable host' : 'Enable host',
      run: async () => {
        await post(`hosts/${encodeURIComponent(h.host)}/enabled`, { enabled: !h.enabled });
        await refresh();
      },
    });
  return html`<section aria-labelledby="page-title">
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <table>
      <caption>Hosts: capacity promised to VMs out of what may be promised (size × overcommit)</caption>
      <thead><tr><th scope="col">Host</th><th scope="col">State</th><th scope="col">Agent</th><th scope="col">Placement</th><th scope="col">VMs</th><th scope="col">vCPUs</th><th scope="col">Memory</th><th scope="col">Disk</th>${admin ? html`<th scope="col">Actions</th>` : null}</tr></thead>
      <tbody>
        ${(data ?? []).map((h) => html`<tr key=${h.host} data-host=${h.host}>
          <th scope="row">${h.host}</th>
          <td class=${`state state-${stateClass(h.state)}`}>${h.state}</td>
          <td>${h.agentReachable ? 'reachable' : 'unreachable'}</td>
          <td>${h.enabled ? 'enabled' : 'disabled'}${h.draining ? ', draining' : ''}</td>
          <td>${num(h.vms)}</td>
          <td><${Bar} label="vCPUs" amount=${h.cpus} unit="vCPUs" /></td>
          <td><${Bar} label="Memory" amount=${h.memoryMiB} unit="MiB" /></td>
          <td><${Bar} label="Disk" amount=${h.diskGiB} unit="GiB" /></td>
          ${admin ? html`<td><button type="button" onClick=${() => toggle(h)}>${h.enabled ? 'Disable' : 'Enable'}<span class="visually-hidden"> host ${h.host}</span></button></td>` : null}
        </tr>`)}
      </tbody>
    </table>
    ${data && data.length === 0 ? html`<p>No host is registered (vtctl server register).</p>` : null}
  </section>`;
}
