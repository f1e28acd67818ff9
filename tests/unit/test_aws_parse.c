/* Unit tests for the AWS client's parsers and policies (aws_xml.c,
 * aws_http.c) on stored answers: tests/unit/fixtures/aws/ holds answers in
 * real AWS's shapes (from its API reference: un-namespaced EC2 errors,
 * namespaced DescribeInstances with pagination ...) and answers captured
 * from moto server (moto_*.xml). Also the classification of every class,
 * the back-off bounds and the options from [cloud]. Reads the fixtures
 * under ABACO_SOURCE_DIR. */
#include <jansson.h>

#include "actor/aws.h"
#include "actor/config.h"
#include "test.h"

static char *fixture(const char *name, size_t *len) {
  const char *d = getenv("ABACO_SOURCE_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/unit/fixtures/aws/%s", d && *d ? d : ".", name);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    test__fail(__FILE__, __LINE__, "cannot open fixture %s (set ABACO_SOURCE_DIR)", path);
    return NULL;
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  size_t got = buf ? fread(buf, 1, (size_t)n, f) : 0;
  if (buf)
    buf[got] = '\0';
  fclose(f);
  *len = got;
  return buf;
}

static const char *jstr(const json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "(not a string)";
}

typedef int (*parse_fn)(const char *xml, size_t len, json_t **out);

/* What parse makes of the fixture `file`, which it must parse. */
static json_t *parsed(const char *file, parse_fn parse) {
  size_t len;
  char *xml = fixture(file, &len);
  json_t *out = NULL;
  int rc = parse(xml, len, &out);
  free(xml);
  ASSERT_EQ_INT(rc, 0);
  return out;
}

static void check_request_id(const char *file, const char *request_id) {
  aws_result_t res;
  memset(&res, 0, sizeof res);
  size_t len;
  char *xml = fixture(file, &len);
  aws_parse_request_id(xml, len, &res);
  free(xml);
  ASSERT_EQ_STR(res.request_id, request_id);
}

/* ---- errors ---- */

static void check_error(const char *file, int status, aws_class_t cls, const char *code,
                        const char *msg_start, const char *request_id) {
  size_t len;
  char *xml = fixture(file, &len);
  aws_result_t res;
  memset(&res, 0, sizeof res);
  int rc = aws_parse_error(xml, len, status, &res);
  free(xml);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_STR(res.code, code);
  ASSERT_EQ_STR(aws_class_name(res.cls), aws_class_name(cls));
  ASSERT_EQ_INT(res.http_status, status);
  ASSERT_TRUE(strncmp(res.message, msg_start, strlen(msg_start)) == 0);
  ASSERT_EQ_STR(res.request_id, request_id);
}

static void test_error_ec2_unnamespaced(void) {
  check_error("ec2_error_throttle.xml", 503, AWS_THROTTLE, "RequestLimitExceeded",
              "Request limit exceeded.", "5d2a2d6c-4e49-4a0c-9d38-8a1b2e3f4a5b");
  check_error("ec2_error_capacity.xml", 500, AWS_CAPACITY, "InsufficientInstanceCapacity",
              "We currently do not have sufficient m5.large", "7a1f0c3e-2b9d-4d55-8e6f-0c1d2e3f4a5b");
  check_error("ec2_error_auth.xml", 401, AWS_AUTH, "AuthFailure", "AWS was not able",
              "0b8c9e3a-1c2d-4e5f-8a9b-0c1d2e3f4a5b");
}

static void test_error_moto_namespaced(void) {
  check_error("moto_describe_instances_missing.xml", 400, AWS_NOTFOUND,
              "InvalidInstanceID.NotFound", "The instance ID 'i-00000000000000000' does not exist",
              "request-id");
  check_error("moto_describe_stacks_missing.xml", 400, AWS_NOTFOUND, "ValidationError",
              "Stack with id nope does not exist",
              "P6NlnmPTCaUWfdx3vJofwa2iFlKUyysMPSNOXAPhcegvQ39wwtqZ");
  check_error("moto_create_stack_exists.xml", 400, AWS_PERMANENT, "AlreadyExistsException",
              "Stack s1 already exists", "iGgXuARVAhou6FAFdd6Usd73yXhKLMUJ4tpKGYsYgxHBEwPKb4aV");
}

