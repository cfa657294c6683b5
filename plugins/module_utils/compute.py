# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lifecycle every Compute Engine resource module shares: read, compare, create / update /
delete, wait, report. Modules supply the desired fields, which of them a patch may change, and
(optionally) their own update steps for fields that have dedicated API calls."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gke_inference.multicluster.plugins.module_utils.diff import compare, diff_result, merged
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import to_dict

COMPUTE_BASE = "https://www.googleapis.com/compute/v1/"


def compute_ref(value):
    """'projects/P/...' for a compute reference given as full URL or partial path (None stays None)."""
    if not value:
        return value
    for marker in ("/compute/v1/", "/compute/beta/"):
        if marker in value:
            return value.split(marker, 1)[1]
    return value


def network_ref(project, network):
    """A network given by name, partial path or URL, as 'projects/P/global/networks/N'."""
    if "/" in network:
        ref = compute_ref(network)
        return ref if ref.startswith("projects/") else "projects/%s/%s" % (project, ref)
    return "projects/%s/global/networks/%s" % (project, network)


def subnetwork_ref(project, region, subnetwork):
    if "/" in subnetwork:
        ref = compute_ref(subnetwork)
        return ref if ref.startswith("projects/") else "projects/%s/%s" % (project, ref)
    return "projects/%s/regions/%s/subnetworks/%s" % (project, region, subnetwork)


def clean(value):
    """``value`` without the keys whose value is None (unset options), recursively."""
    if isinstance(value, dict):
        return dict((k, clean(v)) for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


class ComputeResource:
    """One named Compute Engine resource (global, or regional when ``region`` is set)."""

    def __init__(self, module, collection, singular, message_class, name, region=None, normalize=None):
        self.module = module
        self.client = module.client(collection)
        self.singular, self.message_class = singular, message_class
        self.name, self.region = name, region
        self.normalize = normalize or (lambda resource: resource)
        where = " in %s" % region if region else ""
        self.label = "%s %s%s" % (singular, name, where)

    def _scope(self, **extra):
        scope = {"project": self.module.project}
        if self.region:
            scope["region"] = self.region
        scope.update(extra)
        return scope

    def get(self):
        found = self.module.get_or_none("read " + self.label, self.client.get, **self._scope(**{self.singular: self.name}))
        return self.normalize(to_dict(found)) if found is not None else None

    def _run(self, verb, method, **kwargs):
        action = "%s %s" % (verb, self.label)
        op = self.module.call(action, method, **self._scope(**kwargs))
        self.module.wait_compute(op, action)

    def insert(self, body):
        self._run("create", self.client.insert_unary, **{self.singular + "_resource": self.message_class(clean(body))})

    def patch(self, body):
        self._run("update", self.client.patch_unary,
                  **{self.singular: self.name, self.singular + "_resource": self.message_class(clean(body))})

    def delete(self):
        self._run("delete", self.client.delete_unary, **{self.singular: self.name})

    def custom(self, verb, method_name, **kwargs):
        """A dedicated update call, e.g. subnetworks.expandIpCidrRange."""
        self._run(verb, getattr(self.client, method_name), **dict(kwargs, **{self.singular: self.name}))

    # -- the declarative part ------------------------------------------------------------------
    def ensure(self, state, desired, patchable=(), update=None, immutable_hint=None):
        """Make the resource match ``desired`` (state present) or disappear (state absent).

        ``patchable``: top-level fields a plain patch may change. ``update(actual, changes, dry_run)`` handles
        the rest of the mutable fields (calling nothing when ``dry_run``) and returns the fields it
        handled. A change to any other field
        fails with a message naming it. Returns the module result.
        """
        module = self.module
        actual = self.get()
        if state == "absent":
            if actual is None:
                return dict(changed=False, diff=diff_result({}, {}))
            if not module.check_mode:
                self.delete()
            return dict(changed=True, diff=diff_result(actual, {}))

        if actual is None:
            if not module.check_mode:
                self.insert(desired)
                actual = self.get()
            return dict(changed=True, diff=diff_result({}, actual or desired), resource=actual or desired)

        changes = compare(desired, actual)
        handled = set(update(actual, changes, module.check_mode)) if (update and changes) else set()
        to_patch = sorted(set(path.split(".")[0] for path in changes if path.split(".")[0] not in handled))
        immutable = [f for f in to_patch if f not in patchable]
        if immutable:
            details = "; ".join("%s is %r, wanted %r" % (p, changes[p][0], changes[p][1])
                                for p in sorted(changes) if p.split(".")[0] in immutable)
            module.fail_json(msg="Cannot change %s of existing %s (%s): %s cannot be updated in place. %s"
                             % (", ".join(immutable), self.label, details, "field is" if len(immutable) == 1
                                else "fields are",
                                immutable_hint or "Delete it (state: absent) and re-create it, or choose another name."),
                             changes=dict((k, {"before": v[0], "after": v[1]}) for k, v in changes.items()))
        if to_patch and not module.check_mode:
            body = dict((field, desired[field]) for field in to_patch)
            if "fingerprint" in actual:  # re-read: a dedicated update call may have changed it
                body["fingerprint"] = (self.get() if handled else actual)["fingerprint"]
            self.patch(body)
        after = merged(actual, desired)
        if changes and not module.check_mode:
            after = self.get()
        return dict(changed=bool(changes), diff=diff_result(actual, after), resource=after,
                    changes=sorted(changes))
