"""Deployment benchmark: site.yml against the emulator with the seeds' latency profile.

    make bench                                   # 2, 4 and 8 regions at latency scale 0.01
    .venv/bin/python tests/bench/bench.py --regions 2 --scale 0.005

For each region count it runs site.yml on a fresh emulated project, then again (the no-op re-run),
and prints one table: the wall time; the lower bound given by the dependency chain of the
operations (the critical path through the latency profile); the same operations run in the
codelab's order, each phase waited before the next; the re-run time and its mutating API calls
(must be 0). Each run starts without a module host, as a run from AWX does; one more re-run right
after the first finds it up (the warm figures). The two model figures use latency.json x scale and leave out Ansible's own overhead,
which the measured times include. Not part of the test suite.
"""

import argparse
import configparser
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests"))

from emulator import Emulator, serve  # noqa: E402  pylint: disable=wrong-import-position
from emulator.__main__ import load_latency, make_service_account  # noqa: E402  pylint: disable=wrong-import-position

PROJECT = "bench-project-1"
REGIONS = [("us-east5", "us-east5-b"), ("europe-west4", "europe-west4-a"), ("us-central1", "us-central1-a"),
           ("asia-southeast1", "asia-southeast1-b"), ("us-east1", "us-east1-b"), ("us-west1", "us-west1-a"),
           ("europe-west1", "europe-west1-b"), ("asia-northeast1", "asia-northeast1-a")]
SERVICES = ("compute.googleapis.com", "container.googleapis.com", "cloudresourcemanager.googleapis.com",
            "storage.googleapis.com", "serviceusage.googleapis.com")


def operations(latency):
    """The operations of one deployment and what each waits for (unscaled seconds from latency.json)."""
    d = latency.get
    return {
        "services": (d("serviceusage.services.batchEnable"), []),
        "network": (d("compute.networks.insert"), ["services"]),
        "firewalls": (d("compute.firewalls.insert"), ["network"]),
        "subnets": (d("compute.subnetworks.insert"), ["network"]),
        "address": (d("compute.addresses.insert"), ["subnets"]),
        "cluster": (d("container.projects.locations.clusters.create"), ["subnets"]),
        "node_pool": (d("container.projects.locations.clusters.nodePools.create"), ["cluster"]),
        "bucket": (0, ["services"]),
        "membership": (d("gkehub.projects.locations.memberships.create"), ["cluster"]),
        "fleet_features": (d("gkehub.projects.locations.features.create"), ["membership"]),
        "model_download": (d("kube.pod_start") + d("kube.model_download"), ["cluster", "bucket"]),
        "model_servers": (d("kube.pod_start") + d("kube.model_load.tpu"), ["node_pool", "model_download"]),
        "pool_import": (d("kube.pool_import"), ["fleet_features", "cluster"]),
        "gateway": (d("kube.gateway_program"), ["fleet_features", "address", "firewalls"]),
        "done": (0, ["model_servers", "pool_import", "gateway"]),
    }


def critical_path(ops):
    finish = {}

    def end(name):
        if name not in finish:
            seconds, after = ops[name]
            finish[name] = seconds + max([end(a) for a in after] or [0])
        return finish[name]
    return end("done")


CODELAB_PHASES = [["services", "network", "firewalls", "subnets", "address"], ["cluster", "node_pool"],
                  ["membership", "fleet_features"], ["bucket", "model_download"], ["model_servers"],
                  ["pool_import", "gateway"]]


def codelab_order(ops):
    """Each phase waited before the next; inside a phase, the operations' own dependency chain."""
    total = 0
    for phase in CODELAB_PHASES:
        finish = {}
        for name in phase:
            seconds, after = ops[name]
            finish[name] = seconds + max([finish[a] for a in after if a in finish] or [0])
        total += max(finish.values())
    return total


