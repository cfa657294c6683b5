"""The three patch algorithms of the Kubernetes API (JSON merge patch, strategic merge with the merge keys of
the kinds the collection uses, JSON patch) and label/field selectors.
"""

import copy
import re


from .kube_kinds import KubeError


# Merge keys the emulated strategic merge patch uses for lists of objects.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "volumes": "name", "env": "name",
              "volumeMounts": "mountPath", "ports": None, "imagePullSecrets": "name", "resourceClaims": "name",
              "claims": "name", "tolerations": None, "conditions": "type"}


# -- patches ----------------------------------------------------------------------------------
def merge_patch(target, patch):
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def strategic_merge(target, patch, field=None):
    """Merge patch, except that lists of objects under a known key merge element by element."""
    if isinstance(patch, list) and isinstance(target, list) and field in MERGE_KEYS and all(
            isinstance(x, dict) for x in patch + target):
        key = MERGE_KEYS[field] or ("containerPort" if patch and "containerPort" in patch[0] else
                                    "port" if patch and "port" in patch[0] else None)
        if key is None:
            return copy.deepcopy(patch)
        out = [copy.deepcopy(x) for x in target]
        for item in patch:
            match = next((i for i, x in enumerate(out) if x.get(key) == item.get(key)), None)
            if match is None:
                out.append(copy.deepcopy(item))
            else:
                out[match] = strategic_merge(out[match], item)
        return out
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
        else:
            out[key] = strategic_merge(out.get(key), value, key)
    return out


def json_patch(target, ops):
    out = copy.deepcopy(target)
    for op in ops:
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].split("/")[1:]]
        parent = out
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent.setdefault(part, {})
        leaf = parts[-1] if parts else None
        kind = op["op"]
        if kind == "test":
            current = parent[int(leaf)] if isinstance(parent, list) else parent.get(leaf)
            if current != op.get("value"):
                raise KubeError(422, "the server rejected our request due to an error in our request: test failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                if leaf == "-":
                    parent.append(op["value"])
                elif kind == "add":
                    parent.insert(int(leaf), op["value"])
                else:
                    parent[int(leaf)] = op["value"]
            else:
                parent[leaf] = op["value"]
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(leaf)]
            elif leaf in parent:
                del parent[leaf]
            else:
                raise KubeError(422, "the server rejected our request: path %s does not exist" % op["path"])
        else:
            raise KubeError(400, "json patch op %s is not supported by the emulator" % kind)
    return out


# -- selectors --------------------------------------------------------------------------------
def _label_requirements(selector):
    reqs = []
    for part in re.split(r",(?![^(]*\))", selector or ""):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^(\S+)\s+(in|notin)\s+\((.*)\)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}))
        elif "!=" in part:
            key, value = part.split("!=", 1)
            reqs.append((key.strip(), "!=", value.strip()))
        elif "==" in part or "=" in part:
            key, value = re.split("==?", part, 1)
            reqs.append((key.strip(), "=", value.strip()))
        elif part.startswith("!"):
            reqs.append((part[1:], "!exists", None))
        else:
            reqs.append((part, "exists", None))
    return reqs


def label_match(labels, selector):
    labels = labels or {}
    for key, op, value in _label_requirements(selector):
        have = labels.get(key)
        checks = {"=": lambda: have == value, "!=": lambda: have != value, "in": lambda: have in value,
                  "notin": lambda: have not in value, "exists": lambda: key in labels,
                  "!exists": lambda: key not in labels}
        if not checks[op]():
            return False
    return True


def field_match(obj, selector):
    for part in (selector or "").split(","):
        if not part.strip():
            continue
        negate = "!=" in part
        key, value = re.split("!=|==?", part, 1)
        have = obj
        for step in key.strip().split("."):
            have = have.get(step) if isinstance(have, dict) else None
        if (str(have if have is not None else "") == value.strip()) == negate:
            return False
    return True
