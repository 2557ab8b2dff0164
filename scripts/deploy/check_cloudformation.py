"""deploy/cloudformation/ in moto's CloudFormation (scripts/check-deploy.sh).

Creates the burnwatch stack twice (a standard topic; a FIFO topic encrypted with a KMS
key) and the bucket request-metrics example, then reads back what CloudFormation made:
the role's trust policy (the one ServiceAccount, the sts.amazonaws.com audience), its
policy (statement for statement deploy/iam-policy.json), the optional KMS policy, the
topic and its attributes, the bucket's metrics configuration. Writes the first stack's
outputs as JSON to argv[2] for the page delivery check.

usage: check_cloudformation.py MOTO_URL OUTPUTS_JSON
"""
import ast
import json
import pathlib
import re
import sys
import time

import boto3
import yaml
from botocore.exceptions import ParamValidationError
from botocore.validate import validate_parameters
from cfnlint.decode import cfn_yaml

moto, outputs_file = sys.argv[1], sys.argv[2]
REGION = "eu-west-1"
ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = (ROOT / "deploy/cloudformation/burnwatch.yaml").read_text()
EXAMPLE = (ROOT / "deploy/cloudformation/examples/bucket-request-metrics.yaml").read_text()
POLICY = json.loads((ROOT / "deploy/iam-policy.json").read_text())
ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
RUN = str(int(time.time() * 1000))  # moto keeps state between runs: unique names

errors = []


def check(ok, msg):
    if not ok:
        errors.append(msg)
    return ok


