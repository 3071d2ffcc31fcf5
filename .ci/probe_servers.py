#!/usr/bin/env python3
"""Measure how each local S3 server behaves on the operations s3mend relies on.

A probe tool, not a test: it records what it sees, it asserts nothing. Regenerate .ci/SERVERS.md:

    .ci/servers.sh install all
    "${XDG_CACHE_HOME:-$HOME/.cache}/s3mend-ci/moto-venv/bin/python" .ci/probe_servers.py \
        moto s3s-fs garage > /tmp/table.md

For each NAME it runs `.ci/servers.sh start NAME`, probes with boto3 (from the moto venv), then
`.ci/servers.sh stop NAME`. `--env FILE` probes an already running server instead; `--json` prints
the raw cells and details.
"""

import argparse
import datetime as dt
import json
import re
import os
import subprocess
import sys
import uuid
from contextlib import contextmanager
from urllib.parse import unquote_plus

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
SERVERS_SH = os.path.join(HERE, "servers.sh")

EXPIRES = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
FULL = dict(  # every field of behaviour 1, re-sent by a REPLACE copy in 3
    ContentType="text/plain",
    ContentEncoding="UTF-8",
    CacheControl="max-age=60",
    ContentDisposition='attachment; filename="a.txt"',
    ContentLanguage="de-DE",
    Expires=EXPIRES,
    Metadata={"color": "blue", "origin": "probe"},
    WebsiteRedirectLocation="/elsewhere.html",
    StorageClass="STANDARD_IA",
)
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


def status(e):
    """'404 NoSuchKey' from a ClientError, or the exception's class for anything else."""
    if isinstance(e, ClientError):
        code = e.response.get("Error", {}).get("Code", "")
        http = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
        return f"{http} {code}".strip() if code and code != str(http) else f"{http}"
    return f"{type(e).__name__}: {str(e)[:80]}"


def ok(resp):
    return str(resp["ResponseMetadata"]["HTTPStatusCode"])


BARE_400 = []  # one entry per retried bare 400, reported under the table


def bare_400(e):
    """hyper's answer to a request it could not parse: 400, `connection: close`, no body. s3s-fs
    sent it now and then (under CPU load) to a PutObject that followed, on the same keep-alive
    connection, one rejected before its body was read. See SERVERS.md."""
    if not isinstance(e, ClientError):
        return False
    md = e.response.get("ResponseMetadata", {})
    h = md.get("HTTPHeaders", {})
    return md.get("HTTPStatusCode") == 400 and h.get("connection") == "close" and h.get(
        "content-length") == "0"


def call(fn, **kw):
    """(cell, response-or-None); a bare 400 (see bare_400) is retried once on a new connection."""
    for attempt in (1, 2):
        try:
            r = fn(**kw)
            return ok(r), r
        except Exception as e:  # noqa: BLE001 - a probe records every failure
            if attempt == 1 and bare_400(e):
                BARE_400.append(getattr(fn, "__name__", "?"))
                continue
            return status(e), None


@contextmanager
def hook(client, event, handler):
    client.meta.events.register(event, handler)
    try:
        yield
    finally:
        client.meta.events.unregister(event, handler)


def head_fields(h):
    """The behaviour-1 fields of a HeadObject response, as comparable strings (None: absent)."""
    return dict(
        ContentType=h.get("ContentType"),
        ContentEncoding=h.get("ContentEncoding"),
        CacheControl=h.get("CacheControl"),
        ContentDisposition=h.get("ContentDisposition"),
        ContentLanguage=h.get("ContentLanguage"),
        Expires=h["ResponseMetadata"]["HTTPHeaders"].get("expires"),
        Metadata=json.dumps(h.get("Metadata") or {}, sort_keys=True) if h.get("Metadata") else None,
        WebsiteRedirectLocation=h.get("WebsiteRedirectLocation"),
        StorageClass=h.get("StorageClass"),
    )


def expected_fields(sent):
    exp = {}
    for k, v in sent.items():
        if k == "Expires":
            v = v.strftime("%a, %d %b %Y %H:%M:%S GMT")
        elif k == "Metadata":
            v = json.dumps(v, sort_keys=True)
        exp[k] = v
    return exp


