# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""The request generator of inference_traffic: an open-loop stream of OpenAI-style completion requests that
records each request's start, latency, status and serving region, and optionally samples the model servers'
KV-cache usage.

Standard library only, so that the same file also runs as a program inside a cluster (the module's
``run_in``: a Job of a pinned Python image with this file and its settings in a ConfigMap):

    python3 traffic.py settings.json

prints ``REQ <json>`` for every request as it completes, ``SAMPLE <json>`` for every metrics sample and
``SUMMARY <json>`` at the end; the module reads them back from the pod's log. Inside a cluster the standard
proxy environment variables apply (there are normally none); the module on the controller uses only its
``proxy`` option.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import os
import sys
import threading
import time

# the standard library's, not ansible.module_utils.urls: the same file runs in a Python image without Ansible
from urllib import request as urllib_request
from urllib.error import HTTPError, URLError

# the settings the generator reads (the module's options of the same names)
SETTINGS = ("url", "api", "model", "prompt", "max_tokens", "rate", "duration", "stages", "stop_file", "timeout",
            "max_in_flight", "region_header", "proxy", "metrics", "metrics_interval")


def opener(proxy, from_environment=False):
    if from_environment:
        return urllib_request.build_opener()
    return urllib_request.build_opener(urllib_request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}))


def summarize(records, seconds):
    by_region = {}
    for record in records:
        if record.get("ok"):
            by_region[record["region"] or "unknown"] = by_region.get(record["region"] or "unknown", 0) + 1
    ok = sum(1 for r in records if r.get("ok"))
    return {"sent": len(records), "ok": ok, "failed": len(records) - ok, "by_region": by_region,
            "seconds": round(seconds, 3)}


class Stream:
    def __init__(self, params, from_environment=False, report=None):
        self.p = params
        self.open = opener(params.get("proxy") or "", from_environment)
        self.report = report or (lambda kind, item: None)
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
        self.report("REQ", record)

    def sample(self, stop):
        while not stop.is_set():
            for target in self.p["metrics"] or []:
                usage = None
                try:
                    text = self.open.open(target["url"], timeout=5).read().decode()
                    usage = next((float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                                  if line.startswith("vllm:kv_cache_usage_perc")), None)
                except (URLError, OSError, ValueError):
                    usage = None
                item = {"time": round(time.time(), 4), "region": target["region"], "url": target["url"], "usage": usage}
                self.samples.append(item)
                self.report("SAMPLE", item)
            stop.wait(self.p["metrics_interval"])

    def stopped(self):
        return bool(self.p.get("stop_file")) and os.path.exists(self.p["stop_file"])

    def run(self):
        stages = self.p.get("stages") or [{"rate": self.p["rate"], "duration": self.p["duration"]}]
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
            # every request the schedule has in the stage is sent, a late one as soon as it can be (a generator
            # the machine held up catches up, instead of leaving out what it could not send on time)
            planned = int(math.ceil(round(stage["rate"] * stage["duration"], 6))) if interval else 0
            sent = 0
            while (sent < planned if interval else time.time() < start + stage["duration"]) and not self.stopped():
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
                    self.report("REQ", record)
                    continue
                thread = threading.Thread(target=self.one, args=(record,))
                thread.daemon = True
                thread.start()
                threads.append(thread)
            if self.stopped():
                break
        for thread in threads:
            thread.join(self.p["timeout"] + 5)
        stop.set()
        if self.p["metrics"]:
            sampler.join(10)
        return summarize(self.records, time.time() - began)


def main(argv):
    """Run the settings in the file ``argv[1]``, printing every result as it comes (the in-cluster program)."""
    with open(argv[1]) as handle:
        params = json.load(handle)
    lock = threading.Lock()

    def report(kind, item):
        with lock:
            sys.stdout.write("%s %s\n" % (kind, json.dumps(item, sort_keys=True)))
            sys.stdout.flush()
    summary = Stream(params, from_environment=True, report=report).run()
    report("SUMMARY", summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