def inventory(directory, regions):
    shutil.copytree(os.path.join(ROOT, "inventories", "local"), directory)
    all_vars = os.path.join(directory, "group_vars", "all.yml")
    with open(all_vars, encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    # the kubeconfigs beside the inventory, not in it: Ansible would try each as an inventory source
    data.update(gcp_project_id=PROJECT, gke_config_region=regions[0][0],
                clusters_kubeconfig_dir=os.path.join(os.path.dirname(directory), "kube"))
    with open(all_vars, "w", encoding="utf-8") as handle:
        yaml.safe_dump(data, handle)
    for name in os.listdir(os.path.join(directory, "group_vars")):
        if name != "all.yml":
            os.remove(os.path.join(directory, "group_vars", name))
    groups = {}
    for index, (region, zone) in enumerate(regions):
        group = region.replace("-", "_")
        groups[group] = {"hosts": {"gke-" + region: None}}
        with open(os.path.join(directory, "group_vars", group + ".yml"), "w", encoding="utf-8") as handle:
            yaml.safe_dump({"gcp_region": region, "gcp_zone": zone, "network_node_subnet_cidr": "10.0.%d.0/24" % (index + 1),
                            "network_proxy_subnet_cidr": "10.1.%d.0/24" % (index + 1)}, handle)
    with open(os.path.join(directory, "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump({"all": {"children": {"inference_regions": {"children": groups}}}}, handle)


def machine():
    """(CPU-seconds of the whole machine, user + system, and the number of processes it has forked) so far,
    from /proc/stat: stable figures on a noisy machine, where wall times are not."""
    with open("/proc/stat", encoding="ascii") as handle:
        fields = dict(line.split(None, 1) for line in handle if line.strip())
    ticks = [int(v) for v in fields["cpu"].split()]
    return (ticks[0] + ticks[1] + ticks[2]) / os.sysconf("SC_CLK_TCK"), int(fields["processes"])


def timeline_env(path):
    """The environment that adds the timeline callback (tests/bench/callbacks) to the ones ansible.cfg enables."""
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "ansible.cfg"))
    enabled = [c.strip() for c in config.get("defaults", "callbacks_enabled", fallback="").split(",") if c.strip()]
    return {"GKE_INFERENCE_TIMELINE": path, "ANSIBLE_CALLBACK_PLUGINS": os.path.join(HERE, "callbacks"),
            "ANSIBLE_CALLBACKS_ENABLED": ",".join(enabled + ["timeline"])}


def show_timeline(path, count, what="deployment"):
    """Each play's start and length, the task results that took longest, and the tasks that took longest summed
    over the hosts, from a run's timeline file."""
    with open(path, encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    plays = [r for r in records if "host" not in r]
    tasks = [r for r in records if "host" in r and r["start"]]
    if not plays:
        return
    start = plays[0]["time"]
    end = max([r["end"] for r in tasks] + [plays[-1]["time"]])
    print("\nWhere the %s's wall time went, %d regions (timeline: %s)" % (what, count, path))
    for index, play in enumerate(plays):
        until = plays[index + 1]["time"] if index + 1 < len(plays) else end
        print("  %6.1f s  %5.1f s  %s" % (play["time"] - start, until - play["time"], play["play"]))
    print("  the longest task results (host, seconds):")
    for record in sorted(tasks, key=lambda r: r["start"] - r["end"])[:12]:
        took = record["end"] - record["start"]
        print("  %6.1f s  %5.1f s  %-22s %s" % (record["start"] - start, took, record["host"], record["task"][:80]))
    summed = {}
    for record in tasks:
        key = (record["play"], record["task"])
        took, results = summed.get(key, (0.0, 0))
        summed[key] = (took + record["end"] - record["start"], results + 1)
    print("  the tasks that took longest, summed over the hosts (seconds, results):")
    for (play, task), (took, results) in sorted(summed.items(), key=lambda item: -item[1][0])[:8]:
        print("  %6.1f s  %3d  %s | %s" % (took, results, play[:30], task[:70]))


def run_site(inv, endpoint, key_file, *args, env=None):
    """Run site.yml; return (wall s, CPU-s of the machine, CPU-s of ansible-playbook and the children it waited
    for, processes forked)."""
    env = dict(os.environ, GKE_INFERENCE_API_ENDPOINT=endpoint, GKE_INFERENCE_CREDENTIALS_FILE=key_file,
               ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".collections"), **(env or {}))
    started, (cpu, forks) = time.time(), machine()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "site.yml", "-i", inv]
                          + list(args), cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit("site.yml failed:\n" + (proc.stdout + proc.stderr)[-4000:])
    after, (cpu_after, forks_after) = resource.getrusage(resource.RUSAGE_CHILDREN), machine()
    own = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    return time.time() - started, cpu_after - cpu, own, forks_after - forks


def stop_module_hosts():
    """End this user's module hosts (plugins/module_utils/turbo.py), whatever their temporary directory, so that the
    next run starts without one, as a run from AWX (a new container) or one more than GKE_INFERENCE_TURBO_IDLE
    seconds after the last does."""
    folder = "gke-inference-turbo-%d" % os.getuid()
    hosts = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as handle:
                argv = handle.read().decode("utf-8", "replace").split("\0")
        except OSError:
            continue
        if len(argv) > 2 and argv[1] == "-c" and any(os.sep + folder + os.sep in a and a.endswith(".sock") for a in argv):
            hosts.append(int(pid))
    for pid in hosts:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists("/proc/%d" % pid) for pid in hosts):
        time.sleep(0.05)


