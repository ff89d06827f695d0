"""Processes a credit-card transaction file that S3 announced: totals per card, flags suspicious
transactions, and writes the results as JSON to the output bucket (OUTPUT_BUCKET)."""

import csv
import io
import json
import os
import urllib.parse

import boto3

s3 = boto3.client("s3")

# A transaction over this amount, or abroad for a card that is otherwise domestic, is flagged.
LARGE_AMOUNT = 1000.00


def process(rows):
    """Totals and flags for the transactions in `rows` (dicts from the CSV)."""
    totals, countries, flagged = {}, {}, []
    for row in rows:
        amount = float(row["amount"])
        totals[row["card"]] = round(totals.get(row["card"], 0.0) + amount, 2)
        countries.setdefault(row["card"], {}).setdefault(row["country"], 0)
        countries[row["card"]][row["country"]] += 1
    for row in rows:
        seen = countries[row["card"]]
        home = max(seen, key=seen.get)
        reasons = []
        if float(row["amount"]) > LARGE_AMOUNT:
            reasons.append("large amount")
        if row["country"] != home:
            reasons.append(f"abroad ({row['country']}, card usually in {home})")
        if reasons:
            flagged.append({"id": row["id"], "card": row["card"], "amount": row["amount"], "reasons": reasons})
    return {"transactions": len(rows), "totals_by_card": totals, "flagged": flagged}


def handler(event, context):
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        # S3 URL-encodes keys in events (a space arrives as '+').
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        result = process(list(csv.DictReader(io.StringIO(text))))
        result["source"] = f"s3://{bucket}/{key}"
        name = os.path.splitext(os.path.basename(key))[0]
        s3.put_object(
            Bucket=os.environ["OUTPUT_BUCKET"],
            Key=f"results/{name}.json",
            Body=json.dumps(result, indent=2).encode("utf-8"),
            ContentType="application/json",
        )
        print(f"processed {key}: {result['transactions']} transactions, {len(result['flagged'])} flagged")
