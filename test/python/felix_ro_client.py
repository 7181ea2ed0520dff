#!/usr/bin/env python3
"""Plays the FELIX Resource Orchestrator (RO) against kvm-crm's GENI AM API v3 endpoint /xmlrpc/geni/3/, with
Python's standard xmlrpc.client only: an XML-RPC implementation independent of the one under test.

It behaves as the RO's GENIv3Client / CRMGeniv3Adaptor does (shared/docs/geni-v3.md §1, §6, §11; written from the
spec, not copied from the RO):
* plain ServerProxy on the URI, no client certificate, no server certificate verification (the RO on Python 2.7
  did not verify, §2);
* GetVersion() with NO parameter; accepts the AM only if code.am_type is in the RO's list and value.geni_api == 3;
* every other call with options {"geni_rspec_version": {"type": "geni", "version": 3}} (+ "inner_call": True on
  ListResources, "geni_end_time" as isoformat with "+00:00" on Allocate/Provision, "geni_users" on Provision);
* credentials wrapped as [{"geni_value": <credential XML>, "geni_type": "geni_sfa"}] (§1.8);
* the RO's __check_errors: a reply fails when result.get("output") is not None or a sliver carries geni_error;
* geni_expires parsed with the RO's regex + strptime (core/dates.py, §1.5);
* RSpecs: the advertisement and the manifests must carry xsi:schemaLocation; they are validated with
  `xmllint --schema` against a local copy of each schema named there (looked up by file name in --schemas-dir;
  request.xsd is shipped there as geni-rspec3-request.xsd). Without xmllint or without a local copy the client
  checks well-formedness, the GENI v3 namespace, the rspec type and the schemaLocation presence, and says so in
  "schema" of the step;
* keeps only nodes whose component_id and component_manager_id contain "vtam" (§1.6);
* builds the request RSpec in the RO request formatter's shape (§7.2 sample: xs prefix for XSI, sharedvlan and
  emulab namespaces, sliver_type emulab-xen, disk_image before emulab:xen, no XML declaration).

CLI: `felix_ro_client.py --am-url URL [common options] STEP [step options]`, one step per invocation, or STEP =
`scenario` for the whole RO call order (GetVersion -> ListResources -> Allocate -> Describe -> Provision ->
PerformOperationalAction geni_start -> Status until geni_ready -> geni_stop -> Delete -> gone from Status and
ListResources). Each call prints one JSON line on stdout:
  {"step", "method", "ok", "errors": [...], "code", "output", "seconds", "t_start", "t_end" (epoch s), ...step fields}
Exit status: 0 when every printed step is ok, 1 when one is not, 2 on a usage or set-up error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
import xmlrpc.client
from typing import Any, Dict, List, Optional, Tuple

RSPEC_NS = "http://www.geni.net/resources/rspec/3"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
EMULAB_NS = "http://www.protogeni.net/resources/rspec/ext/emulab/1"
SHAREDVLAN_NS = "http://www.geni.net/resources/rspec/ext/shared-vlan/1"
# AdaptorFactory.create (§1.2)
RO_ACCEPTED_AM_TYPES = ["geni", "GENI", "geni_sfa", "GENI_SFA", "sfa", "SFA"]
RSPEC_VERSION = {"type": "geni", "version": 3}
# Schema file name in the schemaLocation URL -> local file name in --schemas-dir, when it differs.
LOCAL_SCHEMA_NAMES = {"request.xsd": "geni-rspec3-request.xsd"}
SLIVER_KEYS = ["geni_sliver_urn", "geni_allocation_status", "geni_expires"]


class StepFailed(Exception):
    """A reply the RO would not accept."""


# ---------------------------------------------------------------------------------------------------------
# Transport: the RO's plain ServerProxy, plus a timeout and the raw body (to check for <nil/>, §2)


class RecordingTransport(xmlrpc.client.SafeTransport):
    def __init__(self, timeout: float) -> None:
        # The RO (Python 2.7 xmlrpclib on Debian 7) did not verify the server certificate (§2), and sent none.
        super().__init__(context=ssl._create_unverified_context())  # noqa: SLF001 - deliberate, see above
        self._timeout = timeout
        self.last_body = b""

    def make_connection(self, host):  # type: ignore[override]
        conn = super().make_connection(host)
        conn.timeout = self._timeout
        return conn

    def parse_response(self, response):  # type: ignore[override]
        body = response.read()
        if response.getheader("Content-Encoding", "") == "gzip":  # xmlrpclib accepts gzip replies, so do we
            body = gzip.decompress(body)
        self.last_body = body
        p, u = self.getparser()
        p.feed(body)
        p.close()
        return u.close()


# ---------------------------------------------------------------------------------------------------------
# The RO's date handling (core/dates.py, §1.5)


def ro_parse_geni_time(value: Any) -> dt.datetime:
    """As the RO's rfc3339_to_datetime: drop everything from the first '+' or '.', then 'T' -> ' ', drop 'Z',
    strptime '%Y-%m-%d %H:%M:%S'. The RO silently kept the raw string on failure; we fail."""
    if not isinstance(value, str):
        raise StepFailed("geni_expires is %s, not a string" % type(value).__name__)
    date_form = re.sub(r"[\+|\.].+", "", value)
    try:
        return dt.datetime.strptime(date_form.replace("T", " ").replace("Z", ""), "%Y-%m-%d %H:%M:%S")
    except ValueError as e:
        raise StepFailed("geni_expires %r does not parse the RO's way: %s" % (value, e))


def check_utc(value: str) -> Optional[str]:
    """§1.5: geni_expires in UTC, YYYY-MM-DDTHH:MM:SSZ (optionally .ffffff)."""
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", value):
        return "geni_expires %r is not UTC YYYY-MM-DDTHH:MM:SSZ" % value
    return None


def ro_isoformat(t: dt.datetime) -> str:
    """What the RO sends as geni_end_time (core/dates.py datetime_to_rfc3339): the datetime with a UTC tzinfo,
    isoformat() -- "+00:00", and ".ffffff" when the time has microseconds (a time computed from now has)."""
    return t.astimezone(dt.timezone.utc).isoformat()


# ---------------------------------------------------------------------------------------------------------
# RSpecs


def q(tag: str, ns: str = RSPEC_NS) -> str:
    return "{%s}%s" % (ns, tag)


def xml_attr(value: str) -> str:
    return (value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;"))


def build_request_rspec(nodes: List[Dict[str, Any]]) -> str:
    """The RO's CRMv3RequestFormatter output (§7.2): lxml pretty print, no XML declaration."""
    out = [
        '<rspec xmlns:xs="%s" xmlns:sharedvlan="%s" xmlns:emulab="%s" xmlns="%s" '
        'xs:schemaLocation="%s %s/request.xsd %s/ad.xsd" type="request">' % (
            XSI_NS, SHAREDVLAN_NS, EMULAB_NS, RSPEC_NS, RSPEC_NS, RSPEC_NS, SHAREDVLAN_NS)
    ]
    for n in nodes:
        out.append('  <node component_id="%s" component_manager_id="%s" client_id="%s" exclusive="true">' % (
            xml_attr(n["component_id"]), xml_attr(n["component_manager_id"]), xml_attr(n["client_id"])))
        out.append('    <sliver_type name="emulab-xen">')
        out.append('      <disk_image name="%s"/>' % xml_attr(n.get("disk_image") or "default"))
        out.append('      <emulab:xen cores="%s" ram="%s" disk="%s"/>' % (n["cores"], n["ram"], n["disk"]))
        out.append("    </sliver_type>")
        out.append("  </node>")
    out.append("</rspec>")
    return "\n".join(out) + "\n"