static void test_error_cfn(void) {
  check_error("cfn_error_notfound.xml", 400, AWS_NOTFOUND, "ValidationError",
              "Stack with id x does not exist", "4af14eec-350e-11e4-b260-EXAMPLE");
  check_error("cfn_error_throttling.xml", 400, AWS_THROTTLE, "Throttling", "Rate exceeded",
              "9b3e7d1c-aaaa-4bbb-8ccc-EXAMPLE");
}

static void test_error_not_an_error(void) {
  aws_result_t res;
  memset(&res, 0, sizeof res);
  size_t len;
  char *xml = fixture("cfn_create_stack.xml", &len);
  ASSERT_EQ_INT(aws_parse_error(xml, len, 400, &res), ACTOR_EPARSE);
  free(xml);
  ASSERT_EQ_INT(aws_parse_error("<html>bad gateway</html>", 24, 502, &res), ACTOR_EPARSE);
  ASSERT_EQ_INT(aws_parse_error("", 0, 502, &res), ACTOR_EPARSE);
  ASSERT_EQ_INT(aws_parse_error("not xml", 7, 502, &res), ACTOR_EPARSE);
}

static void test_classify(void) {
  struct {
    const char *code;
    int status;
    const char *msg;
    aws_class_t cls;
  } cases[] = {
      {"RequestLimitExceeded", 503, NULL, AWS_THROTTLE},
      {"Throttling", 400, "Rate exceeded", AWS_THROTTLE},
      {"ThrottlingException", 400, NULL, AWS_THROTTLE},
      {NULL, 429, NULL, AWS_THROTTLE},
      {NULL, 503, NULL, AWS_THROTTLE},
      {"", 503, NULL, AWS_THROTTLE},
      {"InternalError", 500, NULL, AWS_TRANSIENT},
      {"ServiceUnavailable", 500, NULL, AWS_TRANSIENT},
      {NULL, 500, NULL, AWS_TRANSIENT},
      {NULL, 502, NULL, AWS_TRANSIENT},
      {"Whatever", 504, NULL, AWS_TRANSIENT},
      {"ConnectionError", 0, "Failed to connect", AWS_TRANSIENT},
      {"Timeout", 0, NULL, AWS_TRANSIENT},
      {NULL, 0, NULL, AWS_TRANSIENT},
      {"InsufficientInstanceCapacity", 500, NULL, AWS_CAPACITY},
      {"InstanceLimitExceeded", 400, NULL, AWS_CAPACITY},
      {"InsufficientFreeAddressesInSubnet", 400, NULL, AWS_CAPACITY},
      {"AuthFailure", 401, NULL, AWS_AUTH},
      {"UnauthorizedOperation", 403, NULL, AWS_AUTH},
      {"InvalidClientTokenId", 403, NULL, AWS_AUTH},
      {"SignatureDoesNotMatch", 403, NULL, AWS_AUTH},
      {"AccessDenied", 403, NULL, AWS_AUTH},
      {"ExpiredToken", 400, NULL, AWS_AUTH},
      {NULL, 401, NULL, AWS_AUTH},
      {NULL, 403, NULL, AWS_AUTH},
      {"InvalidInstanceID.NotFound", 400, NULL, AWS_NOTFOUND},
      {"InvalidVolume.NotFound", 400, NULL, AWS_NOTFOUND},
      {"ValidationError", 400, "Stack with id x does not exist", AWS_NOTFOUND},
      {"ValidationError", 400, "Stack [abaco-x] does not exist", AWS_NOTFOUND},
      {"ValidationError", 400, "Template format error: JSON not well-formed", AWS_PERMANENT},
      {"ValidationError", 400, NULL, AWS_PERMANENT},
      {"InvalidInstanceID.Malformed", 400, NULL, AWS_PERMANENT},
      {"InvalidAMIID.NotFound", 400, NULL, AWS_PERMANENT},
      {"AlreadyExistsException", 400, NULL, AWS_PERMANENT},
      {"InvalidParameterValue", 400, NULL, AWS_PERMANENT},
      {NULL, 400, NULL, AWS_PERMANENT},
      {NULL, 404, NULL, AWS_PERMANENT},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    aws_class_t got = aws_classify(cases[i].code, cases[i].status, cases[i].msg);
    if (got != cases[i].cls)
      fprintf(stderr, "case %zu: %s %d \"%s\"\n", i, cases[i].code ? cases[i].code : "(null)",
              cases[i].status, cases[i].msg ? cases[i].msg : "(null)");
    ASSERT_EQ_STR(aws_class_name(got), aws_class_name(cases[i].cls));
  }
  ASSERT_EQ_STR(aws_class_name(AWS_OK), "ok");
  ASSERT_EQ_STR(aws_class_name(AWS_THROTTLE), "throttle");
  ASSERT_EQ_STR(aws_class_name(AWS_TRANSIENT), "transient");
  ASSERT_EQ_STR(aws_class_name(AWS_CAPACITY), "capacity");
  ASSERT_EQ_STR(aws_class_name(AWS_AUTH), "auth");
  ASSERT_EQ_STR(aws_class_name(AWS_NOTFOUND), "notfound");
  ASSERT_EQ_STR(aws_class_name(AWS_PERMANENT), "permanent");
}