SHORT = dict(
    ContentType="Content-Type",
    ContentEncoding="Content-Encoding",
    CacheControl="Cache-Control",
    ContentDisposition="Content-Disposition",
    ContentLanguage="Content-Language",
    Expires="Expires",
    Metadata="x-amz-meta-*",
    WebsiteRedirectLocation="website-redirect",
    StorageClass="StorageClass",
)


def compare(sent, head):
    """'all returned' or a list of what HEAD lost or changed."""
    got = head_fields(head)
    exp = expected_fields(sent)
    diffs = []
    for k, v in exp.items():
        if got.get(k) == v:
            continue
        if got.get(k) is None:
            diffs.append(f"{SHORT[k]} dropped")
        else:
            diffs.append(f"{SHORT[k]} → `{got[k]}`")
    return "all returned as sent" if not diffs else "; ".join(diffs)


class Probe:
    def __init__(self, env):
        self.env = env
        cfg = Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 1, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            connect_timeout=5,
            read_timeout=30,
        )
        self.s3 = boto3.client(
            "s3",
            endpoint_url=env["S3MEND_COMPAT_ENDPOINT"],
            aws_access_key_id=env["S3MEND_COMPAT_ACCESS_KEY"],
            aws_secret_access_key=env["S3MEND_COMPAT_SECRET_KEY"],
            region_name=env["S3MEND_COMPAT_REGION"],
            config=cfg,
        )
        self.cells = {}
        self.details = {}
        self.n = 0

    def bucket(self):
        self.n += 1
        name = f"probe-{uuid.uuid4().hex[:12]}-{self.n}"
        self.s3.create_bucket(Bucket=name)
        return name

    def key(self):
        self.n += 1
        return f"obj-{self.n}.txt"

    def cell(self, row, text, **details):
        self.cells[row] = text
        if details:
            self.details[row] = details

    def run(self):
        rows = [getattr(self, n) for n in sorted(dir(self)) if n.startswith("row")]
        rows.sort(key=lambda f: int(f.__name__[3:].split("_")[0]))
        for f in rows:
            try:
                f()
            except Exception as e:  # noqa: BLE001
                self.cell(f.__name__, f"probe error: {status(e)}")
        return self.cells, self.details

    # 0 ------------------------------------------------------------------------------------------
    def row0_setup(self):
        """The suite creates its own buckets: the key must be able to, and then own them."""
        name = f"probe-own-{uuid.uuid4().hex[:12]}"
        cb, _ = call(self.s3.create_bucket, Bucket=name)
        steps = [f"CreateBucket {cb}"]
        for label, fn, kw in (
            ("PutObject", self.s3.put_object, dict(Key="k", Body=b"x")),
            ("GetObject", self.s3.get_object, dict(Key="k")),
            ("DeleteObject", self.s3.delete_object, dict(Key="k")),
            ("DeleteBucket", self.s3.delete_bucket, {}),
        ):
            c, _ = call(fn, Bucket=name, **kw)
            steps.append(f"{label} {c}")
        self.cell("row0_setup", "; ".join(steps))

    # 1 ------------------------------------------------------------------------------------------
    def put_full(self, b, k, **extra):
        """PutObject with every field of FULL; a field the server rejects is found by dropping it."""
        sent = dict(FULL)
        code, _ = call(self.s3.put_object, Bucket=b, Key=k, Body=b"hello world\n", **sent, **extra)
        rejected = []
        if code != "200":
            first = code
            tried = []
            for field in list(FULL):
                trial = {f: v for f, v in sent.items() if f != field}
                c, _ = call(self.s3.put_object, Bucket=b, Key=k, Body=b"hello world\n", **trial, **extra)
                tried.append(f"-{field}: {c}")
                if c == "200":
                    rejected.append(f"{SHORT[field]} → {first}")
                    sent = trial
                    break
            else:
                raise RuntimeError(f"PutObject fails even without any single field: {first} {tried}")
        return sent, rejected

    def row1_put(self):
        b, k = self.bucket(), self.key()
        sent, rejected = self.put_full(b, k)
        h = self.s3.head_object(Bucket=b, Key=k)
        text = ("PutObject " + "; ".join(rejected) + ". Without it: " if rejected else "PutObject 200; HEAD: ")
        self.cell("row1_put", text + compare(sent, h), head=head_fields(h))

    # 2 ------------------------------------------------------------------------------------------
    def list_raw(self, b, **kw):
        """ListObjectsV2 with encoding-type=url: (status, raw <Key> texts, EncodingType echoed, response)."""
        raw = {}

        def grab(response_dict, **kw):
            raw["body"] = response_dict["body"]

        with hook(self.s3, "before-parse.s3.ListObjectsV2", grab):
            code, r = call(self.s3.list_objects_v2, Bucket=b, EncodingType="url", **kw)
        body = raw.get("body", b"")
        keys = [k.decode("utf-8", "replace") for k in re.findall(rb"<Key>(.*?)</Key>", body, re.S)]
        return code, keys, b"<EncodingType>url</EncodingType>" in body, r

    def row2_list(self):
        b = self.bucket()
        keys = ["a b", "a+b", "a%b"]
        for k in keys:
            self.s3.put_object(Bucket=b, Key=k, Body=b"x")
        code, raw_keys, echoed, r = self.list_raw(b)
        # EncodingType given explicitly: botocore returns the keys as sent, undecoded.
        decoded = sorted(unquote_plus(o["Key"]) for o in r.get("Contents", [])) if r else None
        if decoded == sorted(keys):
            enc = "honoured"
        elif r is None:
            enc = f"{code}"
        else:
            enc = f"NOT honoured ({code})"
        enc += f": raw keys {', '.join(f'`{k}`' for k in raw_keys)}, EncodingType echoed: {'yes' if echoed else 'no'}"
        if decoded is not None and decoded != sorted(keys):
            enc += f"; URL-decoding them gives {', '.join(f'`{k}`' for k in decoded)}"
        self.s3.put_object(Bucket=b, Key="a\x01b", Body=b"x")
        code1, raw1, _, r1 = self.list_raw(b)
        ctl = [k for k in raw1 if k.startswith("a") and k not in raw_keys]
        ctl_txt = ", ".join(repr(k).replace("\\", "\\") for k in ctl) or "none"
        c1 = f"{code1}, key {ctl_txt}" + ("" if r1 is not None else " (boto3 raises)")
        for k in ("k1", "k2", "k3"):
            self.s3.put_object(Bucket=b, Key=k, Body=b"x")
        self.s3.delete_object(Bucket=b, Key="a\x01b")
        code2, r2 = call(self.s3.list_objects_v2, Bucket=b, StartAfter="k1")
        after = [o["Key"] for o in (r2 or {}).get("Contents", [])]
        sa = "honoured" if after == ["k2", "k3"] else f"NOT honoured: {code2} {after}"
        self.cell("row2_list", f"encoding-type=url {enc}. With key `a\\x01b` added: {c1}. StartAfter: {sa}",
                  raw_keys=raw_keys, raw_with_ctl=raw1, after=after)

    # 3 ------------------------------------------------------------------------------------------
    def row3_replace(self):
        b, k = self.bucket(), self.key()
        sent, _ = self.put_full(b, k)
        h0 = self.s3.head_object(Bucket=b, Key=k)
        new = dict(sent, ContentEncoding="gzip")
        code, r = call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                       MetadataDirective="REPLACE", **new)
        if r is None:
            self.cell("row3_replace", f"CopyObject REPLACE: {code}")
            return
        h = self.s3.head_object(Bucket=b, Key=k)
        etag = "ETag same" if h["ETag"] == h0["ETag"] else f"ETag {h0['ETag']}→{h['ETag']}"
        # The same copy without StorageClass: what class does the object end up with?
        nosc = {f: v for f, v in new.items() if f != "StorageClass"}
        call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
             MetadataDirective="REPLACE", **nosc)
        h2 = self.s3.head_object(Bucket=b, Key=k)
        sc = f"`{h2['StorageClass']}`" if h2.get("StorageClass") else "absent (= STANDARD)"
        text = f"{code}; HEAD: {compare(new, h)}; {etag}. Same copy without StorageClass → HEAD StorageClass {sc}"
        if "StorageClass" not in sent:  # PutObject rejected it: does a copy too?
            c3, _ = call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                         MetadataDirective="REPLACE", **dict(new, StorageClass="STANDARD_IA"))
            h3 = self.s3.head_object(Bucket=b, Key=k)
            text += (f". With StorageClass STANDARD_IA: {c3}, then HEAD StorageClass "
                     f"{h3.get('StorageClass') or 'absent'}")
        self.cell("row3_replace", text, head=head_fields(h))

    # 4 ------------------------------------------------------------------------------------------
    def row4_noop(self):
        b, k = self.bucket(), self.key()
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        h0 = self.s3.head_object(Bucket=b, Key=k)
        try:
            r = self.s3.copy_object(Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                                    MetadataDirective="COPY")
            h = self.s3.head_object(Bucket=b, Key=k)
            lm = "Last-Modified changed" if h["LastModified"] != h0["LastModified"] else "Last-Modified same"
            self.cell("row4_noop", f"accepted: {ok(r)} ({lm})")
        except ClientError as e:
            msg = e.response.get("Error", {}).get("Message", "")
            self.cell("row4_noop", f"{status(e)}: “{msg[:60]}…”")

    # 5 ------------------------------------------------------------------------------------------
    def row5_source_if_match(self):
        b, k = self.bucket(), self.key()
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        etag = self.s3.head_object(Bucket=b, Key=k)["ETag"]
        kw = dict(Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k}, MetadataDirective="REPLACE",
                  ContentType="text/plain")
        wrong, _ = call(self.s3.copy_object, CopySourceIfMatch='"0123456789abcdef0123456789abcdef"',
                        Metadata={"try": "wrong"}, **kw)
        after = self.s3.head_object(Bucket=b, Key=k).get("Metadata", {})
        w = f"{wrong} (enforced)" if wrong.startswith("412") else f"{wrong}" + (
            " (ignored: copy done)" if after.get("try") == "wrong" else "")
        right, _ = call(self.s3.copy_object, CopySourceIfMatch=etag, Metadata={"try": "right"}, **kw)
        self.cell("row5_source_if_match", f"wrong ETag: {w}; right ETag: {right}")

    # 6 ------------------------------------------------------------------------------------------
    def row6_dest_if_match(self):
        b, k = self.bucket(), self.key()
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        etag = self.s3.head_object(Bucket=b, Key=k)["ETag"]
        kw = dict(Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k}, MetadataDirective="REPLACE",
                  ContentType="text/plain")
        wrong, _ = call(self.s3.copy_object, IfMatch='"0123456789abcdef0123456789abcdef"',
                        Metadata={"try": "wrong"}, **kw)
        after = self.s3.head_object(Bucket=b, Key=k)
        w = wrong
        if after.get("Metadata", {}).get("try") == "wrong":
            w += " (ignored: copy done)"
        elif wrong.startswith("412"):
            w += " (enforced)"
        right, _ = call(self.s3.copy_object, IfMatch=after["ETag"], Metadata={"try": "right"}, **kw)
        nm, _ = call(self.s3.copy_object, IfNoneMatch="*", Metadata={"try": "inm"}, **kw)
        # The same conditions on a plain PutObject, for comparison.
        pw, _ = call(self.s3.put_object, Bucket=b, Key=k, Body=b"other",
                     IfMatch='"0123456789abcdef0123456789abcdef"')
        pn, _ = call(self.s3.put_object, Bucket=b, Key=k, Body=b"other", IfNoneMatch="*")
        self.cell("row6_dest_if_match",
                  f"wrong ETag: {w}; right ETag: {right}; If-None-Match `*` on the existing key: {nm}. "
                  f"(PutObject: If-Match wrong ETag {pw}, If-None-Match `*` {pn})",
                  etag=etag)

    # 7 ------------------------------------------------------------------------------------------
    def row7_acl(self):
        b, k = self.bucket(), self.key()
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        get, acl = call(self.s3.get_object_acl, Bucket=b, Key=k)
        canned, _ = call(self.s3.put_object_acl, Bucket=b, Key=k, ACL="public-read")
        _, acl2 = call(self.s3.get_object_acl, Bucket=b, Key=k)

        def public(a):
            return a is not None and any(
                g.get("Grantee", {}).get("URI") == ALL_USERS for g in a.get("Grants", []))

        canned_eff = " (grant visible)" if public(acl2) else (" (no grant visible)" if acl2 else "")
        # Back to private, then an XML ACL body granting READ to AllUsers.
        call(self.s3.put_object_acl, Bucket=b, Key=k, ACL="private")
        owner = (acl or {}).get("Owner") or {"ID": "0" * 64}
        xml, _ = call(self.s3.put_object_acl, Bucket=b, Key=k, AccessControlPolicy={
            "Owner": {"ID": owner["ID"]},
            "Grants": [
                {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"},
                {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            ]})
        _, acl3 = call(self.s3.get_object_acl, Bucket=b, Key=k)
        xml_eff = " (grant visible)" if public(acl3) else (" (silently ignored)" if acl3 else "")
        call(self.s3.put_object_acl, Bucket=b, Key=k, ACL="private")
        cp, _ = call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                     MetadataDirective="REPLACE", ContentType="text/plain",
                     GrantRead=f'uri="{ALL_USERS}"')
        _, acl4 = call(self.s3.get_object_acl, Bucket=b, Key=k)
        cp_eff = " (grant visible)" if public(acl4) else (
            " (no grant visible)" if acl4 else " (accepted; cannot be read back)")
        self.cell("row7_acl",
                  f"GetObjectAcl {get}; PutObjectAcl x-amz-acl {canned}{canned_eff}; "
                  f"PutObjectAcl XML body {xml}{xml_eff}; CopyObject + x-amz-grant-read {cp}{cp_eff}")

    # 8 ------------------------------------------------------------------------------------------
    def row8_tagging(self):
        b, k = self.bucket(), self.key()
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        get, _ = call(self.s3.get_object_tagging, Bucket=b, Key=k)
        put, _ = call(self.s3.put_object_tagging, Bucket=b, Key=k,
                      Tagging={"TagSet": [{"Key": "a", "Value": "1"}]})
        cnt = self.s3.head_object(Bucket=b, Key=k)["ResponseMetadata"]["HTTPHeaders"].get(
            "x-amz-tagging-count", "absent")
        # A COPY-directive copy must keep the tag.
        call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
             MetadataDirective="REPLACE", ContentType="text/plain")
        _, t_copy = call(self.s3.get_object_tagging, Bucket=b, Key=k)
        cp, _ = call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                     MetadataDirective="REPLACE", ContentType="text/plain",
                     Tagging="b=2", TaggingDirective="REPLACE")
        _, t_rep = call(self.s3.get_object_tagging, Bucket=b, Key=k)

        def tags(t):
            return "n/a" if t is None else ",".join(f"{x['Key']}={x['Value']}" for x in t["TagSet"]) or "none"

        self.cell("row8_tagging",
                  f"GetObjectTagging {get}; PutObjectTagging {put} (HEAD x-amz-tagging-count "
                  f"{cnt}); tags after a REPLACE copy (tagging directive default COPY): {tags(t_copy)}; "
                  f"CopyObject + x-amz-tagging REPLACE {cp} → tags {tags(t_rep)}")

    # 9 ------------------------------------------------------------------------------------------
    def row9_versioning(self):
        b, k = self.bucket(), self.key()
        put, _ = call(self.s3.put_bucket_versioning, Bucket=b,
                      VersioningConfiguration={"Status": "Enabled"})
        get, r = call(self.s3.get_bucket_versioning, Bucket=b)
        st = f" (Status {r.get('Status', 'absent')})" if r else ""
        self.s3.put_object(Bucket=b, Key=k, Body=b"hello", ContentType="text/plain")
        lv, v1 = call(self.s3.list_object_versions, Bucket=b, Prefix=k)
        cp, c = call(self.s3.copy_object, Bucket=b, Key=k, CopySource={"Bucket": b, "Key": k},
                     MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"v": "2"})
        _, v2 = call(self.s3.list_object_versions, Bucket=b, Prefix=k)
        n1 = len(v1.get("Versions", [])) if v1 else "n/a"
        n2 = len(v2.get("Versions", [])) if v2 else "n/a"
        vid = (c or {}).get("VersionId")
        self.cell("row9_versioning",
                  f"PutBucketVersioning {put}; GetBucketVersioning {get}{st}; "
                  f"ListObjectVersions {lv}; self-copy {cp}: versions {n1}→{n2}"
                  + (", response has an x-amz-version-id" if vid else ", no x-amz-version-id"))

    # 10 -----------------------------------------------------------------------------------------
    def row10_multipart(self):
        b, k = self.bucket(), self.key()
        size = 6 * 1024 * 1024
        self.s3.put_object(Bucket=b, Key=k, Body=bytes(range(256)) * (size // 256), ContentType="text/plain")
        meta = dict(ContentType="text/html", ContentEncoding="gzip", CacheControl="no-cache",
                    ContentDisposition="inline", ContentLanguage="fr", Expires=EXPIRES,
                    Metadata={"color": "red"}, WebsiteRedirectLocation="/mp.html",
                    StorageClass="STANDARD_IA")
        cr, up = call(self.s3.create_multipart_upload, Bucket=b, Key=k, **meta)
        sent = meta
        if up is None:  # find the field it rejects
            for field in list(meta):
                trial = {f: v for f, v in meta.items() if f != field}
                c, up = call(self.s3.create_multipart_upload, Bucket=b, Key=k, **trial)
                if up is not None:
                    cr = f"{cr} because of {SHORT[field]}; without it {c}"
                    sent = trial
                    break
            else:
                self.cell("row10_multipart", f"CreateMultipartUpload {cr}")
                return
        uid = up["UploadId"]
        half = 5 * 1024 * 1024
        parts = []
        upc = []
        for n, rng in ((1, f"bytes=0-{half - 1}"), (2, f"bytes={half}-{size - 1}")):
            c, p = call(self.s3.upload_part_copy, Bucket=b, Key=k, UploadId=uid, PartNumber=n,
                        CopySource={"Bucket": b, "Key": k}, CopySourceRange=rng)
            upc.append(c)
            if p:
                parts.append({"PartNumber": n, "ETag": p["CopyPartResult"]["ETag"]})
        comp, _ = call(self.s3.complete_multipart_upload, Bucket=b, Key=k, UploadId=uid,
                       MultipartUpload={"Parts": parts})
        h = self.s3.head_object(Bucket=b, Key=k)
        # Abort a second upload, then it must be gone.
        _, up2 = call(self.s3.create_multipart_upload, Bucket=b, Key=k + ".abort")
        ab, _ = call(self.s3.abort_multipart_upload, Bucket=b, Key=k + ".abort", UploadId=up2["UploadId"])
        # (ListParts is no test of that: s3s-fs answers 200 for any upload id.)
        lp, _ = call(self.s3.upload_part, Bucket=b, Key=k + ".abort", UploadId=up2["UploadId"],
                     PartNumber=1, Body=b"late")
        self.cell("row10_multipart",
                  f"Create {cr}; UploadPartCopy (range, same key) {'/'.join(upc)}; Complete {comp} "
                  f"(ETag {h['ETag']}, {h['ContentLength']} B); HEAD: {compare(sent, h)}; "
                  f"Abort {ab}, then UploadPart {lp}", head=head_fields(h))

    # 11 -----------------------------------------------------------------------------------------
    def row11_missing(self):
        b = self.bucket()
        try:
            self.s3.head_object(Bucket=b, Key="does-not-exist")
            ho = "200?!"
        except ClientError as e:
            hdrs = e.response["ResponseMetadata"].get("HTTPHeaders", {})
            interesting = sorted(h for h in hdrs if h.startswith("x-amz") or h in
                                 ("content-type", "content-length"))
            ho = f"{status(e)} (headers: {', '.join(f'{h}: {hdrs[h]}' if h in ('content-type', 'content-length') else h for h in interesting)})"
        try:
            self.s3.head_bucket(Bucket=f"missing-{uuid.uuid4().hex[:12]}")
            hb = "200?!"
        except ClientError as e:
            hdrs = e.response["ResponseMetadata"].get("HTTPHeaders", {})
            reg = hdrs.get("x-amz-bucket-region")
            hb = status(e) + (f" with x-amz-bucket-region {reg}" if reg else " (no x-amz-bucket-region)")
        r = self.s3.head_bucket(Bucket=b)
        reg = r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-bucket-region")
        self.cell("row11_missing",
                  f"HeadObject missing key: {ho}; HeadBucket missing bucket: {hb}; HeadBucket "
                  f"existing: {ok(r)}, x-amz-bucket-region: {('`' + reg + '`') if reg else 'absent'}")

    # 12 -----------------------------------------------------------------------------------------
    def streaming_put(self, b, k, ce_lines, data=b"hello"):
        """PutObject the way an SDK streams with a trailing checksum (aws-sdk-rust's default for
        S3-compatible endpoints unless checksums are 'when_required'): an aws-chunked body,
        STREAMING-UNSIGNED-PAYLOAD-TRAILER, one Content-Encoding line per value in ce_lines
        (the Rust SDK appends a separate `aws-chunked` line to the caller's)."""
        import base64
        import http.client
        import zlib
        from urllib.parse import urlsplit

        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        body = (f"{len(data):x}\r\n".encode() + data + b"\r\n0\r\n"
                + f"x-amz-checksum-crc32:{crc}\r\n\r\n".encode())
        url = f"{self.env['S3MEND_COMPAT_ENDPOINT']}/{b}/{k}"
        req = AWSRequest(method="PUT", url=url, data=body, headers={
            "x-amz-decoded-content-length": str(len(data)),
            "x-amz-trailer": "x-amz-checksum-crc32",
            "Content-Length": str(len(body)),
        })
        req.context["checksum"] = {"request_algorithm": {
            "in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}}
        S3SigV4Auth(Credentials(self.env["S3MEND_COMPAT_ACCESS_KEY"],
                                self.env["S3MEND_COMPAT_SECRET_KEY"]),
                    "s3", self.env["S3MEND_COMPAT_REGION"]).add_auth(req)
        u = urlsplit(url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        try:
            conn.putrequest("PUT", u.path, skip_accept_encoding=True)
            for h, v in req.prepare().headers.items():
                conn.putheader(h, v)
            for v in ce_lines:  # unsigned: SigV4 needs only host and x-amz-*
                conn.putheader("Content-Encoding", v)
            conn.endheaders(body)
            r = conn.getresponse()
            m = re.search(rb"<Code>(.*?)</Code>", r.read())
            return f"{r.status} {m.group(1).decode()}" if m and r.status >= 300 else str(r.status)
        finally:
            conn.close()

    def row12_aws_chunked(self):
        b = self.bucket()
        out = []
        cases = [("put_object ContentEncoding=`aws-chunked,gzip`", "aws-chunked,gzip", None),
                 ("put_object ContentEncoding=`aws-chunked`", "aws-chunked", None),
                 ("streamed aws-chunked body, `Content-Encoding: aws-chunked`", None, ["aws-chunked"]),
                 ("streamed, two lines `gzip` + `aws-chunked`", None, ["gzip", "aws-chunked"])]
        for label, ce, lines in cases:
            k = self.key()
            if lines is None:
                c, _ = call(self.s3.put_object, Bucket=b, Key=k, Body=b"hello", ContentEncoding=ce)
            else:
                try:
                    c = self.streaming_put(b, k, lines)
                except Exception as e:  # noqa: BLE001
                    c = status(e)
            if c != "200":
                out.append(f"{label}: PutObject {c}")
                continue
            h = self.s3.head_object(Bucket=b, Key=k)
            body = self.s3.get_object(Bucket=b, Key=k)["Body"].read()
            got = h.get("ContentEncoding")
            out.append(f"{label} → {('`' + got + '`') if got else 'absent'}"
                       + ("" if body == b"hello" else f", body stored as {body[:40]!r}"))
        self.cell("row12_aws_chunked", "; ".join(out))


ROWS = [
    ("row0_setup", "0. The env's key creates a bucket over S3 and owns it"),
    ("row1_put", "1. PutObject with Content-Encoding `UTF-8`, Cache-Control, Content-Disposition, "
                 "Content-Language, Expires, x-amz-meta-*, website-redirect, STANDARD_IA → HeadObject"),
    ("row2_list", "2. ListObjectsV2 `encoding-type=url` (keys `a b`, `a+b`, `a%b`, `a\\x01b`), StartAfter"),
    ("row3_replace", "3. CopyObject to itself, REPLACE, all fields re-sent, new Content-Encoding `gzip`"),
    ("row4_noop", "4. CopyObject to itself, COPY, nothing changed (the illegal no-op copy)"),
    ("row5_source_if_match", "5. `x-amz-copy-source-if-match` on CopyObject"),
    ("row6_dest_if_match", "6. Destination `If-Match` on CopyObject"),
    ("row7_acl", "7. ACLs"),
    ("row8_tagging", "8. Tagging"),
    ("row9_versioning", "9. Versioning"),
    ("row10_multipart", "10. Multipart copy in place (Create with metadata, UploadPartCopy ranges of "
                        "the same 6 MiB key, Complete, Abort)"),
    ("row11_missing", "11. HeadObject missing key / HeadBucket missing bucket / bucket region header"),
    ("row12_aws_chunked", "12. `aws-chunked` in Content-Encoding: what HeadObject returns"),
]


def load_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                k, v = line.split("=", 1)
                env[k] = v
    return env


def probe_server(name):
    subprocess.run([SERVERS_SH, "start", name], check=True)
    try:
        env_file = subprocess.run([SERVERS_SH, "env", name], check=True, capture_output=True,
                                  text=True).stdout.strip()
        before = len(BARE_400)
        cells, details = Probe(load_env(env_file)).run()
        details["bare_400_retries"] = BARE_400[before:]
        return cells, details
    finally:
        subprocess.run([SERVERS_SH, "stop", name], check=False)


def versions():
    """Column headers: the pinned versions from servers.sh."""
    pins = {}
    with open(SERVERS_SH) as f:
        for line in f:
            for var, name in (("MOTO_VERSION", "moto"), ("S3S_FS_VERSION", "s3s-fs"),
                              ("GARAGE_VERSION", "garage")):
                if line.startswith(var + "="):
                    pins[name] = line.split("=", 1)[1].split()[0]
    return pins


def table(results):
    pins = versions()
    names = list(results)
    label = {"moto": "moto", "s3s-fs": "s3s-fs", "garage": "Garage"}
    head = "| behaviour | " + " | ".join(f"{label.get(n, n)} {pins.get(n, '')}".strip() for n in names) + " |"
    lines = [head, "|" + "---|" * (len(names) + 1)]
    for row, title in ROWS:
        cells = [results[n][0].get(row, "not probed").replace("|", "\\|") for n in names]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")
    retried = [f"{n}: {len(results[n][1].get('bare_400_retries', []))}" for n in names]
    lines.append("")
    lines.append(f"Bare 400s retried by the probe in this run: {', '.join(retried)}.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("servers", nargs="*", default=["moto", "s3s-fs", "garage"])
    ap.add_argument("--env", help="probe the running server of this env file instead")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    results = {}
    if a.env:
        env = load_env(a.env)
        results[env["S3MEND_COMPAT_SERVER"]] = Probe(env).run()
    else:
        for name in a.servers:
            results[name] = probe_server(name)
    if a.json:
        print(json.dumps({n: {"cells": c, "details": d} for n, (c, d) in results.items()}, indent=1,
                         default=str))
    else:
        print(table(results))


if __name__ == "__main__":
    sys.exit(main())
