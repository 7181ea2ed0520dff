/**
 * The rows of `action_intake` (decision 039): an accepted `send` action waiting for its admission. Read and written
 * with raw SQL (one statement per operation, `?` placeholders, the same text on SQLite and MySQL/MariaDB): the table
 * has no entity, since the hot path needs no hydration.
 */
import type { ValidatedAction } from '../../domain/action-validation.js';
import { SEALED } from '../../db/secret-columns.js';

/** An accepted action as the intake stores it (see {@link IntakeRow} for a stored one). */
export interface IntakeRowInput {
  /** The validated action (its `id` and `type` are the row's `action_uuid`, `action_type`); stored as JSON. */
  action: ValidatedAction;
  /** The client's callback URL (sealed in the row). */
  callbackUrl: string;
  /** The authenticated principal; undefined: none. */
  principal?: string;
}

/** A stored intake row. */
export interface IntakeRow extends IntakeRowInput {
  /** The row id: the arrival order. */
  id: number;
}

/** The columns written by an insert, in order (the values of {@link intakeValues}). */
export const INTAKE_COLUMNS = 'action_uuid, action_type, vm_uuid, action_json, callback_url, principal, received_at, lease_owner, lease_expires_at';

/** The columns read back, in the shape of {@link RawIntakeRow}. */
export const INTAKE_READ_COLUMNS = 'id, action_json, callback_url, principal';

/** A row as the drivers return it (ids and bigints may come back as strings from mysql2). */
export interface RawIntakeRow {
  id: number | string;
  action_json: string;
  callback_url: string;
  principal: string | null;
}

/**
 * The parameters of one row for {@link INTAKE_COLUMNS}: the callback URL sealed, the action without any `password`
 * field, times in milliseconds since the epoch, the lease held by `owner` until `leaseExpiresAt`.
 */
export function intakeValues(r: IntakeRowInput, owner: string, receivedAt: number, leaseExpiresAt: number): unknown[] {
  // OCF `<users>` passwords are dropped (never stored, domain/action-validation.ts): admission does not need them.
  const json = JSON.stringify(r.action, (key, value: unknown) => (key === 'password' ? undefined : value));
  return [r.action.id, r.action.type, vmUuidOf(r) ?? null, json, SEALED.to(r.callbackUrl) as string, r.principal ?? null, receivedAt, owner, leaseExpiresAt];
}

/** A row read back, the callback URL opened and the action parsed. */
export function fromRaw(raw: RawIntakeRow): IntakeRow {
  return {
    id: Number(raw.id),
    action: JSON.parse(raw.action_json) as ValidatedAction,
    callbackUrl: SEALED.from(raw.callback_url) as string,
    ...(raw.principal !== null ? { principal: raw.principal } : {}),
  };
}

/** The VM uuid an intake row is about (a create's new VM, a lifecycle action's VM), lower case, or undefined. */
export function vmUuidOf(row: IntakeRowInput): string | undefined {
  const uuid = row.action.server?.virtualMachines[0]?.uuid;
  return typeof uuid === 'string' ? uuid.toLowerCase() : undefined;
}
