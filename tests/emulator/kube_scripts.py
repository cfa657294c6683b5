"""What a Job's container does when it runs a Python program from a ConfigMap volume (``python3 <file of the
volume> ...``, as the collection's in-cluster traffic generator does): the program runs, for real, in a process
of this machine, with the ConfigMap's files where the container would see them, the container's literal env
values, and stdout and stderr as the pod's log; its exit code ends the pod.

The pod is inside the VPC: its HTTP requests go through the emulator's data plane (the forward proxy that
also serves the controller), given to the process as ``http_proxy``. The program runs on this machine's Python,
not the image's (the images the emulator accepts are in images.py). Deleting the pod ends the process.
"""

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import threading

from .core import controller
from .images import PYTHONS, UnknownImage, argv

RUNNING = {}  # (id of the cluster, pod uid) -> {"proc", "dir", "reader"}


def program(kube, pod):
    """(container, argv, {mount path: {file: text}}) when the pod's one container runs a ConfigMap's Python file."""
    containers = pod["spec"].get("containers") or []
    if len(containers) != 1:
        return None
    container = containers[0]
    try:
        words = argv(container)
    except UnknownImage:
        return None
    if len(words) < 2 or words[0] not in PYTHONS:
        return None
    mounts = configmap_files(kube, pod, container)
    if not any(words[1].startswith(path + "/") for path in mounts):
        return None
    return container, words, mounts


def configmap_files(kube, pod, container):
    """The files of the ConfigMap volumes ``container`` mounts: {mount path: {file name: text}}."""
    volumes = {v["name"]: v["configMap"]["name"] for v in pod["spec"].get("volumes") or [] if v.get("configMap")}
    files = {}
    for mount in container.get("volumeMounts") or []:
        if mount["name"] in volumes:
            config = kube.get("", "configmaps", pod["metadata"]["namespace"], volumes[mount["name"]]) or {}
            files[mount["mountPath"].rstrip("/")] = dict(config.get("data") or {})
    return files


def write_mounts(folder, files):
    """Write ``files`` ({mount path: {name: text}}, as configmap_files gives them) under ``folder``; returns where
    each mount path is on this machine."""
    where = {}
    for index, (path, named) in enumerate(sorted(files.items())):
        where[path] = os.path.join(folder, "mount%d" % index)
        os.makedirs(where[path])
        for name, text in named.items():
            with open(os.path.join(where[path], name), "w", encoding="utf-8") as handle:
                handle.write(text)
    return where


def advance(kube, pod, spec, logs):
    """Start the program, or look at it: None while it runs, else its exit code."""
    key = (id(kube), pod["metadata"]["uid"])
    run = RUNNING.get(key)
    if run is None:
        run = RUNNING[key] = _start(kube, spec, logs)
    code = run["proc"].poll()
    if code is None:
        return None
    run["reader"].join(5)
    _end(RUNNING.pop(key, None))
    return code


def stop(kube, pod):
    """The pod is gone: so is its process."""
    _end(RUNNING.pop((id(kube), pod["metadata"].get("uid")), None))


def _start(kube, spec, logs):
    container, words, mounts = spec
    folder = tempfile.mkdtemp(prefix="job-")
    where = write_mounts(folder, mounts)

    def local(word):
        for path, directory in where.items():
            if word == path or word.startswith(path + "/"):
                return directory + word[len(path):]
        return word
    env = {"PATH": os.environ.get("PATH", ""), "HOME": folder}
    env.update({e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e})
    proxy = getattr(kube.emu, "http_address", "")
    if proxy:  # the VPC's routes, as this machine reaches them
        env.update(http_proxy=proxy, HTTP_PROXY=proxy)
    proc = subprocess.Popen([sys.executable] + [local(w) for w in words[1:]], stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                            stderr=subprocess.STDOUT, env=env, cwd=folder)

    def read():
        for line in proc.stdout:
            logs.append(line.decode("utf-8", "replace").rstrip("\n"))
    reader = threading.Thread(target=read, name="pod-log", daemon=True)
    reader.start()
    return {"proc": proc, "dir": folder, "reader": reader, "emu": kube.emu}


def _end(run):
    if run is None:
        return
    if run["proc"].poll() is None:
        run["proc"].kill()
        run["proc"].wait(5)
    shutil.rmtree(run["dir"], ignore_errors=True)


@controller
def reap(emu, _only=None):
    """A program whose pod is gone (deleted, collected with its Job, its cluster deleted) ends."""
    alive = {(id(kube), pod["metadata"]["uid"]) for kube in list(getattr(emu, "kube", {}).values())
             for pod in kube.list("", "pods")}
    for key in [key for key, run in list(RUNNING.items()) if run["emu"] is emu and key not in alive]:
        _end(RUNNING.pop(key, None))


@atexit.register
def _end_all():
    for key in list(RUNNING):
        _end(RUNNING.pop(key, None))
