#!/usr/bin/env python3
"""A local stand-in for Tencent Cloud CSS's API (live.tencentcloudapi.com, version 2018-08-01),
action DescribeCallbackRecordsList, built from Tencent Cloud's own Python SDK
(tencentcloud-sdk-python-live / -common; scripts/sdk-venv.sh installs them in target/sdk-venv).

Run with the venv's python:
    target/sdk-venv/bin/python tests/standin/tencent_live.py --fixture F.json --log R.jsonl [--port 0]
It prints `listening on PORT` on stdout once it accepts connections.

Requests as the SDK sends them (TC3-HMAC-SHA256): POST / with a JSON body
(Content-Type: application/json) or GET /?query (application/x-www-form-urlencoded), headers
Host, X-TC-Action, X-TC-Version, X-TC-Timestamp (unix seconds), X-TC-Region (optional),
X-TC-Token (with temporary credentials), X-TC-Content-SHA256: UNSIGNED-PAYLOAD (optional), and
`Authorization: TC3-HMAC-SHA256 Credential=SecretId/YYYY-MM-DD/live/tc3_request,
SignedHeaders=content-type;host, Signature=hex`.

Every request's signature is recomputed from what was received. With SignedHeaders
content-type;host (what every Tencent SDK sends) the SDK's own
AbstractClient._get_tc3_signature computes it; with more signed headers the canonical request is
built per the TC3 spec (header names and values lower-cased and trimmed) and signed with the
SDK's Sign.sign_tc3. Answers are the SDK's DescribeCallbackRecordsListResponse model, serialized
as the SDK reads it: {"Response": {DataInfoList, PageNum, PageSize, TotalNum, TotalPage,
RequestId}}. Errors, like the real API's, are HTTP 200 with
{"Response": {"Error": {"Code", "Message"}, "RequestId"}} and Content-Type application/json
(the SDK reads errors only under that type):
  Authorization missing or malformed, content-type/host unsigned  AuthFailure.InvalidAuthorization
  unknown SecretId                                        AuthFailure.SecretIdNotFound
  X-TC-Timestamp more than 5 minutes off real time        AuthFailure.SignatureExpire
  credential date not the timestamp's UTC date, service not live,
  signature differs                                       AuthFailure.SignatureFailure
  X-TC-Token differs (fixture token set)                  AuthFailure.TokenFailure
  X-TC-Version not 2018-08-01                             InvalidParameter (NoSuchVersion)
  unknown action                                          InvalidAction
  scripted throttling (fixture `throttle`)                the rule's code (RequestLimitExceeded)
  over the action's QPS (1 s sliding window)              RequestLimitExceeded
  missing parameter                                       MissingParameter
  a parameter out of its range                            InvalidParameterValue
(the action's documented codes: FailedOperation, InvalidParameterValue, MissingParameter;
the common ones from the API's common error codes.)

Documented limits implemented (the SDK's request model's field comments in
tencentcloud/live/v20180801/models.py, the API's reference page):
  StartTime, EndTime, StreamName (exact match) required; times YYYY-MM-DDThh:mm:ssZ (UTC) or
  "YYYY-MM-DD hh:mm:ss" (Beijing time, UTC+8); "the span between StartTime and EndTime cannot
  exceed 1 day; only the last 14 days can be queried" (InvalidParameterValue); EventType
  0 (stream stop), 1 (stream start), 100 (recording), 200 (snapshot); ResultCode 0 = success.
  PageNum/PageSize: no range is documented for this action; this stand-in applies its sibling
  list APIs' (DescribeLiveStreamEventList): PageNum 1..10000 default 1, PageSize 1..100
  default 10. QPS: Tencent's default per-API limit, 20 per second.
  Records are in a window when StartTime <= EventTime <= EndTime (both ends inclusive), sorted
  by EventTime.

Fixture (JSON; record fields are the provider's own, CallbackEventInfo):
{
  "secret_id": "AKID-test", "secret_key": "test-only-key",
  "token": null,                      # if set, X-TC-Token must equal it
  "now": "2026-01-10T12:00:00Z",      # optional: the provider's clock for the 14-day limit
  "check_timestamp": true,            # X-TC-Timestamp within 5 minutes of the real clock
  "enforce_qps": true, "qps": {"DescribeCallbackRecordsList": 20},
  "throttle": {"DescribeCallbackRecordsList": {"first": 2, "code": "RequestLimitExceeded",
               "message": "..."}},   # key "*" = any action
  "callback_records": [{"StreamId": "s1", "EventTime": "2026-01-10T10:00:00Z",
      "EventType": 100, "Request": "{...the body sent...}", "Response": "ok",
      "ResponseTime": "2026-01-10T10:00:01Z", "ResultCode": 0}]
}
The fixture is re-read when its file changes.

Request log: one JSON object per line, per request received:
  {"ts": unix seconds, "method": "POST", "path": "/", "action": "...", "version": "...",
   "region": "..." | null, "params": {the JSON body, or the query}, "secret_id": "...",
   "signed_headers": ["content-type", "host"], "status": 200,
   "code": null | "ErrorCode", "throttled": false}
"""

