#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: inference_traffic
short_description: Send a measured stream of completion requests through the inference gateway
version_added: 0.1.0
description:
  - Sends OpenAI-style completion requests to a gateway address at a fixed rate (open loop, as real
    users do - a slow backend does not slow the sender), in one or more stages, and records for every
    request when it started, how long it took, its HTTP status and the region that served it (from
    O(region_header)). Optionally samples the model servers' C(vllm:kv_cache_usage_perc) while it runs.
  - Used by the failover drill and the spill-over load test. Run it with C(async) and stop it early by
    creating O(stop_file).
  - The gateway is internal. Run this where the VPC is reachable (a runner in the VPC, a VPN), set
    O(proxy) to an HTTP proxy that is, or set O(run_in) to send from inside one of the clusters (the codelab's
    curl pod, measured).
  - Prompts and responses are never returned; only timings, statuses and regions.
options:
  url:
    description: Base URL of the gateway, for example C(http://10.0.1.2).
    type: str
    required: true
  api:
    description: Which OpenAI-compatible API to call.
    type: str
    choices: [completions, chat]
    default: chat
  model:
    description: The served model name (vLLM's C(--served-model-name)).
    type: str
    required: true
  prompt:
    description: The prompt (or the user message with O(api=chat)).
    type: str
    default: What is the capital of France?
  max_tokens:
    description: Tokens to generate per request.
    type: int
    default: 100
  rate:
    description: Requests per second, when O(stages) is not given.
    type: float
    default: 5
  duration:
    description: Seconds to send for, when O(stages) is not given (the upper bound with O(stop_file)).
    type: float
    default: 60
  stages:
    description: Successive load levels, each a rate for a duration. Overrides O(rate) and O(duration).
    type: list
    elements: dict
    suboptions:
      rate:
        description: Requests per second in this stage.
        type: float
        required: true
      duration:
        description: Seconds this stage lasts.
        type: float
        required: true
  stop_file:
    description: Stop sending as soon as this file exists (the requests in flight still complete).
    type: path
  timeout:
    description: Seconds before one request counts as failed.
    type: float
    default: 120
  max_in_flight:
    description: Requests allowed in flight at once; a request that would pass this counts as failed
      (the client is saturated, the figures would be meaningless).
    type: int
    default: 512
  region_header:
    description: Response header naming the region that served a request.
    type: str
    default: x-served-region
  proxy:
    description: HTTP proxy to reach the gateway through. Empty means none (environment proxies are ignored).
    type: str
    default: ''
  metrics:
    description: Model-server metric endpoints to sample while sending (for example the pods' C(/metrics)).
    type: list
    elements: dict
    default: []
    suboptions:
      region:
        description: Region of the endpoint.
        type: str
        required: true
      url:
        description: URL of the Prometheus text endpoint.
        type: str
        required: true
  metrics_interval:
    description: Seconds between two samples of O(metrics).
    type: float
    default: 1
  run_in:
    description:
      - Send from a Job in this cluster instead of from the controller, for a controller (an AWX execution
        environment, a laptop) that cannot reach the VPC. The same generator (C(module_utils/traffic.py)) runs there
        from a ConfigMap in a pinned Python image, as an unprivileged user, with no service-account token and no
        secret in its spec; its results are read back from the pod's log, and the Job and the ConfigMap are deleted.
      - With O(stop_file) the module (still on the controller) stops the Job when the file appears; requests still
        in flight then are not recorded.
    type: dict
    suboptions:
      kubeconfig:
        description: Kubeconfig of the cluster.
        type: path
        required: true
      context:
        description: Context in O(run_in.kubeconfig).
        type: str
      namespace:
        description: Namespace of the Job.
        type: str
        default: default
      image:
        description: Image with C(python3) (3.8 or later); must be pinned (a tag other than C(latest), or a digest).
        type: str
        default: python:3.12.12-slim-bookworm
      name:
        description: Prefix of the Job's and ConfigMap's names (a random suffix is added).
        type: str
        default: inference-traffic
      start_timeout:
        description: Seconds the pod may take to start (scheduling and the image pull).
        type: int
        default: 300
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: It changes nothing; in check mode it sends no requests.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: posix
author:
  - gke_inference.multicluster maintainers (@gke-inference)
"""

EXAMPLES = r"""
- name: Five requests a second for a minute through the us-east5 address
  gke_inference.multicluster.inference_traffic:
    url: http://10.0.2.2
    model: google/gemma-3-27b-it
    rate: 5
    duration: 60
  register: traffic

- name: A stream that runs until the drill creates the stop file
  gke_inference.multicluster.inference_traffic:
    url: http://10.0.2.2
    model: google/gemma-3-27b-it
    rate: 10
    duration: 1800
    stop_file: /tmp/drill.stop
  async: 2000
  poll: 0
  register: stream
"""

RETURN = r"""
requests:
  description: One entry per request, in sending order.
  returned: success
  type: list
  elements: dict
  contains:
    start:
      description: Epoch seconds the request was sent.
      type: float
    latency:
      description: Seconds until the response was read.
      type: float
    status:
      description: HTTP status, 0 when there was no response (refused, reset, timed out).
      type: int
    ok:
      description: Whether the status was 2xx.
      type: bool
    region:
      description: The region that served it (O(region_header)), empty if unknown.
      type: str
    stage:
      description: Index of the stage it was sent in.
      type: int
    error:
      description: Why it failed, when it did (never the response body).
      type: str
metrics:
  description: Samples of the model servers' KV-cache usage (time, region, url, usage between 0 and 1).
  returned: success
  type: list
  elements: dict
summary:
  description: Counts - sent, ok, failed, by_region, and wall seconds.
  returned: success
  type: dict
runner:
  description: Where the requests were sent from, V(controller) or V(cluster) (O(run_in)).
  returned: success
  type: str
job:
  description: The Job that sent them, with O(run_in) (deleted when the module returns).
  returned: with O(run_in)
  type: str
"""

import json
import os
import random
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.gke_inference.multicluster.plugins.module_utils import traffic
from ansible_collections.gke_inference.multicluster.plugins.module_utils.traffic import SETTINGS, Stream, summarize

# python:3.12.12-slim-bookworm (docker-library/python; no ENTRYPOINT, CMD python3): the generator needs only the
# standard library
DEFAULT_IMAGE = "python:3.12.12-slim-bookworm"
MOUNT = "/opt/traffic"
STUCK = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "CreateContainerConfigError", "CreateContainerError",
         "RunContainerError", "CrashLoopBackOff")


def generator_source():
    """The text of module_utils/traffic.py, wherever this module runs from (a file, AnsiballZ's zip)."""
    loader = getattr(traffic, "__loader__", None)
    try:
        source = loader.get_source(traffic.__name__) if loader is not None else None
    except (ImportError, OSError):
        source = None
    if not source:
        with open(traffic.__file__) as handle:
            source = handle.read()
    return source


def manifests(p, name):
    spec = p["run_in"]
    settings = dict((key, p[key]) for key in SETTINGS)
    settings.update(stop_file=None, proxy="")  # inside the VPC: no proxy, and the controller stops it
    stages = p["stages"] or [{"rate": p["rate"], "duration": p["duration"]}]
    deadline = int(sum(stage["duration"] for stage in stages) + p["timeout"] + spec["start_timeout"] + 60)
    labels = {"app.kubernetes.io/name": "inference-traffic", "app.kubernetes.io/managed-by": "gke_inference.multicluster"}
    meta = {"name": name, "namespace": spec["namespace"], "labels": labels}
    configmap = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
                 "data": {"traffic.py": generator_source(), "settings.json": json.dumps(settings, sort_keys=True)}}
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": {
        "backoffLimit": 0, "activeDeadlineSeconds": deadline, "ttlSecondsAfterFinished": 3600,
        "template": {"metadata": {"labels": labels}, "spec": {
            "restartPolicy": "Never", "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{
                "name": "generator", "image": spec["image"],
                "command": ["python3", MOUNT + "/traffic.py", MOUNT + "/settings.json"],
                "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}],
                "resources": {"requests": {"cpu": "250m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "generator", "mountPath": MOUNT, "readOnly": True}]}],
            "volumes": [{"name": "generator", "configMap": {"name": name}}]}}}}
    return configmap, job


def parse(text):
    records, samples, summary = [], [], None
    for line in (text or "").splitlines():
        kind, _sep, payload = line.partition(" ")
        try:
            item = json.loads(payload) if kind in ("REQ", "SAMPLE", "SUMMARY") else None
        except ValueError:
            continue
        if kind == "REQ":
            records.append(item)
        elif kind == "SAMPLE":
            samples.append(item)
        elif kind == "SUMMARY":
            summary = item
    return sorted(records, key=lambda r: r["start"]), samples, summary


def waiting_reason(pod):
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        waiting = (status.get("state") or {}).get("waiting") or {}
        if waiting.get("reason") in STUCK:
            return "%s: %s" % (waiting["reason"], waiting.get("message") or "")
    return None


def run_in_cluster(module, p):
    """Run the generator as a Job in the cluster of ``run_in`` and read its results back from the pod's log."""
    from ansible_collections.gke_inference.multicluster.plugins.module_utils.kube import Kube

    spec = p["run_in"]
    kube = Kube(module, kubeconfig=spec["kubeconfig"], context=spec["context"], namespace=spec["namespace"])
    name = "%s-%06x" % (spec["name"], random.getrandbits(24))
    configmap, job = manifests(p, name)
    began, pod, stopped, phase = time.time(), None, False, None
    try:
        kube.ensure(configmap)
        kube.ensure(job)
        while True:
            pods = kube.pods_of_job(name)
            pod = pods[0] if pods else None
            phase = ((pod or {}).get("status") or {}).get("phase")
            if phase in ("Succeeded", "Failed"):
                break
            if p["stop_file"] and os.path.exists(p["stop_file"]):
                stopped = True
                break
            reason = waiting_reason(pod or {})
            if reason or (phase != "Running" and time.time() > began + spec["start_timeout"]):
                module.fail_json(msg="run_in: the generator's pod %s did not start in %s within %d s (%s). Check that "
                                     "the cluster can pull %s." % (
                                         (pod or {}).get("metadata", {}).get("name", name + "-*"), spec["namespace"],
                                         time.time() - began, reason or "phase %s" % (phase or "none yet"),
                                         spec["image"]), job=name)
            time.sleep(1)
        text = kube.log(pod["metadata"]["name"]) if pod else ""
    finally:
        kube.delete_now("batch/v1", "Job", name)
        kube.delete_now("v1", "ConfigMap", name)
    records, samples, summary = parse(text)
    if phase == "Failed" and summary is None and not stopped:
        module.fail_json(msg="run_in: the generator's Job %s failed: %s" % (name, " | ".join(
            (text or "no log").splitlines()[-5:])), job=name)
    if summary is None:
        summary = summarize(records, time.time() - began)
    return dict(requests=records, metrics=samples, summary=summary, runner="cluster", job=name)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            api=dict(type="str", choices=["completions", "chat"], default="chat"),
            model=dict(type="str", required=True),
            prompt=dict(type="str", default="What is the capital of France?"),
            max_tokens=dict(type="int", default=100, no_log=False),
            rate=dict(type="float", default=5),
            duration=dict(type="float", default=60),
            stages=dict(type="list", elements="dict", options=dict(rate=dict(type="float", required=True),
                                                                   duration=dict(type="float", required=True))),
            stop_file=dict(type="path"),
            timeout=dict(type="float", default=120),
            max_in_flight=dict(type="int", default=512),
            region_header=dict(type="str", default="x-served-region"),
            proxy=dict(type="str", default=""),
            metrics=dict(type="list", elements="dict", default=[], options=dict(
                region=dict(type="str", required=True), url=dict(type="str", required=True))),
            metrics_interval=dict(type="float", default=1),
            run_in=dict(type="dict", options=dict(
                kubeconfig=dict(type="path", required=True), context=dict(type="str"),
                namespace=dict(type="str", default="default"), image=dict(type="str", default=DEFAULT_IMAGE),
                name=dict(type="str", default="inference-traffic"), start_timeout=dict(type="int", default=300))),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if not p["url"].startswith(("http://", "https://")):
        module.fail_json(msg="url: %r is not an http(s) URL; give the gateway address as http://<ip>[:port]" % p["url"])
    for index, stage in enumerate(p["stages"] or [{"rate": p["rate"], "duration": p["duration"]}]):
        if stage["rate"] < 0 or stage["duration"] <= 0:
            module.fail_json(msg="stages[%d]: rate must be >= 0 and duration > 0 (got rate %s, duration %s)"
                             % (index, stage["rate"], stage["duration"]))
    if module.check_mode:
        module.exit_json(changed=False, skipped=True, msg="check mode: no requests sent", requests=[], metrics=[],
                         summary={})
    if p["run_in"]:
        if p["proxy"]:
            module.fail_json(msg="proxy: not used with run_in (the generator runs inside the VPC); leave it empty.")
        image = p["run_in"]["image"]
        if ":" not in image.rsplit("/", 1)[-1] and "@" not in image or image.endswith(":latest"):
            module.fail_json(msg="run_in.image: %r is not pinned; give a tag or digest (for example %s)."
                             % (image, DEFAULT_IMAGE))
        module.exit_json(changed=False, **run_in_cluster(module, p))
    stream = Stream(p)
    summary = stream.run()
    module.exit_json(changed=False, requests=stream.records, metrics=stream.samples, summary=summary,
                     runner="controller")


if __name__ == "__main__":
    main()
