// The dashboard shell: login form, header with the user and logout, navigation between pages (hash routes), and
// the one confirmation dialog. On a page change the page's heading takes the focus (screen readers announce it).
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post, useSessionToken, type Session } from './api.js';
import { ActionsPage } from './actions-page.js';
import { ConfirmDialog, type ConfirmRequest } from './confirm-dialog.js';
import { HostsPage } from './hosts-page.js';
import { CallbacksPage, PoolsPage } from './pools-page.js';
import { VmsPage } from './vms-page.js';

const PAGES = [
  { id: 'hosts', title: 'Hosts' },
  { id: 'vms', title: 'Virtual machines' },
  { id: 'actions', title: 'Actions' },
  { id: 'pools', title: 'Address pools' },
  { id: 'callbacks', title: 'Pending callbacks' },
] as const;
type PageId = (typeof PAGES)[number]['id'];

function pageFromHash(): PageId {
  const id = location.hash.replace(/^#\/?/, '');
  return PAGES.find((p) => p.id === id)?.id ?? 'hosts';
}

function Login(props: { onLogin: (s: Session) => void }) {
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const submit = async (e: Event) => {
    e.preventDefault();
    try {
      props.onLogin(await post<Session>('login', { user, password }));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 429 ? 'Too many failed logins: wait and try again.' : err instanceof Error ? err.message : String(err));
    }
  };
  return html`<main class="login">
    <h1>kvm-crm dashboard</h1>
    <form onSubmit=${submit} aria-describedby=${error ? 'login-error' : undefined}>
      <h2>Log in</h2>
      <p><label for="login-user">User</label><br /><input id="login-user" name="user" autocomplete="username" required value=${user} onInput=${(e: Event) => setUser((e.target as HTMLInputElement).value)} /></p>
      <p><label for="login-password">Password</label><br /><input id="login-password" name="password" type="password" autocomplete="current-password" required value=${password} onInput=${(e: Event) => setPassword((e.target as HTMLInputElement).value)} /></p>
      ${error ? html`<p id="login-error" role="alert" class="error">${error}</p>` : null}
      <p><button type="submit">Log in</button></p>
    </form>
  </main>`;
}

/** The whole page. */
export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [page, setPage] = useState<PageId>(pageFromHash());
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined);
  const heading = useRef<HTMLHeadingElement>(null);
  const firstRender = useRef(true);

  const useSession = (s: Session | null) => {
    if (s) useSessionToken(s.csrfToken);
    setSession(s);
  };
  useEffect(() => {
    get<Session>('session').then(useSession, () => useSession(null));
    const onHash = () => setPage(pageFromHash());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    if (firstRender.current) firstRender.current = false;
    else heading.current?.focus();
  }, [page]);

  if (session === undefined) return html`<p>Loading…</p>`;
  if (session === null) return html`<${Login} onLogin=${useSession} />`;
  const logout = async () => {
    await post('logout').catch(() => undefined);
    useSession(null);
  };
  const current = PAGES.find((p) => p.id === page) ?? PAGES[0];
  const props = { session, confirm: setConfirm };
  return html`<header>
      <p class="brand">kvm-crm</p>
      <nav aria-label="Dashboard pages">
        <ul>${PAGES.map((p) => html`<li><a href=${`#/${p.id}`} aria-current=${p.id === page ? 'page' : undefined}>${p.title}</a></li>`)}</ul>
      </nav>
      <p class="user">${session.user} (${session.role === 'admin' ? 'admin' : 'viewer, read only'}) <button type="button" onClick=${logout}>Log out</button></p>
    </header>
    <main>
      <h1 id="page-title" tabindex="-1" ref=${heading}>${current.title}</h1>
      ${page === 'hosts' ? html`<${HostsPage} ...${props} />` : null}
      ${page === 'vms' ? html`<${VmsPage} ...${props} />` : null}
      ${page === 'actions' ? html`<${ActionsPage} ...${props} />` : null}
      ${page === 'pools' ? html`<${PoolsPage} />` : null}
      ${page === 'callbacks' ? html`<${CallbacksPage} />` : null}
    </main>
    <${ConfirmDialog} request=${confirm} onClose=${() => setConfirm(undefined)} />`;
}