import datetime as dt
import hashlib
import json
import math
import sys
import time
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import standin_common as common
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.sign import Sign
from tencentcloud.live.v20180801 import models as live_models

VERSION = "2018-08-01"
SERVICE = "live"
ALGORITHM = "TC3-HMAC-SHA256"
DEFAULT_QPS = {"DescribeCallbackRecordsList": 20}
HISTORY = dt.timedelta(days=14)
MAX_SPAN = dt.timedelta(days=1)
BEIJING = dt.timezone(dt.timedelta(hours=8))
EVENT_TYPES = {0, 1, 100, 200}


class ApiError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def parse_time(s):
    """Either documented format: YYYY-MM-DDThh:mm:ssZ (UTC) or YYYY-MM-DD hh:mm:ss (Beijing)."""
    t = common.parse_iso_z(s)
    if t is not None:
        return t
    try:
        return dt.datetime.strptime(s, "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING)
    except (TypeError, ValueError):
        return None


def parse_authorization(value):
    """TC3-HMAC-SHA256 Credential=ID/date/service/tc3_request, SignedHeaders=a;b, Signature=hex"""
    if not value or not value.startswith(ALGORITHM + " "):
        return None
    parts = {}
    for item in value[len(ALGORITHM) + 1:].split(","):
        k, sep, v = item.strip().partition("=")
        if not sep:
            return None
        parts[k] = v
    if not {"Credential", "SignedHeaders", "Signature"} <= parts.keys():
        return None
    scope = parts["Credential"].split("/")
    if len(scope) != 4 or scope[3] != "tc3_request":
        return None
    parts["SecretId"], parts["Date"], parts["Service"] = scope[0], scope[1], scope[2]
    return parts


def tc3_canonical_request(method, uri, querystring, headers, signed, payload):
    """Per the TC3 spec; with signed == content-type;host it is the SDK's own canonical request."""
    canonical_headers = "".join(f"{h}:{headers[h].strip().lower()}\n" for h in signed)
    payload_hash = hashlib.sha256(payload).hexdigest()
    return f"{method}\n{uri}\n{querystring}\n{canonical_headers}\n{';'.join(signed)}\n{payload_hash}"


def tc3_string_to_sign(timestamp, date, service, canonical):
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{timestamp}\n{date}/{service}/tc3_request\n{digest}"


def sdk_signature(method, uri, raw_query, headers, body, date, service, secret_key):
    """The signature the SDK computes for a request with SignedHeaders content-type;host, by the
    SDK's own AbstractClient._get_tc3_signature (it reads only the request it is given)."""
    req = SimpleNamespace(
        method=method,
        uri=uri,
        data=raw_query if method == "GET" else body,
        header={
            "Content-Type": headers["content-type"],
            "Host": headers["host"],
            "X-TC-Timestamp": headers["x-tc-timestamp"],
            "X-TC-Content-SHA256": headers.get("x-tc-content-sha256"),
        },
    )
    return AbstractClient._get_tc3_signature(None, None, req, date, service, secret_key)


def int_param(params, name, default, lo, hi):
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except (TypeError, ValueError):
        raise ApiError("InvalidParameterValue", f"{name} is not an integer.")
    if not lo <= v <= hi:
        raise ApiError("InvalidParameterValue", f"{name} must be {lo} to {hi}.")
    return v


def describe_callback_records_list(params, fixture, rid):
    for name in ("StartTime", "EndTime", "StreamName"):
        if params.get(name) in (None, ""):
            raise ApiError("MissingParameter", f"The request is missing a required parameter `{name}`.")
    start = parse_time(params["StartTime"])
    end = parse_time(params["EndTime"])
    if start is None or end is None:
        raise ApiError("InvalidParameterValue", "StartTime/EndTime: YYYY-MM-DDThh:mm:ssZ or YYYY-MM-DD hh:mm:ss.")
    if end < start:
        raise ApiError("InvalidParameterValue", "EndTime is earlier than StartTime.")
    if end - start > MAX_SPAN:
        raise ApiError("InvalidParameterValue", "The span between StartTime and EndTime cannot exceed 1 day.")
    if start < common.now_utc(fixture) - HISTORY:
        raise ApiError("InvalidParameterValue", "Only the last 14 days can be queried.")
    number = int_param(params, "PageNum", 1, 1, 10000)
    size = int_param(params, "PageSize", 10, 1, 100)
    event_type = params.get("EventType")
    if event_type not in (None, ""):
        event_type = int_param(params, "EventType", None, 0, 200)
        if event_type not in EVENT_TYPES:
            raise ApiError("InvalidParameterValue", "EventType must be 0, 1, 100 or 200.")
    else:
        event_type = None
    result_code = params.get("ResultCode")
    result_code = None if result_code in (None, "") else int_param(params, "ResultCode", None, -(1 << 31), 1 << 31)
    rows = []
    for r in fixture.get("callback_records", []):
        if r.get("StreamId") != params["StreamName"]:
            continue
        if event_type is not None and r.get("EventType") != event_type:
            continue
        if result_code is not None and r.get("ResultCode") != result_code:
            continue
        t = parse_time(r.get("EventTime"))
        if t is None or not start <= t <= end:
            continue
        rows.append((t, r))
    rows.sort(key=lambda x: x[0])
    rows = [r for _, r in rows]
    total = len(rows)
    pages = math.ceil(total / size) if total else 0
    resp = live_models.DescribeCallbackRecordsListResponse()
    items = []
    for r in rows[(number - 1) * size:number * size]:
        info = live_models.CallbackEventInfo()
        info._deserialize(r)
        items.append(info)
    resp.DataInfoList = items
    resp.PageNum = number
    resp.PageSize = size
    resp.TotalNum = total
    resp.TotalPage = pages
    resp.RequestId = rid
    return resp._serialize()


ACTIONS = {"DescribeCallbackRecordsList": describe_callback_records_list}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fixture = None
    log = None
    limiter = None

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_api()

    def do_POST(self):
        self.handle_api()

    def handle_api(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        params = {}
        if self.command == "GET":
            params = dict(parse_qsl(url.query, keep_blank_values=True))
        elif body:
            try:
                params = json.loads(body)
            except ValueError:
                params = None
        entry = {
            "method": self.command,
            "path": url.path,
            "action": self.headers.get("X-TC-Action"),
            "version": self.headers.get("X-TC-Version"),
            "region": self.headers.get("X-TC-Region"),
            "params": params,
            "secret_id": None,
            "signed_headers": None,
            "throttled": False,
        }
        rid = common.request_id()
        fixture = self.fixture.get()
        try:
            self.check_signature(fixture, url, body, entry)
            if not isinstance(params, dict):
                raise ApiError("InvalidParameter", "The request body is not a JSON object.")
            action = entry["action"]
            if action not in ACTIONS:
                raise ApiError("InvalidAction", f"The action `{action}` is not supported.")
            if entry["version"] != VERSION:
                raise ApiError("InvalidParameter", f"The API version `{entry['version']}` is not supported (NoSuchVersion).")
            rule = self.limiter.scripted(fixture.get("throttle"), action)
            if rule is not None:
                entry["throttled"] = True
                raise ApiError(
                    rule.get("code", "RequestLimitExceeded"),
                    rule.get("message", "Your current request times equals to `21` in a second, which exceeds the frequency limit `20` for a second. Please reduce the frequency of calls."),
                )
            qps = (fixture.get("qps") or {}).get(action)
            if qps is None and fixture.get("enforce_qps", True):
                qps = DEFAULT_QPS.get(action)
            if self.limiter.over_rate(action, qps):
                entry["throttled"] = True
                raise ApiError("RequestLimitExceeded", f"The request frequency exceeds the limit `{qps}` per second. Please reduce the frequency of calls.")
            result = ACTIONS[action](params, fixture, rid)
            self.answer({"Response": result}, entry)
        except ApiError as e:
            self.answer(
                {"Response": {"Error": {"Code": e.code, "Message": e.message}, "RequestId": rid}},
                entry,
                code=e.code,
            )

    def check_signature(self, fixture, url, body, entry):
        auth = parse_authorization(self.headers.get("Authorization"))
        if auth is None:
            raise ApiError("AuthFailure.InvalidAuthorization", "The Authorization header is not a valid TC3-HMAC-SHA256 authorization.")
        signed = auth["SignedHeaders"].split(";")
        entry["secret_id"] = auth["SecretId"]
        entry["signed_headers"] = signed
        if not {"content-type", "host"} <= set(signed) or signed != sorted(signed):
            raise ApiError("AuthFailure.InvalidAuthorization", "SignedHeaders must list content-type and host, lower-case and sorted.")
        if any(self.headers.get(h) is None for h in signed):
            raise ApiError("AuthFailure.InvalidAuthorization", "A signed header is missing from the request.")
        if auth["SecretId"] != fixture.get("secret_id"):
            raise ApiError("AuthFailure.SecretIdNotFound", "The SecretId is not found, please ensure that your SecretId is correct.")
        timestamp = self.headers.get("X-TC-Timestamp") or ""
        if not timestamp.isdigit():
            raise ApiError("AuthFailure.InvalidAuthorization", "X-TC-Timestamp is not a unix time in seconds.")
        if fixture.get("check_timestamp", True) and abs(time.time() - int(timestamp)) > 300:
            raise ApiError("AuthFailure.SignatureExpire", "Signature expired. Timestamp and server time cannot differ by more than 5 minutes.")
        date = dt.datetime.fromtimestamp(int(timestamp), dt.timezone.utc).strftime("%Y-%m-%d")
        if auth["Date"] != date or auth["Service"] != SERVICE:
            raise ApiError("AuthFailure.SignatureFailure", f"The credential scope must be {date}/{SERVICE}/tc3_request (the UTC date of X-TC-Timestamp).")
        headers = {h: self.headers.get(h) for h in signed}
        headers["x-tc-timestamp"] = timestamp
        unsigned = self.headers.get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD"
        if unsigned:
            headers["x-tc-content-sha256"] = "UNSIGNED-PAYLOAD"
        raw_query = url.query if self.command == "GET" else ""
        payload = b"UNSIGNED-PAYLOAD" if unsigned else (b"" if self.command == "GET" else body)
        secret = fixture["secret_key"]
        if signed == ["content-type", "host"]:
            expected = sdk_signature(self.command, url.path, raw_query, headers, body, auth["Date"], SERVICE, secret)
        else:
            canonical = tc3_canonical_request(self.command, url.path, raw_query, headers, signed, payload)
            expected = Sign.sign_tc3(secret, auth["Date"], SERVICE, tc3_string_to_sign(timestamp, auth["Date"], SERVICE, canonical))
        if expected != auth["Signature"]:
            raise ApiError("AuthFailure.SignatureFailure", "The provided credentials could not be validated. Please check your signature is correct.")
        token = fixture.get("token")
        if token and self.headers.get("X-TC-Token") != token:
            raise ApiError("AuthFailure.TokenFailure", "Token verification failed.")

    def answer(self, obj, entry, code=None):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        # Logged before the answer is sent: a client that has its answer finds its line.
        entry["status"] = 200
        entry["code"] = code
        self.log.write(entry)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main():
    args = common.parse_args("Tencent Cloud CSS API stand-in (2018-08-01, TC3-HMAC-SHA256)")
    common.serve(
        Handler,
        args,
        fixture=common.Fixture(args.fixture),
        log=common.RequestLog(args.log),
        limiter=common.Limiter(),
    )


if __name__ == "__main__":
    sys.exit(main())
