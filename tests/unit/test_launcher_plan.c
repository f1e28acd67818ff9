/* The launcher's pure parts (services/launcher/src/plan.c): command bodies
 * (good and bad), MLiy's stack parameters from configuration + group +
 * record, filtering them by the parameters a JSON or YAML template
 * declares, the tags, the platform tokens, the poll back-off schedule, the
 * stack phases and the failure reason picked from DescribeStackEvents. */
#include <jansson.h>

#include "actor/errors.h"
#include "launcher.h"
#include "test.h"

/* o[k] when it is a string, else NULL. */
static const char *str(const json_t *o, const char *k) {
  return json_string_value(json_object_get(o, k));
}

static json_t *config_with_volume(void) {
  return json_pack("{s:s, s:s, s:{s:s, s:i, s:s}}", "name", "mliy", "image_id", "ami-1234",
                   "volume", "device", "/dev/sdf", "size", 50, "kms_key_id", "kms-9");
}

static json_t *group(void) {
  return json_pack("{s:s, s:s, s:s, s:[s,s], s:s, s:s}", "name", "g", "key_name", "kp",
                   "iam_instance_profile", "prof", "security_group_ids", "sg-1", "sg-2",
                   "subnet_id", "subnet-7", "availability_zone", "us-east-1a");
}

static json_t *record(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "id", "I1", "tenant", "dev", "owner",
                   "alice", "name", "box", "config", "mliy", "instance_type", "t3.micro",
                   "progress_token", "secret");
}

static void test_cmd_parse_good(void) {
  launcher_cmd_t c;
  char err[256] = "";
  const char *b = "{\"tenant\":\"dev\",\"instance_id\":\"I1\",\"request_id\":\"r-1\"}";
  ASSERT_EQ_INT(launcher_cmd_parse(b, strlen(b), false, &c, err, sizeof(err)), 0);
  ASSERT_EQ_STR(c.tenant, "dev");
  ASSERT_EQ_STR(c.instance_id, "I1");
  ASSERT_EQ_STR(c.request_id, "r-1");
  ASSERT_EQ_STR(c.action, "");
  const char *a = "{\"tenant\":\"dev\",\"instance_id\":\"I1\",\"action\":\"stop\",\"who\":\"bob\"}";
  ASSERT_EQ_INT(launcher_cmd_parse(a, strlen(a), true, &c, err, sizeof(err)), 0);
  ASSERT_EQ_STR(c.action, "stop");
  ASSERT_EQ_STR(c.who, "bob");
  ASSERT_EQ_STR(c.request_id, "");
}

static void expect_bad(const char *body, bool action, int code, const char *words) {
  launcher_cmd_t c;
  char err[256] = "";
  ASSERT_EQ_INT(launcher_cmd_parse(body, strlen(body), action, &c, err, sizeof(err)), code);
  if (strstr(err, words) == NULL)
    ASSERT_EQ_STR(err, words);
}

static void test_cmd_parse_bad(void) {
  expect_bad("", false, ACTOR_EPARSE, "not JSON");
  expect_bad("{\"tenant\":", false, ACTOR_EPARSE, "not JSON");
  expect_bad("[1,2]", false, ACTOR_EINVAL, "JSON object");
  expect_bad("{\"instance_id\":\"I1\"}", false, ACTOR_EINVAL, "missing field tenant");
  expect_bad("{\"tenant\":\"dev\"}", false, ACTOR_EINVAL, "missing field instance_id");
  expect_bad("{\"tenant\":\"dev\",\"instance_id\":5}", false, ACTOR_EINVAL,
             "field instance_id must be a string");
  expect_bad("{\"tenant\":\"\",\"instance_id\":\"I1\"}", false, ACTOR_EINVAL, "field tenant");
  expect_bad("{\"tenant\":\"dev\",\"instance_id\":\"I1\"}", true, ACTOR_EINVAL,
             "missing field action");
  expect_bad("{\"tenant\":\"dev\",\"instance_id\":\"I1\",\"action\":\"explode\"}", true,
             ACTOR_EINVAL, "unknown action explode");
  expect_bad("{\"tenant\":\"dev\",\"tenant\":\"x\",\"instance_id\":\"I1\"}", false, ACTOR_EPARSE,
             "duplicate");
  char big[400];
  memset(big, 'x', sizeof(big));
  char body[600];
  snprintf(body, sizeof(body), "{\"tenant\":\"%.*s\",\"instance_id\":\"I1\"}", 300, big);
  expect_bad(body, false, ACTOR_EINVAL, "field tenant must be 1 to 127 characters");
}

