#!/usr/bin/env python3
"""A legacy OCF agent (OXAD, KVM variant) over plain HTTP, with Python's standard library only: an XML-RPC
implementation independent of the one under test (docs/ocf-protocol.md §4.1, §4.2, §7.2).

* Serves on 127.0.0.1 (port 0 unless --port), plain HTTP, single-threaded like the original
  BaseHTTPServer, any path, one request per connection, no HTTP auth, no introspection.
* Methods: send(callBackUrl, amId, password, xml) -> "" ; ping(challenge) ; pingAuth(challenge, password) ;
  list_vm_templates(password) ; force_list_active_vms(password, vm_uuid). A wrong password is the fault
  "Password mismatch".
* Provisioning runs in a worker thread per query, as the original: for each action ONGOING then, for
  create/delete/start/stop/hardStop/reboot, SUCCESS (or FAILED with a reason, e.g. an unknown VM), sent with
  sendAsync to callBackUrl in the agent dialect (default xmlns, no @type, virtual-machines/uuid notRequired,
  <description></description>; §8.4). modify and unknown types get ONGOING only, as the original (§7.2).
  A VM without name, project-id or slice-id gets no status at all (§6.5.1). The VMs live in memory.
* Monitoring (listActiveVMs) answers ONGOING then SUCCESS with the running VMs (§6.8, §8.8).
* Every call, every status sent back and every worker failure is one JSON line in --log.

Prints the port on stdout (one line) once it accepts connections.
"""

from __future__ import annotations

import argparse
import json
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import xmlrpc.client
from typing import Any, Dict, List, Optional
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import ocf_rspec as R


def redact(url: str) -> str:
    try:
        p = urllib.parse.urlsplit(url)
    except ValueError:
        return "(unparseable URL)"
    if p.password is None:
        return url
    return urllib.parse.urlunsplit((p.scheme, "%s:***@%s" % (p.username, p.netloc.rsplit("@", 1)[1]), p.path, p.query, p.fragment))


class Log:
    def __init__(self, path: str) -> None:
        self._lock = threading.Lock()
        self.f = open(path, "a", encoding="utf-8")

    def write(self, **rec: Any) -> None:
        rec = {"ts": round(time.time(), 3), **rec}
        with self._lock:
            self.f.write(json.dumps(rec, default=str) + "\n")
            self.f.flush()


class TimeoutTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[override]
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class PlainTimeoutTransport(xmlrpc.client.Transport):
    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[override]
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


