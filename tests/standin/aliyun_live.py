#!/usr/bin/env python3
"""A local stand-in for ApsaraVideo Live's OpenAPI (live.aliyuncs.com, version 2016-11-01),
built from Alibaba Cloud's own Python SDK (scripts/sdk-venv.sh installs it in target/sdk-venv).

Run with the venv's python:
    target/sdk-venv/bin/python tests/standin/aliyun_live.py --fixture F.json --log R.jsonl [--port 0]
It prints `listening on PORT` on stdout once it accepts connections.

Actions: DescribeLiveRecordNotifyRecords, DescribeLiveStreamRecordIndexFiles,
DescribeLiveRecordNotifyConfig, RPC style over ACS3-HMAC-SHA256 as the SDK sends them: any
method (the SDK POSTs), path `/`, the action's parameters in the query string (a form body,
application/x-www-form-urlencoded, is accepted too), headers x-acs-action, x-acs-version,
x-acs-date, x-acs-signature-nonce, x-acs-content-sha256 (hex SHA-256 of the body),
x-acs-security-token (with STS) and `Authorization: ACS3-HMAC-SHA256
Credential=AK,SignedHeaders=a;b;...,Signature=hex`.

Every request's signature is recomputed with the SDK's own signing code
(alibabacloud_tea_openapi.utils.Utils.get_authorization, the code the live20161101 client runs;
cross-checked against alibabacloud_openapi_util's get_authorization) from what was received:
method, path, query, the headers named in SignedHeaders, the hash of the body. Answers are built
with the SDK's response models (alibabacloud_live20161101.models ... ResponseBody(...).to_map()).

Checks, in order, each answered as the provider does (JSON body {RequestId, HostId, Code,
Message, Recommend}):
  Authorization missing / not ACS3-HMAC-SHA256 / unsigned x-acs-* or host header
                                                       400 IncompleteSignature
  x-acs-content-sha256 not the body's hash               400 IncompleteSignature
  unknown AccessKey id                                   404 InvalidAccessKeyId.NotFound
  signature differs                                      `signature_error_status` (default 400)
                                                         SignatureDoesNotMatch, with the
                                                         server's string to sign (no secret)
  STS token differs (fixture security_token set)         400 InvalidSecurityToken.Mismatch
  x-acs-date malformed / more than 15 min off real time  400 InvalidTimeStamp.Format / .Expired
  nonce seen before                                      400 SignatureNonceUsed
  x-acs-version not 2016-11-01                           400 InvalidVersion
  unknown action                                         404 InvalidAction.NotFound
  scripted throttling (fixture `throttle`)               rule's status (400) and code (Throttling)
  over the action's QPS (1 s sliding window)             400 Throttling.User
  missing required parameter X                           400 MissingX
  time or paging parameter out of its documented range   400 (codes below)

Documented limits implemented (from the SDK's request models' field comments in
alibabacloud_live20161101/models/*_request.py and the API reference pages on help.aliyun.com):
  DescribeLiveRecordNotifyRecords: DomainName, StartTime, EndTime, PageNumber, PageSize
    required by the model (PageNumber defaults to 1, PageSize to 20 when absent); PageSize
    1..500, PageNumber 1..100000; times yyyy-MM-ddTHH:mm:ssZ; "you can query data within the
    last 7 days" (StartTime older than now-7d: InvalidStartTime.ValueNotSupported; so a window
    is at most 7 days: InvalidTimeSpan); EndTime not after StartTime: InvalidEndTime.Mismatch;
    optional AppName, StreamName, Status (success|failed), StorageType (oss|vod|all).
    Answer: CallbackList[], PageNum, PageSize, TotalNum, TotalPage, RequestId. 100 QPS.
  DescribeLiveStreamRecordIndexFiles: DomainName, AppName, StreamName, StartTime, EndTime
    required; "the interval between EndTime and StartTime cannot exceed 4 days"
    (InvalidTimeSpan); index files are kept 6 months (StartTime older than now-180d:
    InvalidStartTime.ValueNotSupported); PageNum default 1; PageSize 5..30, default 10;
    Order asc (default) | desc by CreateTime. Answer: RecordIndexInfoList.RecordIndexInfo[],
    Order, PageNum, PageSize, TotalNum, TotalPage, RequestId. 15 QPS.
  DescribeLiveRecordNotifyConfig: DomainName required. Answer: LiveRecordNotifyConfig
    {DomainName, NotifyUrl, OnDemandUrl, NeedStatusNotify, NotifyReqAuth, NotifyAuthKey}.
  Records are in a window when StartTime <= time <= EndTime (both ends inclusive: a record on
  the boundary of two adjacent windows comes back in both; a client splitting a long window
  must not count it twice). Records are sorted by NotifyTime (index files by CreateTime).

Fixture (JSON; field names inside records are the provider's own):
{
  "access_key_id": "LTAI-test", "access_key_secret": "test-only-secret",
  "security_token": null,             # if set, x-acs-security-token must equal it
  "now": "2026-01-10T12:00:00Z",      # optional: the provider's clock for the history limits
  "check_date": true,                 # x-acs-date within 15 min of the real clock
  "signature_error_status": 400,      # HTTP status of SignatureDoesNotMatch
  "enforce_qps": true,                # the documented QPS above; "qps": {"Action": n} overrides
  "throttle": {"DescribeLiveRecordNotifyRecords": {"first": 2, "status": 503,
               "code": "ServiceUnavailable", "message": "...", "retry_after": 1}},
               # key "*" = any action; "retry_after" adds the x-acs-retry-after header
  "notify_records": [{"DomainName": "example.com", "AppName": "live", "StreamName": "s1",
      "NotifyType": "file_created", "NotifyTime": "2026-01-10T10:00:00Z",
      "NotifyUrl": "http://recv/cb", "NotifyContent": "{...}", "NotifyHeader": "",
      "NotifyResponse": "ok", "NotifyResult": "success", "Description": "success",
      "StorageType": "oss"}],
  "index_files": [{"RecordId": "r1", "DomainName": "example.com", "AppName": "live",
      "StreamName": "s1", "RecordUrl": "http://...m3u8", "OssBucket": "b", "OssEndpoint": "e",
      "OssObject": "o.m3u8", "StartTime": "...Z", "EndTime": "...Z", "Duration": 600.5,
      "Width": 1280, "Height": 720, "Format": "m3u8", "CreateTime": "...Z"}],
  "notify_config": {"example.com": {"NotifyUrl": "http://recv/cb", "OnDemandUrl": "",
      "NeedStatusNotify": true, "NotifyReqAuth": "yes", "NotifyAuthKey": "k"}}
}
The fixture is re-read when its file changes.

Request log: one JSON object per line, per request received:
  {"ts": unix seconds, "method": "POST", "path": "/", "action": "...", "version": "...",
   "query": {name: value}, "form": {name: value}, "access_key_id": "...",
   "signed_headers": ["host", ...], "status": 200, "code": null | "ErrorCode",
   "throttled": false}
"""

