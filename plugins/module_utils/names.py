# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The platform's derived names, defined once: the roles, the playbooks and the tests read them through the
filters of plugins/filter/platform_names.py (and the project_info module), never spell them again."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# The bucket of the model weights when gke_model_bucket is not set: <project>-gemma-weights
MODEL_BUCKET_FORMAT = "{project}-gemma-weights"
# Written last by the download Job, beside the weights: when it exists, the weights are complete
DOWNLOAD_MARKER = ".download-complete"
# The reserved internal address of the gateway in each region (network role), named by the gateway role
GATEWAY_ADDRESS_FORMAT = "gemma-gateway-ip-{region}"
# A Kubernetes service account's Workload Identity principal, as IAM policies name it
PRINCIPAL_FORMAT = ("principal://iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/"
                    "{pool}/subject/ns/{namespace}/sa/{ksa}")


def model_bucket(project, override=None):
    return override or MODEL_BUCKET_FORMAT.format(project=project or "")


def model_dir(model_id, revision=None):
    """The bucket folder of a model's weights: the model id, or ``<model id>@<revision>`` for a revision other
    than the repository's default, so that a new revision is downloaded beside the old one, never over it."""
    return "%s@%s" % (model_id, revision) if revision else model_id


def download_marker(directory, marker=None):
    return "%s/%s" % (directory, marker or DOWNLOAD_MARKER)


def gateway_address_name(region):
    return GATEWAY_ADDRESS_FORMAT.format(region=region)


def workload_principal(number, pool, namespace, ksa):
    return PRINCIPAL_FORMAT.format(number=number, pool=pool, namespace=namespace, ksa=ksa)
