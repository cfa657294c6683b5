# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the GKE modules share: resource names, reading, and running an operation to its end."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import to_dict


def location_of(location):
    """('zone' or 'region', region) of a GKE location."""
    parts = location.split("-")
    if len(parts) == 3 and len(parts[2]) == 1:
        return "zone", "-".join(parts[:2])
    return "region", location


def cluster_path(project, location, cluster):
    return "projects/%s/locations/%s/clusters/%s" % (project, location, cluster)


# States a resource is left in by an operation that has not ended (an interrupted run)
TRANSITIONAL = ("PROVISIONING", "RECONCILING")


class Gke:
    def __init__(self, module, location):
        self.module, self.location = module, location
        self.client = module.client("container")

    def read_cluster(self, name):
        found = self.module.get_or_none("read cluster %s" % name, self.client.get_cluster,
                                        name=cluster_path(self.module.project, self.location, name))
        return to_dict(found) if found is not None else None

    def read_node_pool(self, cluster, name):
        found = self.module.get_or_none("read node pool %s of cluster %s" % (name, cluster), self.client.get_node_pool,
                                        name="%s/nodePools/%s" % (cluster_path(self.module.project, self.location, cluster), name))
        return to_dict(found) if found is not None else None

    def settle(self, read, target, action, context=None, watch=None):
        """Wait for what an earlier call or an interrupted run left PROVISIONING or RECONCILING, then read it again.

        ``read()`` reads the resource; ``target`` is the end of its path (``clusters/NAME`` or
        ``clusters/NAME/nodePools/POOL``). The pending operation on it is waited for as if this run had
        started it (the same timeout, capacity watch and error messages); without one, the resource is
        read until it leaves those states."""
        current = read()
        if not current or current.get("status") not in TRANSITIONAL or self.module.check_mode:
            return current
        listed = self.module.call("list the operations in %s" % self.location, self.client.list_operations,
                                  request=dict(parent="projects/%s/locations/%s" % (self.module.project, self.location)))
        pending = [op for op in listed.operations if op.status.name in ("PENDING", "RUNNING")
                   and (op.target_link or "").endswith("/" + target)]
        if pending:
            self.module.wait_container(pending[0], "%s (started earlier)" % action, self.location,
                                       context=context, watch=watch)
        else:
            def state(resource):
                if resource.get("status") in TRANSITIONAL:
                    return False, None
                if resource.get("status") == "ERROR":
                    return True, (resource.get("status_message") or "%s is in ERROR" % target, None, None)
                return True, None
            self.module.wait_resource(current, lambda _previous: read() or {}, state,
                                      "%s (found %s)" % (action, current["status"]), context)
        return read()

    def run(self, action, method, context=None, watch=None, **kwargs):
        """Call ``method`` (retried, e.g. while another operation runs on the cluster) and wait."""
        op = self.module.call(action, getattr(self.client, method), context=context, **kwargs)
        return self.module.wait_container(op, action, self.location, context=context, watch=watch)
