#!/usr/bin/env python3
"""The providers' SDKs' exact signatures for given inputs, so recmon's signing can be compared
byte for byte (ACS3-HMAC-SHA256 from Alibaba Cloud's SDK, TC3-HMAC-SHA256 from Tencent Cloud's).

    target/sdk-venv/bin/python tests/standin/sign_vectors.py < input.json > output.json

INPUT (stdin): one JSON object, or an array of them (then the output is an array, in order):
{
  "method": "POST",                       # HTTP method
  "host": "live.aliyuncs.com",            # the Host header (with :port if not the default)
  "path": "/",                            # the path (unencoded; the SDKs sign "/")
  "query": {"DomainName": "example.com"}, # query parameters, values as strings, not encoded
  "headers": {"x-acs-action": "...", "x-acs-version": "2016-11-01"},
                                          # ACS3: every header here is signed (names lower-cased,
                                          # as the SDK signs every header it sends); host and
                                          # x-acs-content-sha256 are added when absent
  "body": "",                             # the request body, a UTF-8 string
  "access_key_id": "...", "access_key_secret": "...",   # test-only values
  "date": "2026-01-10T12:00:00Z",         # ACS3: x-acs-date, added to headers when absent
  "nonce": "...",                         # ACS3: x-acs-signature-nonce, added when absent
  # TC3 (all optional):
  "secret_id": "...", "secret_key": "...",   # default: access_key_id / access_key_secret
  "timestamp": 1768046400,                # X-TC-Timestamp (unix seconds); the scope date is its
                                          # UTC date
  "service": "live",                      # the credential scope's service
  "content_type": "application/json",     # default: application/json for POST,
                                          # application/x-www-form-urlencoded for GET
  "unsigned_payload": false               # X-TC-Content-SHA256: UNSIGNED-PAYLOAD
}
For TC3, a GET's canonical query string is the query as the SDK puts it on the wire
(urllib.parse.urlencode of "query", in the given order) and its payload is empty; a POST's
canonical query string is empty and its payload is "body".

OUTPUT (stdout): one JSON object per input:
{
  "acs3": {"hashed_payload": hex, "canonical_request": "...", "string_to_sign": "...",
           "signed_headers": "a;b;c", "signature": hex, "authorization": "ACS3-HMAC-SHA256 ..."},
  "tc3":  {"query_string": "...", "hashed_payload": hex, "canonical_request": "...",
           "credential_scope": "YYYY-MM-DD/live/tc3_request", "string_to_sign": "...",
           "signature": hex, "authorization": "TC3-HMAC-SHA256 Credential=..., SignedHeaders=content-type;host, Signature=..."}
}
The authorization and signature are what the SDKs' own code returns
(alibabacloud_tea_openapi.utils.Utils.get_authorization, checked against
alibabacloud_openapi_util's; tencentcloud AbstractClient._get_tc3_signature); the canonical
request and string to sign are rebuilt with the SDKs' helpers and checked to give the same
signature, so each is exactly the SDK's. The secrets are never printed.
"""

import datetime as dt
import hashlib
import hmac
import json
import sys
from types import SimpleNamespace
from urllib.parse import urlencode

from alibabacloud_openapi_util.client import Client as OpenApiUtil
from alibabacloud_tea_openapi.utils import (
    Utils,
    get_canonical_query_string,
    get_canonicalized_headers,
)
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.sign import Sign


def acs3(inp):
    body = inp.get("body", "").encode("utf-8")
    payload = hashlib.sha256(body).hexdigest()
    headers = {k.lower(): str(v) for k, v in (inp.get("headers") or {}).items()}
    headers.setdefault("host", inp["host"])
    headers.setdefault("x-acs-content-sha256", payload)
    if inp.get("date"):
        headers.setdefault("x-acs-date", inp["date"])
    if inp.get("nonce"):
        headers.setdefault("x-acs-signature-nonce", inp["nonce"])
    query = {k: str(v) for k, v in (inp.get("query") or {}).items()}
    method, path = inp.get("method", "POST"), inp.get("path") or "/"
    req = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    ak, secret = inp["access_key_id"], inp["access_key_secret"]
    auth = Utils.get_authorization(req, "ACS3-HMAC-SHA256", payload, ak, secret)
    if OpenApiUtil.get_authorization(req, "ACS3-HMAC-SHA256", payload, ak, secret) != auth:
        raise SystemExit("alibabacloud_openapi_util and tea-openapi disagree")
    canonical_headers, signed = get_canonicalized_headers(headers)
    canonical = f"{method}\n{path}\n{get_canonical_query_string(query)}\n{canonical_headers}\n{signed}\n{payload}"
    sts = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    signature = hmac.new(secret.encode("utf-8"), sts.encode("utf-8"), hashlib.sha256).hexdigest()
    if auth != f"ACS3-HMAC-SHA256 Credential={ak},SignedHeaders={signed},Signature={signature}":
        raise SystemExit("rebuilt ACS3 canonical request does not give the SDK's signature")
    return {
        "hashed_payload": payload,
        "canonical_request": canonical,
        "string_to_sign": sts,
        "signed_headers": signed,
        "signature": signature,
        "authorization": auth,
    }


def tc3(inp):
    method = inp.get("method", "POST")
    sid = inp.get("secret_id") or inp["access_key_id"]
    skey = inp.get("secret_key") or inp["access_key_secret"]
    service = inp.get("service", "live")
    timestamp = str(int(inp["timestamp"]))
    date = dt.datetime.fromtimestamp(int(timestamp), dt.timezone.utc).strftime("%Y-%m-%d")
    content_type = inp.get("content_type") or (
        "application/x-www-form-urlencoded" if method == "GET" else "application/json")
    query_string = urlencode(inp.get("query") or {}) if method == "GET" else ""
    body = inp.get("body", "")
    header = {"Content-Type": content_type, "Host": inp["host"], "X-TC-Timestamp": timestamp}
    if inp.get("unsigned_payload"):
        header["X-TC-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    req = SimpleNamespace(method=method, uri=inp.get("path") or "/",
                          data=query_string if method == "GET" else body, header=header)
    signature = AbstractClient._get_tc3_signature(None, None, req, date, service, skey)
    payload = "UNSIGNED-PAYLOAD" if inp.get("unsigned_payload") else ("" if method == "GET" else body)
    hashed = hashlib.sha256(payload.encode("utf-8")).hexdigest()
    canonical = (f"{method}\n{req.uri}\n{query_string}\ncontent-type:{content_type}\nhost:{inp['host']}\n"
                 f"\ncontent-type;host\n{hashed}")
    scope = f"{date}/{service}/tc3_request"
    sts = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    if Sign.sign_tc3(skey, date, service, sts) != signature:
        raise SystemExit("rebuilt TC3 canonical request does not give the SDK's signature")
    return {
        "query_string": query_string,
        "hashed_payload": hashed,
        "canonical_request": canonical,
        "credential_scope": scope,
        "string_to_sign": sts,
        "signature": signature,
        # The SDK's own format string (abstract_client._build_req_with_tc3_signature).
        "authorization": "TC3-HMAC-SHA256 Credential=%s/%s/%s/tc3_request, SignedHeaders=content-type;host, Signature=%s"
        % (sid, date, service, signature),
    }


def compute(inp):
    out = {"acs3": acs3(inp)}
    if inp.get("timestamp") is not None:
        out["tc3"] = tc3(inp)
    return out


def main():
    inp = json.load(sys.stdin)
    out = [compute(i) for i in inp] if isinstance(inp, list) else compute(inp)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
