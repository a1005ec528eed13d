#!/usr/bin/env python3
"""Smoke check of the stand-ins against the providers' real SDK clients.

    target/sdk-venv/bin/python tests/standin/smoke.py

Starts aliyun_live.py and tencent_live.py on free ports with fixtures in a temporary directory,
points the SDK clients at http://127.0.0.1:PORT and checks: paging (every record once, totals,
page counts), the documented windows and page sizes refused, a scripted throttle answered and
then passed (both retried here: the Alibaba SDK's default config does not retry, and the
Tencent SDK's StandardRetryer of 3.1.195 raises the last error even after a retry succeeds), a wrong secret refused with the
provider's signature error, a GET (Tencent), the rate limit, and the request log. Also checks that
sign_vectors.py reproduces the SDKs' own Authorization headers. Exits non-zero on a failure.
"""

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from alibabacloud_live20161101 import models as am  # noqa: E402
from alibabacloud_live20161101.client import Client as AliClient  # noqa: E402
from alibabacloud_tea_openapi.models import Config  # noqa: E402
from tencentcloud.common import credential  # noqa: E402
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException  # noqa: E402
from tencentcloud.common.profile.client_profile import ClientProfile  # noqa: E402
from tencentcloud.common.profile.http_profile import HttpProfile  # noqa: E402
from tencentcloud.common.retry import StandardRetryer  # noqa: E402
from tencentcloud.live.v20180801 import live_client, models as tm  # noqa: E402

