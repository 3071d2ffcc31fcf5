#!/bin/sh
# Creates the S3 Batch Operations job that runs s3mend-batch-lambda on every object of an S3
# Inventory report (examples/batch-operations/README.md). Set, then run:
#   ACCOUNT_ID       the account that owns the job            123456789012
#   REGION           the job's and the function's region      eu-west-1
#   MANIFEST         the inventory's manifest.json            s3://my-inventory-bucket/my-site-bucket/daily/2026-12-01T01-00Z/manifest.json
#   FUNCTION_ARN     the function                             arn:aws:lambda:eu-west-1:123456789012:function:s3mend-batch
#   ROLE_ARN         the job's role (job-trust-policy.json, job-policy.json)
#   REPORT_BUCKET    where the completion report goes        my-inventory-bucket
#   MODE             scan (the default), dry-run or fix
# The job waits for a confirmation (in the console, or `aws s3control update-job-status
# --requested-job-status Ready`), so its object count can be checked first.
set -eu

: "${ACCOUNT_ID:?}" "${REGION:?}" "${MANIFEST:?}" "${FUNCTION_ARN:?}" "${ROLE_ARN:?}" "${REPORT_BUCKET:?}"
MODE=${MODE:-scan}

case $MANIFEST in
s3://*/*) ;;
*)
    echo "MANIFEST must be s3://BUCKET/PATH/manifest.json, not $MANIFEST" >&2
    exit 2
    ;;
esac
manifest_bucket=${MANIFEST#s3://}
manifest_bucket=${manifest_bucket%%/*}
manifest_key=${MANIFEST#s3://"$manifest_bucket"/}

# The job reads the manifest only while its ETag is this one.
etag=$(aws s3api head-object --bucket "$manifest_bucket" --key "$manifest_key" \
    --query ETag --output text --region "$REGION")

aws s3control create-job \
    --region "$REGION" \
    --account-id "$ACCOUNT_ID" \
    --operation '{"LambdaInvoke": {"FunctionArn": "'"$FUNCTION_ARN"'", "InvocationSchemaVersion": "2.0", "UserArguments": {"mode": "'"$MODE"'", "rules": "default"}}}' \
    --manifest '{"Spec": {"Format": "S3InventoryReport_CSV_20161130"}, "Location": {"ObjectArn": "arn:aws:s3:::'"$manifest_bucket/$manifest_key"'", "ETag": '"$etag"'}}' \
    --report '{"Bucket": "arn:aws:s3:::'"$REPORT_BUCKET"'", "Prefix": "s3mend-reports", "Format": "Report_CSV_20180820", "Enabled": true, "ReportScope": "AllTasks"}' \
    --priority 10 \
    --role-arn "$ROLE_ARN" \
    --client-request-token "s3mend-$MODE-$(date +%s)" \
    --description "s3mend $MODE of the objects in $MANIFEST" \
    --confirmation-required
