"""IAM v1, a project's service accounts (create, get, patch, delete), and the rules every IAM policy of the
emulator is checked against: principals and roles of the right form, service accounts and service agents that
exist.
"""

import hashlib
import re

from .core import ApiError, handler


MEMBER_RE = re.compile(
    r"^(user|serviceAccount|group|domain|deleted:user|deleted:serviceAccount|deleted:group):.+$"
    r"|^principal(Set)?://iam\.googleapis\.com/.+$|^(allUsers|allAuthenticatedUsers)$"
    r"|^(projectOwner|projectEditor|projectViewer):.+$"
)


ROLE_RE = re.compile(r"^(roles/[A-Za-z0-9_.]+|projects/[^/]+/roles/[A-Za-z0-9_.]+|organizations/\d+/roles/[A-Za-z0-9_.]+)$")


# A Google-managed service agent, service-PROJECT_NUMBER@gcp-sa-SERVICE.iam.gserviceaccount.com
# (https://cloud.google.com/iam/docs/service-agents). It exists once Service Usage generated its identity
# (v1beta1 services.generateServiceIdentity); the emulator does not create it when the API is enabled,
# which Google does at some point afterwards, with no promise of when. IAM refuses a policy naming a service
# account that does not exist ("Service account ... does not exist", HTTP 400, as issue threads of
# GoogleCloudPlatform/generative-ai #944 and hashicorp/terraform-provider-google #9969 show it).
AGENT_RE = re.compile(r"^serviceAccount:(service-(\d+)@gcp-sa-[a-z0-9-]+\.iam\.gserviceaccount\.com)$")


# A user-managed service account, ACCOUNT@PROJECT.iam.gserviceaccount.com: it exists once IAM created it
# (projects.serviceAccounts.create); a policy naming one that does not exist is refused the same way.
USER_SA_RE = re.compile(r"^serviceAccount:([^@\s]+@([^.@\s]+)\.iam\.gserviceaccount\.com)$")


# A Kubernetes service account as IAM names it, through the project's Workload Identity pool PROJECT.svc.id.goog:
# serviceAccount:POOL[NAMESPACE/KSA], or principal(Set)://iam.googleapis.com/projects/NUMBER/locations/global/
# workloadIdentityPools/POOL/... GKE creates the pool with the project's first cluster that has Workload Identity;
# until then IAM refuses a policy naming it: "Identity Pool does not exist (PROJECT.svc.id.goog). Please check
# that you specified a valid resource name as returned in the `name` attribute in the configuration API." (HTTP
# 400; issue threads terraform-google-modules/terraform-google-kubernetes-engine #916, google/kctf #193,
# konstructio/kubefirst #1760, all with the serviceAccount: form; that the principal:// form is refused the same
# way is assumed, not verified). The emulator takes the pool as existing once a cluster's creation with it is done
# (the threads' fix is to create the binding after the cluster), and keeps it after the cluster is deleted.
WORKLOAD_POOL_RE = re.compile(r"^serviceAccount:([a-z0-9.-]+\.svc\.id\.goog)\[[^\]]+\]$"
                              r"|^principal(?:Set)?://iam\.googleapis\.com/projects/[^/]+/locations/global/"
                              r"workloadIdentityPools/([a-z0-9.-]+\.svc\.id\.goog)/.+$")


def workload_pool_exists(emu, pool):
    """Whether the Workload Identity pool PROJECT.svc.id.goog exists (pools of unknown projects are taken on trust)."""
    project = emu.projects.get(pool[:-len(".svc.id.goog")])
    return project is None or pool in project.get("workload_pools", ())


def service_account_exists(emu, email):
    """Whether a service account of an emulated project exists (accounts of unknown projects are taken on
    trust; the Compute Engine default account ``NUMBER-compute@developer...`` always exists, and so does the
    account of a key the emulator issued)."""
    match = USER_SA_RE.match("serviceAccount:" + email)
    if match and match.group(2) in emu.projects and email not in emu.keys:
        return email in emu.projects[match.group(2)].get("service_accounts", {})
    return True


