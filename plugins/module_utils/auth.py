# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Credentials: which kind of authentication applies, and the google-auth credentials for it.

Honours the names users already set for google.cloud and AWX: ``GCP_AUTH_KIND``,
``GCP_SERVICE_ACCOUNT_FILE`` / ``GCE_CREDENTIALS_FILE_PATH`` (AWX), ``GCP_SERVICE_ACCOUNT_CONTENTS``,
``GCP_ACCESS_TOKEN``, ``GCP_SCOPES``; with nothing set, Application Default Credentials.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os

from ansible_collections.gke_inference.multicluster.plugins.module_utils.turbo import private_folder

AUTH_KINDS = ("application", "serviceaccount", "accesstoken", "machineaccount")
DEFAULT_SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)


class CredentialsError(Exception):
    """A problem with the credentials the user gave, phrased as what to fix."""


def select_auth_kind(params):
    """The auth kind: the explicit ``auth_kind``, else inferred from what was given, else ADC."""
    kind = params.get("auth_kind")
    if kind:
        if kind not in AUTH_KINDS:
            raise CredentialsError("auth_kind: '%s' is not one of %s." % (kind, ", ".join(AUTH_KINDS)))
        return kind
    if params.get("access_token"):
        return "accesstoken"
    if params.get("service_account_contents") or params.get("service_account_file"):
        return "serviceaccount"
    return "application"


def _service_account_info(params):
    contents = params.get("service_account_contents")
    if contents:
        if isinstance(contents, dict):
            return contents, "service_account_contents"
        try:
            return json.loads(contents), "service_account_contents"
        except ValueError:
            raise CredentialsError("service_account_contents: not valid JSON. Give the whole JSON key of the "
                                   "service account (or use service_account_file).")
    path = params.get("service_account_file")
    if not path:
        raise CredentialsError("auth_kind is serviceaccount but neither service_account_file nor "
                               "service_account_contents is set (or GCP_SERVICE_ACCOUNT_FILE / "
                               "GCP_SERVICE_ACCOUNT_CONTENTS in the environment).")
    path = os.path.expanduser(path)
    if not os.path.exists(path):
        raise CredentialsError("service_account_file: %s does not exist. Point it (or GCP_SERVICE_ACCOUNT_FILE) "
                               "at the JSON key of the service account." % path)
    try:
        with open(path) as handle:
            return json.load(handle), "service_account_file %s" % path
    except (IOError, OSError) as exc:
        raise CredentialsError("service_account_file: %s cannot be read (%s). Check its permissions for the "
                               "user running Ansible." % (path, exc.strerror or exc))
    except ValueError:
        raise CredentialsError("service_account_file: %s is not a JSON service-account key." % path)


def _checked_signer(info):
    """The signer of a service-account key, or None: then google-auth makes it as usual.

    cryptography checks an RSA key's consistency each time it loads one, about 50 ms of CPU in every module call
    (twice the rest of a no-op call's work in the module host). Once a key has passed that check, a file named
    after the SHA-256 of its exact bytes is left in a folder only this user can enter (``private_folder``); a key
    with the same bytes is loaded without the check again (cryptography's ``unsafe_skip_rsa_key_validation``,
    which is meant for keys known to be valid). The key itself is never written anywhere."""
    from google.oauth2 import service_account

    pem = info.get("private_key")
    if not isinstance(pem, str) or not info.get("client_email") or not info.get("token_uri") \
            or not hasattr(service_account.Credentials, "_from_signer_and_info"):
        return None  # google-auth's own path, with its own errors
    try:
        from cryptography.hazmat.primitives import serialization
        from google.auth import crypt
    except ImportError:
        return None
    data = pem.encode("utf-8")
    try:
        folder = private_folder("checked-keys")
    except OSError:
        folder = None
    if folder is None:
        return None
    marker = os.path.join(folder, hashlib.sha256(data).hexdigest())
    if os.path.exists(marker):
        try:
            key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        except TypeError:  # cryptography before 39
            return None
    else:
        key = serialization.load_pem_private_key(data, password=None)  # the full check; ValueError when damaged
        try:
            with open(marker, "a"):
                pass
        except OSError:
            pass
    return crypt.RSASigner(key, key_id=info.get("private_key_id"))


def keep_on_endpoint(credentials):
    """Stop google-auth's background Regional Access Boundary lookup (a call to
    iamcredentials.googleapis.com) for credentials used against an ``api_endpoint`` override, so
    that every request goes to that endpoint only (the emulator in tests, a private endpoint).

    The lookup is put in a cooldown that outlives the run; client libraries copy this state into
    the credentials they derive. Older google-auth versions have no such lookup: nothing to do.
    """
    manager = getattr(credentials, "_rab_manager", None)
    data = getattr(manager, "_data", None)
    if data is not None and hasattr(data, "_replace"):
        import datetime

        manager._data = data._replace(cooldown_expiry=datetime.datetime.utcnow() + datetime.timedelta(days=365))
    return credentials


def get_credentials(params):
    """google-auth credentials for ``params`` (a module's parameters after environment fallbacks).

    Returns ``(credentials, project_from_credentials)``.
    """
    scopes = list(params.get("scopes") or DEFAULT_SCOPES)
    kind = select_auth_kind(params)
    if kind == "accesstoken":
        from google.oauth2 import credentials as oauth2_credentials

        token = params.get("access_token")
        if not token:
            raise CredentialsError("auth_kind is accesstoken but access_token (or GCP_ACCESS_TOKEN) is not set.")
        return oauth2_credentials.Credentials(token=token), None
    if kind == "serviceaccount":
        from google.oauth2 import service_account

        info, source = _service_account_info(params)
        if info.get("type") != "service_account":
            raise CredentialsError("%s: this is not a service-account key (type is '%s'). For user credentials use "
                                   "auth_kind application." % (source, info.get("type")))
        try:
            signer = _checked_signer(info)
            if signer is not None:
                creds = service_account.Credentials._from_signer_and_info(signer, info, scopes=scopes)
            else:
                creds = service_account.Credentials.from_service_account_info(info, scopes=scopes)
        except (ValueError, KeyError) as exc:
            raise CredentialsError("%s: the key is incomplete or damaged (%s)." % (source, exc))
        return creds, info.get("project_id")
    if kind == "machineaccount":
        from google.auth import compute_engine

        return compute_engine.Credentials(service_account_email=params.get("service_account_email") or "default"), None
    import google.auth
    from google.auth import exceptions as auth_exceptions

    try:
        return google.auth.default(scopes=scopes)
    except auth_exceptions.DefaultCredentialsError as exc:
        raise CredentialsError("No credentials found (Application Default Credentials: %s). Run "
                               "'gcloud auth application-default login', or set auth_kind with "
                               "service_account_file / access_token." % exc)
