#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: gke_kubeconfig
short_description: Write a kubeconfig for a GKE cluster without gcloud
version_added: 0.1.0
description:
  - Reads the cluster's endpoint and CA certificate and writes a kubeconfig file (mode 0600) for
    C(kubernetes.core) modules (C(kubeconfig) option) - no C(gcloud) or C(gke-gcloud-auth-plugin) needed.
  - With a service-account key file, Application Default Credentials or the machine account, the
    kubeconfig has an C(exec) entry, as GKE's own auth plugin writes - a small helper (written beside the
    kubeconfig as C(.gke-inference-auth.py), run with the modules' Python interpreter) prints a fresh
    OAuth access token from google-auth whenever the last one expires, so the file stays valid for a run
    of any length. The entry names the auth kind and the key file's path, never a secret; the token is
    cached beside the kubeconfig (C(<path>.token), mode 0600) while it is valid.
  - With an access token or a key given as C(service_account_contents) there is nothing to refresh from
    without writing a secret to disk, so the kubeconfig holds the token itself, which expires after about an
    hour, and the module warns.
  - The token is never returned. The file is rewritten on every run, and the module reports no change, since
    nothing changes in the project.
options:
  cluster:
    description: Cluster name.
    type: str
    required: true
  location:
    description: Cluster location (zone or region).
    type: str
    required: true
  path:
    description: Where to write the kubeconfig.
    type: path
    required: true
  use_internal_ip:
    description: Use the control plane's private endpoint.
    type: bool
    default: false
  missing_ok:
    description: When the cluster does not exist, return an empty RV(host) instead of failing (teardown).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - gke_inference.multicluster.gcp
attributes:
  check_mode:
    support: full
    details: >-
      The kubeconfig is written in check mode too, so that later tasks can run their own checks; a
      cluster that does not exist yet gives a warning instead of an error.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Credentials for this region's cluster
  gke_inference.multicluster.gke_kubeconfig:
    project: my-project
    cluster: gke-us-east5
    location: us-east5-b
    path: "{{ playbook_dir }}/.kube/gke-us-east5"
  register: kube

- name: Use them
  kubernetes.core.k8s_info:
    kubeconfig: "{{ kube.path }}"
    kind: Node
"""

RETURN = r"""
path:
  description: The kubeconfig written.
  returned: success
  type: str
host:
  description: The API server URL.
  returned: success
  type: str
  sample: https://203.0.113.10
context:
  description: The kubeconfig's context name (gcloud's naming).
  returned: success
  type: str
  sample: gke_my-project_us-east5-b_gke-us-east5