static void test_backoff_bounds(void) {
  /* the ceiling doubles from base and stops at cap */
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 1, 0.0), 0);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 1, 0.999999), 200);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 2, 0.999999), 400);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 3, 0.999999), 800);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 7, 0.999999), 12800);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 8, 0.999999), 20000);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 1000, 0.999999), 20000);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 3, 0.5), 400);
  ASSERT_EQ_INT(aws_backoff_ms(200, 100, 1, 0.999999), 100); /* cap below base */
  /* out-of-range inputs stay in bounds */
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 0, 0.999999), 200);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, -5, 0.999999), 200);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 1, 1.0), 200);
  ASSERT_EQ_INT(aws_backoff_ms(200, 20000, 1, -3.0), 0);
  ASSERT_EQ_INT(aws_backoff_ms(0, 20000, 3, 0.5), 0);
  long big = aws_backoff_ms(1L << 40, 1L << 50, 60, 0.999999); /* no overflow */
  ASSERT_TRUE(big > (1L << 49) && big <= (1L << 50));
  for (int n = 1; n <= 40; n++)
    for (double r = 0; r < 1; r += 0.0625) {
      long v = aws_backoff_ms(200, 20000, n, r);
      ASSERT_TRUE(v >= 0 && v <= 20000);
      long ceil = 200;
      for (int i = 1; i < n && ceil < 20000; i++)
        ceil *= 2;
      ASSERT_TRUE(v <= (ceil < 20000 ? ceil : 20000));
    }
}

/* ---- EC2 ---- */

