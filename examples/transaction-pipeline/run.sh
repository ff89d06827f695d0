#!/usr/bin/env bash
# The transaction-processing pipeline against a running `kumo serve`, with the AWS CLI v1: the
# same commands as README.md, in order. ENDPOINT defaults to Kumo's default address.
set -euo pipefail
cd "$(dirname "$0")"
ENDPOINT="${ENDPOINT:-http://127.0.0.1:4566}"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1

# 1. Two buckets: transaction files land in one, results go to the other.
aws --endpoint-url "$ENDPOINT" s3 mb s3://transactions-in
aws --endpoint-url "$ENDPOINT" s3 mb s3://transactions-out

# 2. The function's execution role: it may read incoming files and write results.
aws --endpoint-url "$ENDPOINT" iam create-role --role-name transaction-processor \
  --assume-role-policy-document file://trust-policy.json
aws --endpoint-url "$ENDPOINT" iam put-role-policy --role-name transaction-processor \
  --policy-name transaction-files --policy-document file://role-policy.json

# 3. The function.
(cd processor && python3 -m zipfile -c ../processor.zip lambda_function.py)
aws --endpoint-url "$ENDPOINT" lambda create-function --function-name transaction-processor \
  --runtime python3.12 --handler lambda_function.handler --timeout 30 \
  --role arn:aws:iam::000000000000:role/transaction-processor \
  --environment "Variables={OUTPUT_BUCKET=transactions-out}" \
  --zip-file fileb://processor.zip
aws --endpoint-url "$ENDPOINT" lambda wait function-active-v2 --function-name transaction-processor

# 4. Let S3 invoke it for this bucket, then tell S3 to notify it of new CSV files under incoming/.
aws --endpoint-url "$ENDPOINT" lambda add-permission --function-name transaction-processor \
  --statement-id s3-transactions-in --action lambda:InvokeFunction --principal s3.amazonaws.com \
  --source-arn arn:aws:s3:::transactions-in --source-account 000000000000
aws --endpoint-url "$ENDPOINT" s3api put-bucket-notification-configuration --bucket transactions-in \
  --notification-configuration file://notification.json

# 5. A transaction file lands; S3 notifies the function, which writes its results.
aws --endpoint-url "$ENDPOINT" s3 cp transactions.csv s3://transactions-in/incoming/transactions.csv
aws --endpoint-url "$ENDPOINT" s3api wait object-exists --bucket transactions-out --key results/transactions.json
aws --endpoint-url "$ENDPOINT" s3 cp s3://transactions-out/results/transactions.json -
