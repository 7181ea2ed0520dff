#!/usr/bin/env python3
"""Checks that ocf_rspec reproduces the golden OCF messages byte for byte (docs/ocf-protocol.md §8) and reads them
back, so that the Python peers in this folder really speak the original dialect.

Usage: selftest.py [FIXTURES_DIR]   (default: $OCF_FIXTURES_DIR, else <repo>/../shared/ocf-fixtures)
Prints one JSON object {ok, checks:[…]} and exits 1 when a check fails.
"""

import json
import os
import sys

import ocf_rspec as R

SERVER = "7d1c6a52-3f0e-4c1b-9a57-2b8e0c4d9f11"
VM = {
    "name": "web01", "uuid": "c0ffee00-1234-4abc-8def-0123456789ab",
    "project_id": "11111111-2222-4333-8444-555555555555", "slice_id": "66666666-7777-4888-9999-000000000000",
    "template": "debian7/debian7.img", "memory_mb": 1024,
}
CREATE_ID = "a1b2c3d4-0000-4000-8000-00000000c0de"
STOP_ID = "b2c3d4e5-1111-4111-8111-00000000beef"
MON_ID = "5e5e5e5e-aaaa-4bbb-8ccc-dddddddddddd"


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    default = os.environ.get("OCF_FIXTURES_DIR") or os.path.join(here, "..", "..", "..", "shared", "ocf-fixtures")
    gen = os.path.join(sys.argv[1] if len(sys.argv) > 1 else default, "generated")
    checks = []

    def golden(name: str, built: str) -> None:
        with open(os.path.join(gen, name), encoding="ascii") as f:
            want = f.read()
        checks.append({"fixture": name, "ok": want == built, **({} if want == built else {"built": built})})

    golden("01-plugin-to-manager.send.create.rspec.xml", R.create_query(CREATE_ID, SERVER, VM))
    golden("10-plugin-to-manager.send.hardStop.rspec.xml", R.lifecycle_query("hardStop", STOP_ID, SERVER, VM))
    golden("03-agent-to-manager.sendAsync.provisioning.ONGOING.rspec.xml", R.agent_provisioning_response(CREATE_ID, "ONGOING"))
    golden("05-agent-to-manager.sendAsync.provisioning.SUCCESS.rspec.xml", R.agent_provisioning_response(CREATE_ID, "SUCCESS"))
    golden("07-agent-to-manager.sendAsync.provisioning.FAILED.rspec.xml", R.agent_provisioning_response(CREATE_ID, "FAILED", "Could not start VM, abort"))
    golden("12-agent-to-manager.sendAsync.monitoring.ONGOING.rspec.xml", R.agent_monitoring_response(MON_ID, "ONGOING"))
    golden("13-agent-to-manager.sendAsync.monitoring.SUCCESS.rspec.xml",
           R.agent_monitoring_response(MON_ID, "SUCCESS", [(VM["uuid"], "web01"), ("0badcafe-0000-4000-8000-000000000042", "db01")]))

    # Reading: the manager's forwarded status (no xmlns, @type added, empty description dropped) and the
    # manager-to-agent create (NICs rewritten, configurator set).
    with open(os.path.join(gen, "04-manager-to-plugin.sendAsync.provisioning.ONGOING.rspec.xml"), encoding="ascii") as f:
        a = R.read_actions(R.parse(f.read()), "response", "provisioning")
    checks.append({"read": "04 forwarded ONGOING", "ok": a == [{"id": CREATE_ID, "type": "create", "status": "ONGOING", "description": None,
                                                                  "serverUuid": None, "serverVirtualizationType": None, "vms": a[0]["vms"]}]
                   and a[0]["vms"][0]["uuid"] == "notRequired", "got": a})
    with open(os.path.join(gen, "02-manager-to-agent.send.create.rspec.xml"), encoding="ascii") as f:
        q = R.read_actions(R.parse(f.read()), "query", "provisioning")
    vm = q[0]["vms"][0]
    checks.append({"read": "02 manager-to-agent create", "ok": q[0]["type"] == "create" and vm["configurator"] == "DebianWheezyVMConfigurator"
                   and [i["mac"] for i in vm["interfaces"]] == ["02:00:0a:00:00:10", "02:00:0a:00:00:11"] and vm["memoryMb"] == 1024, "got": q})
    with open(os.path.join(gen, "16-manager-to-plugin.listResources.information.rspec.xml"), encoding="ascii") as f:
        info = R.read_information(R.parse(f.read()))
    checks.append({"read": "16 information", "ok": info[0]["uuid"] == SERVER and info[0]["vms"][0]["uuid"] == VM["uuid"]
                   and info[0]["vms"][0]["status"] == "running", "got": info})
    # The same documents with the agent's default namespace and with a prefix read the same (§6.1 rule 10).
    ns = R.agent_provisioning_response(CREATE_ID, "SUCCESS")
    prefixed = ns.replace('<rspec xmlns="%s">' % R.RSPEC_NS, '<v:rspec xmlns:v="%s">' % R.RSPEC_NS).replace("<", "<v:").replace("<v:/", "</v:").replace("<v:?", "<?").replace("<v:v:", "<v:")
    checks.append({"read": "namespaces ignored", "ok": R.read_actions(R.parse(ns), "response", "provisioning")[0]["status"] == "SUCCESS"
                   and R.read_actions(R.parse(prefixed), "response", "provisioning")[0]["status"] == "SUCCESS"})

    ok = all(c["ok"] for c in checks)
    print(json.dumps({"ok": ok, "checks": checks}, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
