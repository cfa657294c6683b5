"""The container images the collection runs, and how the emulated kubelet starts their containers.

A kubelet runs ``command`` in place of the image's ENTRYPOINT and ``args`` in place of its CMD (when
``command`` is set and ``args`` is not, the image's CMD is dropped too):
https://kubernetes.io/docs/tasks/inject-data-application/define-command-argument-container/#notes
So what a container runs depends on the image. Each image the collection uses is listed here, pinned,
with its ENTRYPOINT and CMD and the Dockerfile they were read from. An image that is not listed is an
error of the emulator (the pod never starts and says why), never a pass: add it here, with its source.
"""

import shlex

# image -> (ENTRYPOINT, CMD, where they were read)
CATALOGUE = {
    "vllm/vllm-tpu:v0.12.0": (
        [], ["/bin/bash"],
        "vllm-project/tpu-inference docker/Dockerfile at tag v0.12.0 (commit bcb35b7d; the vllm-tpu image is "
        "built from it since vllm PR #27997): no ENTRYPOINT, CMD [\"/bin/bash\"]. From v0.18.0 on the image has "
        "ENTRYPOINT [\"/entrypoint.sh\"] (tpu-inference commit 5184a053): pin a new catalogue entry for it."),
    "vllm/vllm-openai:v0.11.0": (
        ["python3", "-m", "vllm.entrypoints.openai.api_server"], [],
        "vllm-project/vllm docker/Dockerfile, stage vllm-openai, before PR #25967 (2025-10-02) changed it to "
        "ENTRYPOINT [\"vllm\", \"serve\"]; v0.11.0's release branch was cut before that change. Not read at the "
        "tag itself (unverified): the workload role states its command, so the ENTRYPOINT does not matter to it."),
    "python:3.12.12-slim-bookworm": (
        [], ["python3"],
        "docker-library/python 3.12/slim-bookworm/Dockerfile: no ENTRYPOINT, CMD [\"python3\"]"),
    "gcr.io/gke-release/custom-metrics-stackdriver-adapter:v0.16.11-gke.0": (
        [], [],
        "GoogleCloudPlatform/k8s-stackdriver custom-metrics-stackdriver-adapter/Dockerfile: FROM "
        "gcr.io/distroless/static, the binary at /adapter, no ENTRYPOINT or CMD of its own (its deploy/ "
        "manifests start it with command: [/adapter, ...])"),
    "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0": (
        ["/epp"], [],
        "kubernetes-sigs/gateway-api-inference-extension Dockerfile: ENTRYPOINT [\"/epp\"], no CMD (the same "
        "from v1.0.0 to v1.3.0 and at the stored revision 013954d; v1.5.0 itself not read)"),
}

# What the images' shells accept as `-c SCRIPT`
SHELLS = ("sh", "bash", "/bin/sh", "/bin/bash")
PYTHONS = ("python", "python3", "/usr/bin/python3", "/usr/local/bin/python3")
VLLM_SERVER_MODULE = "vllm.entrypoints.openai.api_server"


class UnknownImage(Exception):
    pass


def _normal(image):
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"):
        if image.startswith(prefix):
            return image[len(prefix):]
    return image


def argv(container):
    """The argv the kubelet would start for this container (UnknownImage for an image not listed)."""
    image = _normal(str(container.get("image") or ""))
    if image not in CATALOGUE:
        raise UnknownImage(
            "image %r is not in the emulator's image catalogue (tests/emulator/images.py): add it with its "
            "ENTRYPOINT and CMD and the Dockerfile they were read from" % container.get("image"))
    entrypoint, cmd, _source = CATALOGUE[image]
    command, args = container.get("command"), container.get("args")
    if command:
        return [str(a) for a in command] + [str(a) for a in args or []]
    return [str(a) for a in entrypoint] + [str(a) for a in (cmd if args is None else args)]


def _script_argv(words):
    """A shell's `-c SCRIPT`, as the words of its last command (the shell execs it), else None."""
    if len(words) >= 3 and words[0] in SHELLS and words[1] == "-c":
        script = words[2].replace("\\\n", " ")
        commands = [c for c in script.replace("&&", ";").replace("\n", ";").split(";") if c.strip()]
        if commands:
            words = shlex.split(commands[-1])
            return words[1:] if words and words[0] == "exec" else words
    return None


def start_failure(container):
    """Why the container cannot run at all (None when it can): the reason and message a kubelet gives."""
    try:
        words = argv(container)
    except UnknownImage as exc:
        return "ErrImagePull", str(exc)
    if not words:
        return "CreateContainerError", "Error: failed to create containerd container: no command specified"
    if words[0].startswith("-"):
        return "RunContainerError", (
            "failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create "
            "failed: unable to start container process: exec: \"%s\": executable file not found in $PATH" % words[0])
    return None


def vllm_options(container):
    """The options of the vLLM OpenAI server this container runs ({option: value}), or None when its argv
    does not run one (a shell with no script, a program that is not vLLM's server)."""
    try:
        words = argv(container)
    except UnknownImage:
        return None
    words = _script_argv(words) or words
    if len(words) >= 3 and words[0] in PYTHONS and words[1:3] == ["-m", VLLM_SERVER_MODULE]:
        flags, positional = words[3:], None
    elif len(words) >= 2 and words[0] in ("vllm", "/usr/local/bin/vllm") and words[1] == "serve":
        flags = words[2:]
        positional = flags.pop(0) if flags and not flags[0].startswith("-") else None
    else:
        return None
    options, index = {}, 0
    while index < len(flags):
        flag = flags[index]
        if flag.startswith("--") and "=" in flag:
            name, value = flag[2:].split("=", 1)
        elif flag.startswith("--") and index + 1 < len(flags) and not flags[index + 1].startswith("--"):
            name, value = flag[2:], flags[index + 1]
            index += 1
        elif flag.startswith("--"):
            name, value = flag[2:], "true"
        else:
            name, value = "", flag
        options.setdefault(name.replace("_", "-"), []).append(value)
        index += 1
    if positional:
        options.setdefault("model", []).append(positional)
    model = (options.get("model") or ["facebook/opt-125m"])[-1]  # vLLM's default model
    options.setdefault("served-model-name", [model])
    return options


def describe_exit(container):
    """Why a container whose argv runs but is not a model server exits, in the kubelet's words."""
    words = argv(container)
    if words[0] in SHELLS and len(words) == 1:
        return "Completed", "%s exited at once with code 0: no terminal and no script (the image's CMD runs a shell)" % (
            words[0])
    return "Error", "%s is not vLLM's OpenAI server (python3 -m %s or vllm serve)" % (
        " ".join(shlex.quote(w) for w in words[:4]), VLLM_SERVER_MODULE)
