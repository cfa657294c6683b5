"""The emulated kubelet's view of a container: the argv its image and command/args make, and whether that
argv runs vLLM's server (tests/emulator/images.py)."""

from emulator import images

TPU = "vllm/vllm-tpu:v0.12.0"
SERVER = ["python3", "-m", "vllm.entrypoints.openai.api_server"]


def test_command_replaces_the_entrypoint_and_args_replace_the_cmd():
    assert images.argv({"image": TPU}) == ["/bin/bash"]
    assert images.argv({"image": TPU, "args": ["--model=/data/model"]}) == ["--model=/data/model"]
    assert images.argv({"image": TPU, "command": SERVER}) == SERVER  # command alone drops the image's CMD
    assert images.argv({"image": TPU, "command": SERVER, "args": ["--port=8000"]}) == SERVER + ["--port=8000"]
    epp = "registry.k8s.io/gateway-api-inference-extension/epp:v1.5.0"
    assert images.argv({"image": epp, "args": ["--pool-name", "p"]}) == ["/epp", "--pool-name", "p"]
    assert images.argv({"image": "docker.io/library/python:3.12.12-slim-bookworm"}) == ["python3"]


def test_vllm_args_without_a_command_do_not_start_on_the_tpu_image():
    """The bug of issue 17: vllm/vllm-tpu has no ENTRYPOINT, so args alone are run as a program."""
    container = {"image": TPU, "args": ["--model=/data/model", "--served-model-name=google/gemma-3-27b-it"]}
    reason, message = images.start_failure(container)
    assert reason == "RunContainerError" and 'exec: "--model=/data/model": executable file not found' in message
    assert images.vllm_options(container) is None
    started = dict(container, command=SERVER)
    assert images.start_failure(started) is None
    assert images.vllm_options(started)["served-model-name"] == ["google/gemma-3-27b-it"]


def test_the_image_cmd_alone_is_a_shell_that_exits():
    assert images.start_failure({"image": TPU}) is None  # bash starts ...
    assert images.vllm_options({"image": TPU}) is None  # ... but serves nothing
    assert images.describe_exit({"image": TPU})[0] == "Completed"


def test_vllm_forms_and_options():
    options = images.vllm_options({"image": TPU, "command": SERVER, "args": [
        "--model=/data/model", "--served-model-name", "m", "--middleware=a.B", "--middleware", "c.D", "--enforce-eager"]})
    assert options["served-model-name"] == ["m"] and options["middleware"] == ["a.B", "c.D"]
    assert options["enforce-eager"] == ["true"]
    serve = images.vllm_options({"image": TPU, "command": ["vllm", "serve", "google/gemma-3-27b-it", "--port=8000"]})
    assert serve["served-model-name"] == ["google/gemma-3-27b-it"]  # vLLM's default: the model's name
    shell = images.vllm_options({"image": TPU, "command": ["/bin/sh", "-c"], "args": [
        "python3 -m vllm.entrypoints.openai.api_server \\\n  --model=/data/model \\\n  --served-model-name=m"]})
    assert shell["served-model-name"] == ["m"]  # the codelab's form
    assert images.vllm_options({"image": TPU, "command": ["python3", "-c", "print(1)"]}) is None


def test_an_image_not_in_the_catalogue_never_passes():
    reason, message = images.start_failure({"image": "vllm/vllm-tpu:latest", "command": SERVER})
    assert reason == "ErrImagePull" and "not in the emulator's image catalogue" in message
    assert images.vllm_options({"image": "busybox:1", "command": SERVER}) is None


def test_every_catalogue_entry_names_its_source():
    for image, (entrypoint, cmd, source) in images.CATALOGUE.items():
        assert ":" in image and not image.endswith(":latest")
        assert isinstance(entrypoint, list) and isinstance(cmd, list) and len(source) > 40
