"""Cloud Quotas v1: the quota infos of compute.googleapis.com that Compute Engine's regional quotas do not carry
(TPU v6e chips, on-demand H100 GPUs).
"""


from .compute import REGIONS
from .core import ApiError, handler


# Compute Engine quotas that are not among compute v1's regional Quota.metric values, as Cloud Quotas reports
# them: {quota id: (dimensions, DimensionsInfos of the emulated project, most specific first)}. Per Google's
# DimensionsInfo reference (google-cloud-quotas, cloudquotas_v1/types/resources.py), an info applies to the
# dimension values it names and, for a dimension it does not name, to every value no other info names.
# The quota ids and the tpu_family/gpu_family values are read from public projects that query the Cloud
# Quotas API (not from Google's documentation, which names the console's "TPUs per TPU family" and "GPUs per
# GPU family" only): unverified, as the README says. The emulated project has been granted some accelerator
# quota (a new project has none); a test plants other values with /_emulator/config {"cloud_quotas": ...}.
CLOUD_QUOTAS = {
    "TPUS-PER-TPU-FAMILY-per-project-region": (["region", "tpu_family"], [
        {"dimensions": {"tpu_family": "CT6E"}, "value": 32}, {"dimensions": {}, "value": 0}]),
    "PREEMPTIBLE-TPU-V6E-per-project-region": (["region"], [{"dimensions": {}, "value": 64}]),
    "GPUS-PER-GPU-FAMILY-per-project-region": (["region", "gpu_family"], [
        {"dimensions": {"gpu_family": "NVIDIA_H100"}, "value": 16}, {"dimensions": {}, "value": 0}]),
}


@handler("cloudquotas.projects.locations.services.quotaInfos.get")
def quota_info_get(ctx):
    service, quota_id, location = ctx.param("servicesId"), ctx.param("quotaInfosId"), ctx.param("locationsId")
    project = ctx.project()
    if location != "global":
        raise ApiError(400, "The location of a QuotaInfo must be global, not %s." % location, status="INVALID_ARGUMENT")
    if service != "compute.googleapis.com" or quota_id not in CLOUD_QUOTAS:
        raise ApiError(404, "QuotaInfo %s of service %s was not found." % (quota_id, service), status="NOT_FOUND")
    dimensions, defaults = CLOUD_QUOTAS[quota_id]
    infos = []
    for info in list(ctx.emu.cloud_quotas.get(quota_id, [])) + defaults:
        unknown = sorted(set(info["dimensions"]) - set(dimensions))
        if unknown:  # a test naming a dimension this quota does not have
            raise ApiError(500, "emulator: %s has no dimension %s" % (quota_id, ", ".join(unknown)))
        region = info["dimensions"].get("region")
        infos.append({"dimensions": dict(info["dimensions"]), "details": {"value": str(int(info["value"]))},
                      "applicableLocations": [region] if region else sorted(REGIONS)})
    return 200, {
        "name": "projects/%s/locations/global/services/%s/quotaInfos/%s" % (project["number"], service, quota_id),
        "quotaId": quota_id,
        "service": service, "isPrecise": True, "containerType": "PROJECT", "dimensions": dimensions,
        "quotaIncreaseEligibility": {"isEligible": True}, "dimensionsInfos": infos}
