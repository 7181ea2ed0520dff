#!/usr/bin/env python3
"""Checks that felix_ro_client.py's RO checks can fail: each bad reply below must be refused for its reason, each
good one accepted, and the request RSpec it builds must be what the RO formatter writes (geni-v3.md §7.2) and valid
against request.xsd. No network: replies are handed to FelixRo.call through a stand-in proxy.

Usage: felix_ro_selftest.py [GENI_FIXTURES_DIR]   (default: $GENI_FIXTURES_DIR, else <repo>/../shared/geni-fixtures)
Prints one JSON object {ok, xmllint, checks:[…]} and exits 1 when a check fails.
"""

import argparse
import json
import os
import shutil
import sys
from typing import Any, Dict, List

import felix_ro_client as F

OK_CODE = {"geni_code": 0, "am_type": "GENI", "am_code": "x"}
SLIVER = {"geni_sliver_urn": "urn:publicid:IDN+ocf:t:vtam:h:s+sliver+vm1", "geni_allocation_status": "geni_provisioned",
          "geni_operational_status": "geni_ready", "geni_expires": "2026-12-05T10:00:00Z"}
CM = "urn:publicid:IDN+ocf:t:vtam+authority+cm"
NODE = "urn:publicid:IDN+ocf:t:vtam+node+h"