def client(name):
    return boto3.client(name, region_name=REGION, endpoint_url=moto,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


cfn, iam, sns, kms, s3, sts = (client(n) for n in ("cloudformation", "iam", "sns", "kms", "s3", "sts"))
account = sts.get_caller_identity()["Account"]


def document(doc):
    """A policy document as IAM returns it: JSON (URL-decoded by boto3), or, for inline
    policies moto's CloudFormation created from a YAML mapping, the Python repr of that
    mapping (a moto 5.2.5 quirk: it stores str(dict))."""
    if not isinstance(doc, str):
        return doc
    try:
        return json.loads(doc)
    except json.JSONDecodeError:
        return ast.literal_eval(doc)


def create(name, body, params):
    cfn.create_stack(StackName=name, TemplateBody=body, Capabilities=["CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
    for _ in range(100):
        stack = cfn.describe_stacks(StackName=name)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            break
        time.sleep(0.1)
    if not check(stack["StackStatus"] == "CREATE_COMPLETE", f"{name}: {stack['StackStatus']} "
                 f"{stack.get('StackStatusReason', '')}"):
        return None
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def check_role(out, role_name, ns, sa, kms_key):
    role_arn = out.get("RoleArn", "")
    check(role_arn == f"arn:aws:iam::{account}:role/{role_name}", f"RoleArn output {role_arn}")
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = document(role["AssumeRolePolicyDocument"])
    want_trust = {"Version": "2012-10-17", "Statement": [{
        "Sid": "EksServiceAccount", "Effect": "Allow",
        "Principal": {"Federated": f"arn:aws:iam::{account}:oidc-provider/{ISSUER}"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{ISSUER}:sub": f"system:serviceaccount:{ns}:{sa}",
                                       f"{ISSUER}:aud": "sts.amazonaws.com"}}}]}
    check(trust == want_trust, f"{role_name}: trust policy {json.dumps(trust)}")
    names = sorted(iam.list_role_policies(RoleName=role_name)["PolicyNames"])
    want_names = ["burnwatch", "burnwatch-pages-kms"] if kms_key else ["burnwatch"]
    check(names == want_names, f"{role_name}: inline policies {names} != {want_names}")
    check(iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"] == [],
          f"{role_name}: managed policies attached")
    doc = document(iam.get_role_policy(RoleName=role_name, PolicyName="burnwatch")["PolicyDocument"])
    # The one source of the IAM actions: the stack's policy is deploy/iam-policy.json.
    check(doc == POLICY, f"{role_name}: policy differs from deploy/iam-policy.json:\n"
          f"  stack: {json.dumps(doc, sort_keys=True)}\n  file:  {json.dumps(POLICY, sort_keys=True)}")
    if kms_key:
        doc = document(iam.get_role_policy(RoleName=role_name, PolicyName="burnwatch-pages-kms")["PolicyDocument"])
        check(doc["Statement"] == [{"Sid": "PagesTopicKey", "Effect": "Allow",
                                    "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": kms_key}],
              f"{role_name}: KMS policy {doc}")


def check_topic(out, name, fifo, kms_key):
    arn = out.get("TopicArn", "")
    check(arn == f"arn:aws:sns:{REGION}:{account}:{name}", f"TopicArn output {arn}")
    attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    check(attrs.get("FifoTopic", "false") == ("true" if fifo else "false"), f"{name}: FifoTopic {attrs.get('FifoTopic')}")
    if fifo:
        check(attrs.get("ContentBasedDeduplication") == "false", f"{name}: content-based deduplication")
    check(attrs.get("KmsMasterKeyId", "") == (kms_key or ""), f"{name}: KmsMasterKeyId {attrs.get('KmsMasterKeyId')}")


# 1. Defaults but the names: a standard topic, no key. Its outputs feed the page check.
ns, sa = "burnwatch", "burnwatch"
role1, topic1 = f"burnwatch-{RUN}", f"burnwatch-pages-{RUN}"
out1 = create(f"burnwatch-{RUN}", TEMPLATE, {"OidcIssuer": ISSUER, "RoleName": role1, "TopicName": topic1})
if out1 is not None:
    check(sorted(out1) == ["RoleArn", "TopicArn"], f"outputs {sorted(out1)}")
    check_role(out1, role1, ns, sa, None)
    check_topic(out1, topic1, False, None)
    pathlib.Path(outputs_file).write_text(json.dumps(out1))

# 2. Another namespace and ServiceAccount, a FIFO topic encrypted with a KMS key.
key = kms.create_key(Description="burnwatch pages")["KeyMetadata"]["Arn"]
role2, topic2 = f"burnwatch-fifo-{RUN}", f"burnwatch-pages-fifo-{RUN}"
out2 = create(f"burnwatch-fifo-{RUN}", TEMPLATE, {
    "OidcIssuer": ISSUER, "Namespace": "slo", "ServiceAccount": "burnwatch-eval", "RoleName": role2,
    "TopicName": topic2, "FifoTopic": "true", "KmsKeyArn": key})
if out2 is not None:
    check_role(out2, role2, "slo", "burnwatch-eval", key)
    check_topic(out2, topic2 + ".fifo", True, key)

# 3. The bucket request-metrics example. moto 5.2.5 creates the bucket but implements no
# metrics configurations (neither in CloudFormation nor in the S3 API), so the snippet is
# checked against what the upload SLI reads instead: its Id is the spec's filter_id and
# its default bucket the spec's bucket; and README's `aws s3api
# put-bucket-metrics-configuration` call for an existing bucket carries the same
# configuration and passes botocore's validation of PutBucketMetricsConfiguration.
bucket = f"mass-spec-uploads-{RUN}"
out3 = create(f"bucket-metrics-{RUN}", EXAMPLE, {"BucketName": bucket})
if out3 is not None:
    check(out3.get("BucketName") == bucket, f"example outputs {out3}")
    check(any(b["Name"] == bucket for b in s3.list_buckets()["Buckets"]), f"bucket {bucket} not created")
example = cfn_yaml.loads(EXAMPLE)
props = example["Resources"]["UploadsBucket"]["Properties"]
upload = yaml.safe_load((ROOT / "slo-specs/uploads.yaml").read_text())["slos"][0]["sli"]["plugin"]["options"]
check(example["Parameters"]["BucketName"]["Default"] == upload["bucket"],
      f"example bucket {example['Parameters']['BucketName']['Default']} != the upload SLI's {upload['bucket']}")
configs = props["MetricsConfigurations"]
check([c["Id"] for c in configs] == [upload["filter_id"]],
      f"example metrics configuration ids {[c['Id'] for c in configs]} != the SLI's filter_id {upload['filter_id']}")
want = {"Id": configs[0]["Id"], "Filter": {"Prefix": configs[0]["Prefix"]}}
readme = (ROOT / "README.md").read_text()
m = re.search(r"aws s3api put-bucket-metrics-configuration\s+--bucket (\S+)\s*\\?\s*--id (\S+)\s*\\?\s*"
              r"--metrics-configuration '([^']+)'", readme)
if check(m is not None, "README has no `aws s3api put-bucket-metrics-configuration --bucket B --id I "
         "--metrics-configuration '{...}'` call"):
    cli_bucket, cli_id, cli_conf = m.group(1), m.group(2), json.loads(m.group(3))
    check((cli_bucket, cli_id) == (upload["bucket"], upload["filter_id"]), f"README call for {cli_bucket} {cli_id}")
    check(cli_conf == want, f"README configuration {cli_conf} != the example's {want}")
    op = s3.meta.service_model.operation_model("PutBucketMetricsConfiguration")
    try:
        validate_parameters({"Bucket": cli_bucket, "Id": cli_id, "MetricsConfiguration": cli_conf}, op.input_shape)
    except ParamValidationError as e:
        check(False, f"README's put-bucket-metrics-configuration: {e}")

if errors:
    for e in errors:
        print(f"check-deploy: {e}", file=sys.stderr)
    sys.exit(1)
print(f"cloudformation: 3 stacks created in moto, role/policy/topic/bucket read back ok (account {account})")
