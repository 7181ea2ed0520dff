/** Unit tests of the libvirt lifecycle event → OCF VM status mapping (pure function, no fakes needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ocfStatusForLifecycleEvent } from '../../dist/domain/lifecycle-status.js';

test('maps every libvirt lifecycle event type and detail virsh prints to an OCF status', () => {
  const table: Array<[string, string, string | undefined]> = [
    ['Defined', 'Added', 'Defined'],
    ['Defined', 'Updated', 'Defined'],
    ['Defined', 'Renamed', 'Defined'],
    ['Defined', 'Snapshot', 'Defined'],
    ['Undefined', 'Removed', 'Undefined'],
    ['Undefined', 'Renamed', 'Undefined'],
    ['Started', 'Booted', 'Started'],
    ['Started', 'Migrated', 'Started'],
    ['Started', 'Restored', 'Started'],
    ['Started', 'Snapshot', 'Started'],
    ['Started', 'Event wakeup', 'Started'],
    ['Suspended', 'Paused', 'Suspended'],
    ['Suspended', 'I/O Error', 'Suspended'],
    ['Suspended', 'Watchdog', 'Suspended'],
    ['Suspended', 'API error', 'Suspended'],
    ['Resumed', 'Unpaused', 'Resumed'],
    ['Resumed', 'Migrated', 'Resumed'],
    ['Stopped', 'Shutdown', 'Stopped'],
    ['Stopped', 'Destroyed', 'Stopped'],
    ['Stopped', 'Crashed', 'Stopped'],
    ['Stopped', 'Migrated', 'Stopped'],
    ['Stopped', 'Saved', 'Stopped'],
    ['Stopped', 'Failed', 'Stopped'],
    ['Stopped', 'Snapshot', 'Stopped'],
    ['PMSuspended', 'Memory', 'Suspended'],
    ['PMSuspended', 'Disk', 'Suspended'],
    ['Crashed', 'Panicked', 'Stopped'],
    ['Crashed', 'Crashloaded', 'UNKNOWN'],
    ['Shutdown', 'Finished', undefined],
    ['Shutdown', 'Finished after guest request', undefined],
    ['Shutdown', 'Finished after host request', undefined],
    ['unknown', 'unknown', 'UNKNOWN'],
    ['Hibernated', '', 'UNKNOWN'],
    ['toString', '', 'UNKNOWN'],
    ['__proto__', '', 'UNKNOWN'],
  ];
  for (const [event, detail, expected] of table) {
    assert.equal(ocfStatusForLifecycleEvent(event, detail), expected, `${event} ${detail}`);
  }
});

test('matching is exact (virsh prints these words capitalised)', () => {
  assert.equal(ocfStatusForLifecycleEvent('started', 'booted'), 'UNKNOWN');
  assert.equal(ocfStatusForLifecycleEvent('Crashed', 'panicked'), 'UNKNOWN');
});