static void test_describe_instances_pages(void) {
  size_t len;
  char *xml = fixture("ec2_describe_instances_page1.xml", &len);
  json_t *all = json_array();
  char *token = NULL;
  ASSERT_EQ_INT(aws_parse_describe_instances(xml, len, all, &token), 0);
  free(xml);
  ASSERT_EQ_STR(token, "eyJ2IjoiMiIsImMiOiJleGFtcGxlIn0=");
  free(token);
  ASSERT_EQ_INT(json_array_size(all), 2);
  json_t *i0 = json_array_get(all, 0);
  ASSERT_EQ_STR(jstr(i0, "instance_id"), "i-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(i0, "state"), "running");
  ASSERT_EQ_STR(jstr(i0, "instance_type"), "t2.micro");
  ASSERT_EQ_STR(jstr(i0, "image_id"), "ami-bff32ccc");
  ASSERT_EQ_STR(jstr(i0, "launch_time"), "2018-05-08T16:46:19.000Z");
  ASSERT_EQ_STR(jstr(i0, "private_ip"), "192.168.1.88"); /* not the interface's .99 */
  ASSERT_EQ_STR(jstr(i0, "public_ip"), "54.194.252.215");
  ASSERT_EQ_STR(jstr(i0, "availability_zone"), "eu-west-1c");
  ASSERT_EQ_STR(jstr(i0, "key_name"), "my_keypair");
  json_t *tags = json_object_get(i0, "tags");
  ASSERT_EQ_INT(json_object_size(tags), 2); /* not the interface's tag */
  ASSERT_EQ_STR(jstr(tags, "Name"), "Server_1");
  ASSERT_EQ_STR(jstr(tags, "LaunchedBy"), "ABACO");
  json_t *vols = json_object_get(i0, "volumes");
  ASSERT_EQ_INT(json_array_size(vols), 2);
  ASSERT_EQ_STR(json_string_value(json_array_get(vols, 0)), "vol-1234567890abcdef0");
  ASSERT_EQ_STR(json_string_value(json_array_get(vols, 1)), "vol-0fedcba9876543210");

  json_t *i1 = json_array_get(all, 1);
  ASSERT_EQ_STR(jstr(i1, "state"), "stopped");
  ASSERT_TRUE(json_is_null(json_object_get(i1, "public_ip")));
  ASSERT_TRUE(json_is_null(json_object_get(i1, "key_name")));
  ASSERT_EQ_INT(json_object_size(json_object_get(i1, "tags")), 0);
  ASSERT_EQ_INT(json_array_size(json_object_get(i1, "volumes")), 0);

  /* the last page (an empty nextToken) appends and ends the listing */
  xml = fixture("ec2_describe_instances_page2.xml", &len);
  token = (char *)"unchanged";
  ASSERT_EQ_INT(aws_parse_describe_instances(xml, len, all, &token), 0);
  free(xml);
  ASSERT_TRUE(token == NULL);
  ASSERT_EQ_INT(json_array_size(all), 3);
  json_t *i2 = json_array_get(all, 2);
  ASSERT_EQ_STR(jstr(i2, "state"), "terminated");
  ASSERT_EQ_STR(jstr(json_object_get(i2, "tags"), "Empty"), "");
  ASSERT_TRUE(json_is_null(json_object_get(i2, "launch_time")));
  json_decref(all);
}

static void test_describe_instances_moto(void) {
  size_t len;
  char *xml = fixture("moto_describe_instances.xml", &len);
  json_t *all = json_array();
  char *token = NULL;
  ASSERT_EQ_INT(aws_parse_describe_instances(xml, len, all, &token), 0);
  free(xml);
  ASSERT_TRUE(token == NULL);
  ASSERT_EQ_INT(json_array_size(all), 1);
  json_t *i0 = json_array_get(all, 0);
  ASSERT_EQ_STR(jstr(i0, "instance_id"), "i-5b6dce7b5ca25a13f");
  ASSERT_EQ_STR(jstr(i0, "state"), "running");
  ASSERT_EQ_STR(jstr(i0, "image_id"), "ami-03cf127a");
  ASSERT_EQ_STR(jstr(i0, "private_ip"), "10.34.147.212");
  ASSERT_EQ_STR(jstr(i0, "public_ip"), "54.214.100.186");
  ASSERT_EQ_STR(jstr(i0, "availability_zone"), "us-east-1a");
  ASSERT_EQ_STR(jstr(json_object_get(i0, "tags"), "LaunchedBy"), "T1");
  ASSERT_EQ_STR(jstr(json_object_get(i0, "tags"), "aws:cloudformation:stack-name"), "s1");
  json_decref(all);

  check_request_id("moto_describe_instances.xml", "request-id");
}

static void test_describe_volumes(void) {
  json_t *vols = parsed("ec2_describe_volumes.xml", aws_parse_describe_volumes);
  ASSERT_EQ_INT(json_array_size(vols), 1);
  json_t *v = json_array_get(vols, 0);
  ASSERT_EQ_STR(jstr(v, "volume_id"), "vol-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(v, "state"), "in-use");
  ASSERT_EQ_INT(json_integer_value(json_object_get(v, "size")), 80);
  ASSERT_EQ_STR(jstr(v, "kms_key_id"),
                "arn:aws:kms:us-east-1:123456789012:key/abcd1234-a123-456a-a12b-a123b4cd56ef");
  json_t *att = json_object_get(v, "attachments");
  ASSERT_EQ_INT(json_array_size(att), 1);
  ASSERT_EQ_STR(jstr(json_array_get(att, 0), "instance_id"), "i-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(json_array_get(att, 0), "device"), "/dev/sdh");
  ASSERT_EQ_STR(jstr(json_array_get(att, 0), "state"), "attached");
  json_decref(vols);

  vols = parsed("moto_describe_volumes.xml", aws_parse_describe_volumes);
  v = json_array_get(vols, 0);
  ASSERT_EQ_STR(jstr(v, "volume_id"), "vol-b8a78c6d422da1fb0");
  ASSERT_EQ_INT(json_integer_value(json_object_get(v, "size")), 8);
  ASSERT_TRUE(json_is_null(json_object_get(v, "kms_key_id")));
  ASSERT_EQ_STR(jstr(json_array_get(json_object_get(v, "attachments"), 0), "device"), "/dev/sdb");
  json_decref(vols);
}

/* ---- CloudFormation ---- */

static void test_create_stack(void) {
  const char *files[] = {"cfn_create_stack.xml", "moto_create_stack.xml"};
  const char *ids[] = {
      "arn:aws:cloudformation:us-east-1:123456789:stack/MyStack/aaf549a0-a413-11df-adb3-5081b3858e83",
      "arn:aws:cloudformation:us-east-1:123456789012:stack/s1/a8cf5986-f9ab-4f65-a122-79706be9f795"};
  for (int i = 0; i < 2; i++) {
    size_t len;
    char *xml = fixture(files[i], &len), *id = NULL;
    ASSERT_EQ_INT(aws_parse_create_stack(xml, len, &id), 0);
    free(xml);
    ASSERT_EQ_STR(id, ids[i]);
    free(id);
  }
  check_request_id("cfn_create_stack.xml", "b9b4b068-3a41-11e5-94eb-example");
}

static void test_describe_stacks(void) {
  json_t *st = parsed("cfn_describe_stacks.xml", aws_parse_describe_stacks);
  ASSERT_EQ_STR(jstr(st, "stack_name"), "MyStack");
  ASSERT_EQ_STR(jstr(st, "status"), "CREATE_FAILED");
  ASSERT_EQ_STR(jstr(st, "status_reason"), "The following resource(s) failed to create: [Inst].");
  json_t *outs = json_object_get(st, "outputs");
  ASSERT_EQ_INT(json_object_size(outs), 2);
  ASSERT_EQ_STR(jstr(outs, "InstanceId"), "i-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(outs, "StartPage"), "http://my-load-balancer.amazonaws.com:80/index.html");
  json_decref(st);

  st = parsed("moto_describe_stacks.xml", aws_parse_describe_stacks);
  ASSERT_EQ_STR(jstr(st, "status"), "CREATE_COMPLETE");
  ASSERT_TRUE(json_is_null(json_object_get(st, "status_reason")));
  ASSERT_EQ_STR(jstr(json_object_get(st, "outputs"), "Iid"), "i-5b6dce7b5ca25a13f");
  json_decref(st);

  const char *empty = "<DescribeStacksResponse><DescribeStacksResult><Stacks/>"
                      "</DescribeStacksResult></DescribeStacksResponse>";
  ASSERT_EQ_INT(aws_parse_describe_stacks(empty, strlen(empty), &st), 0);
  ASSERT_TRUE(json_is_null(st));
}

static void test_stack_resources(void) {
  json_t *rs = parsed("cfn_describe_stack_resources.xml", aws_parse_stack_resources);
  ASSERT_EQ_INT(json_array_size(rs), 2);
  json_t *r0 = json_array_get(rs, 0), *r1 = json_array_get(rs, 1);
  ASSERT_EQ_STR(jstr(r0, "logical_id"), "Inst");
  ASSERT_EQ_STR(jstr(r0, "physical_id"), "i-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(r0, "type"), "AWS::EC2::Instance");
  ASSERT_EQ_STR(jstr(r0, "status"), "CREATE_COMPLETE");
  ASSERT_TRUE(json_is_null(json_object_get(r0, "status_reason")));
  ASSERT_TRUE(json_is_null(json_object_get(r1, "physical_id")));
  ASSERT_EQ_STR(jstr(r1, "status_reason"), "Volume size 100000 exceeds the limit");
  json_decref(rs);

  rs = parsed("moto_describe_stack_resources.xml", aws_parse_stack_resources);
  ASSERT_EQ_STR(jstr(json_array_get(rs, 0), "physical_id"), "i-5b6dce7b5ca25a13f");
  json_decref(rs);
}

static void test_stack_events(void) {
  json_t *ev = parsed("cfn_describe_stack_events.xml", aws_parse_stack_events);
  ASSERT_EQ_INT(json_array_size(ev), 2);
  json_t *e0 = json_array_get(ev, 0);
  ASSERT_EQ_STR(jstr(e0, "event_id"), "Event-1-Id");
  ASSERT_EQ_STR(jstr(e0, "logical_id"), "Inst");
  ASSERT_EQ_STR(jstr(e0, "physical_id"), "i-1234567890abcdef0");
  ASSERT_EQ_STR(jstr(e0, "type"), "AWS::EC2::Instance");
  ASSERT_EQ_STR(jstr(e0, "status"), "CREATE_FAILED");
  ASSERT_EQ_STR(jstr(e0, "status_reason"), "We currently do not have sufficient capacity");
  ASSERT_EQ_STR(jstr(e0, "timestamp"), "2010-07-27T22:30:28Z");
  json_decref(ev);

  ev = parsed("moto_describe_stack_events.xml", aws_parse_stack_events);
  ASSERT_EQ_INT(json_array_size(ev), 2);
  ASSERT_EQ_STR(jstr(json_array_get(ev, 1), "status_reason"), "User Initiated");
  json_decref(ev);
}

/* ---- bad input ---- */

/* DescribeLoadBalancerAttributes: the ConnectionDraining timeout when on. */
static void test_elb_draining(void) {
  static const char on[] =
      "<DescribeLoadBalancerAttributesResponse><DescribeLoadBalancerAttributesResult>"
      "<LoadBalancerAttributes><ConnectionDraining><Enabled>true</Enabled>"
      "<Timeout>300</Timeout></ConnectionDraining></LoadBalancerAttributes>"
      "</DescribeLoadBalancerAttributesResult></DescribeLoadBalancerAttributesResponse>";
  static const char off[] =
      "<DescribeLoadBalancerAttributesResponse><DescribeLoadBalancerAttributesResult>"
      "<LoadBalancerAttributes><ConnectionDraining><Enabled>false</Enabled>"
      "<Timeout>300</Timeout></ConnectionDraining></LoadBalancerAttributes>"
      "</DescribeLoadBalancerAttributesResult></DescribeLoadBalancerAttributesResponse>";
  static const char bad[] =
      "<DescribeLoadBalancerAttributesResponse><DescribeLoadBalancerAttributesResult>"
      "<LoadBalancerAttributes><ConnectionDraining><Enabled>true</Enabled>"
      "<Timeout>soon</Timeout></ConnectionDraining></LoadBalancerAttributes>"
      "</DescribeLoadBalancerAttributesResult></DescribeLoadBalancerAttributesResponse>";
  int d = -1;
  ASSERT_EQ_INT(aws_parse_elb_draining(on, sizeof(on) - 1, &d), 0);
  ASSERT_EQ_INT(d, 300);
  ASSERT_EQ_INT(aws_parse_elb_draining(off, sizeof(off) - 1, &d), 0);
  ASSERT_EQ_INT(d, 0);
  ASSERT_EQ_INT(aws_parse_elb_draining(bad, sizeof(bad) - 1, &d), ACTOR_EPARSE);
  ASSERT_EQ_INT(aws_parse_elb_draining("<Other/>", 8, &d), ACTOR_EPARSE);
  ASSERT_EQ_INT(d, 0);
}

static void test_malformed(void) {
  const char *names[] = {"malformed.xml", "not_xml.txt"};
  for (int i = 0; i < 2; i++) {
    size_t len;
    char *xml = fixture(names[i], &len), *s = NULL;
    json_t *arr = json_array(), *o = NULL;
    ASSERT_EQ_INT(aws_parse_describe_instances(xml, len, arr, &s), ACTOR_EPARSE);
    ASSERT_TRUE(s == NULL);
    ASSERT_EQ_INT(json_array_size(arr), 0);
    ASSERT_EQ_INT(aws_parse_describe_volumes(xml, len, &o), ACTOR_EPARSE);
    ASSERT_EQ_INT(aws_parse_create_stack(xml, len, &s), ACTOR_EPARSE);
    ASSERT_EQ_INT(aws_parse_describe_stacks(xml, len, &o), ACTOR_EPARSE);
    ASSERT_EQ_INT(aws_parse_stack_resources(xml, len, &o), ACTOR_EPARSE);
    ASSERT_EQ_INT(aws_parse_stack_events(xml, len, &o), ACTOR_EPARSE);
    ASSERT_TRUE(o == NULL && s == NULL);
    aws_result_t res;
    memset(&res, 0, sizeof res);
    aws_parse_request_id(xml, len, &res);
    ASSERT_EQ_STR(res.request_id, "");
    json_decref(arr);
    free(xml);
  }
  /* well-formed, but the wrong answer */
  size_t len;
  char *xml = fixture("moto_describe_volumes.xml", &len), *s = NULL;
  json_t *arr = json_array(), *o = NULL;
  ASSERT_EQ_INT(aws_parse_describe_instances(xml, len, arr, &s), ACTOR_EPARSE);
  ASSERT_EQ_INT(aws_parse_describe_stacks(xml, len, &o), ACTOR_EPARSE);
  ASSERT_EQ_INT(aws_parse_create_stack(xml, len, &s), ACTOR_EPARSE);
  json_decref(arr);
  free(xml);
  /* an external entity is not fetched (XML_PARSE_NONET) nor expanded */
  const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
                    "\"file:///etc/passwd\">]><CreateStackResponse><CreateStackResult>"
                    "<StackId>&x;</StackId></CreateStackResult></CreateStackResponse>";
  int rc = aws_parse_create_stack(xxe, strlen(xxe), &s);
  ASSERT_EQ_INT(rc, ACTOR_EPARSE);
  ASSERT_TRUE(s == NULL);
  /* nor is an internal one: a document with a DTD is not an AWS answer
   * (this one, ten-fold expansion that libxml2's own limit lets through,
   * was read before) */
  char lol[2048], *p = lol;
  p += sprintf(p, "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"%s\"><!ENTITY b \"",
               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
  for (int i = 0; i < 10; i++)
    p += sprintf(p, "&a;");
  sprintf(p, "\">]><Response><Errors><Error><Code>X</Code><Message>&b;</Message></Error>"
             "</Errors><RequestID>r</RequestID></Response>");
  aws_result_t res;
  memset(&res, 0, sizeof res);
  ASSERT_EQ_INT(aws_parse_error(lol, strlen(lol), 400, &res), ACTOR_EPARSE);
  ASSERT_EQ_STR(res.message, "");
  const char *plain = "<Response><Errors><Error><Code>X</Code><Message>m</Message></Error>"
                      "</Errors><RequestID>r</RequestID></Response>";
  ASSERT_EQ_INT(aws_parse_error(plain, strlen(plain), 400, &res), 0);
  ASSERT_EQ_STR(res.message, "m");
}

/* ---- options ---- */

static void test_opts_from_config(void) {
  actor_config_t *cfg = NULL;
  unsetenv("AWS_ACCESS_KEY_ID");
  unsetenv("AWS_REGION");
  unsetenv("AWS_DEFAULT_REGION");
  setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
  ASSERT_EQ_INT(actor_config_parse("[cloud]\nendpoint = http://127.0.0.1:5000\n"
                                   "access_key_id = AKID\nmax_retries = 3\n"
                                   "describe_rate = 2.5\n",
                                   &cfg),
                0);
  aws_opts_t o;
  ASSERT_EQ_INT(aws_opts_from_config(cfg, &o), 0);
  ASSERT_EQ_STR(o.endpoint, "http://127.0.0.1:5000");
  ASSERT_EQ_STR(o.region, "us-east-1");
  ASSERT_EQ_STR(o.access_key, "AKID");
  ASSERT_EQ_STR(o.secret_key, "envsecret");
  ASSERT_TRUE(o.session_token == NULL);
  ASSERT_EQ_INT(o.max_retries, 3);
  ASSERT_EQ_INT(o.retry_base_ms, 200);
  ASSERT_EQ_INT(o.retry_cap_ms, 20000);
  ASSERT_EQ_INT(o.timeout_ms, 30000);
  ASSERT_TRUE(o.describe_rate == 2.5 && o.describe_burst == 20);
  aws_t *a = NULL;
  ASSERT_EQ_INT(aws_new(&o, &a), 0);
  aws_free(a);
  actor_config_free(cfg);

  const char *bad[] = {"[cloud]\nmax_retries = -1\n", "[cloud]\nretry_base_ms = x\n",
                       "[cloud]\ndescribe_rate = 0\n", "[cloud]\nendpoint = ftp://x\n",
                       "[cloud]\nregion = US EAST\n",
                       "[cloud]\nretry_base_ms = 500\nretry_cap_ms = 100\n"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    ASSERT_EQ_INT(actor_config_parse(bad[i], &cfg), 0);
    ASSERT_EQ_INT(aws_opts_from_config(cfg, &o), ACTOR_ECONFIG);
    actor_config_free(cfg);
  }
  unsetenv("AWS_SECRET_ACCESS_KEY");
}

/* No credentials: the call fails with AWS_AUTH without any request. */
static void test_missing_credentials(void) {
  aws_opts_t o = {.endpoint = "http://127.0.0.1:9", .region = "us-east-1"};
  aws_t *a = NULL;
  ASSERT_EQ_INT(aws_new(&o, &a), 0);
  aws_result_t res;
  json_t *out = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack(a, "x", &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "auth");
  ASSERT_EQ_STR(res.code, "MissingCredentials");
  ASSERT_EQ_INT(res.attempts, 0);
  aws_free(a);
}

int main(void) {
  RUN_TEST(test_error_ec2_unnamespaced);
  RUN_TEST(test_error_moto_namespaced);
  RUN_TEST(test_error_cfn);
  RUN_TEST(test_error_not_an_error);
  RUN_TEST(test_classify);
  RUN_TEST(test_backoff_bounds);
  RUN_TEST(test_describe_instances_pages);
  RUN_TEST(test_describe_instances_moto);
  RUN_TEST(test_describe_volumes);
  RUN_TEST(test_create_stack);
  RUN_TEST(test_describe_stacks);
  RUN_TEST(test_stack_resources);
  RUN_TEST(test_stack_events);
  RUN_TEST(test_elb_draining);
  RUN_TEST(test_malformed);
  RUN_TEST(test_opts_from_config);
  RUN_TEST(test_missing_credentials);
  TEST_EXIT();
}