"""

import base64
import json
import os

from ansible_collections.gke_inference.multicluster.plugins.module_utils.container import Gke
from ansible_collections.gke_inference.multicluster.plugins.module_utils.auth import select_auth_kind
from ansible_collections.gke_inference.multicluster.plugins.module_utils.kube_auth import REFRESHABLE, exec_user, write_file
from ansible_collections.gke_inference.multicluster.plugins.module_utils.gcp import GcpModule


def check_authorized_network(module, cluster, host, ca_data):
    """When the control plane accepts only authorized networks, prove this machine is in one: GKE drops other
    connections, and every Kubernetes task after this one would hang until its timeout."""
    authorized = (((cluster.get("control_plane_endpoints_config") or {}).get("ip_endpoints_config") or {}).get(
        "authorized_networks_config") or {})
    if not authorized.get("enabled") or module.check_mode:
        return
    from ansible.module_utils.six.moves.urllib.error import HTTPError
    from ansible.module_utils.urls import open_url

    ca_path = os.path.join(module.tmpdir, "cluster-ca.pem")
    write_file(ca_path, base64.b64decode(ca_data).decode(), 0o600)
    try:  # as the kubernetes client connects: the cluster's CA, no proxy from the environment
        open_url(host.rstrip("/") + "/version", timeout=15, ca_path=ca_path, use_proxy=False).read()
    except HTTPError:
        return  # an answer (even 401/403): the connection was accepted
    except Exception as exc:  # pylint: disable=broad-except
        ranges = ", ".join(b.get("cidr_block", "") for b in authorized.get("cidr_blocks") or []) or "none"
        module.fail_json(msg="cluster: the control plane of %s accepts connections only from its authorized networks "
                             "(%s) and did not answer this machine (%s). Add the address this machine reaches it from "
                             "to authorized_networks (gke_authorized_networks), or run from a network in the list."
                             % (module.params["cluster"], ranges, exc))


def main():
    module = GcpModule(
        argument_spec=dict(
            cluster=dict(type="str", required=True),
            location=dict(type="str", required=True),
            path=dict(type="path", required=True),
            use_internal_ip=dict(type="bool", default=False),
            missing_ok=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    cluster = Gke(module, p["location"]).read_cluster(p["cluster"])
    context = "gke_%s_%s_%s" % (module.project, p["location"], p["cluster"])
    if cluster is None and p["missing_ok"]:
        module.exit_json(changed=False, path=p["path"], host="", context=context)
    if cluster is None and module.check_mode:
        module.warn("cluster %s does not exist yet; check mode assumes an earlier task creates it." % p["cluster"])
        module.exit_json(changed=False, path=p["path"], host="", context=context)
    if cluster is None:
        module.fail_json(msg="cluster: %s does not exist in %s." % (p["cluster"], p["location"]))
    if cluster.get("status") not in ("RUNNING", "RECONCILING"):
        module.fail_json(msg="cluster: %s is %s; wait until it is RUNNING." % (p["cluster"], cluster.get("status")))
    endpoint = cluster.get("endpoint")
    if p["use_internal_ip"]:
        endpoint = cluster.get("private_cluster_config", {}).get("private_endpoint") or endpoint
    host = endpoint if "://" in endpoint else "https://%s" % endpoint

    from google.auth.transport.requests import Request

    credentials = module.credentials
    kind = select_auth_kind(p)
    directory = os.path.dirname(os.path.abspath(p["path"]))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700, exist_ok=True)  # regions write their kubeconfigs at the same time
    try:
        if kind != "accesstoken":  # an access token is used as given: there is nothing to refresh it from
            credentials.refresh(Request())  # proves the credentials work before anything relies on the file
    except Exception as exc:  # pylint: disable=broad-except
        module.fail_json(msg="Failed to get an access token for cluster %s: %s" % (p["cluster"], exc))
    if kind in REFRESHABLE and not (kind == "serviceaccount" and not p.get("service_account_file")):
        user = exec_user(p["path"], kind, p, keep_on_endpoint=bool(p.get("api_endpoint")))
    else:  # an access token or a key given as contents: nothing the helper could refresh from without a secret
        user = {"token": credentials.token}
        given = "%s with service_account_contents" % kind if kind == "serviceaccount" else kind
        module.warn("The kubeconfig %s holds an access token that expires in about an hour (auth_kind %s): runs "
                    "longer than that lose the cluster. Use service_account_file or Application Default Credentials "
                    "for a kubeconfig that renews its token." % (p["path"], given))
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {
            "server": host, "certificate-authority-data": cluster.get("master_auth", {}).get("cluster_ca_certificate", "")}}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context}}],
    }
    if not config["clusters"][0]["cluster"]["certificate-authority-data"]:
        module.fail_json(msg="cluster: %s has no CA certificate yet; wait until it is RUNNING." % p["cluster"])
    base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
    write_file(os.path.join(directory, os.path.basename(p["path"])), json.dumps(config), 0o600)
    check_authorized_network(module, cluster, host, config["clusters"][0]["cluster"]["certificate-authority-data"])
    module.exit_json(changed=False, path=p["path"], host=host, context=context)


if __name__ == "__main__":
    main()
