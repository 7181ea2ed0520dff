// Live updates by polling (decision record 029): a page's data is fetched at once, then every POLL_MS while the
// tab is visible, and again after each action. The last error is kept so the page can show it.
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';

/** Milliseconds between two refreshes of the page shown. */
export const POLL_MS = 5000;

/** `{data, error, refresh}` of `load`, reloaded every POLL_MS and whenever `deps` change. */
export function usePolling<T>(load: () => Promise<T>, deps: unknown[]): { data: T | undefined; error: string; refresh: () => Promise<void> } {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState('');
  const loadRef = useRef(load);
  loadRef.current = load;
  const refresh = useCallback(async () => {
    try {
      setData(await loadRef.current());
      setError('');
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    }
  }, []);
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => {
      if (!document.hidden) void refresh();
    }, POLL_MS);
    return () => clearInterval(timer);
  }, deps);
  return { data, error, refresh };
}
