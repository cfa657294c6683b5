# Copyright: gke_inference.multicluster contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Names the region that served a response, for the failover drill and the spill-over test.

vLLM loads it with ``--middleware=gke_region_header.RegionHeader`` (an ASGI middleware class, added with
Starlette's ``add_middleware``). The workload role mounts this file from a ConfigMap, puts its folder on
``PYTHONPATH`` and sets ``GKE_SERVED_REGION`` (the cluster's region) and ``GKE_REGION_HEADER`` (the header
name). Every HTTP response then carries ``<header>: <region>``; the gateway passes it through to the client.
Pure ASGI (no Starlette import, no buffering), so streamed responses stay streamed.
"""

import os


class RegionHeader:
    def __init__(self, app):
        self.app = app
        self.name = os.environ.get("GKE_REGION_HEADER", "x-served-region").strip().lower().encode("latin-1")
        self.value = os.environ.get("GKE_SERVED_REGION", "").strip().encode("latin-1")

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "http" or not self.name or not self.value:
            await self.app(scope, receive, send)
            return

        async def send_with_region(message):
            if message.get("type") == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers") or [] if bytes(k).lower() != self.name]
                headers.append((self.name, self.value))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_with_region)
