"""OCF VT-AM rspec documents, written with the Python standard library only.

An implementation independent of the TypeScript codec under packages/shared: it builds the messages the way
the original generateDS bindings serialise them (docs/ocf-protocol.md §6.1: one element per line, 4-space indent,
schema order, only &, < and > escaped, a default xmlns only in the agent dialect) and parses them with
xml.etree.ElementTree, ignoring namespaces (§6.1 rule 10).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

RSPEC_NS = "http://www.fp7-ofelia.eu/CF/vt_am/rspec"
XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'

# A node is (tag, attributes as an ordered list of pairs, children or text). Text None means "omit the
# element" (generateDS drops None values); text "" gives <x></x>; an empty child list gives <x/>.
Node = Tuple[str, List[Tuple[str, str]], Union[str, None, List["Node"]]]


def _escape_text(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _quote_attr(s: str) -> str:
    s = _escape_text(s)
    if '"' in s:
        return "'" + s + "'"
    return '"' + s + '"'


def el(tag: str, content: Union[str, int, None, List[Node]] = None, attrs: Optional[Sequence[Tuple[str, str]]] = None) -> Node:
    if isinstance(content, int) and not isinstance(content, bool):
        content = "%d" % content
    return (tag, list(attrs or []), content)


def _render(node: Node, depth: int, out: List[str], xmlns: Optional[str]) -> None:
    tag, attrs, content = node
    if content is None:
        return
    pad = "    " * depth
    attr_text = ""
    if xmlns is not None:
        attr_text += ' xmlns="%s"' % xmlns
    for k, v in attrs:
        attr_text += " %s=%s" % (k, _quote_attr(v))
    if isinstance(content, str):
        # The wire is ASCII only (§6.1 rule 9): refuse to build anything else.
        content.encode("ascii")
        out.append("%s<%s%s>%s</%s>\n" % (pad, tag, attr_text, _escape_text(content), tag))
        return
    kids = [c for c in content if c[2] is not None]
    if not kids:
        out.append("%s<%s%s/>\n" % (pad, tag, attr_text))
        return
    out.append("%s<%s%s>\n" % (pad, tag, attr_text))
    for c in kids:
        _render(c, depth + 1, out, None)
    out.append("%s</%s>\n" % (pad, tag))


def render(root: Node, agent_dialect: bool = False) -> str:
    """Serialises a document: the manager/Expedient dialect has no xmlns, the agent's a default one (§6.1)."""
    out: List[str] = [XML_DECL]
    _render(root, 0, out, RSPEC_NS if agent_dialect else None)
    return "".join(out)


# ---------------------------------------------------------------------------------------------------------
# Requests as the Expedient VT plugin builds them (§6.4, §8.1, §8.2)


def _none_interface() -> Node:
    return el(
        "interface",
        [el("name", "NONE"), el("mac", "NONE"), el("ip", "NONE"), el("mask", "NONE"), el("gw", "NONE"),
         el("dns1", "NONE"), el("dns2", "NONE"), el("switch-id", "NONE")],
        [("ismgmt", "true")],
    )


def _query(action_type: str, action_id: str, server: List[Node]) -> str:
    doc = el("rspec", [el("query", [el("provisioning", [el("action", [el("server", server)], [("type", action_type), ("id", action_id)])])])])
    return render(doc)


def create_query(action_id: str, server_uuid: str, vm: Dict[str, Any]) -> str:
    """§8.1: a create with the leaked template values (hd-size-mb 8200, configurator NONE, an all-NONE NIC)."""
    vm_node = el("virtual-machines", [
        el("name", vm["name"]),
        el("uuid", vm["uuid"]),
        el("status", "on queue"),
        el("project-id", vm["project_id"]),
        el("project-name", vm.get("project_name", "demo-project")),
        el("slice-id", vm["slice_id"]),
        el("slice-name", vm.get("slice_name", "demo-slice")),
        el("operating-system-type", vm.get("os_type", "GNU/Linux")),
        el("operating-system-version", vm.get("os_version", "7.0")),
        el("operating-system-distribution", vm.get("os_distribution", "Debian")),
        el("server-id", server_uuid),
        el("virtualization-type", vm.get("virtualization_type", "kvm")),
        el("xen-configuration", [
            el("hd-setup-type", "file-image"),
            el("hd-size-mb", 8200),
            el("hd-origin-path", vm["template"]),
            el("configurator", "NONE"),
            el("virtualization-setup-type", vm.get("setup_type", "hvm")),
            el("memory-mb", int(vm["memory_mb"])),
            el("interfaces", [_none_interface()]),
        ]),
    ])
    return _query("create", action_id, [el("uuid", server_uuid), el("virtualization-type", vm.get("server_virtualization_type", "kvm")), vm_node])


def lifecycle_query(action_type: str, action_id: str, server_uuid: str, vm: Dict[str, Any], memory_mb: Optional[int] = None) -> str:
    """§8.2: start/hardStop/reboot/delete from O's queryProvisioning.xml (server virtualization-type `xen`).

    `memory_mb` adds xen-configuration/memory-mb (schema order: after hd-setup-type) for a `modify`, which no
    Expedient ever sent; it is the natural extension of the same template.
    """
    xen = [el("hd-setup-type", "file-image")]
    if memory_mb is not None:
        xen.append(el("memory-mb", int(memory_mb)))
    vm_node = el("virtual-machines", [
        el("name", vm["name"]),
        el("uuid", vm["uuid"]),
        el("project-id", vm["project_id"]),
        el("project-name", vm.get("project_name", "demo-project")),
        el("slice-id", vm["slice_id"]),
        el("slice-name", vm.get("slice_name", "demo-slice")),
        el("virtualization-type", vm.get("virtualization_type", "kvm")),
        el("xen-configuration", xen),
    ])
    return _query(action_type, action_id, [el("uuid", server_uuid), el("virtualization-type", "xen"), vm_node])


