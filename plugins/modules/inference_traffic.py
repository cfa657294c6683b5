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
  - The gateway is internal. Run this where the VPC is reachable (a runner in the VPC, a VPN), or set
    O(proxy) to an HTTP proxy that is.
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
"""

import json
import os
import threading
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.six.moves.urllib import request as urllib_request
from ansible.module_utils.six.moves.urllib.error import HTTPError, URLError


def opener(proxy):
    return urllib_request.build_opener(urllib_request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}))


class Stream:
    def __init__(self, params):
        self.p = params
        self.open = opener(params["proxy"])
        self.records, self.samples = [], []
        self.lock = threading.Lock()
        self.in_flight = 0
        path = "/v1/chat/completions" if params["api"] == "chat" else "/v1/completions"
        self.url = params["url"].rstrip("/") + path
        body = {"model": params["model"], "max_tokens": params["max_tokens"]}
        if params["api"] == "chat":
            body["messages"] = [{"role": "user", "content": params["prompt"]}]
        else:
            body["prompt"] = params["prompt"]
        self.body = json.dumps(body).encode()

    def one(self, record):
        req = urllib_request.Request(self.url, data=self.body, headers={"Content-Type": "application/json"})
        try:
            resp = self.open.open(req, timeout=self.p["timeout"])
            resp.read()
            record.update(status=resp.getcode(), region=resp.headers.get(self.p["region_header"]) or "")
        except HTTPError as exc:
            record.update(status=exc.code, region=exc.headers.get(self.p["region_header"]) or "" if exc.headers else "",
                          error="HTTP %d %s" % (exc.code, exc.reason))
        except (URLError, OSError, ValueError) as exc:
            record.update(status=0, region="", error=str(getattr(exc, "reason", exc))[:200])
        record["latency"] = round(time.time() - record["start"], 4)
        record["ok"] = 200 <= record["status"] < 300
        with self.lock:
            self.in_flight -= 1

    def sample(self, stop):
        while not stop.is_set():
            for target in self.p["metrics"]:
                usage = None
                try:
                    text = self.open.open(target["url"], timeout=5).read().decode()
                    usage = next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                  if line.startswith("vllm:kv_cache_usage_perc")), None)
                except (URLError, OSError, ValueError):
                    usage = None
                self.samples.append({"time": round(time.time(), 4), "region": target["region"], "url": target["url"],
                                     "usage": usage})
            stop.wait(self.p["metrics_interval"])

    def run(self):
        stages = self.p["stages"] or [{"rate": self.p["rate"], "duration": self.p["duration"]}]
        threads = []
        stop = threading.Event()
        sampler = threading.Thread(target=self.sample, args=(stop,))
        sampler.daemon = True
        if self.p["metrics"]:
            sampler.start()
        began = time.time()
        for index, stage in enumerate(stages):
            start = time.time()
            interval = 1.0 / stage["rate"] if stage["rate"] > 0 else None
            sent = 0
            while time.time() < start + stage["duration"]:
                if self.p["stop_file"] and os.path.exists(self.p["stop_file"]):
                    break
                if interval is None:
                    time.sleep(0.05)
                    continue
                due = start + sent * interval
                if due > time.time():
                    time.sleep(min(due - time.time(), 0.05))
                    continue
                sent += 1
                record = {"start": round(time.time(), 4), "stage": index}
                self.records.append(record)
                with self.lock:
                    saturated = self.in_flight >= self.p["max_in_flight"]
                    if not saturated:
                        self.in_flight += 1
                if saturated:
                    record.update(status=0, ok=False, region="", latency=0.0,
                                  error="client saturated: max_in_flight requests already waiting")
                    continue
                thread = threading.Thread(target=self.one, args=(record,))
                thread.daemon = True
                thread.start()
                threads.append(thread)
            if self.p["stop_file"] and os.path.exists(self.p["stop_file"]):
                break
        for thread in threads:
            thread.join(self.p["timeout"] + 5)
        stop.set()
        if self.p["metrics"]:
            sampler.join(10)
        by_region = {}
        for record in self.records:
            if record.get("ok"):
                by_region[record["region"] or "unknown"] = by_region.get(record["region"] or "unknown", 0) + 1
        ok = sum(1 for r in self.records if r.get("ok"))
        return {"sent": len(self.records), "ok": ok, "failed": len(self.records) - ok, "by_region": by_region,
                "seconds": round(time.time() - began, 3)}


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
    stream = Stream(p)
    summary = stream.run()
    module.exit_json(changed=False, requests=stream.records, metrics=stream.samples, summary=summary)


if __name__ == "__main__":
    main()