static void test_params_all(void) {
  json_t *cfg = config_with_volume(), *g = group(), *r = record();
  json_t *p = launcher_stack_params(cfg, g, r, "dWQ=", NULL);
  ASSERT_EQ_INT(json_object_size(p), 11);
  ASSERT_EQ_STR(str(p, "KeyName"), "kp");
  ASSERT_EQ_STR(str(p, "ImageId"), "ami-1234");
  ASSERT_EQ_STR(str(p, "InstanceType"), "t3.micro");
  ASSERT_EQ_STR(str(p, "IamInstanceProfile"), "prof");
  ASSERT_EQ_STR(str(p, "SecurityGroupIds"), "sg-1,sg-2");
  ASSERT_EQ_STR(str(p, "SubnetId"), "subnet-7");
  ASSERT_EQ_STR(str(p, "AvailabilityZone"), "us-east-1a");
  ASSERT_EQ_STR(str(p, "KmsKeyId"), "kms-9");
  ASSERT_EQ_STR(str(p, "EBSVolumeDeviceName"), "/dev/sdf");
  ASSERT_EQ_STR(str(p, "VolumeSize"), "50");
  ASSERT_EQ_STR(str(p, "UserData"), "dWQ=");
  json_decref(p);
  /* no group, no volume: empty values */
  json_object_set_new(cfg, "volume", json_null());
  p = launcher_stack_params(cfg, NULL, r, "", NULL);
  ASSERT_EQ_STR(str(p, "KeyName"), "");
  ASSERT_EQ_STR(str(p, "SecurityGroupIds"), "");
  ASSERT_EQ_STR(str(p, "VolumeSize"), "");
  ASSERT_EQ_STR(str(p, "ImageId"), "ami-1234");
  json_decref(p);
  json_decref(cfg);
  json_decref(g);
  json_decref(r);
}

static void test_template_params_json(void) {
  const char *t = "{\"AWSTemplateFormatVersion\":\"2010-09-09\",\"Parameters\":{"
                  "\"ImageId\":{\"Type\":\"String\"},\"InstanceType\":{\"Type\":\"String\"},"
                  "\"UserData\":{\"Type\":\"String\"}},\"Resources\":{}}";
  json_t *keys = NULL;
  ASSERT_EQ_INT(launcher_template_params(t, &keys), 0);
  ASSERT_TRUE(keys != NULL);
  ASSERT_EQ_INT(json_object_size(keys), 3);
  json_t *cfg = config_with_volume(), *g = group(), *r = record();
  json_t *p = launcher_stack_params(cfg, g, r, "dWQ=", keys);
  ASSERT_EQ_INT(json_object_size(p), 3);
  ASSERT_TRUE(json_object_get(p, "VolumeSize") == NULL);
  ASSERT_TRUE(json_object_get(p, "KeyName") == NULL);
  ASSERT_EQ_STR(str(p, "InstanceType"), "t3.micro");
  json_decref(p);
  json_decref(keys);
  /* no Parameters at all: nothing is sent */
  ASSERT_EQ_INT(launcher_template_params("  {\"Resources\":{}}", &keys), 0);
  ASSERT_EQ_INT(json_object_size(keys), 0);
  p = launcher_stack_params(cfg, g, r, "", keys);
  ASSERT_EQ_INT(json_object_size(p), 0);
  json_decref(p);
  json_decref(keys);
  /* an empty value: left out when the parameter has a Default, else sent */
  const char *d = "{\"Parameters\":{\"VolumeSize\":{\"Type\":\"Number\",\"Default\":\"0\"},"
                  "\"KeyName\":{\"Type\":\"String\"},\"KmsKeyId\":{\"Type\":\"String\","
                  "\"Default\":\"\"},\"ImageId\":{\"Type\":\"String\",\"Default\":\"ami-0\"}}}";
  ASSERT_EQ_INT(launcher_template_params(d, &keys), 0);
  json_object_set_new(cfg, "volume", json_null());
  p = launcher_stack_params(cfg, NULL, r, "", keys);
  ASSERT_EQ_INT(json_object_size(p), 2);
  ASSERT_EQ_STR(str(p, "KeyName"), "");
  ASSERT_EQ_STR(str(p, "ImageId"), "ami-1234");
  ASSERT_TRUE(json_object_get(p, "VolumeSize") == NULL);
  ASSERT_TRUE(json_object_get(p, "KmsKeyId") == NULL);
  json_decref(p);
  json_decref(keys);
  ASSERT_EQ_INT(launcher_template_params("{\"Parameters\":[1]}", &keys), ACTOR_EPARSE);
  ASSERT_TRUE(keys == NULL);
  ASSERT_EQ_INT(launcher_template_params("{broken", &keys), ACTOR_EPARSE);
  json_decref(cfg);
  json_decref(g);
  json_decref(r);
}

