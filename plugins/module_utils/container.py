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

    def run(self, action, method, context=None, watch=None, **kwargs):
        """Call ``method`` (retried, e.g. while another operation runs on the cluster) and wait."""
        op = self.module.call(action, getattr(self.client, method), context=context, **kwargs)
        return self.module.wait_container(op, action, self.location, context=context, watch=watch)
