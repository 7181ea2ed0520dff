/**
 * Encrypted columns: values pass through the process's {@link SecretBox} on their way to and from the database
 * (callback URLs with credentials, agent passwords). The manager sets the box from its key file at start
 * ({@link useSecretBox}); until then (unit tests) a random per-process key is used.
 */
import { SecretBox } from '@kvm-crm/shared';
import type { ValueTransformer } from 'typeorm';

let box: SecretBox | undefined;

/** Makes `b` the box every encrypted column uses from now on. */
export function useSecretBox(b: SecretBox): void {
  box = b;
}

function current(): SecretBox {
  box ??= SecretBox.random();
  return box;
}

/** Column transformer: seal on write, open on read; null stays null. */
export const SEALED: ValueTransformer = {
  to: (v: string | null | undefined) => (v === null || v === undefined ? v : current().seal(v)),
  from: (v: string | null) => (v === null ? v : current().open(v)),
};