def schema_check(xml_text: str, expected_type: str, schemas_dir: Optional[str], odd_ok: bool = False) -> Dict[str, Any]:
    """§1.7 / RU commons.validate: the RSpec names its schemas in xsi:schemaLocation; validate against local copies.
    `odd_ok`: an odd number of schemaLocation items is tolerated (the RO's own request formatter writes three, §7.2).
    Returns {"checked": "xsd"|"wellformed", "schemas": [...], "missing": [...], "errors": [...], "root": Element}."""
    res: Dict[str, Any] = {"checked": "wellformed", "schemas": [], "missing": [], "errors": []}
    try:
        root = ET.fromstring(xml_text.encode("utf-8"))
    except ET.ParseError as e:
        res["errors"].append("not well-formed XML: %s" % e)
        return res
    res["root"] = root
    if root.tag != q("rspec"):
        res["errors"].append("root is %s, not {%s}rspec" % (root.tag, RSPEC_NS))
    if root.get("type") != expected_type:
        res["errors"].append("rspec type=%r, expected %r" % (root.get("type"), expected_type))
    if any(ord(ch) > 127 for ch in xml_text):
        res["errors"].append("non-ASCII characters in the RSpec (§1.7)")
    loc = root.get(q("schemaLocation", XSI_NS))
    if not loc:
        res["errors"].append("no xsi:schemaLocation (the RO validates against it, §1.7)")
        return res
    parts = loc.split()
    if len(parts) % 2 and not odd_ok:
        res["errors"].append("xsi:schemaLocation has an odd number of items: %r" % loc)
    pairs = list(zip(parts[0::2], parts[1::2]))
    if not any(ns == RSPEC_NS for ns, _ in pairs):
        res["errors"].append("xsi:schemaLocation does not name the GENI v3 namespace")
    for ns, url in pairs:
        name = url.rsplit("/", 1)[-1]
        res["schemas"].append(url)
        local = os.path.join(schemas_dir, LOCAL_SCHEMA_NAMES.get(name, name)) if schemas_dir else None
        if ns != RSPEC_NS or not local or not os.path.isfile(local):
            res["missing"].append(url)
            continue
        xmllint = shutil.which("xmllint")
        if not xmllint:
            res["missing"].append(url + " (no xmllint)")
            continue
        with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
            f.write(xml_text)
            tmp = f.name
        try:
            p = subprocess.run([xmllint, "--noout", "--nonet", "--schema", local, tmp], capture_output=True,
                               text=True, timeout=60)
        finally:
            os.unlink(tmp)
        if p.returncode != 0:
            res["errors"].append("xmllint --schema %s: %s" % (os.path.basename(local), p.stderr.strip()[-600:]))
        else:
            res["checked"] = "xsd"
    return res


