// A confirmation dialog on the native <dialog> (modal: focus stays inside, Escape cancels). Focus goes to Cancel
// when it opens and back to the button that opened it when it closes. With `askWhy`, a labelled reason field.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';

/** What to confirm. `run` performs the action (with the reason when `askWhy`); its error is shown in the dialog. */
export interface ConfirmRequest {
  title: string;
  message: string;
  confirmLabel: string;
  askWhy?: boolean;
  run: (why: string) => Promise<void>;
}

/** Renders the dialog for `request` (none: closed); `onClose` after cancel or a successful `run`. */
export function ConfirmDialog(props: { request: ConfirmRequest | undefined; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const cancelRef = useRef<HTMLButtonElement>(null);
  const opener = useRef<Element | null>(null);
  const [why, setWhy] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const req = props.request;

  useEffect(() => {
    const d = ref.current;
    if (!d) return;
    if (req && !d.open) {
      opener.current = document.activeElement;
      setWhy('');
      setError('');
      d.showModal();
      cancelRef.current?.focus();
    } else if (!req && d.open) {
      d.close();
    }
  }, [req]);

  const close = () => {
    ref.current?.close();
    props.onClose();
    if (opener.current instanceof HTMLElement && opener.current.isConnected) opener.current.focus();
  };
  const confirm = async (e: Event) => {
    e.preventDefault();
    if (!req) return;
    if (req.askWhy && !why.trim()) {
      setError('A reason is required.');
      return;
    }
    setBusy(true);
    try {
      await req.run(why.trim());
      close();
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return html`<dialog ref=${ref} aria-labelledby="confirm-title" aria-describedby="confirm-message" onCancel=${(e: Event) => { e.preventDefault(); close(); }}>
    <form method="dialog" onSubmit=${confirm}>
      <h2 id="confirm-title">${req?.title ?? ''}</h2>
      <p id="confirm-message">${req?.message ?? ''}</p>
      ${req?.askWhy ? html`<p><label for="confirm-why">Reason (recorded in the action's history)</label><br /><input id="confirm-why" value=${why} onInput=${(e: Event) => setWhy((e.target as HTMLInputElement).value)} maxlength="500" required /></p>` : null}
      ${error ? html`<p role="alert" class="error">${error}</p>` : null}
      <div class="buttons">
        <button type="button" ref=${cancelRef} onClick=${close}>Cancel</button>
        <button type="submit" class="danger" disabled=${busy}>${req?.confirmLabel ?? 'Confirm'}</button>
      </div>
    </form>
  </dialog>`;
}
