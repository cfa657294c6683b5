# -*- coding: utf-8 -*-
# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ModuleDocFragment(object):
    DOCUMENTATION = r"""
options:
  project:
    description:
      - The Google Cloud project id.
      - If not set, the value of E(GCP_PROJECT), E(GCE_PROJECT) or E(GOOGLE_CLOUD_PROJECT) is used.
    type: str
  auth_kind:
    description:
      - How to authenticate.
      - V(application) uses Application Default Credentials, V(serviceaccount) a service-account key
        (O(service_account_file) or O(service_account_contents)), V(accesstoken) an OAuth access token
        (O(access_token)), V(machineaccount) the metadata server of the machine running Ansible.
      - If not set, E(GCP_AUTH_KIND) is used; failing that it is inferred from the credentials given,
        and Application Default Credentials are used when none are given.
    type: str
    choices: [application, serviceaccount, accesstoken, machineaccount]
  service_account_file:
    description:
      - Path to a service-account JSON key.
      - If not set, E(GCP_SERVICE_ACCOUNT_FILE) or E(GCE_CREDENTIALS_FILE_PATH) (set by AWX's Google
        Compute Engine credential) is used.
    type: path
  service_account_contents:
    description:
      - The service-account JSON key itself (a string or a dict). Never logged.
      - If not set, E(GCP_SERVICE_ACCOUNT_CONTENTS) is used.
    type: jsonarg
  service_account_email:
    description:
      - The service account of the metadata server, with O(auth_kind=machineaccount).
      - If not set, E(GCP_SERVICE_ACCOUNT_EMAIL) is used, then the machine's default service account.
    type: str
  access_token:
    description:
      - An OAuth 2.0 access token, with O(auth_kind=accesstoken). Never logged.
      - If not set, E(GCP_ACCESS_TOKEN) is used.
    type: str
  scopes:
    description:
      - OAuth scopes. Defaults to V(https://www.googleapis.com/auth/cloud-platform).
      - If not set, E(GCP_SCOPES) (comma separated) is used.
    type: list
    elements: str
  api_endpoint:
    description:
      - Send every API request to this base URL instead of Google's endpoints, for example
        V(http://127.0.0.1:8089) for the collection's local emulator. Include the scheme.
      - If not set, E(GKE_INFERENCE_API_ENDPOINT) is used.
    type: str
  operation_poll_max:
    description:
      - The longest wait, in seconds, between two looks at a long-running operation. The wait grows with
        the time waited so far (an eighth of it, from 0.25 s), up to this, so a finished operation is seen
        at most this much (and at most an eighth of its duration) late.
      - The collection's inventories set it with C(gcp_operation_poll_max); the local emulator's uses 1,
        since its operations take seconds, not minutes.
    type: float
    default: 10
requirements:
  - python >= 3.9
  - google-auth
  - google-api-core
notes:
  - All modules of the collection are in the action group C(gke_inference.multicluster.gcp), so
    C(module_defaults) can set the project, credentials and endpoint once for a play.
  - Calls are retried on HTTP 429, 503, 504 and "operation in progress" errors with exponential
    backoff for up to 5 minutes.
"""

    ATTRIBUTES = r"""
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  platform:
    description: Target OS/families that can be operated against.
    support: full
    platforms: posix
"""

    OPERATION = r"""
options:
  timeout:
    description:
      - Seconds to wait for the long-running operation of a change before failing. The operation
        itself goes on at Google; re-running the task picks it up.
    type: int
    default: 900
"""