# ---------------------------------------------------------------------------------------------------------
# Responses as the OXAD agent builds them (§6.6, §6.8, §8.4, §8.8)


def agent_provisioning_response(action_id: str, status: str, description: str = "") -> str:
    """§8.4: default xmlns, no @type, virtual-machines/uuid = notRequired, description always present."""
    action = el("action", [
        el("server", [el("virtual-machines", [el("uuid", "notRequired")])]),
        el("status", status),
        el("description", description),
    ], [("id", action_id)])
    return render(el("rspec", [el("response", [el("provisioning", [action])])]), agent_dialect=True)


def agent_monitoring_response(action_id: str, status: str, vms: Optional[List[Tuple[str, str]]] = None, description: Optional[str] = None) -> str:
    """§8.8: ONGOING (description ""), SUCCESS (a server listing running VMs, no description) or FAILED."""
    kids: List[Node] = []
    if status == "SUCCESS":
        kids.append(el("server", [el("virtual-machines", [el("name", n), el("uuid", u)]) for (u, n) in (vms or [])]))
    kids.append(el("status", status))
    if status == "ONGOING":
        kids.append(el("description", ""))
    elif description is not None:
        kids.append(el("description", description))
    action = el("action", kids, [("type", "listActiveVMs"), ("id", action_id)])
    return render(el("rspec", [el("response", [el("monitoring", [action])])]), agent_dialect=True)


# ---------------------------------------------------------------------------------------------------------
# Namespace-agnostic reading (§6.1 rule 10)


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag


def kids(e: Optional[ET.Element], name: str) -> List[ET.Element]:
    return [] if e is None else [c for c in list(e) if local(c.tag) == name]


def kid(e: Optional[ET.Element], name: str) -> Optional[ET.Element]:
    """The last child named `name` (for a singular child the last occurrence wins, §6.1 rule 10)."""
    found = kids(e, name)
    return found[-1] if found else None


def text(e: Optional[ET.Element], *path: str) -> Optional[str]:
    """Text at a child path; empty elements read as None (§6.1 rule 6)."""
    cur = e
    for p in path:
        cur = kid(cur, p)
        if cur is None:
            return None
    return cur.text if cur is not None and cur.text else None


def parse(xml: str) -> ET.Element:
    # ElementTree refuses a str that carries an encoding declaration only when it is not UTF-8-compatible;
    # encode to be safe.
    return ET.fromstring(xml.encode("utf-8"))


def has_namespace(root: ET.Element) -> bool:
    return root.tag.startswith("{")


def _vm_info(vm: ET.Element) -> Dict[str, Any]:
    xen = kid(vm, "xen-configuration")
    ifaces = []
    for i in kids(kid(xen, "interfaces"), "interface"):
        ifaces.append({
            "ismgmt": i.get("ismgmt"),
            "name": text(i, "name"), "mac": text(i, "mac"), "ip": text(i, "ip"), "mask": text(i, "mask"),
            "gw": text(i, "gw"), "dns1": text(i, "dns1"), "dns2": text(i, "dns2"), "switchId": text(i, "switch-id"),
        })
    mem = text(xen, "memory-mb")
    hd = text(xen, "hd-size-mb")
    return {
        "name": text(vm, "name"), "uuid": text(vm, "uuid"), "status": text(vm, "status"),
        "projectId": text(vm, "project-id"), "projectName": text(vm, "project-name"),
        "sliceId": text(vm, "slice-id"), "sliceName": text(vm, "slice-name"),
        "serverId": text(vm, "server-id"), "virtualizationType": text(vm, "virtualization-type"),
        "operatingSystemDistribution": text(vm, "operating-system-distribution"),
        "hdSetupType": text(xen, "hd-setup-type"), "hdOriginPath": text(xen, "hd-origin-path"),
        "configurator": text(xen, "configurator"), "virtualizationSetupType": text(xen, "virtualization-setup-type"),
        "memoryMb": int(mem) if mem is not None else None, "hdSizeMb": int(hd) if hd is not None else None,
        "interfaces": ifaces,
    }


def read_actions(root: ET.Element, branch: str, kind: str) -> List[Dict[str, Any]]:
    """Actions under rspec/<branch: query|response>/<kind: provisioning|monitoring>, in document order."""
    out = []
    for a in kids(kid(kid(root, branch), kind), "action"):
        server = kid(a, "server")
        out.append({
            "id": a.get("id"),
            "type": a.get("type"),
            "status": text(a, "status"),
            "description": text(a, "description"),
            "serverUuid": text(server, "uuid"),
            "serverVirtualizationType": text(server, "virtualization-type"),
            "vms": [_vm_info(v) for v in kids(server, "virtual-machines")],
        })
    return out


def read_information(root: ET.Element) -> List[Dict[str, Any]]:
    """Servers of rspec/response/information/resources (§6.7), each with its `virtual-machine` list."""
    servers = []
    for s in kids(kid(kid(kid(root, "response"), "information"), "resources"), "server"):
        servers.append({
            "name": text(s, "name"), "id": text(s, "id"), "uuid": text(s, "uuid"),
            "virtualizationType": text(s, "virtualization-type"),
            "interfaces": [{"ismgmt": i.get("ismgmt"), "name": text(i, "name"), "switchId": text(i, "switch-id"), "switchPort": text(i, "switch-port")}
                           for i in kids(kid(s, "interfaces"), "interface")],
            "vms": [_vm_info(v) for v in kids(s, "virtual-machine")],
        })
    return servers