static void test_template_params_yaml(void) {
  const char *t = "AWSTemplateFormatVersion: '2010-09-09'\n"
                  "Description: a box\n"
                  "Parameters:\n"
                  "  ImageId:\n"
                  "    Type: String\n"
                  "  KeyName: {Type: String, Default: ''}\n"
                  "  VolumeSize:\n"
                  "    Type: Number\n"
                  "    AllowedValues: [1, 2]\n"
                  "Resources:\n"
                  "  Box:\n"
                  "    Type: AWS::EC2::Instance\n"
                  "    Properties:\n"
                  "      ImageId: !Ref ImageId\n"
                  "      UserData: !Base64 {Ref: UserData}\n"
                  "Outputs:\n"
                  "  Parameters: {Value: x}\n";
  json_t *keys = NULL;
  ASSERT_EQ_INT(launcher_template_params(t, &keys), 0);
  ASSERT_TRUE(keys != NULL);
  ASSERT_EQ_INT(json_object_size(keys), 3);
  ASSERT_TRUE(json_object_get(keys, "ImageId") != NULL);
  ASSERT_TRUE(json_object_get(keys, "KeyName") != NULL);
  ASSERT_TRUE(json_object_get(keys, "VolumeSize") != NULL);
  ASSERT_TRUE(json_object_get(keys, "Type") == NULL);
  json_decref(keys);
  /* YAML libyaml cannot read: every parameter is sent (NULL) */
  ASSERT_EQ_INT(launcher_template_params("a: [1, 2\nb: {", &keys), 0);
  ASSERT_TRUE(keys == NULL);
  /* YAML without Parameters: none */
  ASSERT_EQ_INT(launcher_template_params("Resources:\n  X: {Type: T}\n", &keys), 0);
  ASSERT_EQ_INT(json_object_size(keys), 0);
  json_decref(keys);
}

static void test_tags_and_tokens(void) {
  json_t *r = record();
  json_t *t = launcher_stack_tags("ABACO", r);
  ASSERT_EQ_INT(json_object_size(t), 6);
  ASSERT_EQ_STR(str(t, "LaunchedBy"), "ABACO");
  ASSERT_EQ_STR(str(t, "AbacoId"), "I1");
  ASSERT_EQ_STR(str(t, "Owner"), "alice");
  ASSERT_EQ_STR(str(t, "Tenant"), "dev");
  ASSERT_EQ_STR(str(t, "Config"), "mliy");
  ASSERT_EQ_STR(str(t, "Name"), "box");
  json_decref(t);
  json_t *k = launcher_platform_tokens(r, "http://10.0.0.1:8000/");
  ASSERT_EQ_STR(str(k, "progress_url"), "http://10.0.0.1:8000/instances/I1/progress");
  ASSERT_EQ_STR(str(k, "progress_token"), "secret");
  ASSERT_EQ_STR(str(k, "instance_name"), "box");
  ASSERT_EQ_STR(str(k, "tenant"), "dev");
  json_decref(k);
  json_decref(r);
}

static void test_poll_schedule(void) {
  /* MLiy's: 20 s + 5 s * i, capped at 60 s */
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 0), 20000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 1), 25000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 8), 60000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 9), 60000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 89), 60000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(20000, 5000, 60000, 1L << 60), 60000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(100, 0, 60000, 50), 100);
  ASSERT_EQ_INT(launcher_poll_delay_ms(500, 250, 1000, 1), 750);
  ASSERT_EQ_INT(launcher_poll_delay_ms(500, 250, 1000, 2), 1000);
  ASSERT_EQ_INT(launcher_poll_delay_ms(500, 250, 1000, -3), 500);
}