def vtam_nodes(root: ET.Element) -> List[Dict[str, Any]]:
    """RU/crm request_parser check_c_resource (§1.6): keep a node only if both ids contain "vtam"."""
    kept = []
    for n in root.findall(q("node")):
        cid, cmid = n.get("component_id") or "", n.get("component_manager_id") or ""
        if "vtam" in cid and "vtam" in cmid:
            av = n.find(q("available"))
            logins = [dict(l.attrib) for l in n.findall("%s/%s" % (q("services"), q("login")))]
            st = n.find(q("sliver_type"))
            kept.append({
                "component_id": cid, "component_manager_id": cmid, "component_name": n.get("component_name"),
                "client_id": n.get("client_id"), "sliver_id": n.get("sliver_id"), "exclusive": n.get("exclusive"),
                "available": None if av is None else av.get("now"),
                "sliver_type": None if st is None else st.get("name"),
                "disk_images": [d.get("name") for d in n.iter(q("disk_image"))],
                "logins": logins,
                "xml": ET.tostring(n, encoding="unicode"),
            })
    return kept


# ---------------------------------------------------------------------------------------------------------
# The RO's calls


class FelixRo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.transport = RecordingTransport(args.timeout)
        # allow_none=False: the RO's ServerProxy default; we also check the raw body for <nil/>.
        self.proxy = xmlrpc.client.ServerProxy(args.am_url, transport=self.transport, allow_none=False)
        self.failed = False

    # -- helpers -----------------------------------------------------------------------------------------
    def creds(self, which: str) -> List[Dict[str, str]]:
        path = self.args.slice_cred if which == "slice" else self.args.user_cred
        if not path:
            raise SystemExit("--%s-cred is required for this step" % which)
        with open(path, "r", encoding="utf-8") as f:
            return [{"geni_value": f.read(), "geni_type": "geni_sfa"}]

    def options(self, **extra: Any) -> Dict[str, Any]:
        o: Dict[str, Any] = {"geni_rspec_version": dict(RSPEC_VERSION)}
        for k, v in extra.items():
            if v:  # the RO only adds an option when it is set
                o[k] = v
        return o

    def emit(self, rec: Dict[str, Any]) -> Dict[str, Any]:
        rec["ok"] = not rec["errors"]
        rec["t_end"] = round(time.time(), 3)  # wall clock (epoch seconds), for timelines across steps
        if not rec["ok"]:
            self.failed = True
        print(json.dumps(rec, sort_keys=True, default=str), flush=True)
        return rec

    def call(self, step: str, method: str, params: List[Any], expect_code: int = 0) -> Tuple[Dict[str, Any], Any]:
        """Calls `method`, checks the common reply struct (§3) and the RO's __check_errors. Returns (record, value)."""
        rec: Dict[str, Any] = {"step": step, "method": method, "errors": [], "code": None, "output": None,
                               "t_start": round(time.time(), 3)}
        t0 = time.monotonic()
        try:
            result = getattr(self.proxy, method)(*params)
        except xmlrpc.client.Fault as e:
            rec["seconds"] = round(time.monotonic() - t0, 3)
            rec["errors"].append("XML-RPC fault %s: %s (GENI failures are never faults, §2)" % (e.faultCode, e.faultString))
            return rec, None
        except Exception as e:  # noqa: BLE001 - the RO wraps every failure into RPCError
            rec["seconds"] = round(time.monotonic() - t0, 3)
            rec["errors"].append("%s failure: %s: %s" % (method, type(e).__name__, e))
            return rec, None
        rec["seconds"] = round(time.monotonic() - t0, 3)
        if b"<nil/>" in self.transport.last_body or b"<nil />" in self.transport.last_body:
            rec["errors"].append("reply contains <nil/> (§2)")
        if not isinstance(result, dict):
            rec["errors"].append("reply is %s, not a struct" % type(result).__name__)
            return rec, None
        code = result.get("code")
        if not isinstance(code, dict):
            rec["errors"].append("no code struct")
            return rec, None
        rec["code"] = code.get("geni_code")
        rec["am_type"] = code.get("am_type")
        if result.get("geni_api") != 3:
            rec["errors"].append("geni_api %r at top level, expected 3 (§3)" % result.get("geni_api"))
        if code.get("am_type") not in RO_ACCEPTED_AM_TYPES:
            rec["errors"].append("am_type %r not in the RO's list" % code.get("am_type"))
        output = result.get("output")
        rec["output"] = output
        if expect_code != 0:
            # An expected failure: a GENI error struct with that code, value "" and a string output (§3).
            if rec["code"] != expect_code:
                rec["errors"].append("geni_code %r, expected %d (output %r)" % (rec["code"], expect_code, output))
            if not isinstance(output, str) or not output:
                rec["errors"].append("error reply without an output string")
            return rec, result.get("value")
        # The RO's __check_errors (§1.3): output present at all (even "") is a failure.
        if output is not None:
            rec["errors"].append("Error detected in the server: output=%r (code %r)" % (output, rec["code"]))
        elif rec["code"] != 0:
            rec["errors"].append("geni_code %r without output" % rec["code"])
        return rec, result.get("value")

    def check_slivers(self, rec: Dict[str, Any], slivers: Any, operational: bool) -> List[Dict[str, Any]]:
        """§1.4, §1.5: every sliver struct has the keys, no geni_error, a UTC geni_expires the RO can parse."""
        out = []
        if not isinstance(slivers, list):
            rec["errors"].append("slivers is %s, not a list" % type(slivers).__name__)
            return out
        for s in slivers:
            if not isinstance(s, dict):
                rec["errors"].append("sliver entry is not a struct: %r" % (s,))
                continue
            keys = SLIVER_KEYS + (["geni_operational_status"] if operational else [])
            missing = [k for k in keys if k not in s]
            if missing:
                rec["errors"].append("sliver %s lacks %s" % (s.get("geni_sliver_urn"), ", ".join(missing)))
            if "geni_error" in s:
                rec["errors"].append("sliver %s carries geni_error %r (the RO fails the call)" % (s.get("geni_sliver_urn"), s["geni_error"]))
            exp = s.get("geni_expires")
            entry = {k: s.get(k) for k in ("geni_sliver_urn", "geni_allocation_status", "geni_operational_status", "geni_expires")}
            if exp is not None:
                try:
                    entry["expires_ro"] = ro_parse_geni_time(exp).strftime("%Y-%m-%d %H:%M:%S")
                    bad = check_utc(exp)
                    if bad:
                        rec["errors"].append(bad)
                except StepFailed as e:
                    rec["errors"].append(str(e))
            out.append(entry)
        return out

    def check_manifest(self, rec: Dict[str, Any], rspec: Any) -> None:
        if not isinstance(rspec, str):
            rec["errors"].append("geni_rspec is %s, not a string" % type(rspec).__name__)
            return
        sc = schema_check(rspec, "manifest", self.args.schemas_dir)
        rec["errors"].extend(sc["errors"])
        rec["schema"] = {k: sc[k] for k in ("checked", "schemas", "missing")}
        rec["manifest"] = vtam_nodes(sc["root"]) if "root" in sc else []

    # -- the calls ---------------------------------------------------------------------------------------
    def get_version(self) -> Dict[str, Any]:
        rec, value = self.call("GetVersion", "GetVersion", [])  # no parameter at all, as SFAClient.get_version
        if isinstance(value, dict):
            rec["geni_api"] = value.get("geni_api")
            if value.get("geni_api") != 3:
                rec["errors"].append("value.geni_api %r; the RO needs int(...) == 3" % value.get("geni_api"))
            rec["geni_api_versions"] = value.get("geni_api_versions")
            rec["request_rspec_versions"] = value.get("geni_request_rspec_versions")
            rec["ad_rspec_versions"] = value.get("geni_ad_rspec_versions")
            rec["credential_types"] = value.get("geni_credential_types")
        elif not rec["errors"]:
            rec["errors"].append("value is not a struct")
        return self.emit(rec)

    def list_resources(self, step: str = "ListResources") -> Dict[str, Any]:
        # The resource detector: its own user credential, inner_call, no compression (§6.2).
        rec, value = self.call(step, "ListResources", [self.creds("user"), self.options(inner_call=True)])
        if not rec["errors"]:
            if not isinstance(value, str) or not value:
                rec["errors"].append("value is not a non-empty RSpec string (compressed or empty?)")
            else:
                sc = schema_check(value, "advertisement", self.args.schemas_dir)
                rec["errors"].extend(sc["errors"])
                rec["schema"] = {k: sc[k] for k in ("checked", "schemas", "missing")}
                rec["nodes"] = vtam_nodes(sc["root"]) if "root" in sc else []
                rec["all_nodes"] = len(sc["root"].findall(q("node"))) if "root" in sc else 0
                rec["rspec"] = value
        return self.emit(rec)

    def allocate(self, step: str = "Allocate") -> Dict[str, Any]:
        a = self.args
        node = {"component_id": a.component_id, "component_manager_id": a.component_manager_id,
                "client_id": a.client_id, "disk_image": a.disk_image, "cores": a.cores, "ram": a.ram, "disk": a.disk}
        rspec = build_request_rspec([node])
        sc = schema_check(rspec, "request", a.schemas_dir, odd_ok=True)  # our own request must be valid GENI v3 too
        rec, value = self.call(step, "Allocate", [a.slice_urn, self.creds("slice"), rspec,
                                                  self.options(geni_end_time=a.end_time)], a.expect_code)
        rec["request_schema"] = {k: sc[k] for k in ("checked", "schemas", "missing")}
        rec["errors"].extend("request RSpec: " + e for e in sc["errors"])
        if a.expect_code == 0 and not rec["errors"]:
            if not isinstance(value, dict):
                rec["errors"].append("value is not a struct")
            else:
                # The RO stores every geni_sliver_urn (commons.extend_slivers) and parses geni_rspec.
                rec["slivers"] = self.check_slivers(rec, value.get("geni_slivers"), True)
                self.check_manifest(rec, value.get("geni_rspec"))
        return self.emit(rec)

    def describe(self, step: str = "Describe") -> Dict[str, Any]:
        rec, value = self.call(step, "Describe", [self.args.urns, self.creds("slice"), self.options()], self.args.expect_code)
        if self.args.expect_code == 0 and not rec["errors"]:
            if not isinstance(value, dict):
                rec["errors"].append("value is not a struct")
            else:
                rec["geni_urn"] = value.get("geni_urn")
                rec["slivers"] = self.check_slivers(rec, value.get("geni_slivers"), True)
                self.check_manifest(rec, value.get("geni_rspec"))
        return self.emit(rec)

    def provision(self, step: str = "Provision") -> Dict[str, Any]:
        a = self.args
        users = []
        if a.ssh_pubkey:
            with open(a.ssh_pubkey, "r", encoding="utf-8") as f:
                users = [{"urn": a.user_urn, "keys": [f.read().strip()]}]
        rec, value = self.call(step, "Provision", [a.urns, self.creds("slice"),
                                                   self.options(geni_end_time=a.end_time, geni_users=users)], a.expect_code)
        if a.expect_code == 0 and not rec["errors"]:
            if not isinstance(value, dict):
                rec["errors"].append("value is not a struct")
            else:
                rec["slivers"] = self.check_slivers(rec, value.get("geni_slivers"), True)
                self.check_manifest(rec, value.get("geni_rspec"))
        return self.emit(rec)

    def operational_action(self, action: str, step: Optional[str] = None) -> Dict[str, Any]:
        rec, value = self.call(step or "PerformOperationalAction:" + action, "PerformOperationalAction",
                               [self.args.urns, self.creds("slice"), action, self.options()], self.args.expect_code)
        if self.args.expect_code == 0 and not rec["errors"]:
            rec["slivers"] = self.check_slivers(rec, value, True)
        return self.emit(rec)

    def status_once(self, step: str = "Status", emit: bool = True) -> Dict[str, Any]:
        rec, value = self.call(step, "Status", [self.args.urns, self.creds("slice"), self.options()], self.args.expect_code)
        if self.args.expect_code == 0 and not rec["errors"]:
            if not isinstance(value, dict):
                rec["errors"].append("value is not a struct")
            else:
                rec["geni_urn"] = value.get("geni_urn")
                rec["slivers"] = self.check_slivers(rec, value.get("geni_slivers"), True)
        return self.emit(rec) if emit else rec

    def status_until(self, target: str, step: str = "Status-until") -> Dict[str, Any]:
        """Polls Status until every sliver named by --sliver (or all) has operational status `target`, or, with
        target "absent", until none of them is listed. geni_failed ends the wait with an error."""
        t0 = time.monotonic()
        t_start = round(time.time(), 3)
        seen: List[str] = []
        polls = 0
        while True:
            rec = self.status_once(step, emit=False)
            polls += 1
            if rec["errors"]:
                break
            slivers = [s for s in rec.get("slivers", []) if not self.args.sliver or s["geni_sliver_urn"] in self.args.sliver]
            states = sorted({str(s.get("geni_operational_status")) for s in slivers})
            label = ",".join(states) if slivers else "(none)"
            if not seen or seen[-1] != label:
                seen.append(label)
            if target == "absent":
                if not slivers:
                    break
            elif slivers and all(s.get("geni_operational_status") == target for s in slivers):
                break
            if "geni_failed" in states:
                rec["errors"].append("a sliver went geni_failed while waiting for %s" % target)
                break
            if time.monotonic() - t0 > self.args.wait_seconds:
                rec["errors"].append("no %s within %s s; states seen: %s" % (target, self.args.wait_seconds, " -> ".join(seen)))
                break
            time.sleep(self.args.poll_seconds)
        rec["seconds"] = round(time.monotonic() - t0, 3)
        rec["t_start"] = t_start
        rec["states_seen"] = seen
        rec["polls"] = polls
        rec["target"] = target
        return self.emit(rec)

    def renew(self, step: str = "Renew") -> Dict[str, Any]:
        rec, value = self.call(step, "Renew", [self.args.urns, self.creds("slice"), self.args.expiration, self.options()],
                               self.args.expect_code)
        if self.args.expect_code == 0 and not rec["errors"]:
            rec["slivers"] = self.check_slivers(rec, value, True)
        return self.emit(rec)

    def delete(self, step: str = "Delete") -> Dict[str, Any]:
        rec, value = self.call(step, "Delete", [self.args.urns, self.creds("slice"), self.options()], self.args.expect_code)
        if self.args.expect_code == 0 and not rec["errors"]:
            # manage_delete reads geni_sliver_urn and geni_expires of every entry (KeyError if missing, §6.9).
            rec["slivers"] = self.check_slivers(rec, value, False)
        return self.emit(rec)

    # -- the whole RO call order -------------------------------------------------------------------------
    def scenario(self) -> None:
        a = self.args
        if not self.get_version()["ok"]:
            return
        lr = self.list_resources()
        if not lr["ok"]:
            return
        nodes = [n for n in lr.get("nodes", []) if n.get("available") != "false"]
        if not a.component_id:
            if not nodes:
                self.emit({"step": "pick-node", "errors": ["no available vtam node in the advertisement"]})
                return
            a.component_id, a.component_manager_id = nodes[0]["component_id"], nodes[0]["component_manager_id"]
        al = self.allocate()
        if not al["ok"]:
            return
        a.urns = [a.slice_urn]
        a.sliver = [s["geni_sliver_urn"] for s in al.get("slivers", [])]
        for step in (self.describe, self.provision):
            if not step()["ok"]:
                return
        if not self.operational_action("geni_start")["ok"]:
            return
        if not self.status_until("geni_ready", "Status-until-ready")["ok"]:
            return
        self.operational_action("geni_stop")
        self.status_until("geni_notready", "Status-until-stopped")
        self.delete()
        self.status_until("absent", "Status-until-gone")
        self.list_resources("ListResources-after-delete")


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--am-url", required=True, help="https://host:port/xmlrpc/geni/3/")
    ap.add_argument("--user-cred", help="the RO's own user credential (ListResources)")
    ap.add_argument("--slice-cred", help="the experimenter's slice credential")
    ap.add_argument("--slice-urn")
    ap.add_argument("--schemas-dir", help="local copies of the RSpec schemas (by file name)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per XML-RPC call")
    ap.add_argument("--urns", nargs="+", default=[], help="URNs for Describe/Provision/Status/POA/Renew/Delete")
    ap.add_argument("--sliver", nargs="*", default=[], help="Status-until: only these sliver URNs")
    ap.add_argument("--expect-code", type=int, default=0, help="the GENI code this call must answer (0 = success)")
    ap.add_argument("--component-id")
    ap.add_argument("--component-manager-id")
    ap.add_argument("--client-id")
    ap.add_argument("--disk-image", default="default")
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--ram", type=int, default=128, help="MB (emulab:xen@ram)")
    ap.add_argument("--disk", type=int, default=1, help="GB (emulab:xen@disk)")
    ap.add_argument("--end-time", help="geni_end_time, e.g. 2026-12-05T12:00:00+00:00")
    ap.add_argument("--end-in-seconds", type=int, help="geni_end_time = now + this, formatted as the RO does")
    ap.add_argument("--expiration", help="Renew expiration_time")
    ap.add_argument("--user-urn", default="urn:publicid:IDN+kvmcrm-test+user+alice", help="geni_users urn")
    ap.add_argument("--ssh-pubkey", help="public key file for geni_users")
    ap.add_argument("--action", default="geni_start")
    ap.add_argument("--target", default="geni_ready", help="Status-until target state, or 'absent'")
    ap.add_argument("--wait-seconds", type=float, default=300.0)
    ap.add_argument("--poll-seconds", type=float, default=2.0)
    ap.add_argument("step", choices=["getversion", "listresources", "allocate", "describe", "provision", "poa", "status",
                                     "status-until", "renew", "delete", "scenario"])
    a = ap.parse_args(argv)
    if a.end_in_seconds is not None:
        a.end_time = ro_isoformat(dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=a.end_in_seconds))
    needs = {"allocate": ["slice_urn", "client_id", "component_id", "component_manager_id"], "scenario": ["slice_urn", "client_id"],
             "renew": ["expiration"]}
    for k in needs.get(a.step, []):
        if not getattr(a, k):
            ap.error("--%s is required for %s" % (k.replace("_", "-"), a.step))
    if a.step in ("describe", "provision", "poa", "status", "status-until", "renew", "delete") and not a.urns:
        ap.error("--urns is required for %s" % a.step)
    ro = FelixRo(a)
    try:
        {
            "getversion": ro.get_version,
            "listresources": ro.list_resources,
            "allocate": ro.allocate,
            "describe": ro.describe,
            "provision": ro.provision,
            "poa": lambda: ro.operational_action(a.action),
            "status": ro.status_once,
            "status-until": lambda: ro.status_until(a.target),
            "renew": ro.renew,
            "delete": ro.delete,
            "scenario": ro.scenario,
        }[a.step]()
    except OSError as e:
        print(json.dumps({"step": a.step, "ok": False, "errors": ["set-up: %s" % e]}), flush=True)
        return 2
    return 1 if ro.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
