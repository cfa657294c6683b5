# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kubernetes credentials that outlive a run: a kubeconfig ``exec`` entry and the helper it runs.

GKE's own plugin (``gke-gcloud-auth-plugin``, kubernetes/cloud-provider-gcp cmd/gke-gcloud-auth-plugin)
prints an ExecCredential (``client.authentication.k8s.io/v1beta1``) with an OAuth access token and its
``expirationTimestamp``; the Kubernetes clients run it again when the token has expired. This helper does
the same from google-auth, without gcloud: ``gke_kubeconfig`` writes it beside the kubeconfig and names it
in the kubeconfig's ``exec`` entry, with the interpreter that runs the collection's modules. The token is
cached (mode 0600, beside the kubeconfig) while it has more than a few minutes left. The entry holds no
secret: only the auth kind, a key file's path or a service account's email.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import sys
import tempfile

EXEC_API = "client.authentication.k8s.io/v1beta1"
# auth kinds whose credentials the helper can refresh on its own (from a file, ADC or the metadata server)
REFRESHABLE = ("serviceaccount", "application", "machineaccount")

HELPER = r'''"""Prints an ExecCredential for a GKE cluster (written by gke_inference.multicluster.gke_kubeconfig)."""
import datetime
import json
import os
import sys
import tempfile
import time

SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]


def emit(token, expiry):
    stamp = datetime.datetime.fromtimestamp(expiry, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stdout.write(json.dumps({"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                                 "status": {"token": token, "expirationTimestamp": stamp}}))


def main():
    cache = sys.argv[1]
    try:
        with open(cache) as handle:
            cached = json.load(handle)
        if cached["expiry"] - time.time() > min(300, cached.get("lifetime", 3600) / 2.0):
            return emit(cached["token"], cached["expiry"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    from google.auth.transport.requests import Request
    kind = os.environ.get("GKE_INFERENCE_AUTH_KIND", "application")
    if kind == "serviceaccount":
        from google.oauth2 import service_account
        credentials = service_account.Credentials.from_service_account_file(
            os.environ["GKE_INFERENCE_SERVICE_ACCOUNT_FILE"], scopes=SCOPES)
    elif kind == "machineaccount":
        from google.auth import compute_engine
        credentials = compute_engine.Credentials(
            service_account_email=os.environ.get("GKE_INFERENCE_SERVICE_ACCOUNT_EMAIL") or "default")
    else:
        import google.auth
        credentials = google.auth.default(scopes=SCOPES)[0]
    if os.environ.get("GKE_INFERENCE_KEEP_ON_ENDPOINT"):  # an api_endpoint override: no lookup elsewhere
        manager = getattr(credentials, "_rab_manager", None)
        data = getattr(manager, "_data", None)
        if data is not None and hasattr(data, "_replace"):
            manager._data = data._replace(
                cooldown_expiry=datetime.datetime.utcnow() + datetime.timedelta(days=365))
    credentials.refresh(Request())
    now = time.time()
    expiry = credentials.expiry.replace(tzinfo=datetime.timezone.utc).timestamp() if credentials.expiry else now + 3000
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(cache)), prefix=".token-")
    with os.fdopen(handle, "w") as out:
        json.dump({"token": credentials.token, "expiry": expiry, "lifetime": expiry - now}, out)
    os.chmod(temp, 0o600)
    os.rename(temp, cache)
    emit(credentials.token, expiry)


if __name__ == "__main__":
    main()
'''


def write_file(path, text, mode):
    """Write ``text`` (str or bytes) to ``path`` with ``mode`` at once (a temporary file renamed over it): a reader
    never sees half a file, nor the file with a looser mode."""
    handle, temp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(handle, "wb" if isinstance(text, bytes) else "w") as out:
        out.write(text)
    os.chmod(temp, mode)
    os.rename(temp, path)


def exec_user(kubeconfig_path, kind, params, keep_on_endpoint):
    """The kubeconfig ``user`` entry that runs the helper (written beside ``kubeconfig_path``)."""
    directory = os.path.dirname(os.path.abspath(kubeconfig_path))
    helper = os.path.join(directory, ".gke-inference-auth.py")
    write_file(helper, HELPER, 0o700)
    cache = os.path.abspath(kubeconfig_path) + ".token"
    try:
        os.remove(cache)  # a token of earlier credentials must not outlive a change of them
    except OSError:
        pass
    env = [{"name": "GKE_INFERENCE_AUTH_KIND", "value": kind}]
    if kind == "serviceaccount":
        env.append({"name": "GKE_INFERENCE_SERVICE_ACCOUNT_FILE",
                    "value": os.path.abspath(os.path.expanduser(params["service_account_file"]))})
    if kind == "machineaccount" and params.get("service_account_email"):
        env.append({"name": "GKE_INFERENCE_SERVICE_ACCOUNT_EMAIL", "value": params["service_account_email"]})
    if keep_on_endpoint:
        env.append({"name": "GKE_INFERENCE_KEEP_ON_ENDPOINT", "value": "1"})
    return {"exec": {"apiVersion": EXEC_API, "command": sys.executable, "args": [helper, cache], "env": env,
                     "interactiveMode": "Never", "provideClusterInfo": False}}