class Agent:
    def __init__(self, args: argparse.Namespace, log: Log) -> None:
        self._args = args
        self._log = log
        self._lock = threading.Lock()
        # uuid -> {name, projectId, sliceId, running, memoryMb, ...}
        self._vms: Dict[str, Dict[str, Any]] = {}
        self._ctx = ssl.create_default_context(cafile=args.cafile) if args.cafile else ssl.create_default_context()

    # -- XML-RPC methods (§4.2) ---------------------------------------------------------------------------

    def _check(self, password: Any) -> None:
        if password != self._args.password:
            raise Exception("Password mismatch")

    def send(self, callBackUrl: str, amId: Any, password: str, xml: str) -> str:  # noqa: N803
        self._check(password)
        root = R.parse(xml)  # synchronous: an unparseable document is a fault (§4.2)
        prov = R.read_actions(root, "query", "provisioning")
        mon = R.read_actions(root, "query", "monitoring")
        if R.kid(root, "query") is None:
            raise AttributeError("'RSpec' object has no attribute 'query'")
        self._log.write(event="parsed", callBackUrl=redact(callBackUrl), amId=amId, namespace=R.has_namespace(root),
                       provisioning=prov, monitoring=mon)
        if prov:
            threading.Thread(target=self._provision, args=(callBackUrl, prov), daemon=True).start()
        if mon:
            threading.Thread(target=self._monitor, args=(callBackUrl, mon), daemon=True).start()
        return ""

    def ping(self, challenge: Any) -> Any:
        return challenge

    def pingAuth(self, challenge: Any, password: str) -> Any:  # noqa: N802
        self._check(password)
        return challenge

    def list_vm_templates(self, password: str) -> List[str]:
        self._check(password)
        return list(self._args.templates)

    def force_list_active_vms(self, password: str, vm_uuid: str = "None") -> Dict[str, str]:
        self._check(password)
        with self._lock:
            return {u: v["name"] for u, v in self._vms.items() if v["running"] and (vm_uuid == "None" or u == vm_uuid.lower())}

    # -- callbacks ----------------------------------------------------------------------------------------

    def _send_async(self, url: str, xml: str, action_id: str, status: str, kind: str, description: str = "") -> bool:
        scheme = urllib.parse.urlsplit(url).scheme
        transport = TimeoutTransport(self._args.timeout, self._ctx) if scheme == "https" else PlainTimeoutTransport(self._args.timeout)
        try:
            result = xmlrpc.client.ServerProxy(url, transport=transport).sendAsync(xml)
            self._log.write(event="sendAsync", kind=kind, url=redact(url), actionId=action_id, status=status, description=description,
                           ok=True, result=result)
            return True
        except Exception as e:
            self._log.write(event="sendAsync", kind=kind, url=redact(url), actionId=action_id, status=status, description=description,
                           ok=False, error="%s: %s" % (type(e).__name__, e))
            return False

    def _status(self, url: str, action_id: str, status: str, description: str = "") -> bool:
        return self._send_async(url, R.agent_provisioning_response(action_id, status, description), action_id, status, "provisioning", description)

    # -- provisioning (§7.2) ------------------------------------------------------------------------------

    def _provision(self, url: str, actions: List[Dict[str, Any]]) -> None:
        for a in actions:
            try:
                if not self._one(url, a):
                    return  # the original abandons the remaining actions
            except Exception as e:
                self._log.write(event="worker-died", actionId=a.get("id"), error="%s: %s" % (type(e).__name__, e), trace=traceback.format_exc())
                return

    def _one(self, url: str, a: Dict[str, Any]) -> bool:
        aid = a["id"] or ""
        vm = a["vms"][0] if a["vms"] else None
        if vm is None:
            raise IndexError("list index out of range")  # action.server.virtual_machines[0]
        if vm["virtualizationType"] not in ("xen", "kvm"):
            self._status(url, aid, "FAILED", "Virtualization type not supported by the agent")
            return False
        if not (vm["name"] and vm["projectId"] and vm["sliceId"]):
            # VmMutexStore key project+slice+name: the worker dies before any status (§6.5.1).
            raise TypeError("cannot concatenate 'str' and 'NoneType' objects")
        if not self._status(url, aid, "ONGOING"):
            return True  # ONGOING could not be delivered: the action is not executed (§7.2)
        t = a["type"]
        uid = (vm["uuid"] or "").lower()
        if t in ("modify",):
            self._log.write(event="not-implemented", actionId=aid, type=t)
            return True
        if t not in ("create", "delete", "start", "stop", "hardStop", "reboot"):
            self._log.write(event="unknown-action-type", actionId=aid, type=t)
            return True
        if self._args.delay:
            time.sleep(self._args.delay)
        error: Optional[str] = None
        with self._lock:
            exists = uid in self._vms
            if t == "create":
                if exists:
                    error = "VM %s already exists" % uid
                else:
                    self._vms[uid] = {"name": vm["name"], "projectId": vm["projectId"], "sliceId": vm["sliceId"], "running": False,
                                     "memoryMb": vm["memoryMb"], "hdOriginPath": vm["hdOriginPath"], "interfaces": vm["interfaces"]}
            elif not exists:
                error = "Domain not found: no domain with matching uuid '%s'" % uid
            elif t == "delete":
                del self._vms[uid]
            elif t == "start":
                self._vms[uid]["running"] = True
            elif t in ("stop", "hardStop"):
                self._vms[uid]["running"] = False
            elif t == "reboot" and not self._vms[uid]["running"]:
                error = "Could not reboot VM: not running"
            snapshot = {u: {"name": v["name"], "running": v["running"]} for u, v in self._vms.items()}
        self._log.write(event="applied", actionId=aid, type=t, vmUuid=uid, error=error, vms=snapshot)
        self._status(url, aid, "FAILED" if error else "SUCCESS", error or "")
        return True

    # -- monitoring (§6.8) --------------------------------------------------------------------------------

    def _monitor(self, url: str, actions: List[Dict[str, Any]]) -> None:
        for a in actions:
            aid = a["id"] or ""
            if a["serverVirtualizationType"] not in ("xen", "kvm"):
                self._send_async(url, R.agent_monitoring_response(aid, "FAILED", description="Virtualization type not supported by the agent"),
                                 aid, "FAILED", "monitoring")
                continue
            self._send_async(url, R.agent_monitoring_response(aid, "ONGOING"), aid, "ONGOING", "monitoring")
            with self._lock:
                running = [(u, v["name"]) for u, v in self._vms.items() if v["running"]]
            self._send_async(url, R.agent_monitoring_response(aid, "SUCCESS", running), aid, "SUCCESS", "monitoring")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--password", required=True, help="the shared agent password (XMLRPC_SERVER_PASSWORD)")
    p.add_argument("--log", required=True, help="JSON lines log of every call")
    p.add_argument("--cafile", help="CA to trust for https callback URLs")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--templates", nargs="*", default=["default", "debian7"], help="what list_vm_templates returns")
    p.add_argument("--delay", type=float, default=0.2, help="seconds of 'work' between ONGOING and the final status")
    p.add_argument("--timeout", type=float, default=30, help="seconds per sendAsync call")
    args = p.parse_args()
    log = Log(args.log)
    agent = Agent(args, log)

    class Handler(SimpleXMLRPCRequestHandler):
        rpc_paths = ()  # the original does not check the path (§4.1)

        def log_message(self, format: str, *a: Any) -> None:  # noqa: A002
            pass

    class Server(SimpleXMLRPCServer):
        def _dispatch(self, method: str, params: Any) -> Any:
            shown = list(params)
            try:
                result = super()._dispatch(method, params)
            except Exception as e:
                log.write(event="call", method=method, params=_shown(method, shown), fault="%s: %s" % (type(e).__name__, e))
                raise
            log.write(event="call", method=method, params=_shown(method, shown), result=result)
            return result

    def _shown(method: str, params: List[Any]) -> List[Any]:
        # The rspec is logged parsed ("parsed" event); keep the line short here.
        return [x if not (isinstance(x, str) and len(x) > 300) else "(%d characters)" % len(x) for x in params]

    # allow_none=False as the original SimpleXMLRPCDispatcher (§1.1); HTTP/1.0: one request per connection.
    server = Server((args.host, args.port), requestHandler=Handler, logRequests=False, allow_none=False)
    server.register_instance(agent)
    log.write(event="listening", host=args.host, port=server.server_address[1], pid=__import__("os").getpid())
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
