// The actions page: the latest actions (filter by status), FAILED reasons in the description column, each action's
// history on demand, and (admin) retry/fail of a stuck (QUEUED/ONGOING) action with a reason.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { get, post, stateClass, type Session } from './api.js';
import type { ConfirmRequest } from './confirm-dialog.js';
import { usePolling } from './poll.js';

interface Action { id: string; type: string; status: string; description: string; vm: string; created: string; updated: string }
interface HistoryEvent { at: string; from: string; to: string; who: string; why: string }
interface ActionDetail extends Action { history: HistoryEvent[]; sendAttempts: number; deadline: string }

const STATUSES = ['', 'QUEUED', 'ONGOING', 'SUCCESS', 'FAILED'];

function History(props: { id: string }) {
  const { data, error } = usePolling(() => get<ActionDetail>(`actions/${encodeURIComponent(props.id)}`), [props.id]);
  if (error) return html`<p role="alert" class="error">${error}</p>`;
  if (!data) return html`<p>Loading the history…</p>`;
  return html`<table class="history">
    <caption>History of action ${data.id} (${data.sendAttempts} send attempts)</caption>
    <thead><tr><th scope="col">At</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Who</th><th scope="col">Why</th></tr></thead>
    <tbody>${data.history.map((e) => html`<tr><td>${e.at}</td><td>${e.from}</td><td>${e.to}</td><td>${e.who}</td><td>${e.why}</td></tr>`)}</tbody>
  </table>`;
}

/** The actions page. */
export function ActionsPage(props: { session: Session; confirm: (r: ConfirmRequest) => void }) {
  const [status, setStatus] = useState('');
  const [open, setOpen] = useState('');
  const { data, error, refresh } = usePolling(() => get<Action[]>('actions', { status }), [status]);
  const admin = props.session.role === 'admin';
  const resolve = (a: Action, verb: 'retry' | 'fail') =>
    props.confirm({
      title: `${verb === 'retry' ? 'Retry' : 'Fail'} action ${a.type} ${a.id}?`,
      message: verb === 'retry' ? 'The action is sent to its agent again as a new attempt.' : 'The action is marked FAILED and its client is told; the VM becomes unknown.',
      confirmLabel: verb === 'retry' ? 'Retry action' : 'Fail action',
      askWhy: true,
      run: async (why) => {
        await post(`actions/${encodeURIComponent(a.id)}/${verb}`, { why });
        await refresh();
      },
    });
  return html`<section aria-labelledby="page-title">
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label for="action-status">Status</label>
      <select id="action-status" value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
        ${STATUSES.map((s) => html`<option value=${s}>${s || 'any'}</option>`)}
      </select>
    </form>
    ${error ? html`<p role="alert" class="error">${error}</p>` : null}
    <table id="action-table">
      <caption class="visually-hidden">Actions, newest first (at most 200)</caption>
      <thead><tr><th scope="col">Created</th><th scope="col">Type</th><th scope="col">Status</th><th scope="col">VM</th><th scope="col">Description / reason</th><th scope="col">Details</th></tr></thead>
      <tbody>
        ${(data ?? []).map((a) => html`<tr key=${a.id} data-action=${a.id} data-status=${a.status}>
            <td>${a.created}</td>
            <td>${a.type}</td>
            <td class=${`status status-${stateClass(a.status)}`}>${a.status}</td>
            <td><small>${a.vm}</small></td>
            <td class="reason">${a.description}</td>
            <td class="buttons">
              <button type="button" aria-expanded=${open === a.id} onClick=${() => setOpen(open === a.id ? '' : a.id)}>History<span class="visually-hidden"> of ${a.type} ${a.id}</span></button>
              ${admin && (a.status === 'QUEUED' || a.status === 'ONGOING')
                ? html`<button type="button" onClick=${() => resolve(a, 'retry')}>Retry</button><button type="button" class="danger" onClick=${() => resolve(a, 'fail')}>Fail</button>`
                : null}
            </td>
          </tr>
          ${open === a.id ? html`<tr><td colspan="6"><${History} id=${a.id} /></td></tr>` : null}`)}
      </tbody>
    </table>
  </section>`;
}
