/**
 * SFA privileges (docs/geni-v3.md §9.2, from the original's GCF `trustgcf/rights.py`): which operations each
 * credential privilege allows, which operation each GENI AM API v3 method needs, and the delegation rule.
 */
import type { CredentialPrivilege } from './signed-credential.js';

/** The AM API v3 methods that take credentials. */
export type GeniMethod =
  | 'ListResources' | 'Describe' | 'Allocate' | 'Renew' | 'Provision' | 'Status' | 'PerformOperationalAction' | 'Delete' | 'Shutdown';

/** The SFA operation each method needs (§9.2, GCF `GCFCredentialManager.validate_for`; Shutdown as GCF's AM). */
export const METHOD_OPERATION: Readonly<Record<GeniMethod, string>> = {
  ListResources: 'listnodes',
  Describe: 'sliverstatus',
  Status: 'sliverstatus',
  Allocate: 'createsliver',
  Provision: 'createsliver',
  PerformOperationalAction: 'createsliver',
  Delete: 'deletesliver',
  Renew: 'renewsliver',
  Shutdown: 'shutdown',
};

/** Operations allowed by each privilege name (lower case); `*` means every operation. */
const PRIVILEGE_OPERATIONS: Readonly<Record<string, readonly string[]>> = {
  authority: ['*'],
  refresh: ['remove', 'update'],
  resolve: ['resolve', 'list', 'getcredential'],
  sa: [
    'getticket', 'redeemslice', 'redeemticket', 'createslice', 'createsliver', 'deleteslice', 'deletesliver', 'updateslice',
    'getsliceresources', 'loanresources', 'stopslice', 'startslice', 'renewsliver', 'resetslice', 'listslices', 'listnodes',
    'getpolicy', 'sliverstatus',
  ],
  embed: [
    'getticket', 'redeemslice', 'redeemticket', 'createslice', 'createsliver', 'renewsliver', 'deleteslice', 'deletesliver',
    'updateslice', 'sliverstatus', 'getsliceresources', 'shutdown',
  ],
  bind: ['getticket', 'loanresources', 'redeemticket'],
  control: [
    'updateslice', 'createslice', 'createsliver', 'renewsliver', 'sliverstatus', 'stopslice', 'startslice', 'deleteslice',
    'deletesliver', 'resetslice', 'getsliceresources', 'getgids',
  ],
  info: ['listslices', 'listnodes', 'getpolicy'],
  ma: ['setbootstate', 'getbootstate', 'reboot', 'getgids', 'gettrustedcerts'],
  operator: ['gettrustedcerts', 'getgids'],
};

/** What privilege `*` stands for, by target type (§9.2: slice → refresh embed bind control info; user → …). */
function defaultPrivileges(targetType: string): string[] {
  if (targetType === 'slice') return ['refresh', 'embed', 'bind', 'control', 'info'];
  if (targetType === 'user') return ['refresh', 'resolve', 'info'];
  if (targetType.startsWith('authority')) return ['authority'];
  return [];
}

/**
 * The operations one privilege allows for a target of `targetType` (`slice`, `user`, `authority+sa` …).
 * Unknown names (C-BAS `GLOBAL_…`) allow nothing. `*` in the result means every operation.
 */
export function operationsOf(privilege: string, targetType: string): Set<string> {
  const name = privilege.toLowerCase();
  const names = name === '*' ? defaultPrivileges(targetType) : [name];
  return new Set(names.flatMap((n) => PRIVILEGE_OPERATIONS[n] ?? []));
}

/** True when some privilege of the list allows `operation` on a target of `targetType`. */
export function privilegesAllow(privileges: readonly CredentialPrivilege[], operation: string, targetType: string): boolean {
  return privileges.some((p) => {
    const ops = operationsOf(p.name, targetType);
    return ops.has('*') || ops.has(operation);
  });
}

/**
 * The delegation rule (§9.2 `verify_parent`, SFA `Right.is_superset` plus `can_delegate`): every privilege of the
 * child must be covered by one privilege of the parent that may be delegated and allows every operation the child's
 * does. Returns the name of the first child privilege that is not covered, or undefined when all are.
 */
export function firstUndelegatedPrivilege(
  child: readonly CredentialPrivilege[],
  parent: readonly CredentialPrivilege[],
  targetType: string,
): string | undefined {
  const delegatable = parent.filter((p) => p.canDelegate).map((p) => operationsOf(p.name, targetType));
  for (const c of child) {
    const wanted = operationsOf(c.name, targetType);
    const covered = delegatable.some((ops) => ops.has('*') || [...wanted].every((o) => o !== '*' && ops.has(o)));
    if (!covered) return c.name;
  }
  return undefined;
}
