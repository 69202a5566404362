"""The QBO data API: query (GET and POST), read by Id, CDC, batch, CompanyInfo, Preferences and reports."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from qbo_ingest.local.emulator import responses as R
from qbo_ingest.local.emulator.capabilities import SCHEMA
from qbo_ingest.local.emulator.gateway import Gateway
from qbo_ingest.local.emulator.predicates import filter_objects
from qbo_ingest.local.emulator.query import Query, QueryError, parse_instant
from qbo_ingest.local.emulator.records import Rec
from qbo_ingest.local.emulator.reports import ReportError
from qbo_ingest.local.emulator.timefmt import pacific

CDC_MAX = 1000
CDC_DAYS = 30
BATCH_MAX = 30


def project(obj: dict[str, Any], fields: tuple[str, ...]) -> dict[str, Any]:
    """A select list's view of one object: the named properties that have values (a nested path keeps its
    parent), with `sparse: true` since not every property is present (Intuit's data-queries page)."""
    out: dict[str, Any] = {}
    for f in fields:
        head, _, tail = f.partition(".")
        if head not in obj:
            continue
        if not tail:
            out[head] = obj[head]
        elif isinstance(obj[head], dict) and tail in obj[head]:
            out.setdefault(head, {})[tail] = obj[head][tail]
    out["domain"] = obj.get("domain", "QBO")
    out["sparse"] = True
    return out


def _enhanced(request: Request) -> bool:
    """`include=enhancedAllCustomFields`: every custom field, not only the 3 legacy string ones (Intuit's
    custom-fields get-started page)."""
    return "enhancedAllCustomFields" in request.query_params.get("include", "").split(",")


class ApiRoutes(Gateway):
    def routes(self) -> list[Route]:
        return [
            Route("/v3/company/{realm}/query", self.query, methods=["GET", "POST"]),
            Route("/v3/company/{realm}/cdc", self.cdc, methods=["GET"]),
            Route("/v3/company/{realm}/batch", self.batch, methods=["POST"]),
            Route("/v3/company/{realm}/companyinfo/{id}", self.companyinfo, methods=["GET"]),
            Route("/v3/company/{realm}/preferences", self.preferences, methods=["GET"]),
            Route("/v3/company/{realm}/reports/{name}", self.report, methods=["GET"]),
            Route("/v3/company/{realm}/{entity}/{id}", self.read, methods=["GET"]),
        ]

    def run_query(self, q: Query, enhanced: bool = False) -> dict[str, Any] | bytes:
        if not SCHEMA.caps[q.entity].generated:  # a fixed set: CompanyInfo, Preferences, ExchangeRate, ...
            found = filter_objects(self.emu.builder.static(q.entity), q)
            if q.count:
                return {"QueryResponse": {"totalCount": len(found)}, "time": self.now_str()}
            rows = found[q.start - 1: q.start - 1 + q.max_results]
            if q.fields is not None:
                rows = [project(o, q.fields) for o in rows]
            qr: dict[str, Any] = ({SCHEMA.caps[q.entity].key: rows, "startPosition": q.start,
                                   "maxResults": len(rows)}
                                  if rows else {})
            return {"QueryResponse": qr, "time": self.now_str()}
        # A page needs only its first records - unless edits are scheduled after this page: they pick
        # their records from the whole result (Emulator.after_page).
        need = None if q.count or self.emu.mutations_pending(q.entity) else q.start - 1 + q.max_results
        result = self.emu.store.select(q, need=need)
        if q.count:
            return {"QueryResponse": {"totalCount": len(result)}, "time": self.now_str()}
        page = result[q.start - 1: q.start - 1 + q.max_results]
        if not page:
            return {"QueryResponse": {}, "time": self.now_str()}
        if q.fields is None:
            objs = self.emu.builder.page_json(q.entity, page, enhanced)  # serialized directly: the hot path
        else:
            objs = R.dumps([project(self.emu.builder.build(q.entity, r, enhanced), q.fields) for r in page]).decode()
        self.emu.after_page(q.entity, result)
        return (f'{{"QueryResponse":{{"{SCHEMA.caps[q.entity].key}":{objs},"startPosition":{q.start},'
                f'"maxResults":{len(page)}}},'
                f'"time":"{self.now_str()}"}}').encode()

    def query_kind(self, text: str) -> tuple[str, Query | QueryError]:
        try:
            q = self.emu.parse(text)
        except QueryError as exc:
            return "query", exc
        if q.entity == "CompanyInfo":
            return "companyinfo", q
        return ("count" if q.count else "query"), q

    def query_error(self, exc: QueryError) -> Response:
        return R.validation(exc.message, exc.detail, exc.code, self.now_str())

    async def query(self, request: Request) -> Response:
        if request.method == "POST":
            text = (await request.body()).decode("utf-8", "replace")
        else:
            text = request.query_params.get("query", "")
        kind, parsed = self.query_kind(text)

        def work() -> tuple[Any, int]:
            if isinstance(parsed, QueryError):
                return self.query_error(parsed), 400
            return self.run_query(parsed, _enhanced(request)), 200

        return await self.guarded(request, kind, request.path_params["realm"], work)


    def run_cdc(self, entities: list[str], since_text: str) -> tuple[Any, int]:
        if not entities or not since_text:
            return R.validation("Invalid request", "entities and changedSince are required", "4001",
                                self.now_str()), 400
        try:
            since = parse_instant(since_text)
        except QueryError as exc:
            return self.query_error(exc), 400
        now = self.emu.now_ts()
        if since < now - CDC_DAYS * 86400:
            return R.validation("Invalid changedSince", f"changedSince {since_text} is more than {CDC_DAYS} "
                                "days in the past. CDC looks back at most 30 days", "4001", self.now_str()), 400
        for name in entities:
            ent = SCHEMA.get(name)
            if ent is None:
                return R.validation("Invalid entity", f"Entity '{name}' is not supported for CDC", "4001",
                                    self.now_str()), 400
            if not ent.cdc:
                return R.validation("Invalid entity", f"CDC is not supported for {name}", "4001",
                                    self.now_str()), 400
        changed: list[tuple[float, int, int, str, Rec]] = []
        for i, name in enumerate(entities):
            changed.extend((r.changed, i, r.id, name, r) for r in self.emu.store.changes(name, since, now))
        changed.sort(key=lambda t: t[:3])
        changed = changed[:CDC_MAX]
        groups: list[dict[str, Any]] = []
        for i, name in enumerate(entities):
            mine = [t[4] for t in changed if t[1] == i]
            objs = [
                {"Id": str(r.id), "status": "Deleted", "MetaData": {"LastUpdatedTime": pacific(r.deleted)}}
                if r.deleted is not None else self.emu.builder.build(name, r)
                for r in mine
            ]
            groups.append({name: objs, "startPosition": 1, "maxResults": len(objs)} if objs else {})
        return {"CDCResponse": [{"QueryResponse": groups}], "time": self.now_str()}, 200

    async def cdc(self, request: Request) -> Response:
        qp = request.query_params
        entities = [e.strip() for e in qp.get("entities", "").split(",") if e.strip()]
        since = qp.get("changedSince", "")
        return await self.guarded(request, "cdc", request.path_params["realm"], lambda: self.run_cdc(entities, since))


    async def batch(self, request: Request) -> Response:
        raw = await request.body()

        def work() -> tuple[Any, int]:
            import json

            try:
                items = json.loads(raw or b"{}").get("BatchItemRequest", [])
                if not isinstance(items, list):
                    raise ValueError
            except (ValueError, AttributeError):
                return R.validation("Invalid request", "Body must be JSON with a BatchItemRequest list", "4001",
                                    self.now_str()), 400
            if len(items) > BATCH_MAX:
                return R.validation("Invalid request", f"Batch size {len(items)} exceeds the maximum of "
                                    f"{BATCH_MAX}", "4001", self.now_str()), 400
            out: list[dict[str, Any]] = []
            self.emu.meter.add(len(items))  # metered per item (unconfirmed)
            self.emu.bump("batch_items", len(items))
            for item in items:
                bid = str(item.get("bId", ""))
                text = item.get("Query")
                if not isinstance(text, str):
                    out.append({"bId": bid, "Fault": {"Error": [{"Message": "Unsupported operation",
                                "Detail": "The emulator supports Query batch items only", "code": "4001"}],
                                "type": "ValidationFault"}})
                    continue
                try:
                    resp = self.run_query(self.emu.parse(text))
                    if isinstance(resp, bytes):
                        resp = json.loads(resp)
                    out.append({"bId": bid, "QueryResponse": resp["QueryResponse"]})
                except QueryError as exc:
                    out.append({"bId": bid, "Fault": {"Error": [{"Message": exc.message, "Detail": exc.detail,
                                                                 "code": exc.code}], "type": "ValidationFault"}})
            return {"BatchItemResponse": out, "time": self.now_str()}, 200

        return await self.guarded(request, "batch", request.path_params["realm"], work)

    async def read(self, request: Request) -> Response:
        """Read by Id: `GET /v3/company/{realm}/invoice/130` -> `{"Invoice": {...}, "time": ...}`."""
        segment, rid = request.path_params["entity"], request.path_params["id"]
        cap = SCHEMA.by_path(segment)
        if cap is None or segment != cap.path or not cap.generated:
            return R.not_found(request.method, request.url.path, self.now_str())

        def work() -> tuple[Any, int]:
            rec = self.emu.store.get(cap.name, int(rid)) if rid.isdigit() else None
            if rec is None or rec.deleted is not None:
                return R.object_not_found(self.now_str()), 400
            return {cap.key: self.emu.builder.build(cap.name, rec, _enhanced(request)), "time": self.now_str()}, 200

        return await self.guarded(request, "read", request.path_params["realm"], work)

    async def report(self, request: Request) -> Response:
        """The Reports API: `GET /v3/company/{realm}/reports/ProfitAndLoss?start_date=&end_date=&...`."""
        name = request.path_params["name"]
        params = dict(request.query_params)

        def work() -> tuple[Any, int]:
            try:
                return self.emu.reports.run(name, params, self.now_str()), 200
            except ReportError as exc:
                return R.validation("Invalid report request", str(exc), "2020", self.now_str()), 400

        return await self.guarded(request, "report", request.path_params["realm"], work)

    async def preferences(self, request: Request) -> Response:
        """`GET /v3/company/{realm}/preferences` -> `{"Preferences": {...}, "time": ...}`."""
        def work() -> tuple[Any, int]:
            return {"Preferences": self.emu.builder.static("Preferences")[0], "time": self.now_str()}, 200

        return await self.guarded(request, "read", request.path_params["realm"], work)

    async def companyinfo(self, request: Request) -> Response:
        def work() -> tuple[Any, int]:
            if request.path_params["id"] != self.cfg.realm_id:
                return R.object_not_found(self.now_str()), 400
            return {"CompanyInfo": self.emu.builder.company_info(), "time": self.now_str()}, 200

        return await self.guarded(request, "companyinfo", request.path_params["realm"], work)