static void test_stack_phase(void) {
  ASSERT_EQ_INT(launcher_stack_phase("CREATE_IN_PROGRESS"), LAUNCHER_STACK_WAIT);
  ASSERT_EQ_INT(launcher_stack_phase(NULL), LAUNCHER_STACK_WAIT);
  ASSERT_EQ_INT(launcher_stack_phase("CREATE_COMPLETE"), LAUNCHER_STACK_COMPLETE);
  ASSERT_EQ_INT(launcher_stack_phase("CREATE_FAILED"), LAUNCHER_STACK_FAILED);
  ASSERT_EQ_INT(launcher_stack_phase("ROLLBACK_IN_PROGRESS"), LAUNCHER_STACK_FAILED);
  ASSERT_EQ_INT(launcher_stack_phase("ROLLBACK_COMPLETE"), LAUNCHER_STACK_FAILED);
  ASSERT_EQ_INT(launcher_stack_phase("DELETE_COMPLETE"), LAUNCHER_STACK_FAILED);
}

static void test_failure_reason(void) {
  /* newest first, as DescribeStackEvents answers */
  json_error_t je;
  json_t *ev = json_loads(
      "[{\"status\":\"ROLLBACK_COMPLETE\",\"status_reason\":null,\"logical_id\":\"s\"},"
      "{\"status\":\"DELETE_COMPLETE\",\"status_reason\":\"\",\"logical_id\":\"Box\"},"
      "{\"status\":\"CREATE_FAILED\",\"status_reason\":\"Resource creation cancelled\","
      "\"logical_id\":\"Vol\"},"
      "{\"status\":\"CREATE_FAILED\",\"status_reason\":\"The image id '[ami-0]' does not exist\","
      "\"logical_id\":\"Box\"},"
      "{\"status\":\"CREATE_FAILED\",\"status_reason\":\"\",\"logical_id\":\"Other\"},"
      "{\"status\":\"CREATE_IN_PROGRESS\",\"status_reason\":\"User Initiated\"}]",
      0, &je);
  ASSERT_TRUE(ev != NULL);
  ASSERT_EQ_STR(launcher_failure_reason(ev), "The image id '[ami-0]' does not exist");
  json_decref(ev);
  ev = json_loads("[{\"status\":\"CREATE_FAILED\",\"status_reason\":\"Resource creation "
                  "cancelled\"},{\"status\":\"CREATE_COMPLETE\"}]",
                  0, &je);
  ASSERT_TRUE(launcher_failure_reason(ev) == NULL);
  json_decref(ev);
  ASSERT_TRUE(launcher_failure_reason(NULL) == NULL);
  /* the earliest real failure wins over a later one */
  ev = json_loads("[{\"status\":\"CREATE_FAILED\",\"status_reason\":\"later\"},"
                  "{\"status\":\"CREATE_FAILED\",\"status_reason\":\"first\"}]",
                  0, &je);
  ASSERT_EQ_STR(launcher_failure_reason(ev), "first");
  json_decref(ev);
}

static void test_b64(void) {
  const char *cases[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                            {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                            {"foobar", "Zm9vYmFy"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    char *b = launcher_b64(cases[i][0], strlen(cases[i][0]));
    ASSERT_EQ_STR(b, cases[i][1]);
    free(b);
  }
  unsigned char bin[3] = {0xff, 0xfe, 0x00};
  char *b = launcher_b64(bin, 3);
  ASSERT_EQ_STR(b, "//4A");
  free(b);
}

int main(void) {
  RUN_TEST(test_cmd_parse_good);
  RUN_TEST(test_cmd_parse_bad);
  RUN_TEST(test_params_all);
  RUN_TEST(test_template_params_json);
  RUN_TEST(test_template_params_yaml);
  RUN_TEST(test_tags_and_tokens);
  RUN_TEST(test_poll_schedule);
  RUN_TEST(test_stack_phase);
  RUN_TEST(test_failure_reason);
  RUN_TEST(test_b64);
  TEST_EXIT();
}
