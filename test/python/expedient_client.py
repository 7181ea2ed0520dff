#!/usr/bin/env python3
"""Plays the Expedient VT plugin (the OCF clearinghouse) against a VT manager, with Python's standard
xmlrpc.client and xmlrpc.server only: an XML-RPC implementation independent of the one under test.

What it does is what docs/ocf-protocol.md §3 describes:
* calls the manager's /xmlrpc/plugin with HTTP Basic credentials from the URL (§1.4, §3.1);
* serves `sendAsync(xml) -> ""` on its own HTTPS endpoint /vt_plugin/xmlrpc/vt_am/ with HTTP Basic auth, the
  same credentials as towards the AM (§3.2, §3.3), and handles only the first <action> of each message;
* builds requests as the plugin does (§6.4, §8.1, §8.2) and sends them with send(callbackUrl, xml);
* on each ONGOING of a create calls listResources(storedHash or '0', projectUUID, sliceUUID) (§3.2).

Scenarios:
* info:      system.listMethods, ping, get_am_info, a wrong password (HTTP 401), listResources.
* lifecycle: info, then create -> start -> reboot -> hardStop -> modify -> start -> hardStop -> delete, each
             expected to give exactly ONGOING then one SUCCESS with the type filled in by the manager, plus
             listResources (with and without a matching hash) and force_update_exp_vms.

The JSON report is {ok, scenario, steps:[{name, ok, errors, ...}], errors:[...], warnings:[...], received:[...]}.
Exit status: 0 when every check passed, 1 on any mismatch, 2 on a usage or set-up error.
"""

from __future__ import annotations

import argparse
import base64
import json
import ssl
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
import xmlrpc.client
from socketserver import ThreadingMixIn
from typing import Any, Callable, Dict, List, Optional
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer

import ocf_rspec as R

CALLBACK_PATH = "/vt_plugin/xmlrpc/vt_am/"
# §3.2: what the plugin calls on the AM. Missing ones are errors; the other §2.2 methods only warnings.
EXPEDIENT_METHODS = ["send", "ping", "listResources", "force_update_exp_vms", "get_am_info"]
OTHER_PLUGIN_METHODS = ["send_sync", "list_vm_templates", "get_ocf_am_version"]
# §3.3 table: the plugin's VM state after a status, by the *stored* action type.
PLUGIN_VM_STATE = {
    "create": {"ONGOING": "creating...", "SUCCESS": "created (stopped)", "FAILED": "(removed)"},
    "start": {"ONGOING": "starting...", "SUCCESS": "running", "FAILED": "stopped"},
    "hardStop": {"ONGOING": "stopping...", "SUCCESS": "stopped", "FAILED": "running"},
    "reboot": {"ONGOING": "rebooting...", "SUCCESS": "running", "FAILED": "stopped"},
    "delete": {"ONGOING": "deleting...", "SUCCESS": "(removed)", "FAILED": "failed"},
}


def redact(url: str) -> str:
    p = urllib.parse.urlsplit(url)
    if p.password is None:
        return url
    netloc = "%s:***@%s" % (p.username, p.netloc.rsplit("@", 1)[1])
    return urllib.parse.urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))