import datetime as dt
import hashlib
import json
import math
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from types import SimpleNamespace
from urllib.parse import parse_qsl, unquote, urlsplit

import standin_common as common
from alibabacloud_live20161101 import models as live_models
from alibabacloud_openapi_util.client import Client as OpenApiUtil
from alibabacloud_tea_openapi.utils import (
    Utils,
    get_canonical_query_string,
    get_canonicalized_headers,
)

VERSION = "2016-11-01"
ALGORITHM = "ACS3-HMAC-SHA256"
HOST_ID = "live.aliyuncs.com"
DOCUMENTED_QPS = {
    "DescribeLiveRecordNotifyRecords": 100,
    "DescribeLiveStreamRecordIndexFiles": 15,
}
NOTIFY_HISTORY = dt.timedelta(days=7)
INDEX_HISTORY = dt.timedelta(days=180)
INDEX_MAX_SPAN = dt.timedelta(days=4)


class ApiError(Exception):
    def __init__(self, status, code, message, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def canonical_request(method, pathname, query, headers, payload_hash):
    """The SDK's canonical request (the same lines Utils.get_authorization hashes)."""
    canonicalized_headers, signed_headers = get_canonicalized_headers(headers)
    return (
        f"{method}\n{pathname or '/'}\n{get_canonical_query_string(query)}\n"
        f"{canonicalized_headers}\n{signed_headers}\n{payload_hash}"
    )


def string_to_sign(canonical):
    return f"{ALGORITHM}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def sdk_authorization(method, pathname, query, headers, payload_hash, ak, secret):
    """The Authorization header the SDK computes for this request, by the SDK's own code."""
    req = SimpleNamespace(method=method, pathname=pathname, query=query, headers=headers)
    auth = Utils.get_authorization(req, ALGORITHM, payload_hash, ak, secret)
    # alibabacloud_openapi_util (the package the older clients use) must agree.
    old = OpenApiUtil.get_authorization(req, ALGORITHM, payload_hash, ak, secret)
    if old != auth:
        raise RuntimeError("alibabacloud_openapi_util and tea-openapi disagree on ACS3")
    return auth


def parse_authorization(value):
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
    return parts


def int_param(params, name, default, lo, hi):
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, f"Invalid{name}", f"Specified parameter {name} is not valid.")
    if not lo <= v <= hi:
        raise ApiError(400, f"Invalid{name}", f"Specified parameter {name} is out of range ({lo} to {hi}).")
    return v


