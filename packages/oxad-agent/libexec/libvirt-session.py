#!/usr/bin/python3
"""The agent's held-open libvirt connections (decision 041): one process per agent.

Run by `adapters/libvirt-connection.ts` as `/usr/bin/python3 libvirt-session.py <uri>` with Debian's
python3-libvirt (the official binding, the same release as libvirtd). It reads one JSON request per line on
standard input and writes one JSON answer per line on standard output, in any order:

    request   {"id": 7, "op": "start", "name": "kvmcrm-…", "timeoutMs": 300000}
    answer    {"id": 7, "ok": true, "value": null}
              {"id": 7, "ok": false, "code": 55, "domain": 10, "message": "Requested operation is not valid: …"}

`code` and `domain` are libvirt's virErrorNumber and virErrorDomain (0 for an error that is not libvirt's).
Requests run in a pool of WORKERS threads, each with its own libvirt connection opened on its first request, so
that one connection never carries more than one call (libvirtd reads at most `max_client_requests`, default 5, of
one client's calls at once: a shared connection would queue a `domstate` behind slow starts). A request still
queued `timeoutMs` after it was read (the agent's timeout for it; a monotonic clock) is refused unrun ("expired":
true), so a call the agent gave up on is not carried out later. libvirt's default event loop runs in a thread of
its own and every connection has a keepalive (every 5 s; closed after ~60 s without an answer): a connection whose
libvirtd restarted is seen closed before it is used again (and opened anew), and a libvirtd whose event loop or
socket is dead fails its calls within ~60 s instead of holding a worker for ever (a call waiting on a domain's job
lock in a libvirtd that still answers keepalives waits until the agent's timeout, as a virsh run did). A read (`READ_ONLY` ops) that failed because its connection broke
during the call is made once more on a new connection; a change is not (libvirtd may have carried it out): its
error is the answer.

The first line written is {"id": 0, "ok": true, "value": {"libvirt": <version number>}} once a connection
opened, or an error answer with id 0 and exit status 1. It ends when standard input ends (the agent stops, or
died), after answering the calls in flight (queued ones are answered "not run"). Arguments are JSON values, never command
text: names and paths were validated by the agent and reach libvirt as API arguments.
"""
import json
import os
import re
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import libvirt

# virsh's words for states and reasons (virsh-domain-monitor.c, libvirt 9.0), so that answers read as virsh's did.
STATES = {0: "no state", 1: "running", 2: "idle", 3: "paused", 4: "in shutdown", 5: "shut off", 6: "crashed",
          7: "pmsuspended"}
# `virsh domstats --state` codes as the agent's listing names them (adapters/virsh.ts STATE_BY_CODE).
LIST_STATES = {**STATES, 2: "blocked"}
REASONS = {
    1: {1: "booted", 2: "migrated", 3: "restored", 4: "from snapshot", 5: "unpaused", 6: "migration canceled",
        7: "save canceled", 8: "event wakeup", 9: "crashed", 10: "post-copy", 11: "post-copy failed"},
    3: {1: "user", 2: "migrating", 3: "saving", 4: "dumping", 5: "I/O error", 6: "watchdog", 7: "from snapshot",
        8: "shutting down", 9: "creating snapshot", 10: "crashed", 11: "starting up", 12: "post-copy",
        13: "post-copy failed"},
    4: {1: "user"},
    5: {1: "shutdown", 2: "destroyed", 3: "crashed", 4: "migrated", 5: "saved", 6: "failed", 7: "from snapshot",
        8: "daemon"},
    6: {1: "panicked"},
}
UNDEFINE_FLAGS = (libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                  | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)

WORKERS = 16
KEEPALIVE_SECONDS, KEEPALIVE_COUNT = 5, 11  # closed after ~60 s without an answer: interval × (count + 1)
READ_ONLY = {"version", "domstate", "get-autostart", "list-all"}

uri = sys.argv[1]
out_lock = threading.Lock()
queued_lock = threading.Lock()
queued = {}  # requests read but not yet taken by a worker: id(request) -> request id
local = threading.local()


def connection():
    """This thread's connection, opened on first use and again once it was closed (libvirtd restarted, keepalive)."""
    c = getattr(local, "conn", None)
    if c is not None and not alive(c):
        drop()
        c = None
    if c is None:
        c = libvirt.open(uri)
        c.setKeepAlive(KEEPALIVE_SECONDS, KEEPALIVE_COUNT)
        local.conn = c
    return c


def drop():
    """Closes this thread's connection, so that its next call opens a new one."""
    broken, local.conn = getattr(local, "conn", None), None
    if broken is not None:
        try:
            broken.close()
        except libvirt.libvirtError:
            pass


def alive(c):
    try:
        return c.isAlive() == 1
    except libvirt.libvirtError:
        return False


def state_text(state, reason, names=STATES):
    return {"state": names.get(state, "state %d" % state), "reason": REASONS.get(state, {}).get(reason, "unknown")}