AK, SECRET = "LTAI-smoke", "smoke-test-only-secret"
SID, SKEY = "AKID-smoke", "smoke-test-only-key"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def start(script, fixture_path, log_path):
    p = subprocess.Popen(
        [sys.executable, os.path.join(HERE, script), "--fixture", fixture_path, "--log", log_path],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = p.stdout.readline().strip()
    assert line.startswith("listening on "), line
    return p, int(line.split()[-1])


def write(path, obj):
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def aliyun(tmp, now):
    fixture = os.path.join(tmp, "aliyun.json")
    log = os.path.join(tmp, "aliyun.jsonl")
    records = [
        {
            "DomainName": "example.com", "AppName": "live", "StreamName": "s%d" % (i % 3),
            "NotifyType": "file_created" if i % 2 else "record_started",
            "NotifyTime": iso(now - dt.timedelta(hours=40) + dt.timedelta(minutes=i)),
            "NotifyUrl": "http://127.0.0.1:1/cb", "NotifyContent": json.dumps({"n": i}),
            "NotifyResponse": "ok", "NotifyResult": "failed" if i % 10 == 0 else "success",
            "Description": "success",
        }
        for i in range(45)
    ]
    records.append(dict(records[0], DomainName="other.com"))
    files = [
        {
            "RecordId": "r%02d" % i, "DomainName": "example.com", "AppName": "live", "StreamName": "s1",
            "RecordUrl": "http://b/r%02d.m3u8" % i, "OssBucket": "b", "OssEndpoint": "oss", "OssObject": "r%02d.m3u8" % i,
            "StartTime": iso(now - dt.timedelta(hours=20) + dt.timedelta(minutes=10 * i)),
            "EndTime": iso(now - dt.timedelta(hours=20) + dt.timedelta(minutes=10 * i + 9)),
            "CreateTime": iso(now - dt.timedelta(hours=20) + dt.timedelta(minutes=10 * i + 9)),
            "Duration": 540.5, "Width": 1280, "Height": 720, "Format": "m3u8",
        }
        for i in range(12)
    ]
    data = {
        "access_key_id": AK, "access_key_secret": SECRET,
        "notify_records": records, "index_files": files,
        "notify_config": {"example.com": {"NotifyUrl": "http://127.0.0.1:1/cb", "OnDemandUrl": "",
                                          "NeedStatusNotify": False, "NotifyReqAuth": "no"}},
    }
    write(fixture, data)
    proc, port = start("aliyun_live.py", fixture, log)
    try:
        client = AliClient(Config(access_key_id=AK, access_key_secret=SECRET,
                                  endpoint="127.0.0.1:%d" % port, protocol="HTTP"))
        t0, t1 = iso(now - dt.timedelta(days=2)), iso(now)
        seen = []
        for n in (1, 2, 3):
            b = client.describe_live_record_notify_records(am.DescribeLiveRecordNotifyRecordsRequest(
                domain_name="example.com", start_time=t0, end_time=t1, page_number=n, page_size=20)).body
            seen += [c.notify_content for c in b.callback_list]
            check(b.total_num == 45 and b.total_page == 3 and b.page_num == n and b.page_size == 20,
                  "aliyun notify records page %d: TotalNum 45, TotalPage 3 (got %s %s)" % (n, b.total_num, b.total_page))
        check(sorted(seen) == sorted(json.dumps({"n": i}) for i in range(45)), "aliyun notify records: every record once over the pages")
        b = client.describe_live_record_notify_records(am.DescribeLiveRecordNotifyRecordsRequest(
            domain_name="example.com", start_time=t0, end_time=t1, page_number=1, page_size=500, status="failed", stream_name="s0"))
        check(b.body.total_num == 2, "aliyun notify records: Status and StreamName filter (%s)" % b.body.total_num)

        def err(call):
            try:
                call()
            except Exception as e:  # the SDK's ClientException / ServerException
                return getattr(e, "status_code", None), getattr(e, "code", None)
            return 200, None

        st, code = err(lambda: client.describe_live_record_notify_records(am.DescribeLiveRecordNotifyRecordsRequest(
            domain_name="example.com", start_time=iso(now - dt.timedelta(days=8)), end_time=t1, page_number=1, page_size=20)))
        check((st, code) == (400, "InvalidTimeSpan"), "aliyun notify records: a window over 7 days refused (%s %s)" % (st, code))
        st, code = err(lambda: client.describe_live_record_notify_records(am.DescribeLiveRecordNotifyRecordsRequest(
            domain_name="example.com", start_time=t0, end_time=t1, page_number=1, page_size=501)))
        check((st, code) == (400, "InvalidPageSize"), "aliyun notify records: PageSize 501 refused (%s %s)" % (st, code))

        ids = []
        for n in (1, 2, 3):
            b = client.describe_live_stream_record_index_files(am.DescribeLiveStreamRecordIndexFilesRequest(
                domain_name="example.com", app_name="live", stream_name="s1", start_time=iso(now - dt.timedelta(days=1)),
                end_time=t1, page_num=n, page_size=5)).body
            ids += [r.record_id for r in b.record_index_info_list.record_index_info]
            check(b.total_num == 12 and b.total_page == 3, "aliyun index files page %d: TotalNum 12, TotalPage 3" % n)
        check(ids == ["r%02d" % i for i in range(12)], "aliyun index files: every file once, ascending")
        st, code = err(lambda: client.describe_live_stream_record_index_files(am.DescribeLiveStreamRecordIndexFilesRequest(
            domain_name="example.com", app_name="live", stream_name="s1", start_time=iso(now - dt.timedelta(days=5)),
            end_time=t1, page_num=1, page_size=5)))
        check((st, code) == (400, "InvalidTimeSpan"), "aliyun index files: a window over 4 days refused (%s %s)" % (st, code))
        st, code = err(lambda: client.describe_live_stream_record_index_files(am.DescribeLiveStreamRecordIndexFilesRequest(
            domain_name="example.com", app_name="live", stream_name="s1", start_time=t0, end_time=t1, page_num=1, page_size=4)))
        check((st, code) == (400, "InvalidPageSize"), "aliyun index files: PageSize 4 refused (%s %s)" % (st, code))

        c = client.describe_live_record_notify_config(am.DescribeLiveRecordNotifyConfigRequest(domain_name="example.com")).body
        check(c.live_record_notify_config.notify_url == "http://127.0.0.1:1/cb" and c.live_record_notify_config.need_status_notify is False,
              "aliyun notify config")

        # Throttled twice, then answered: the client backs off and retries.
        data["throttle"] = {"DescribeLiveRecordNotifyConfig": {"first": 2, "status": 400, "code": "Throttling"}}
        write(fixture, data)
        codes = []
        for _ in range(3):
            st, code = err(lambda: client.describe_live_record_notify_config(am.DescribeLiveRecordNotifyConfigRequest(domain_name="example.com")))
            codes.append((st, code))
            if st == 200:
                break
            time.sleep(0.1)
        check(codes == [(400, "Throttling"), (400, "Throttling"), (200, None)], "aliyun throttled twice then answered: %s" % codes)

        # Rate limit: 15 QPS on the index files.
        burst = [err(lambda: client.describe_live_stream_record_index_files(am.DescribeLiveStreamRecordIndexFilesRequest(
            domain_name="example.com", app_name="live", stream_name="s1", start_time=t0, end_time=t1, page_num=1, page_size=5))) for _ in range(20)]
        check((400, "Throttling.User") in burst, "aliyun index files: 20 calls at once exceed 15 QPS")

        bad = AliClient(Config(access_key_id=AK, access_key_secret="wrong", endpoint="127.0.0.1:%d" % port, protocol="HTTP"))
        st, code = err(lambda: bad.describe_live_record_notify_config(am.DescribeLiveRecordNotifyConfigRequest(domain_name="example.com")))
        check((st, code) == (400, "SignatureDoesNotMatch"), "aliyun wrong secret: SignatureDoesNotMatch (%s %s)" % (st, code))

        entries = read_log(log)
        check(all(e["action"] for e in entries) and entries[0]["query"].get("PageNumber") == "1"
              and entries[0]["method"] == "POST" and "host" in entries[0]["signed_headers"],
              "aliyun request log: %d lines with action, query, signed headers" % len(entries))
        check(SECRET not in open(log).read(), "aliyun request log: no secret")
    finally:
        proc.terminate()
        proc.wait()


def tencent(tmp, now):
    fixture = os.path.join(tmp, "tencent.json")
    log = os.path.join(tmp, "tencent.jsonl")
    records = [
        {"StreamId": "s1", "EventTime": iso(now - dt.timedelta(hours=10) + dt.timedelta(minutes=i)),
         "EventType": [0, 1, 100, 200][i % 4], "Request": json.dumps({"n": i}), "Response": "ok",
         "ResponseTime": iso(now - dt.timedelta(hours=10) + dt.timedelta(minutes=i, seconds=1)),
         "ResultCode": 0 if i % 5 else 1}
        for i in range(25)
    ]
    records.append(dict(records[0], StreamId="s2"))
    data = {"secret_id": SID, "secret_key": SKEY, "callback_records": records,
            "throttle": {"DescribeCallbackRecordsList": {"first": 2}}}
    write(fixture, data)
    proc, port = start("tencent_live.py", fixture, log)
    try:
        def client(key=SKEY, method="POST", retry=False):
            prof = ClientProfile(httpProfile=HttpProfile(protocol="http", endpoint="127.0.0.1:%d" % port, reqMethod=method))
            if retry:
                prof.retryer = StandardRetryer(max_attempts=3, backoff_fn=lambda n: 0.1)
            return live_client.LiveClient(credential.Credential(SID, key), "", prof)

        def req(**kw):
            r = tm.DescribeCallbackRecordsListRequest()
            r.StreamName = "s1"
            r.StartTime = iso(now - dt.timedelta(hours=20))
            r.EndTime = iso(now)
            for k, v in kw.items():
                setattr(r, k, v)
            return r

        # The first two calls are throttled, then answered. (Not through the SDK's own
        # StandardRetryer: in 3.1.195 it keeps the last error after a success and raises it.)
        for attempt in range(3):
            try:
                r = client(retry=False).DescribeCallbackRecordsList(req(PageNum=1, PageSize=10))
                break
            except TencentCloudSDKException as e:
                if e.get_code() != "RequestLimitExceeded" or attempt == 2:
                    raise
                time.sleep(0.1)
        entries = read_log(log)
        check([e["code"] for e in entries] == ["RequestLimitExceeded", "RequestLimitExceeded", None],
              "tencent throttled twice (RequestLimitExceeded), then answered: %s" % [e["code"] for e in entries])
        seen = [d.Request for d in r.DataInfoList]
        for n in (2, 3):
            r = client().DescribeCallbackRecordsList(req(PageNum=n, PageSize=10))
            check(r.TotalNum == 25 and r.TotalPage == 3 and r.PageNum == n, "tencent page %d: TotalNum 25, TotalPage 3" % n)
            seen += [d.Request for d in r.DataInfoList]
        check(sorted(seen) == sorted(json.dumps({"n": i}) for i in range(25)), "tencent: every record once over the pages")
        r = client(method="GET").DescribeCallbackRecordsList(req(PageNum=1, PageSize=100, EventType=100))
        check(r.TotalNum == 6 and all(d.EventType == 100 for d in r.DataInfoList), "tencent GET with EventType 100 (%s)" % r.TotalNum)

        def code_of(call):
            try:
                call()
            except TencentCloudSDKException as e:
                return e.get_code()
            return None

        check(code_of(lambda: client().DescribeCallbackRecordsList(req(StartTime=iso(now - dt.timedelta(hours=25))))) == "InvalidParameterValue",
              "tencent: a window over 1 day refused")
        check(code_of(lambda: client().DescribeCallbackRecordsList(req(StartTime=iso(now - dt.timedelta(days=15)),
                                                                       EndTime=iso(now - dt.timedelta(days=14, hours=12))))) == "InvalidParameterValue",
              "tencent: older than 14 days refused")
        check(code_of(lambda: client(key="wrong").DescribeCallbackRecordsList(req())) == "AuthFailure.SignatureFailure",
              "tencent wrong key: AuthFailure.SignatureFailure")
        entries = read_log(log)
        check(entries[-1]["secret_id"] == SID and entries[0]["params"]["StreamName"] == "s1" and SKEY not in open(log).read(),
              "tencent request log: params, secret id, no secret")
    finally:
        proc.terminate()
        proc.wait()


def vectors():
    """sign_vectors.py reproduces the Authorization headers the SDKs compute themselves."""
    import sign_vectors
    from alibabacloud_tea_openapi.utils import Utils
    from types import SimpleNamespace
    inp = {
        "method": "POST", "host": "live.aliyuncs.com", "path": "/",
        "query": {"DomainName": "example.com", "StartTime": "2026-01-10T00:00:00Z", "AppName": "a b/ü*~"},
        "headers": {"x-acs-action": "DescribeLiveRecordNotifyRecords", "x-acs-version": "2016-11-01",
                    "x-acs-date": "2026-01-10T12:00:00Z", "x-acs-signature-nonce": "n0nce"},
        "body": "", "access_key_id": AK, "access_key_secret": SECRET,
        "timestamp": 1768046400, "content_type": "application/json",
    }
    out = sign_vectors.compute(inp)
    hdrs = dict(inp["headers"], host="live.aliyuncs.com",
                **{"x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"})
    want = Utils.get_authorization(SimpleNamespace(method="POST", pathname="/", query=inp["query"], headers=hdrs),
                                   "ACS3-HMAC-SHA256", hdrs["x-acs-content-sha256"], AK, SECRET)
    check(out["acs3"]["authorization"] == want, "sign_vectors ACS3 = the SDK's get_authorization")
    # TC3: the Authorization header the Tencent SDK itself builds for a request at that time.
    from unittest import mock
    import tencentcloud.common.abstract_client as tc_abstract
    from tencentcloud.common.http.request import RequestInternal
    params = {"StreamName": "s 1/ü", "StartTime": "2026-01-10 08:00:00", "PageNum": 1, "PageSize": 100}
    for method in ("POST", "GET"):
        prof = ClientProfile(httpProfile=HttpProfile(endpoint="live.tencentcloudapi.com", reqMethod=method))
        c = live_client.LiveClient(credential.Credential(SID, SKEY), "ap-guangzhou", prof)
        r = RequestInternal("live.tencentcloudapi.com", method, "/", header={})
        with mock.patch.object(tc_abstract.time, "time", return_value=1768046400.5):
            c._build_req_with_tc3_signature("DescribeCallbackRecordsList", dict(params), r)
        v = sign_vectors.compute({
            "method": method, "host": "live.tencentcloudapi.com", "path": "/",
            "query": params if method == "GET" else {}, "body": r.data if method == "POST" else "",
            "access_key_id": SID, "access_key_secret": SKEY, "timestamp": 1768046400,
        })["tc3"]
        check(v["authorization"] == r.header["Authorization"], "sign_vectors TC3 %s = the SDK's own request's Authorization" % method)
        check(method == "POST" or v["query_string"] == r.data, "sign_vectors TC3 %s query string = the SDK's" % method)


def main():
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with tempfile.TemporaryDirectory() as tmp:
        aliyun(tmp, now)
        tencent(tmp, now)
    vectors()
    print("%d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