def check_policy(policy, emu=None):
    agents = set()
    if emu is not None:
        for project in emu.projects.values():
            agents |= project.get("agents", set())
    for binding in policy.get("bindings", []):
        if not ROLE_RE.match(binding.get("role", "")):
            raise ApiError(400, "Role %s is not supported for this resource." % binding.get("role"))
        for member in binding.get("members", []):
            if not MEMBER_RE.match(member):
                raise ApiError(400, "Invalid principal (member) '%s' in the policy binding." % member)
            agent = AGENT_RE.match(member)
            if emu is not None and agent and agent.group(1) not in agents:
                raise ApiError(400, "Service account %s does not exist." % agent.group(1))
            if emu is not None and member.startswith("serviceAccount:") and \
                    not service_account_exists(emu, member.split(":", 1)[1]):
                raise ApiError(400, "Service account %s does not exist." % member.split(":", 1)[1])
            pool = WORKLOAD_POOL_RE.match(member)
            if emu is not None and pool and not workload_pool_exists(emu, pool.group(1) or pool.group(2)):
                raise ApiError(400, "Identity Pool does not exist (%s). Please check that you specified a valid resource "
                                    "name as returned in the `name` attribute in the configuration API."
                               % (pool.group(1) or pool.group(2)))


# -- IAM v1: service accounts -----------------------------------------------------------------
# accountId: 6-30 characters, [a-z]([-a-z0-9]*[a-z0-9]) (CreateServiceAccountRequest in iam.v1.json);
# only displayName and description are user-assignable (the same document).
ACCOUNT_ID_RE = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])$")


def _account(ctx):
    """The service account named by the path: an email or a unique id, in a project or in ``-``."""
    ref = ctx.param("serviceAccountsId")
    for project in ctx.emu.projects.values():
        for email, account in project.get("service_accounts", {}).items():
            if ref in (email, account["uniqueId"]):
                return project, email, account
    raise ApiError(404, "Unknown service account", status="NOT_FOUND")


@handler("iam.projects.serviceAccounts.create")
def service_account_create(ctx):
    project = ctx.emu.project(ctx.param("projectsId"))
    account_id = ctx.body.get("accountId", "")
    if not (6 <= len(account_id) <= 30 and ACCOUNT_ID_RE.match(account_id)):
        raise ApiError(400, "Invalid account id: %s. It must be 6-30 characters long and match "
                            "[a-z]([-a-z0-9]*[a-z0-9])." % account_id, status="INVALID_ARGUMENT")
    email = "%s@%s.iam.gserviceaccount.com" % (account_id, project["projectId"])
    accounts = project.setdefault("service_accounts", {})
    if email in accounts:
        raise ApiError(409, "Service account %s already exists within project projects/%s."
                       % (account_id, project["projectId"]), status="ALREADY_EXISTS")
    given = ctx.body.get("serviceAccount") or {}
    unique = str(int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10 ** 21)
    accounts[email] = {"name": "projects/%s/serviceAccounts/%s" % (project["projectId"], email),
                       "projectId": project["projectId"], "uniqueId": unique, "email": email,
                       "displayName": given.get("displayName", ""), "description": given.get("description", ""),
                       "etag": "MDEwMjE5MjA=", "oauth2ClientId": unique}
    return 200, accounts[email]


@handler("iam.projects.serviceAccounts.get")
def service_account_get(ctx):
    return 200, _account(ctx)[2]


@handler("iam.projects.serviceAccounts.patch")
def service_account_patch(ctx):
    account = _account(ctx)[2]
    mask = [f.strip() for f in (ctx.body.get("updateMask") or "").split(",") if f.strip()]
    unknown = [f for f in mask if f not in ("displayName", "description", "display_name")]
    if not mask or unknown:
        raise ApiError(400, "updateMask must name displayName and/or description%s."
                       % (" (not %s)" % ", ".join(unknown) if unknown else ""), status="INVALID_ARGUMENT")
    given = ctx.body.get("serviceAccount") or {}
    for field in mask:
        field = "displayName" if field == "display_name" else field
        account[field] = given.get(field, "")
    return 200, account


@handler("iam.projects.serviceAccounts.delete")
def service_account_delete(ctx):
    project, email, _account_ = _account(ctx)
    del project["service_accounts"][email]
    return 200, {}