def calibrate(tasks=200):
    """How fast this machine is today, for comparing figures taken on other days: (CPU-seconds of 10**7 additions
    in Python, CPU-seconds of ansible-playbook running ``tasks`` set_fact tasks on localhost with Ansible's own
    defaults, which are all fork and templating)."""
    started = time.process_time()
    total = 0
    for number in range(10 ** 7):
        total += number
    loop = time.process_time() - started
    work = tempfile.mkdtemp(prefix="gke-bench-calibrate-")
    try:
        play = [{"hosts": "localhost", "gather_facts": False,
                 "tasks": [{"ansible.builtin.set_fact": {"fact%d" % n: n}} for n in range(tasks)]}]
        path = os.path.join(work, "play.yml")
        with open(path, "w", encoding="utf-8") as handle:
            yaml.safe_dump(play, handle)
        config = os.path.join(work, "ansible.cfg")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("[defaults]\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), path, "-i", "localhost,",
                        "-c", "local"], cwd=work, env=dict(env, ANSIBLE_CONFIG=config), capture_output=True,
                       check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return loop, after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
    finally:
        shutil.rmtree(work, ignore_errors=True)


def mutating(emu):
    return [e for e in emu.requests if e["method"] != "GET" and e.get("changed", True) and not (
        e["method_id"] or "").endswith(("getIamPolicy", "testIamPermissions", "batchGet", "get", "list"))]


def idle_cpu(seconds=3.0):
    """CPU-seconds per second the machine spends with no run going: the emulated data plane's own work (health
    checks of every model server, at the data-plane scale), which a run against Google would not have."""
    before, started = machine()[0], time.time()
    time.sleep(seconds)
    return (machine()[0] - before) / (time.time() - started)


def container(work):
    """The environment of a run in a new container: a temporary directory of its own, empty."""
    return {"TMPDIR": tempfile.mkdtemp(prefix="tmp-", dir=work)}


def deploy(count, scale, latency, *args, rerun=False, dataplane_scale=None, timeline=None):
    """site.yml on a fresh emulated project; with rerun, again, counting the re-run's mutating calls; with
    timeline (a pair of files), the first run's task timeline written to the first, the re-run's to the second."""
    emu = Emulator(latency_scale=scale, latency=latency, project=PROJECT, project_number="424242424242",
                   dataplane_scale=dataplane_scale)
    emu.projects[PROJECT]["services"].update(SERVICES)
    server = serve(emu)
    endpoint = "http://127.0.0.1:%d" % server.server_address[1]
    work = tempfile.mkdtemp(prefix="gke-bench-")
    try:
        key_file = os.path.join(work, "key.json")
        make_service_account(emu, key_file, PROJECT, endpoint)
        inv = os.path.join(work, "inventory")
        inventory(inv, REGIONS[:count])
        # The deployment and the re-run start as a run from AWX does, in a new container: no module host and an empty
        # temporary directory (none of what the collection keeps there between runs: the module host's compiled code,
        # the modules' payloads, the checked keys)
        stop_module_hosts()
        first = run_site(inv, endpoint, key_file, *args, env=dict(container(work), **(
            timeline_env(timeline[0]) if timeline else {})))[0]
        if not rerun:
            return first, None, None, None, None, None
        idle = idle_cpu()
        stop_module_hosts()
        with emu.lock:
            emu.requests.clear()
        same = container(work)
        second = run_site(inv, endpoint, key_file, *args, env=dict(same, **(timeline_env(timeline[1]) if timeline else {})))
        # again on the same machine once the module host has ended (a run from a laptop minutes after the last)
        stop_module_hosts()
        machine_rerun = run_site(inv, endpoint, key_file, *args, env=same)
        # once more, with the module host the run before started still up (a run soon after another)
        warm = run_site(inv, endpoint, key_file, *args, env=same)
        return first, second, len(mutating(emu)), idle, machine_rerun, warm
    finally:
        stop_module_hosts()
        server.shutdown()
        emu.reset()
        shutil.rmtree(work, ignore_errors=True)


