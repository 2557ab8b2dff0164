"""The page the daemon delivered to the SNS topic of the CloudFormation stack, and the
self-alert metrics on the daemon's /metrics (scripts/check-deploy.sh).

  check_page.py subscribe MOTO_URL TOPIC_ARN
      subscribes a new SQS queue to the topic (before the daemon starts), prints its URL;
  check_page.py wait MOTO_URL QUEUE_URL SLO_ID DAEMON_URL PROMETHEUSRULE TIMEOUT_S
      exits 0 once a FIRING page for SLO_ID arrived through the topic on the queue and
      every burnwatch_* series the PrometheusRule's expressions use is on
      DAEMON_URL/metrics; 1 at the timeout.

The queue, not moto's /moto-api/data.json, because that endpoint re-evaluates every
CloudFormation stack's outputs and fails once a stack made an IAM role (moto 5.2.5).
"""
import json
import re
import sys
import time
import urllib.request

import boto3
import yaml

REGION = "eu-west-1"


def client(name, moto):
    return boto3.client(name, region_name=REGION, endpoint_url=moto,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


if sys.argv[1] == "subscribe":
    moto, topic = sys.argv[2:4]
    sqs = client("sqs", moto)
    url = sqs.create_queue(QueueName=f"check-deploy-pages-{int(time.time() * 1000)}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns", moto).subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    print(url)
    sys.exit(0)

moto, queue, slo, daemon, rule_file, timeout = sys.argv[2:8]
sqs = client("sqs", moto)
deadline = time.monotonic() + float(timeout)
rules = yaml.safe_load(open(rule_file))["spec"]["groups"]
used = sorted({m for g in rules for r in g["rules"] for m in re.findall(r"\bburnwatch_[a-z_]+", r["expr"])})


def exported():
    text = urllib.request.urlopen(f"{daemon}/metrics", timeout=10).read().decode()
    return {m.group(1) for m in re.finditer(r"^(burnwatch_[a-z_]+)[{ ]", text, re.M)}


page, missing = None, used
while time.monotonic() < deadline:
    for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
        envelope = json.loads(m["Body"])  # SNS's notification envelope around the message
        subject = envelope.get("Subject", "")
        if subject.startswith("[FIRING:page] ") and subject.endswith(" " + slo):
            if slo not in envelope["Message"]:
                print(f"check-deploy: the page's message does not name {slo}: {envelope['Message'][:300]}",
                      file=sys.stderr)
                sys.exit(1)
            page = subject
    missing = [m for m in used if m not in exported()]
    if page and not missing:
        print(f"page through the stack's topic: {page!r}; the PrometheusRule's {len(used)} "
              f"burnwatch_* series all on /metrics: {', '.join(used)}")
        sys.exit(0)
print(f"check-deploy: after {timeout}s: page for {slo} through the topic: {page}; "
      f"series the PrometheusRule uses but /metrics lacks: {missing}", file=sys.stderr)
sys.exit(1)
