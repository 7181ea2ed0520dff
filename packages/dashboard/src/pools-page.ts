// The address pools page (IP and MAC ranges with usage) and the pending callback deliveries (notification outbox).
import { html } from 'htm/preact';
import { get, num } from './api.js';
import { usePolling } from './poll.js';

interface Range { kind: 'ipv4' | 'mac'; name: string; start: string; end: string; size: number; allocated: number; excluded?: number }
interface Delivery { id: number; url: string; attempts: number; nextAttemptAt: string; lastError: string | null; createdAt: string }

/** The address pools page. */
export function PoolsPage() {
  const { data, error } = usePolling(() => get<Range[]>('pools'), []);
  return html`<section aria-labelledby="page-title">
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <table>
      <caption>IPv4 and MAC ranges: addresses allocated out of the range's size</caption>
      <thead><tr><th scope="col">Kind</th><th scope="col">Name</th><th scope="col">Range</th><th scope="col">Usage</th><th scope="col">Excluded</th></tr></thead>
      <tbody>
        ${(data ?? []).map((r) => html`<tr key=${`${r.kind}:${r.name}`}>
          <td>${r.kind === 'ipv4' ? 'IPv4' : 'MAC'}</td>
          <th scope="row">${r.name}</th>
          <td>${r.start} – ${r.end}</td>
          <td><span class="bar"><meter min="0" max=${r.size} value=${r.allocated} high=${r.size * 0.9} aria-label=${`${r.name}: ${r.allocated} of ${r.size} allocated`}></meter> ${num(r.allocated)} of ${num(r.size)}</span></td>
          <td>${r.excluded === undefined ? '–' : num(r.excluded)}</td>
        </tr>`)}
      </tbody>
    </table>
  </section>`;
}

/** The pending callback deliveries page. */
export function CallbacksPage() {
  const { data, error } = usePolling(() => get<Delivery[]>('callbacks'), []);
  return html`<section aria-labelledby="page-title">
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <p>${data ? `${num(data.length)} pending deliveries${data.length >= 200 ? ' (the oldest 200 shown)' : ''}` : 'Loading…'}</p>
    <table>
      <caption class="visually-hidden">Pending callback deliveries to clearinghouses, oldest first</caption>
      <thead><tr><th scope="col">Id</th><th scope="col">Callback URL</th><th scope="col">Attempts</th><th scope="col">Next attempt</th><th scope="col">Last error</th><th scope="col">Queued at</th></tr></thead>
      <tbody>
        ${(data ?? []).map((d) => html`<tr key=${d.id}><td>${d.id}</td><td>${d.url}</td><td>${d.attempts}</td><td>${d.nextAttemptAt}</td><td>${d.lastError ?? ''}</td><td>${d.createdAt}</td></tr>`)}
      </tbody>
    </table>
  </section>`;
}