def required(params, *names):
    for name in names:
        if not params.get(name):
            raise ApiError(400, f"Missing{name}", f"{name} is mandatory for this action.")


def window(params, fixture, history, max_span):
    start = common.parse_iso_z(params.get("StartTime"))
    if start is None:
        raise ApiError(400, "InvalidStartTime.Malformed", "Specified StartTime is malformed.")
    end = common.parse_iso_z(params.get("EndTime"))
    if end is None:
        raise ApiError(400, "InvalidEndTime.Malformed", "Specified EndTime is malformed.")
    if end <= start:
        raise ApiError(400, "InvalidEndTime.Mismatch", "Specified EndTime does not match the specified StartTime.")
    if end - start > max_span:
        raise ApiError(400, "InvalidTimeSpan", f"The time span between StartTime and EndTime exceeds the limit ({max_span.days} days).")
    if start < common.now_utc(fixture) - history:
        raise ApiError(400, "InvalidStartTime.ValueNotSupported", f"Specified StartTime is earlier than the history kept ({history.days} days).")
    return start, end


def in_window(value, start, end):
    t = common.parse_iso_z(value)
    return t is not None and start <= t <= end


def page(items, number, size):
    total = len(items)
    pages = math.ceil(total / size) if total else 0
    return items[(number - 1) * size:number * size], total, pages


def describe_notify_records(params, fixture, rid):
    required(params, "DomainName", "StartTime", "EndTime")
    start, end = window(params, fixture, NOTIFY_HISTORY, NOTIFY_HISTORY)
    number = int_param(params, "PageNumber", 1, 1, 100000)
    size = int_param(params, "PageSize", 20, 1, 500)
    status = params.get("Status")
    if status and status not in ("success", "failed"):
        raise ApiError(400, "InvalidStatus", "Specified parameter Status is not valid.")
    storage = params.get("StorageType")
    if storage and storage not in ("oss", "vod", "all"):
        raise ApiError(400, "InvalidStorageType", "Specified parameter StorageType is not valid.")
    rows = []
    for r in fixture.get("notify_records", []):
        if r.get("DomainName") != params["DomainName"]:
            continue
        if params.get("AppName") and r.get("AppName") != params["AppName"]:
            continue
        if params.get("StreamName") and r.get("StreamName") != params["StreamName"]:
            continue
        if status and r.get("NotifyResult") != status:
            continue
        if storage and storage != "all" and r.get("StorageType", "oss") != storage:
            continue
        if not in_window(r.get("NotifyTime"), start, end):
            continue
        rows.append(r)
    rows.sort(key=lambda r: r.get("NotifyTime", ""))
    rows, total, pages = page(rows, number, size)
    body = live_models.DescribeLiveRecordNotifyRecordsResponseBody(
        callback_list=[
            live_models.DescribeLiveRecordNotifyRecordsResponseBodyCallbackList().from_map(r)
            for r in rows
        ],
        page_num=number,
        page_size=size,
        total_num=total,
        total_page=pages,
        request_id=rid,
    )
    return body.to_map()