class TimeoutSafeTransport(xmlrpc.client.SafeTransport):
    """The original clients never time out (§1.4); a test must."""

    def __init__(self, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._timeout = timeout

    def make_connection(self, host):  # type: ignore[override]
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn


# ---------------------------------------------------------------------------------------------------------
# The plugin's callback endpoint (§3.3)


class CallbackState:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.received: List[Dict[str, Any]] = []
        self.monitoring: List[Dict[str, Any]] = []
        self.auth_failures = 0
        self.errors: List[str] = []
        self.warnings: List[str] = []
        # The plugin's own Action table: id -> {type, status}; statuses are applied by the stored type.
        self.actions: Dict[str, Dict[str, str]] = {}
        self.vm_state: Optional[str] = None
        self.on_create_ongoing: Optional[Callable[[str], None]] = None

    def send_async(self, xml: str) -> str:
        try:
            root = R.parse(xml)
        except Exception as e:  # Expedient parses synchronously: a parse error is a fault (§3.3)
            with self.cond:
                self.errors.append("sendAsync: unparseable rspec: %s" % e)
            raise
        prov = R.read_actions(root, "response", "provisioning")
        mon = R.read_actions(root, "response", "monitoring")
        with self.cond:
            if prov:
                a = prov[0]  # only the first action is processed (§3.3)
                if len(prov) > 1:
                    self.warnings.append("sendAsync carried %d provisioning actions; the plugin reads only the first" % len(prov))
                rec = {
                    "actionId": a["id"], "type": a["type"], "status": a["status"], "description": a["description"],
                    "namespace": R.has_namespace(root), "vmUuid": (a["vms"][0]["uuid"] if a["vms"] else None), "at": time.time(),
                }
                self.received.append(rec)
                stored = self.actions.get(a["id"] or "")
                if stored is not None:
                    stored["status"] = a["status"] or ""
                    self.vm_state = PLUGIN_VM_STATE.get(stored["type"], {}).get(a["status"] or "", "unknown")
                    if stored["type"] == "create" and a["status"] == "ONGOING" and self.on_create_ongoing:
                        # The plugin refreshes its view on every create ONGOING, in its handler thread.
                        threading.Thread(target=self.on_create_ongoing, args=(a["id"],), daemon=True).start()
                else:
                    self.warnings.append("status %s for an action the plugin did not start: %s" % (a["status"], a["id"]))
            for m in mon:
                self.monitoring.append({"actionId": m["id"], "type": m["type"], "status": m["status"],
                                        "vms": [{"uuid": v["uuid"], "status": v["status"]} for v in m["vms"]], "at": time.time()})
            if not prov and not mon:
                self.warnings.append("sendAsync without provisioning or monitoring response")
            self.cond.notify_all()
        return ""

    def statuses(self, action_id: str) -> List[Dict[str, Any]]:
        with self.cond:
            return [dict(r) for r in self.received if r["actionId"] == action_id]

    def wait_terminal(self, action_id: str, timeout: float) -> bool:
        def done() -> bool:
            return any(r["actionId"] == action_id and r["status"] in ("SUCCESS", "FAILED") for r in self.received)

        with self.cond:
            return self.cond.wait_for(done, timeout)


def make_callback_server(state: CallbackState, host: str, port: int, user: str, password: str, cert: str, key: str):
    expected = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode("utf-8")).decode("ascii")

    class Handler(SimpleXMLRPCRequestHandler):
        rpc_paths = (CALLBACK_PATH,)

        def setup(self) -> None:
            if isinstance(self.request, ssl.SSLSocket):
                self.request.settimeout(30)
                self.request.do_handshake()  # in this handler thread, not in the accept loop
            super().setup()

        def do_POST(self) -> None:  # noqa: N802
            if self.headers.get("Authorization") != expected:
                with state.cond:
                    state.auth_failures += 1
                body = b"Authorization Required"
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="expedient"')
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_POST()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    class Server(ThreadingMixIn, SimpleXMLRPCServer):
        daemon_threads = True
        allow_reuse_address = True

        def handle_error(self, request, client_address) -> None:  # type: ignore[override]
            with state.cond:
                state.warnings.append("callback connection error: %s" % sys.exc_info()[1])

    server = Server((host, port), requestHandler=Handler, logRequests=False, allow_none=False)
    server.register_introspection_functions()  # rpc4django serves system.* (§1.1)
    server.register_function(state.send_async, "sendAsync")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    return server


# ---------------------------------------------------------------------------------------------------------
# The client side