def bench(count, scale, sequential, dataplane_scale=None, timeline=None):
    latency = load_latency()
    paths = None
    if timeline:
        os.makedirs(timeline, exist_ok=True)
        paths = tuple(os.path.join(os.path.abspath(timeline), "timeline-%d%s.jsonl" % (count, suffix))
                      for suffix in ("", ".rerun"))
        for path in paths:
            if os.path.exists(path):
                os.remove(path)
    first = deploy(count, scale, latency, rerun=True, dataplane_scale=dataplane_scale, timeline=paths)
    wall, (rerun, cpu, own_cpu, forks), calls, idle, machine_rerun, warm = first
    codelab_wall = deploy(count, scale, latency, "-e", "gke_overlap_phases=false",
                          dataplane_scale=dataplane_scale)[0] if sequential else None
    ops = operations(latency)
    if paths:
        show_timeline(paths[0], count)
        show_timeline(paths[1], count, "no-op re-run")
    return {"regions": count, "wall": wall, "critical_path": critical_path(ops) * scale,
            "codelab_order": codelab_order(ops) * scale, "codelab_order_wall": codelab_wall, "rerun": rerun,
            "rerun_mutating_calls": calls, "rerun_cpu": cpu, "rerun_ansible_cpu": own_cpu, "rerun_processes": forks,
            "emulator_idle_cpu": idle, "machine_rerun": machine_rerun[0], "machine_rerun_cpu": machine_rerun[1],
            "warm_rerun": warm[0], "warm_rerun_cpu": warm[1]}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", default="2,4,8", help="region counts, comma-separated (at most 8)")
    parser.add_argument("--scale", type=float, default=0.01, help="latency scale (1 = the seeds' real durations)")
    parser.add_argument("--no-sequential", action="store_true",
                        help="skip the measured run in the codelab's order (gke_overlap_phases=false)")
    parser.add_argument("--dataplane-scale", type=float, default=0.1,
                        help="data-plane scale (health-check intervals, token latency), as `make local` uses; not part "
                        "of any deployment step")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--timeline", metavar="DIR",
                        help="write each deployment's task timeline to DIR/timeline-N.jsonl (N regions) and its "
                        "no-op re-run's to DIR/timeline-N.rerun.jsonl, and print where their wall time went: each "
                        "play, the longest task results, and the tasks that took longest summed over the hosts")
    args = parser.parse_args(argv)
    loop, trivial = calibrate()
    rows = [bench(int(n), args.scale, not args.no_sequential, args.dataplane_scale, args.timeline)
            for n in args.regions.split(",")]
    header = ("regions", "wall s", "codelab order, measured s", "critical path s", "codelab order s",
              "wall - re-run s", "re-run s", "re-run CPU-s (machine)", "re-run CPU-s (ansible)", "re-run processes",
              "re-run mutating calls", "re-run on the same machine s", "its CPU-s (machine)", "warm re-run s",
              "warm re-run CPU-s (machine)", "emulator idle CPU-s/s")
    print("latency scale %s (1 = the seeds' durations: critical path %.0f s, codelab order %.0f s), data-plane scale %s"
          % (args.scale, rows[0]["critical_path"] / args.scale, rows[0]["codelab_order"] / args.scale,
             args.dataplane_scale))
    print("this machine today: %.2f CPU-s for 10**7 additions in Python, %.1f CPU-s for 200 set_fact tasks of "
          "ansible-playbook (compare with the README's figures before comparing the tables)" % (loop, trivial))
    print(" | ".join(header))
    print(" | ".join(["---"] * len(header)))
    for row in rows:
        measured = "-" if row["codelab_order_wall"] is None else "%.1f" % row["codelab_order_wall"]
        print(" | ".join([str(row["regions"]), "%.1f" % row["wall"], measured, "%.1f" % row["critical_path"],
                          "%.1f" % row["codelab_order"], "%.1f" % (row["wall"] - row["rerun"]),
                          "%.1f" % row["rerun"], "%.1f" % row["rerun_cpu"], "%.1f" % row["rerun_ansible_cpu"],
                          str(row["rerun_processes"]), str(row["rerun_mutating_calls"]), "%.1f" % row["machine_rerun"],
                          "%.1f" % row["machine_rerun_cpu"], "%.1f" % row["warm_rerun"],
                          "%.1f" % row["warm_rerun_cpu"], "%.2f" % row["emulator_idle_cpu"]]))
    print("The deployment and the re-run start as from AWX, in a new container: no module host, an empty temporary "
          "directory (the libraries are loaded, the modules' payloads built once in each run). The re-run on the same "
          "machine starts without a module host but with what the runs before kept in the temporary directory (a run "
          "from a laptop minutes after the last); the warm re-run comes right after it and finds its host up.")
    print("wall: site.yml as shipped (phases overlapped); codelab order, measured: site.yml with "
          "gke_overlap_phases=false; critical path and codelab order: the latency profile alone; wall - re-run: the "
          "wall time less Ansible's own overhead as the no-op re-run measures it; re-run CPU-s (machine): every process "
          "of the machine, the in-process emulator included; (ansible): ansible-playbook and the module processes it "
          "waited for (not the detached module host); re-run processes: processes forked on the machine during the "
          "re-run (/proc/stat); emulator idle: the machine's CPU-seconds per second between the two runs, the emulated data "
          "plane's own work, included in re-run CPU-s (machine).")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"scale": args.scale, "dataplane_scale": args.dataplane_scale, "rows": rows,
                       "calibration": {"python_loop_cpu": loop, "set_fact_200_cpu": trivial}}, handle, indent=2)


if __name__ == "__main__":
    main()