def describe_index_files(params, fixture, rid):
    required(params, "DomainName", "AppName", "StreamName", "StartTime", "EndTime")
    start, end = window(params, fixture, INDEX_HISTORY, INDEX_MAX_SPAN)
    number = int_param(params, "PageNum", 1, 1, 1 << 31)
    size = int_param(params, "PageSize", 10, 5, 30)
    order = params.get("Order") or "asc"
    if order not in ("asc", "desc"):
        raise ApiError(400, "InvalidOrder", "Specified parameter Order is not valid.")
    rows = [
        r
        for r in fixture.get("index_files", [])
        if r.get("DomainName") == params["DomainName"]
        and r.get("AppName") == params["AppName"]
        and r.get("StreamName") == params["StreamName"]
        and in_window(r.get("StartTime"), start, end)
    ]
    rows.sort(key=lambda r: r.get("CreateTime") or r.get("StartTime") or "", reverse=order == "desc")
    rows, total, pages = page(rows, number, size)
    info = live_models.DescribeLiveStreamRecordIndexFilesResponseBodyRecordIndexInfoListRecordIndexInfo
    body = live_models.DescribeLiveStreamRecordIndexFilesResponseBody(
        order=order,
        page_num=number,
        page_size=size,
        total_num=total,
        total_page=pages,
        request_id=rid,
        record_index_info_list=live_models.DescribeLiveStreamRecordIndexFilesResponseBodyRecordIndexInfoList(
            record_index_info=[info().from_map(r) for r in rows]
        ),
    )
    return body.to_map()


def describe_notify_config(params, fixture, rid):
    required(params, "DomainName")
    config = fixture.get("notify_config", {}).get(params["DomainName"])
    body = live_models.DescribeLiveRecordNotifyConfigResponseBody(request_id=rid)
    if config is not None:
        c = dict(config)
        c.setdefault("DomainName", params["DomainName"])
        body.live_record_notify_config = (
            live_models.DescribeLiveRecordNotifyConfigResponseBodyLiveRecordNotifyConfig().from_map(c)
        )
    return body.to_map()