def read_file(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def lookup(c, name):
    """The domain by name, or by UUID when `name` is one (as virsh looks a domain argument up)."""
    return c.lookupByUUIDString(name) if UUID.match(name) else c.lookupByName(name)


def domain_call(method, *args):
    """An op that looks the domain up by name and calls `method` on it; answers null."""
    def op(c, r):
        getattr(lookup(c, r["name"]), method)(*args)
    return op


def define(c, r):
    c.defineXML(read_file(r["path"]))


def set_autostart(c, r):
    lookup(c, r["name"]).setAutostart(1 if r["enabled"] else 0)


def list_all(c, _r):
    """Every domain with its state, in one call (a domain undefined meanwhile is simply not there)."""
    return [dict(name=d.name(), uuid=d.UUIDString(),
                 **state_text(stats.get("state.state", 0), stats.get("state.reason", 0), names=LIST_STATES))
            for d, stats in c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE)]


OPS = {
    "version": lambda c, _r: c.getLibVersion(),
    "domstate": lambda c, r: state_text(*lookup(c, r["name"]).state()),
    "get-autostart": lambda c, r: lookup(c, r["name"]).autostart() == 1,
    "define": define,
    "start": domain_call("create"),
    "shutdown": domain_call("shutdownFlags", libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN),
    "destroy": domain_call("destroy"),
    "reboot": domain_call("reboot", libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN),
    "undefine": domain_call("undefineFlags", UNDEFINE_FLAGS),
    "set-autostart": set_autostart,
    "list-all": list_all,
}


def answer(message):
    line = json.dumps(message, separators=(",", ":")) + "\n"
    with out_lock:
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except BrokenPipeError:  # the agent is gone: nobody to answer
            pass


def failure(rid, err):
    if isinstance(err, libvirt.libvirtError):
        return {"id": rid, "ok": False, "code": err.get_error_code() or 0, "domain": err.get_error_domain() or 0,
                "message": err.get_error_message() or str(err)}
    return {"id": rid, "ok": False, "code": 0, "domain": 0, "message": "%s: %s" % (type(err).__name__, err)}


def handle(request):
    with queued_lock:
        if isinstance(request, dict) and id(request) not in queued:
            return  # answered "not run" at the end of standard input
        queued.pop(id(request), None)
    rid = None
    try:
        rid = request.get("id")
        name = request.get("op")
        op = OPS.get(name)
        if op is None:
            raise ValueError("unknown op %r" % name)
        deadline = request.get("deadline")
        if isinstance(deadline, (int, float)) and time.monotonic() > deadline:
            answer({"id": rid, "ok": False, "code": 0, "domain": 0, "expired": True,
                    "message": "not run: the agent's timeout passed while it waited for a free worker"})
            return
        for attempt in (0, 1):
            c = connection()
            try:
                value = op(c, request)
                break
            except libvirt.libvirtError:
                broken = not alive(c)
                if broken:
                    drop()
                if broken and attempt == 0 and name in READ_ONLY:
                    continue
                raise
        answer({"id": rid, "ok": True, "value": value})
    except Exception as err:  # every failure is an answer; nothing is lost silently
        answer(failure(rid, err))


def run_events():
    """libvirt's event loop. If it ever fails, the helper exits: the agent starts a new one (a helper without it
    would not notice closed connections)."""
    try:
        while True:
            libvirt.virEventRunDefaultImpl()
    except BaseException as err:
        sys.stderr.write("libvirt event loop failed: %s\n" % err)
        sys.stderr.flush()
        os._exit(1)


def main():
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors go into answers, not to stderr
    libvirt.virEventRegisterDefaultImpl()  # before any open: connections watch their sockets, keepalive works
    threading.Thread(target=run_events, name="libvirt-events", daemon=True).start()
    try:
        first = libvirt.open(uri)  # the workers open their own; this one only proves libvirtd answers
        version = first.getLibVersion()
        first.close()
        answer({"id": 0, "ok": True, "value": {"libvirt": version}})
    except Exception as err:
        answer(failure(0, err))
        sys.exit(1)
    workers = ThreadPoolExecutor(max_workers=WORKERS)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except ValueError as err:
            answer({"id": None, "ok": False, "code": 0, "domain": 0, "message": "bad request: %s" % err})
            continue
        if isinstance(request, dict):
            if isinstance(request.get("timeoutMs"), (int, float)):
                request["deadline"] = time.monotonic() + request["timeoutMs"] / 1000
            with queued_lock:
                queued[id(request)] = request.get("id")
        workers.submit(handle, request)
    # standard input ended: the agent stops (or is gone). The calls in flight are answered; queued ones are not
    # run (nobody may be waiting for them any more), and are answered so.
    with queued_lock:
        not_run = list(queued.values())
        queued.clear()
    for rid in not_run:
        answer({"id": rid, "ok": False, "code": 0, "domain": 0, "message": "not run: the agent closed the connection"})
    workers.shutdown(wait=True, cancel_futures=True)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main()
