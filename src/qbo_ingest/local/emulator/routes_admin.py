"""The local `/admin/` API: ground truth, counters, faults, record edits, tokens (tests and demos)."""

from __future__ import annotations

from datetime import datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qbo_ingest.local.emulator import responses as R
from qbo_ingest.local.emulator.gateway import Gateway


class AdminRoutes(Gateway):
    def routes(self) -> list[Route]:
        return [
            Route("/admin/truth", self.admin_truth, methods=["GET"]),
            Route("/admin/prerender", self.admin_prerender, methods=["POST"]),
            Route("/admin/counters", self.admin_counters, methods=["GET"]),
            Route("/admin/faults", self.admin_faults, methods=["GET", "POST", "DELETE"]),
            Route("/admin/reset-counters", self.admin_reset, methods=["POST"]),
            Route("/admin/refresh-token", self.admin_refresh_token, methods=["GET"]),
            Route("/admin/revoke-access-tokens", self.admin_revoke_access, methods=["POST"]),
            Route("/admin/{action}", self.admin_mutate, methods=["POST"]),
        ]

    async def admin_truth(self, request: Request) -> Response:
        qp = request.query_params
        try:
            start = datetime.fromisoformat(qp["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(qp["end"].replace("Z", "+00:00"))
            entity = qp["entity"]
            truth = await run_in_threadpool(self.emu.truth, entity, start, end)
        except (KeyError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        records = {k: v.isoformat() for k, v in sorted(truth.items(), key=lambda kv: int(kv[0]))}
        return R.json_response({"entity": entity, "count": len(records), "records": records})

    async def admin_prerender(self, request: Request) -> Response:
        qp = request.query_params
        try:
            start = datetime.fromisoformat(qp["start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(qp["end"].replace("Z", "+00:00"))
            n = await run_in_threadpool(self.emu.prerender, qp["entity"], start, end)
        except (KeyError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        return R.json_response({"entity": qp["entity"], "rendered": n})

    async def admin_counters(self, request: Request) -> Response:
        return R.json_response(self.emu.counters())

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return R.json_response(self.emu.faults.list())
        if request.method == "DELETE":
            self.emu.faults.clear()
            return R.json_response({"cleared": True})
        try:
            spec = await request.json()
            kind = spec.pop("kind")
            f = self.emu.faults.add(kind, **spec)
        except (KeyError, TypeError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        return R.json_response(f.to_dict(), 201)

    async def admin_reset(self, request: Request) -> Response:
        self.emu.reset_counters()
        return R.json_response(self.emu.counters())

    async def admin_refresh_token(self, request: Request) -> Response:
        return R.json_response({"refresh_token": self.emu.issue_refresh_token(), "realm_id": self.cfg.realm_id})

    async def admin_mutate(self, request: Request) -> Response:
        try:
            spec = await request.json()
            action = request.path_params["action"]
            at = datetime.fromisoformat(spec["at"].replace("Z", "+00:00")) if spec.get("at") else None
            if action == "update":
                when = self.emu.update_record(spec["entity"], spec["id"], at)
            elif action == "delete":
                when = self.emu.delete_record(spec["entity"], spec["id"], at)
            elif action == "update-many":  # bulk edits to one time: e.g. 2500 records in one second
                for rid in spec["ids"]:
                    when = self.emu.update_record(spec["entity"], rid, at)
                return R.json_response({"ok": True, "updated": len(spec["ids"])})
            elif action == "patch":
                self.emu.patch_record(spec["entity"], spec["id"], dict(spec["fields"]))
                return R.json_response({"ok": True})
            elif action == "mutate-between-pages":
                self.emu.mutate_between_pages(spec["entity"], int(spec["n"]), at=at,
                                              after=int(spec.get("after", 1)))
                return R.json_response({"ok": True})
            else:
                return R.json_response({"error": f"unknown action {action}"}, 404)
        except (KeyError, TypeError, ValueError) as exc:
            return R.json_response({"error": str(exc)}, 400)
        return R.json_response({"ok": True, "at": when.isoformat()})

    async def admin_revoke_access(self, request: Request) -> Response:
        self.emu.revoke_all_access_tokens()
        return R.json_response({"ok": True})
