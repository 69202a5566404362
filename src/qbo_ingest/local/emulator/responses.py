"""Intuit's response bodies: Fault shapes, the lowercase 401 body, the throttle body."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def fault_body(message: str, detail: str, code: str, kind: str, time: str, element: str | None = None) -> Any:
    err: dict[str, str] = {"Message": message, "Detail": detail, "code": code}
    if element:
        err["element"] = element
    return {"Fault": {"Error": [err], "type": kind}, "time": time}


def fault(status: int, message: str, detail: str, code: str, kind: str, time: str,
          headers: dict[str, str] | None = None) -> Response:
    return json_response(fault_body(message, detail, code, kind, time), status, headers)


def validation(message: str, detail: str, code: str, time: str, status: int = 400) -> Response:
    return fault(status, message, detail, code, "ValidationFault", time)


def object_not_found(time: str) -> Response:
    """Intuit's error 610 (developer.intuit.com .../troubleshooting/handling-common-errors)."""
    return validation("Object Not Found", "Object Not Found : Something you're trying to use has been made "
                      "inactive. Check the fields with accounts, customers, items, vendors or employees.",
                      "610", time)


def not_found(method: str, path: str, time: str, status: int = 404) -> Response:
    """Any route the API does not have: a JSON Fault (Intuit's "Unsupported Operation", code 500, from its
    common-errors page), never plain text. The 404 status is unconfirmed."""
    return fault(status, "Unsupported Operation", f"Operation {method} {path} is not supported.", "500",
                 "ValidationFault", time)


def unauthorized(time: str, detail: str = "Token expired or invalid") -> Response:
    body = {"fault": {"error": [{"message": "message=AuthenticationFailed; errorCode=003200; statusCode=401",
                                 "detail": detail, "code": "3200"}], "type": "AUTHENTICATION"}, "time": time}
    return json_response(body, 401, {"WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})


def forbidden_realm(time: str, realm: str, served: str) -> Response:
    return fault(403, "message=ApplicationAuthorizationFailed; errorCode=003100; statusCode=403",
                 f"Unknown realm {realm!r}: this emulator serves realm {served!r}", "3100",
                 "AUTHENTICATION", time)


def throttled(time: str, retry_after: int | None) -> Response:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return fault(429, "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                 "The request limit was reached.  Try again later", "3001", "SERVICE", time, headers)


def metered_cap(time: str, cap: int, resets_on: object) -> Response:
    """The monthly metered-call cap: a 429 that is not a throttle (waiting a minute does not help). Intuit
    documents only "HTTP 429" (limits-and-throttles page); third parties report the throttle's code 003001,
    so the code is kept and the detail says what happened (body unconfirmed). No Retry-After."""
    return fault(429, "message=ThrottleExceeded; errorCode=003001; statusCode=429",
                 f"Monthly API call limit exceeded: the {cap} CorePlus calls included this month are used up. "
                 f"Calls are blocked until {resets_on}.", "3001", "SERVICE", time)


def server_error(status: int, time: str) -> Response:
    if status == 502:
        html = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"
        return Response(html, status_code=502, media_type="text/html")
    if status == 503:
        return fault(503, "Service Unavailable", "The service is temporarily unavailable. Try again later.",
                     "10000", "SystemFault", time)
    return fault(status, "An application error has occurred while processing your request",
                 "System Failure Error: An unexpected error occurred while accessing or saving your data.",
                 "10000", "SystemFault", time)


def fault_200(time: str) -> Response:
    return fault(200, "An application error has occurred while processing your request",
                 "System Failure Error: Could not process the request. Please try again.", "10000",
                 "SystemFault", time)


def oauth_error(status: int, error: str, description: str) -> Response:
    return json_response({"error": error, "error_description": description}, status,
                         {"Cache-Control": "no-store", "Pragma": "no-cache"})