ACTIONS = {
    "DescribeLiveRecordNotifyRecords": describe_notify_records,
    "DescribeLiveStreamRecordIndexFiles": describe_index_files,
    "DescribeLiveRecordNotifyConfig": describe_notify_config,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fixture = None
    log = None
    limiter = None
    nonces = None
    nonce_lock = threading.Lock()

    def log_message(self, *args):  # keep stderr quiet; the JSON log is the record
        pass

    def do_GET(self):
        self.handle_api()

    def do_POST(self):
        self.handle_api()

    def do_PUT(self):
        self.handle_api()

    def do_DELETE(self):
        self.handle_api()

    def handle_api(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        form = {}
        if (self.headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        entry = {
            "method": self.command,
            "path": url.path,
            "action": self.headers.get("x-acs-action"),
            "version": self.headers.get("x-acs-version"),
            "query": query,
            "form": form,
            "access_key_id": None,
            "signed_headers": None,
            "throttled": False,
        }
        rid = common.request_id()
        fixture = self.fixture.get()
        try:
            self.check_signature(fixture, url, query, body, entry)
            action = entry["action"]
            if entry["version"] != VERSION:
                raise ApiError(400, "InvalidVersion", "Specified parameter Version is not valid.")
            if action not in ACTIONS:
                raise ApiError(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
            rule = self.limiter.scripted(fixture.get("throttle"), action)
            if rule is not None:
                entry["throttled"] = True
                headers = {}
                if rule.get("retry_after") is not None:
                    headers["x-acs-retry-after"] = str(rule["retry_after"])
                raise ApiError(
                    int(rule.get("status", 400)),
                    rule.get("code", "Throttling"),
                    rule.get("message", "Request was denied due to request throttling."),
                    headers,
                )
            qps = (fixture.get("qps") or {}).get(action)
            if qps is None and fixture.get("enforce_qps", True):
                qps = DOCUMENTED_QPS.get(action)
            if self.limiter.over_rate(action, qps):
                entry["throttled"] = True
                raise ApiError(400, "Throttling.User", "Request was denied due to user flow control.")
            params = dict(form)
            params.update(query)
            result = ACTIONS[action](params, fixture, rid)
            self.answer(200, result, entry)
        except ApiError as e:
            self.answer(
                e.status,
                {
                    "RequestId": rid,
                    "HostId": HOST_ID,
                    "Code": e.code,
                    "Message": e.message,
                    "Recommend": f"https://api.aliyun.com/troubleshoot?q={e.code}&product=live",
                },
                entry,
                code=e.code,
                headers=e.headers,
            )

    def check_signature(self, fixture, url, query, body, entry):
        auth = parse_authorization(self.headers.get("Authorization"))
        if auth is None:
            raise ApiError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards.")
        signed = auth["SignedHeaders"].split(";")
        entry["access_key_id"] = auth["Credential"]
        entry["signed_headers"] = signed
        present = {k.lower() for k in self.headers.keys()}
        must = {h for h in present if h.startswith("x-acs-")} | {"host"}
        if not must <= set(signed) or not set(signed) <= present:
            raise ApiError(400, "IncompleteSignature", "The request signature does not conform to Aliyun standards: host and every x-acs-* header must be signed, and every signed header sent.")
        payload_hash = hashlib.sha256(body).hexdigest()
        if self.headers.get("x-acs-content-sha256") != payload_hash:
            raise ApiError(400, "IncompleteSignature", "The x-acs-content-sha256 header is not the SHA-256 of the request body.")
        if auth["Credential"] != fixture.get("access_key_id"):
            raise ApiError(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        headers = {h: ",".join(v.strip() for v in self.headers.get_all(h)) for h in signed}
        pathname = unquote(url.path) or "/"
        expected = sdk_authorization(
            self.command, pathname, query, headers, payload_hash,
            auth["Credential"], fixture["access_key_secret"],
        )
        if expected != self.headers.get("Authorization"):
            sts = string_to_sign(canonical_request(self.command, pathname, query, headers, payload_hash))
            raise ApiError(
                int(fixture.get("signature_error_status", 400)),
                "SignatureDoesNotMatch",
                "Specified signature does not match our calculation. server string to sign is:" + sts,
            )
        token = fixture.get("security_token")
        if token and self.headers.get("x-acs-security-token") != token:
            raise ApiError(400, "InvalidSecurityToken.Mismatch", "Specified SecurityToken mismatch with the AccessKey.")
        date = common.parse_iso_z(self.headers.get("x-acs-date"))
        if date is None:
            raise ApiError(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if fixture.get("check_date", True) and abs(time.time() - date.timestamp()) > 900:
            raise ApiError(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        nonce = self.headers.get("x-acs-signature-nonce")
        if not nonce:
            raise ApiError(400, "MissingSignatureNonce", "SignatureNonce is mandatory for this action.")
        with self.nonce_lock:
            if nonce in self.nonces:
                raise ApiError(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self.nonces.add(nonce)

    def answer(self, status, obj, entry, code=None, headers=None):
        data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        # Logged before the answer is sent: a client that has its answer finds its line.
        entry["status"] = status
        entry["code"] = code
        self.log.write(entry)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-acs-request-id", obj.get("RequestId", ""))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)


def main():
    args = common.parse_args("ApsaraVideo Live OpenAPI stand-in (2016-11-01, ACS3-HMAC-SHA256)")
    common.serve(
        Handler,
        args,
        fixture=common.Fixture(args.fixture),
        log=common.RequestLog(args.log),
        limiter=common.Limiter(),
        nonces=set(),
    )


if __name__ == "__main__":
    sys.exit(main())
