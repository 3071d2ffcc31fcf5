#!/usr/bin/env python3
"""The script a user writes after reading about the s3cmd Content-Encoding bug: list the bucket,
HEAD every object on a 16-thread pool, and copy each object whose Content-Encoding names a
charset onto itself (MetadataDirective=REPLACE, conditional on the ETag seen at HEAD), re-sending
the headers it read. A peer for benches/matrix.rs, not part of s3mend.

    python boto3_fix.py --endpoint-url URL --bucket B [--threads 16] [--dry-run]

Credentials and region come from the environment. Prints one JSON line of counts.
"""

import argparse
import concurrent.futures
import json
import sys
import threading

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

# The IANA content codings; anything else in Content-Encoding (UTF-8, ...) is a mistake.
CODINGS = {"aes128gcm", "br", "compress", "dcb", "dcz", "deflate", "exi", "gzip",
           "pack200-gzip", "x-compress", "x-gzip", "zstd"}

# What HEAD returns that a REPLACE copy must send again, as copy_object parameter names.
RESEND = ["ContentType", "CacheControl", "ContentDisposition", "ContentLanguage",
          "WebsiteRedirectLocation", "StorageClass", "ServerSideEncryption", "SSEKMSKeyId"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--dry-run", action="store_true", help="HEAD only, copy nothing")
    args = parser.parse_args()

    s3 = boto3.client(
        "s3",
        endpoint_url=args.endpoint_url,
        config=Config(
            max_pool_connections=args.threads,
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 10},
        ),
    )
    lock = threading.Lock()
    counts = {"listed": 0, "headed": 0, "copied": 0, "conflicts": 0, "errors": 0}

    def bump(name):
        with lock:
            counts[name] += 1

    def fix(key):
        try:
            head = s3.head_object(Bucket=args.bucket, Key=key)
            bump("headed")
            encoding = head.get("ContentEncoding")
            if encoding is None:
                return
            tokens = [t.strip() for t in encoding.split(",")]
            kept = [t for t in tokens if t.lower() in CODINGS]
            if len(kept) == len(tokens) or args.dry_run:
                return
            extra = {name: head[name] for name in RESEND if head.get(name)}
            if kept:
                extra["ContentEncoding"] = ", ".join(kept)
            if "ExpiresString" in head:
                extra["Expires"] = head["ExpiresString"]
            s3.copy_object(
                Bucket=args.bucket,
                Key=key,
                CopySource={"Bucket": args.bucket, "Key": key},
                CopySourceIfMatch=head["ETag"],
                MetadataDirective="REPLACE",
                Metadata=head.get("Metadata", {}),
                **extra,
            )
            bump("copied")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            bump("conflicts" if code in ("PreconditionFailed", "412") else "errors")

    with concurrent.futures.ThreadPoolExecutor(max_workers=args.threads) as pool:
        futures = []
        for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=args.bucket, Prefix=args.prefix
        ):
            for obj in page.get("Contents", []):
                counts["listed"] += 1
                futures.append(pool.submit(fix, obj["Key"]))
        for future in futures:
            future.result()
    json.dump(counts, sys.stdout)
    print()
    return 1 if counts["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