class Run:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.steps: List[Dict[str, Any]] = []
        self.errors: List[str] = []
        self.warnings: List[str] = []
        self.ctx = ssl.create_default_context(cafile=args.cafile)
        parts = urllib.parse.urlsplit(args.manager_url)
        if parts.scheme != "https":
            raise SystemExit("the AM URL must start with https:// (docs/ocf-protocol.md §1.4)")
        self.am_user = urllib.parse.unquote(parts.username or "")
        self.am_password = urllib.parse.unquote(parts.password or "")
        self.state = CallbackState()
        self.stored_hash = "0"
        self.vm: Dict[str, Any] = {}
        self.callback_url = ""

    # -- helpers ------------------------------------------------------------------------------------------

    def am(self, url: Optional[str] = None) -> xmlrpc.client.ServerProxy:
        """A fresh proxy per call, as the plugin makes one per call (and ServerProxy is not thread-safe)."""
        return xmlrpc.client.ServerProxy(url or self.args.manager_url, transport=TimeoutSafeTransport(self.args.rpc_timeout, self.ctx))

    def step(self, name: str, **info: Any) -> Dict[str, Any]:
        s: Dict[str, Any] = {"name": name, "ok": True, "errors": [], **info}
        self.steps.append(s)
        return s

    def fail(self, s: Dict[str, Any], msg: str) -> None:
        s["ok"] = False
        s["errors"].append(msg)
        self.errors.append("%s: %s" % (s["name"], msg))

    def warn(self, s: Dict[str, Any], msg: str) -> None:
        s.setdefault("warnings", []).append(msg)
        self.warnings.append("%s: %s" % (s["name"], msg))

    def call(self, s: Dict[str, Any], method: str, *params: Any, url: Optional[str] = None) -> Any:
        """Calls `method`; on a fault or transport error marks the step failed and returns None."""
        s["method"] = method
        s["params"] = [p if len(str(p)) < 200 else "(%d characters)" % len(str(p)) for p in params]
        started = time.time()
        try:
            result = getattr(self.am(url), method)(*params)
            s["ms"] = int((time.time() - started) * 1000)
            return result
        except xmlrpc.client.Fault as f:
            s["fault"] = {"faultCode": f.faultCode, "faultString": f.faultString}
            self.fail(s, "fault %s: %s" % (f.faultCode, f.faultString))
        except xmlrpc.client.ProtocolError as e:
            s["httpStatus"] = e.errcode
            self.fail(s, "HTTP %s %s" % (e.errcode, e.errmsg))
        except Exception as e:  # transport, TLS, timeout
            self.fail(s, "%s: %s" % (type(e).__name__, e))
        return None

    # -- info -------------------------------------------------------------------------------------------

    def scenario_info(self) -> None:
        s = self.step("system.listMethods")
        methods = self.call(s, "system.listMethods")
        if methods is not None:
            s["result"] = methods
            if not isinstance(methods, list):
                self.fail(s, "expected an array, got %r" % (methods,))
            else:
                for m in EXPEDIENT_METHODS:
                    if m not in methods:
                        self.fail(s, "method %s is not listed" % m)
                for m in OTHER_PLUGIN_METHODS:
                    if m not in methods:
                        self.warn(s, "method %s (docs/ocf-protocol.md §2.2) is not listed" % m)

        s = self.step("ping")
        r = self.call(s, "ping", "ping")
        if "fault" not in s and s["ok"]:
            s["result"] = r
            if r != "ping":
                self.fail(s, "ping('ping') returned %r" % (r,))

        s = self.step("get_am_info")
        r = self.call(s, "get_am_info", "")
        if s["ok"]:
            s["result"] = r
            if not isinstance(r, dict) or not isinstance(r.get("version"), str) or not r.get("version"):
                self.fail(s, "expected a struct {version: string}, got %r" % (r,))

        s = self.step("auth-rejected")
        parts = urllib.parse.urlsplit(self.args.manager_url)
        bad = urllib.parse.urlunsplit((parts.scheme, "%s:%s@%s" % (parts.username, "wrong-" + uuid.uuid4().hex[:8], parts.netloc.rsplit("@", 1)[1]),
                                       parts.path, parts.query, parts.fragment))
        try:
            self.am(bad).ping("ping")
            self.fail(s, "a wrong password was accepted")
        except xmlrpc.client.ProtocolError as e:
            s["httpStatus"] = e.errcode
            if e.errcode != 401:
                self.fail(s, "expected HTTP 401, got %s" % e.errcode)
        except Exception as e:
            self.fail(s, "expected HTTP 401, got %s: %s" % (type(e).__name__, e))

    # -- listResources ------------------------------------------------------------------------------------

    def list_resources(self, name: str, remote_hash: str, expect_vm: Optional[bool], expect_xml: bool = True,
                       expect: Optional[Dict[str, Any]] = None) -> Optional[str]:
        s = self.step(name)
        r = self.call(s, "listResources", remote_hash, self.vm["project_id"], self.vm["slice_id"])
        if not s["ok"]:
            return None
        if not (isinstance(r, list) and len(r) == 2 and all(isinstance(x, str) for x in r)):
            self.fail(s, "expected [hash, xml] (two strings), got %r" % (r,))
            return None
        new_hash, xml = r
        s["hash"] = new_hash
        if not new_hash:
            self.fail(s, "empty hash")
        if not expect_xml:
            if xml != "":
                self.fail(s, "the hash did not change, so the document must be \"\" (§2.2.3); got %d characters" % len(xml))
            if new_hash != remote_hash:
                self.fail(s, "hash changed from %s to %s without any change" % (remote_hash, new_hash))
            return new_hash
        if xml == "":
            self.fail(s, "expected a document, got \"\"")
            return new_hash
        try:
            root = R.parse(xml)
        except Exception as e:
            self.fail(s, "the document does not parse: %s" % e)
            return new_hash
        if R.has_namespace(root):
            self.warn(s, "the manager's document carries a namespace (§6.1: none)")
        servers = R.read_information(root)
        s["servers"] = [{"uuid": x["uuid"], "name": x["name"], "vms": [v["uuid"] for v in x["vms"]]} for x in servers]
        mine = [x for x in servers if x["uuid"] == self.args.server_uuid]
        if len(mine) != 1:
            self.fail(s, "server %s listed %d times" % (self.args.server_uuid, len(mine)))
            return new_hash
        srv = mine[0]
        for field in ("name", "id", "virtualizationType"):
            if not srv.get(field):
                self.fail(s, "server %s has no %s" % (srv["uuid"], field))
        vms = [v for v in srv["vms"] if v["uuid"] == self.vm["uuid"]]
        others = [v["uuid"] for x in servers for v in x["vms"] if v["projectId"] != self.vm["project_id"] or v["sliceId"] != self.vm["slice_id"]]
        if others:
            self.fail(s, "VMs of other projects/slices listed despite the filter: %s" % others)
        if expect_vm is True:
            if len(vms) != 1:
                self.fail(s, "VM %s listed %d times under its server" % (self.vm["uuid"], len(vms)))
            else:
                v = vms[0]
                s["vm"] = v
                want = {"name": self.vm["name"], "projectId": self.vm["project_id"], "sliceId": self.vm["slice_id"],
                        "serverId": self.args.server_uuid, "hdOriginPath": self.vm["template"], **(expect or {})}
                for k, val in want.items():
                    if v.get(k) != val:
                        self.fail(s, "VM %s is %r, expected %r" % (k, v.get(k), val))
                mgmt = [i for i in v["interfaces"] if i["ismgmt"] in ("true", "1")]
                if len(mgmt) != 1 or not mgmt[0]["mac"] or not mgmt[0]["ip"] or mgmt[0]["ip"] == "NONE":
                    self.fail(s, "expected one management interface with a MAC and an IP, got %r" % (v["interfaces"],))
        elif expect_vm is False and vms:
            self.fail(s, "VM %s is still listed" % self.vm["uuid"])
        return new_hash

    def on_create_ongoing(self, action_id: str) -> None:
        s = self.step("listResources-on-create-ONGOING", actionId=action_id)
        r = self.call(s, "listResources", self.stored_hash, self.vm["project_id"], self.vm["slice_id"])
        if s["ok"]:
            if isinstance(r, list) and len(r) == 2 and isinstance(r[0], str):
                s["hash"] = r[0]
                self.stored_hash = r[0]
            else:
                self.fail(s, "expected [hash, xml], got %r" % (r,))

    # -- provisioning -------------------------------------------------------------------------------------

    def action(self, name: str, action_type: str, xml: str, action_id: str, expect: Optional[List[str]] = None) -> bool:
        """send(callbackUrl, xml), then waits for the terminal status and checks the whole sequence."""
        expect = expect or ["ONGOING", "SUCCESS"]
        s = self.step(name, actionType=action_type, actionId=action_id)
        with self.state.cond:
            self.state.actions[action_id] = {"type": action_type, "status": "QUEUED"}  # saved before send (§3.2)
        r = self.call(s, "send", self.callback_url, xml)
        if not s["ok"]:
            return False
        if r is not None:
            self.fail(s, "send returned %r, expected nil (§2.2.1)" % (r,))
        started = time.time()
        if not self.state.wait_terminal(action_id, self.args.action_timeout):
            got = self.state.statuses(action_id)
            s["statuses"] = [x["status"] for x in got]
            self.fail(s, "no terminal status within %d s; got %s" % (self.args.action_timeout, s["statuses"]))
            return False
        time.sleep(self.args.settle)  # a duplicate terminal status would show up now
        got = self.state.statuses(action_id)
        s["seconds"] = round(time.time() - started, 1)
        s["statuses"] = [x["status"] for x in got]
        s["types"] = [x["type"] for x in got]
        s["descriptions"] = [x["description"] for x in got]
        s["pluginVmState"] = self.state.vm_state
        if s["statuses"] != expect:
            self.fail(s, "statuses %s, expected exactly %s (descriptions %s)" % (s["statuses"], expect, s["descriptions"]))
        if any(t != action_type for t in s["types"]):
            self.fail(s, "action type in the statuses is %s, expected %s filled in by the manager (§9 item 10)" % (s["types"], action_type))
        if any(x["namespace"] for x in got):
            self.warn(s, "the manager's statuses carry a namespace (§6.1: none)")
        if any(x["vmUuid"] not in ("notRequired", None) for x in got):
            self.warn(s, "virtual-machines/uuid is not notRequired: %s" % [x["vmUuid"] for x in got])
        return s["ok"] or (s["statuses"][-1:] == ["SUCCESS"])

    def force_update(self, name: str, expect_running: bool) -> None:
        s = self.step(name)
        r = self.call(s, "force_update_exp_vms", self.args.server_uuid, "None")
        if not s["ok"]:
            return
        s["result"] = r
        if not isinstance(r, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in r.items()):
            self.fail(s, "expected a struct {vmUUID: vmName}, got %r" % (r,))
            return
        listed = {k.lower(): v for k, v in r.items()}
        if expect_running:
            if self.vm["uuid"] not in listed:
                self.fail(s, "the running VM %s is not in %r" % (self.vm["uuid"], r))
            elif listed[self.vm["uuid"]] != self.vm["name"]:
                # §2.2: struct{ vmUUID: vmName } (in the original the libvirt domain was named after the VM).
                self.fail(s, "the VM is listed as %r, not by its name %r (§2.2, §8.11)" % (listed[self.vm["uuid"]], self.vm["name"]))
        elif self.vm["uuid"] in listed:
            self.fail(s, "the stopped VM %s is listed as active: %r" % (self.vm["uuid"], r))

    def scenario_lifecycle(self) -> None:
        self.scenario_info()
        a = self.args
        self.vm = {
            "name": "py-%s" % uuid.uuid4().hex[:10], "uuid": str(uuid.uuid4()),
            "project_id": str(uuid.uuid4()), "slice_id": str(uuid.uuid4()),
            "project_name": "py-project", "slice_name": "py-slice",
            "template": a.template, "memory_mb": a.memory_mb, "os_version": "12",
        }
        self.state.on_create_ongoing = self.on_create_ongoing

        create_id = str(uuid.uuid4())
        created = self.action("create", "create", R.create_query(create_id, a.server_uuid, self.vm), create_id)
        if not created:
            self.errors.append("create did not succeed: the lifecycle stops here")
            return
        h = self.list_resources("listResources-after-create", "0", True, expect={"status": "created (stopped)", "memoryMb": a.memory_mb})
        if h is not None:
            self.stored_hash = h
            self.list_resources("listResources-same-hash", h, None, expect_xml=False)

        def life(step: str, action_type: str, memory_mb: Optional[int] = None) -> bool:
            i = str(uuid.uuid4())
            return self.action(step, action_type, R.lifecycle_query(action_type, i, a.server_uuid, self.vm, memory_mb), i)

        if life("start", "start"):
            self.force_update("force_update_exp_vms-running", True)
        life("reboot", "reboot")
        life("hardStop", "hardStop")
        if life("modify", "modify", a.modify_memory_mb):
            self.list_resources("listResources-after-modify", "0", True, expect={"memoryMb": a.modify_memory_mb, "status": "stopped"})
        life("start-2", "start")
        life("hardStop-2", "hardStop")
        self.force_update("force_update_exp_vms-stopped", False)
        if life("delete", "delete"):
            self.list_resources("listResources-after-delete", "0", False)

    # -- main -------------------------------------------------------------------------------------------

    def run(self) -> Dict[str, Any]:
        a = self.args
        cb_user = a.callback_user or self.am_user
        cb_password = a.callback_password or self.am_password
        server = make_callback_server(self.state, a.callback_host, a.callback_port, cb_user, cb_password, a.cert, a.key)
        port = server.server_address[1]
        # §3.2: 'https://'+username+':'+password+'@'+SITE+'/vt_plugin/xmlrpc/vt_am/' (no percent-encoding).
        self.callback_url = "https://%s:%s@%s:%d%s" % (cb_user, cb_password, a.callback_host, port, CALLBACK_PATH)
        t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        t.start()
        try:
            if a.scenario == "info":
                self.scenario_info()
            else:
                self.scenario_lifecycle()
            # Late or duplicate statuses for any action, after everything settled.
            time.sleep(a.settle)
            s = self.step("no-late-statuses")
            for st in self.steps:
                if "actionId" in st and "statuses" in st and st["name"] != s["name"]:
                    now = [x["status"] for x in self.state.statuses(st["actionId"])]
                    if now != st["statuses"]:
                        self.fail(s, "%s: statuses grew to %s" % (st["name"], now))
        except Exception as e:
            self.errors.append("crash: %s: %s\n%s" % (type(e).__name__, e, traceback.format_exc()))
        finally:
            server.shutdown()
            server.server_close()
        if self.state.auth_failures:
            self.errors.append("the manager's sendAsync failed Basic auth %d times" % self.state.auth_failures)
        self.errors.extend("callback: %s" % e for e in self.state.errors)
        self.warnings.extend("callback: %s" % w for w in self.state.warnings)
        return {
            "ok": not self.errors,
            "scenario": a.scenario,
            "managerUrl": redact(a.manager_url),
            "callbackUrl": redact(self.callback_url),
            "serverUuid": a.server_uuid,
            "vm": self.vm,
            "steps": self.steps,
            "errors": self.errors,
            "warnings": self.warnings,
            "received": self.state.received,
            "monitoring": self.state.monitoring,
            "authFailures": self.state.auth_failures,
        }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--manager-url", required=True, help="https://user:pass@host:port/xmlrpc/plugin")
    p.add_argument("--cafile", required=True, help="CA certificate(s) to trust for the manager")
    p.add_argument("--server-uuid", required=True)
    p.add_argument("--template", required=True, help="hd-origin-path of created VMs")
    p.add_argument("--scenario", choices=["info", "lifecycle"], default="lifecycle")
    p.add_argument("--output", required=True, help="JSON report path")
    p.add_argument("--cert", required=True, help="certificate of the callback endpoint (PEM)")
    p.add_argument("--key", required=True, help="key of --cert (PEM)")
    p.add_argument("--callback-host", default="127.0.0.1")
    p.add_argument("--callback-port", type=int, default=0)
    p.add_argument("--callback-user", help="Basic user of the callback (default: the AM user, as Expedient)")
    p.add_argument("--callback-password", help="Basic password of the callback (default: the AM password)")
    p.add_argument("--memory-mb", type=int, default=128)
    p.add_argument("--modify-memory-mb", type=int, default=160)
    p.add_argument("--action-timeout", type=float, default=240, help="seconds to wait for a terminal status")
    p.add_argument("--rpc-timeout", type=float, default=60, help="seconds per XML-RPC call")
    p.add_argument("--settle", type=float, default=1.5, help="seconds to wait for duplicates after a terminal status")
    args = p.parse_args()
    try:
        report = Run(args).run()
    except SystemExit:
        raise
    except Exception as e:
        report = {"ok": False, "scenario": args.scenario, "steps": [], "errors": ["set-up failed: %s: %s" % (type(e).__name__, e)], "warnings": []}
        with open(args.output, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1)
        print(json.dumps(report["errors"]), file=sys.stderr)
        return 2
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    for e in report["errors"]:
        print("MISMATCH " + e, file=sys.stderr)
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
