#!/usr/bin/env python3
"""Regenerate incident.jsonl, the demo's recorded incident (deterministic).

Three hours of one-minute data in the recorded-data format (design.md, "Recorded data"),
for every SLO of slo-specs/, each in the form `burnwatch run --record` writes for its
source: CloudWatch datapoints for the ALB behind the API, the uploads bucket's S3 request
metrics and the analysis state machine's AWS/States counters; SLO event lines for the web
front end (a PromQL SLI), analysis latency (Step Functions API) and Batch job success
(Batch API).

The incident: from 11:15 the API's targets start failing (4 % 5XX, then the load balancer
itself answers 503s); the web front end degrades from 11:35. Both burn their 30-day
budget fast enough to page within minutes of the start of the replay. Uploads fail a
little more than they may (a ticket-level burn); analyses stay healthy.
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(20261120)
start = datetime(2026, 11, 20, 9, 0, tzinfo=timezone.utc)
lb = {"LoadBalancer": "app/mass-spec/0123456789abcdef"}
incident = datetime(2026, 11, 20, 11, 15, tzinfo=timezone.utc)
web_incident = datetime(2026, 11, 20, 11, 35, tzinfo=timezone.utc)

def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")

uploads = {"BucketName": "mass-spec-uploads", "FilterId": "uploads"}
machine = {"StateMachineArn":
           "arn:aws:states:eu-west-1:123456789012:stateMachine:mass-spec-analysis"}

def point(t, metric, value, namespace="AWS/ApplicationELB", dims=lb):
    return {"ts": ts(t), "namespace": namespace, "metric": metric,
            "dimensions": dims, "stat": "Sum", "period": 60, "value": value}

def events(t, slo, good, total):
    return {"ts": ts(t), "slo_id": slo, "good": good, "total": total}

with open("incident.jsonl", "w") as out:
    for minute in range(180):
        t = start + timedelta(minutes=minute)
        requests = 1100 + rng.randint(0, 200)
        target_5xx = rng.choice([0, 0, 0, 1])
        elb_5xx = 0
        if t >= incident:
            target_5xx = int(requests * rng.uniform(0.03, 0.05))
            if t >= incident + timedelta(minutes=20):
                elb_5xx = rng.randint(10, 30)
        rows = [point(t, "RequestCount", requests)]
        # CloudWatch publishes no datapoint for a count that stayed zero.
        if target_5xx:
            rows.append(point(t, "HTTPCode_Target_5XX_Count", target_5xx))
        if elb_5xx:
            rows.append(point(t, "HTTPCode_ELB_5XX_Count", elb_5xx))
        web_total = 300 + rng.randint(0, 60)
        web_bad = rng.choice([0, 0, 1])
        if t >= web_incident:
            web_bad = int(web_total * rng.uniform(0.35, 0.45))
        rows.append(events(t, "mass-spec-web-availability", web_total - web_bad, web_total))
        # Uploads: ~40 PUTs a minute on the uploads prefix; 0.3 % 5XX during the incident
        # (S3 throttling the retry storm), over the 99.9 % objective: a slow burn.
        puts = 35 + rng.randint(0, 10)
        rows.append(point(t, "PutRequests", puts, "AWS/S3", uploads))
        s3_5xx = rng.choice([0] * 30 + [1] * (15 if t >= incident else 0))
        if s3_5xx:
            rows.append(point(t, "5xxErrors", s3_5xx, "AWS/S3", uploads))
        # Analyses: a few executions finish a minute; rare failures, within objective.
        if minute % 3 == 0:
            succeeded = rng.randint(2, 5)
            rows.append(point(t, "ExecutionsSucceeded", succeeded, "AWS/States", machine))
            if rng.random() < 0.003:
                rows.append(point(t, "ExecutionsFailed", 1, "AWS/States", machine))
            slow = 1 if rng.random() < 0.02 else 0
            rows.append(events(t, "mass-spec-analysis-latency", succeeded - slow, succeeded))
        jobs = rng.randint(4, 9)
        failed = 1 if rng.random() < 0.01 else 0
        rows.append(events(t, "mass-spec-batch-job-success", jobs - failed, jobs))
        for r in rows:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
