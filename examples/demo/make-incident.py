#!/usr/bin/env python3
"""Regenerate incident.jsonl, the demo's recorded incident (deterministic).

Three hours of one-minute data in the recorded-data format (design.md, "Recorded data"):
CloudWatch datapoints for the ALB behind the API, and direct event counts for the
web front end (a PromQL SLI). From 11:15 the API's targets start failing (4 % 5XX, then
the load balancer itself answers 503s); the web front end degrades from 11:35. Both burn
their 30-day budget fast enough to page within minutes of the start of the replay.
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

def point(t, metric, value):
    return {"ts": ts(t), "namespace": "AWS/ApplicationELB", "metric": metric,
            "dimensions": lb, "stat": "Sum", "period": 60, "value": value}

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
        rows.append({"ts": ts(t), "slo_id": "mass-spec-web-availability",
                     "good": web_total - web_bad, "total": web_total})
        for r in rows:
            out.write(json.dumps(r, separators=(",", ":")) + "\n")
