// The dashboard's client of the manager's JSON API (/ui/api, packages/vt-manager/src/api/dashboard-api.ts):
// same-origin fetches with the session cookie, and the CSRF token in X-CSRF-Token on every POST.

/** The logged-in user as the manager reports it. */
export interface Session {
  user: string;
  role: 'admin' | 'viewer';
  csrfToken: string;
}

/** An error answer of the API: HTTP status and the manager's message (e.g. `NotAllowedError: …`). */
export class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

let csrfToken = '';

/** Remembers the CSRF token of the session (after login or a session check). */
export function useSessionToken(token: string): void {
  csrfToken = token;
}

async function parse<T>(res: Response): Promise<T> {
  if (res.status === 204) return undefined as T;
  const body = (await res.json().catch(() => ({ error: `HTTP ${res.status}` }))) as { error?: string };
  if (!res.ok) throw new ApiError(res.status, body.error ?? `HTTP ${res.status}`);
  return body as T;
}

/** GET `/ui/api/<path>` → its JSON. @throws ApiError. */
export async function get<T>(path: string, query: Record<string, string | number | undefined> = {}): Promise<T> {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== '') qs.set(k, String(v));
  const q = qs.toString();
  return parse<T>(await fetch(`/ui/api/${path}${q ? `?${q}` : ''}`, { credentials: 'same-origin', headers: { accept: 'application/json' } }));
}

/** POST JSON to `/ui/api/<path>` with the CSRF token → its JSON. @throws ApiError. */
export async function post<T>(path: string, body: unknown = {}): Promise<T> {
  return parse<T>(
    await fetch(`/ui/api/${path}`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(body),
    }),
  );
}

/** A number with thousands separators; `–` for null. */
export function num(v: number | null | undefined): string {
  return v === null || v === undefined ? '–' : v.toLocaleString('en');
}

/** A state as a CSS class suffix (`created (stopped)` → `created-stopped`). */
export function stateClass(state: string): string {
  return state.toLowerCase().replace(/[^a-z]+/g, '-').replace(/^-|-$/g, '');
}
