# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: workload_plan
short_description: Resolve the model server's accelerator profile and list every problem in its settings
version_added: 0.1.0
description:
  - Merges the workload role's overrides into the accelerator profile (image, command, context
    length, TPU topology, accelerator count, tensor parallelism, metric export name, HPA maximum,
    node selector) and checks the result - a pinned image, a command, a context length within the
    model's, a TPU topology whose chip count is what the pod requests,
    a tensor parallelism that divides the accelerators, a node selector that the cluster's node pool
    satisfies, a Hugging Face model id, a load-balancer threshold within 1-100 and an HPA target
    below it.
  - Returns C(profile) (the resolved profile) and C(errors) (messages naming the variable to fix).
positional: _input
options:
  _input:
    description:
      - A dict with C(profiles), C(profile_name), C(overrides) (image, command, max_model_len, tpu_topology,
        accelerator_count,
        tensor_parallel_size, metric_export_name, hpa_max_replicas), C(model_id), C(node_labels) (may be
        empty), C(lb_max_utilization_percent), C(hpa_enabled), C(hpa_target), C(hpa_min_replicas),
        C(failure_mode), C(region_header) (empty when off) and C(region).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Resolve and check
  ansible.builtin.set_fact:
    plan: "{{ settings | gke_inference.multicluster.workload_plan }}"
"""

RETURN = r"""
_value:
  description: C(profile) (dict) and C(errors) (list of str).
  type: dict
"""

import re

MODEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
HEADER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]*$")
REGION_RE = re.compile(r"^[a-z]+-[a-z]+[0-9]+$")
IMAGE_RE = re.compile(r"^[^@\s]+(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|@sha256:[a-f0-9]{64})$")


def _int(value, default=0):
    try:
        return int(value or default)
    except (TypeError, ValueError):
        return default


def resolve(profiles, name, overrides):
    base = dict(profiles.get(name) or {})
    topology = overrides.get("tpu_topology") or base.get("tpu_topology") or ""
    count = _int(overrides.get("accelerator_count")) or _int(base.get("accelerator_count"))
    selector = dict(base.get("accelerator_label") or {})
    if topology:
        selector["cloud.google.com/gke-tpu-topology"] = topology
    base.update(
        image=overrides.get("image") or base.get("image", ""),
        command=list(overrides.get("command") or base.get("command") or []),
        max_model_len=_int(overrides.get("max_model_len")) or _int(base.get("max_model_len")),
        tpu_topology=topology,
        accelerator_count=count,
        tensor_parallel_size=_int(overrides.get("tensor_parallel_size")) or count,
        metric_export_name=overrides.get("metric_export_name") or base.get("metric_export_name", ""),
        hpa_max_replicas=_int(overrides.get("hpa_max_replicas")) or _int(base.get("hpa_max_replicas"), 1),
        node_selector=selector,
    )
    return base


def workload_plan(settings):
    profiles = settings.get("profiles") or {}
    name = settings.get("profile_name")
    errors = []
    if name not in profiles:
        return {"profile": {}, "errors": ["workload_accelerator_profile (gke_accelerator_profile): %s is not one of %s"
                                          % (name, ", ".join(sorted(profiles)))]}
    p = resolve(profiles, name, settings.get("overrides") or {})
    image = p["image"]
    if not IMAGE_RE.match(image or "") or image.endswith(":latest"):
        errors.append("workload_image: '%s' must be pinned by a version tag or a sha256 digest, never latest or "
                      "untagged" % image)
    if p["tpu_topology"]:
        try:
            chips = 1
            for dim in p["tpu_topology"].split("x"):
                chips *= int(dim)
        except ValueError:
            chips = None
        if chips is None:
            errors.append("workload_tpu_topology: '%s' is not a topology such as 2x2" % p["tpu_topology"])
        elif chips != p["accelerator_count"]:
            errors.append("workload_tpu_topology: %s has %d TPU chips but the pod requests %d "
                          "(workload_accelerator_count); a single-host slice pod requests all chips of its topology"
                          % (p["tpu_topology"], chips, p["accelerator_count"]))
    command = p["command"]
    if not command or not all(isinstance(word, str) and word for word in command):
        errors.append("workload_command: %r must be the model server's command as a list of words, such as [python3, "
                      "-m, vllm.entrypoints.openai.api_server]: the kubelet runs it in place of the image's "
                      "ENTRYPOINT (vllm/vllm-tpu has none and its CMD is a shell)" % (command,))
    max_len, limit = p["max_model_len"], _int(p.get("max_model_len_limit"))
    if max_len < 1 or (limit and max_len > limit):
        errors.append("workload_max_model_len: %s must be between 1 and %s, the context length of the profile's "
                      "model (vLLM reserves KV cache for it on every accelerator)" % (max_len, limit or "the model's"))
    tp = p["tensor_parallel_size"]
    if tp < 1 or p["accelerator_count"] % tp:
        errors.append("workload_tensor_parallel_size: %s must divide the %s accelerators of a pod"
                      % (tp, p["accelerator_count"]))
    labels = settings.get("node_labels") or {}
    if labels:
        for key, value in sorted(p["node_selector"].items()):
            if labels.get(key) != value:
                errors.append("node selector %s=%s matches no node of the cluster (its accelerator pool has %s=%s): the "
                              "pods would never schedule; use the clusters role's accelerator profile and topology"
                              % (key, value, key, labels.get(key, "nothing")))
    if not MODEL_RE.match(settings.get("model_id") or ""):
        errors.append("workload_model_id (gke_model_id): '%s' is not a Hugging Face repository id such as "
                      "google/gemma-3-27b-it" % settings.get("model_id"))
    lb_max = _int(settings.get("lb_max_utilization_percent"), -1)
    if not 1 <= lb_max <= 100:
        errors.append("workload_lb_max_utilization_percent (gke_max_utilization_percent): %s is outside 1-100"
                      % settings.get("lb_max_utilization_percent"))
    if settings.get("hpa_enabled"):
        try:
            target = float(settings.get("hpa_target"))
        except (TypeError, ValueError):
            target = -1.0
        if not 0 < target < lb_max / 100.0:
            errors.append("workload_hpa_target: %s must be above 0 and below the load balancer's threshold %.2f "
                          "(max utilization %s %%), or the region spills traffic before it scales out"
                          % (settings.get("hpa_target"), lb_max / 100.0, lb_max))
        if _int(settings.get("hpa_min_replicas"), 1) > p["hpa_max_replicas"]:
            errors.append("workload_hpa_min_replicas: %s exceeds the maximum %s (workload_hpa_max_replicas)"
                          % (settings.get("hpa_min_replicas"), p["hpa_max_replicas"]))
    if settings.get("failure_mode") not in ("FailOpen", "FailClose"):
        errors.append("workload_pool_failure_mode: '%s' must be FailOpen or FailClose" % settings.get("failure_mode"))
    header, region = settings.get("region_header") or "", settings.get("region") or ""
    if header and not HEADER_RE.match(header):
        errors.append("workload_region_header: '%s' is not an HTTP header name (letters, digits and dashes, such as "
                      "x-served-region); set it to '' to turn the region header off" % header)
    if header and not REGION_RE.match(region):
        errors.append("workload_region (gcp_region): '%s' is not a region such as us-east5; the model servers name it "
                      "in their %s header (set workload_region_header to '' to turn that off)" % (region, header))
    return {"profile": p, "errors": errors}


class FilterModule(object):
    def filters(self):
        return {"workload_plan": workload_plan}