class Replies:
    """Answers every method with the given reply (a stand-in for ServerProxy in this self-test only)."""

    def __init__(self, reply: Any) -> None:
        self.reply = reply

    def __getattr__(self, name: str):
        return lambda *params: self.reply


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.environ.get("GENI_FIXTURES_DIR") or os.path.join(here, "..", "..", "..", "shared", "geni-fixtures")
    fixtures = sys.argv[1] if len(sys.argv) > 1 else default
    schemas = os.path.join(fixtures, "schemas")
    ro = F.FelixRo(argparse.Namespace(am_url="https://127.0.0.1:1/xmlrpc/geni/3/", timeout=1.0, schemas_dir=schemas))
    checks: List[Dict[str, Any]] = []

    def reply_check(name: str, reply: Any, want: str, expect_code: int = 0) -> None:
        """`want` = "" when the reply must pass, else a fragment of the expected error."""
        ro.proxy = Replies(reply)
        rec, _ = ro.call(name, "Status", [], expect_code)
        got = " | ".join(rec["errors"])
        ok = (not rec["errors"]) if not want else (want in got)
        checks.append({"check": name, "ok": ok, **({} if ok else {"errors": rec["errors"], "want": want})})

    reply_check("success", {"geni_api": 3, "code": OK_CODE, "value": {}}, "")
    reply_check("output '' on success is an error for the RO", {"geni_api": 3, "code": OK_CODE, "value": {}, "output": ""}, "Error detected in the server")
    reply_check("am_type outside the RO list", {"geni_api": 3, "code": dict(OK_CODE, am_type="kvm"), "value": {}}, "not in the RO's list")
    reply_check("no geni_api at top level", {"code": OK_CODE, "value": {}}, "geni_api None")
    reply_check("error code without output", {"geni_api": 3, "code": dict(OK_CODE, geni_code=2), "value": ""}, "without output")
    reply_check("expected EXPIRED", {"geni_api": 3, "code": dict(OK_CODE, geni_code=15), "value": "", "output": "too late"}, "", 15)
    reply_check("expected EXPIRED, got SUCCESS", {"geni_api": 3, "code": OK_CODE, "value": []}, "expected 15", 15)
    reply_check("not a struct", ["x"], "not a struct")

    def sliver_check(name: str, sliver: Dict[str, Any], want: str, operational: bool = True) -> None:
        rec: Dict[str, Any] = {"errors": []}
        ro.check_slivers(rec, [sliver], operational)
        got = " | ".join(rec["errors"])
        ok = (not rec["errors"]) if not want else (want in got)
        checks.append({"check": name, "ok": ok, **({} if ok else {"errors": rec["errors"], "want": want})})

    sliver_check("sliver ok", SLIVER, "")
    sliver_check("sliver with fractional seconds", dict(SLIVER, geni_expires="2026-12-05T10:00:00.250000Z"), "")
    sliver_check("Delete entry without operational status", {k: v for k, v in SLIVER.items() if k != "geni_operational_status"}, "", False)
    sliver_check("geni_error", dict(SLIVER, geni_error="boom"), "carries geni_error")
    sliver_check("non-UTC geni_expires", dict(SLIVER, geni_expires="2026-12-05T10:00:00+01:00"), "is not UTC")
    sliver_check("unparsable geni_expires", dict(SLIVER, geni_expires="05/12/2026"), "does not parse the RO's way")
    sliver_check("missing geni_expires", {k: v for k, v in SLIVER.items() if k != "geni_expires"}, "lacks geni_expires")

    # The RO's time parsing (core/dates.py) on what the RO itself sends.
    for t in ("2026-12-05T10:00:00+00:00", "2026-12-05T10:00:00.123456+00:00", "2026-12-05T10:00:00Z"):
        ok = F.ro_parse_geni_time(t).strftime("%Y-%m-%d %H:%M:%S") == "2026-12-05 10:00:00"
        checks.append({"check": "RO parses %s" % t, "ok": ok})

    # The request RSpec: the RO formatter's shape, valid against request.xsd (with xmllint); one without client_id is not.
    node = {"component_id": NODE, "component_manager_id": CM, "client_id": "vm1", "disk_image": "default", "cores": 1, "ram": 128, "disk": 1}
    req = F.build_request_rspec([node])
    shape = ('xs:schemaLocation=' in req and '<emulab:xen cores="1" ram="128" disk="1"/>' in req and
             req.index("<disk_image") < req.index("<emulab:xen") and not req.startswith("<?xml"))
    checks.append({"check": "request RSpec in the RO formatter's shape", "ok": shape, **({} if shape else {"rspec": req})})
    xmllint = shutil.which("xmllint") is not None
    sc = F.schema_check(req, "request", schemas, odd_ok=True)
    ok = not sc["errors"] and (sc["checked"] == "xsd" or not xmllint)
    checks.append({"check": "request RSpec valid against request.xsd", "ok": ok, "checked": sc["checked"], **({} if ok else {"errors": sc["errors"]})})
    if xmllint:
        bad = F.schema_check(req.replace(' client_id="vm1"', ""), "request", schemas, odd_ok=True)
        ok = any("client_id" in e for e in bad["errors"])
        checks.append({"check": "a request without client_id fails request.xsd", "ok": ok, **({} if ok else {"errors": bad["errors"]})})

    # Advertisements: the original's (fixture) passes; no schemaLocation fails; only vtam nodes are kept.
    with open(os.path.join(fixtures, "rspecs", "crm-ad-i2cat.xml"), encoding="utf-8") as f:
        ad = f.read()
    sc = F.schema_check(ad, "advertisement", schemas)
    checks.append({"check": "the original i2cat advertisement passes", "ok": not sc["errors"] and len(F.vtam_nodes(sc["root"])) == 3})
    no_loc = F.schema_check(ad.replace('xsi:schemaLocation="', 'xsi:other="'), "advertisement", schemas)
    checks.append({"check": "an advertisement without schemaLocation fails", "ok": any("schemaLocation" in e for e in no_loc["errors"])})
    mixed = ad.replace('urn:publicid:IDN+ocf:i2cat:vtam+node+March', 'urn:publicid:IDN+ocf:i2cat:ofam+node+March')
    kept = [n["component_id"] for n in F.vtam_nodes(F.schema_check(mixed, "advertisement", schemas)["root"])]
    checks.append({"check": "nodes without vtam are dropped", "ok": len(kept) == 2 and all("vtam" in k for k in kept), "kept": kept})
    non_ascii = F.schema_check(ad.replace("Rodoreda", "Rodored\u00e0"), "advertisement", schemas)
    checks.append({"check": "a non-ASCII advertisement fails", "ok": any("non-ASCII" in e for e in non_ascii["errors"])})

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "xmllint": xmllint, "checks": checks}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
