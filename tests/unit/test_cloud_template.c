/* The template check (cloud_template_check): a JSON object or a YAML
 * mapping passes, CloudFormation's short-form tags included; anything else
 * is refused with the parser's words. No server. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/errors.h"
#include "test.h"

static char err[256];

static int check(const char *text) {
  memset(err, 'x', sizeof(err) - 1);
  err[sizeof(err) - 1] = '\0';
  return cloud_template_check(text, err, sizeof(err));
}

static void test_json_object_ok(void) {
  ASSERT_EQ_INT(check("{\"AWSTemplateFormatVersion\": \"2010-09-09\", \"Resources\": "
                      "{\"I\": {\"Type\": \"AWS::EC2::Instance\", \"Properties\": "
                      "{\"ImageId\": {\"Ref\": \"ImageId\"}}}}}"),
                0);
  ASSERT_EQ_STR(err, "");
  ASSERT_EQ_INT(check("  \n {}\n"), 0);
}

static void test_json_array_refused(void) {
  ASSERT_EQ_INT(check("[{\"Resources\": {}}]"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "array") != NULL);
  ASSERT_TRUE(strstr(err, "not an object") != NULL);
  ASSERT_EQ_INT(check("{\"a\": 1}}"), ACTOR_EPARSE); /* bad JSON, bad YAML */
  ASSERT_TRUE(strncmp(err, "JSON: ", 6) == 0);
  ASSERT_TRUE(strstr(err, "line 1") != NULL);
}

static void test_yaml_short_tags_ok(void) {
  const char *tpl =
      "AWSTemplateFormatVersion: '2010-09-09'\n"
      "Parameters:\n"
      "  ImageId: {Type: String}\n"
      "Resources:\n"
      "  Instance:\n"
      "    Type: AWS::EC2::Instance\n"
      "    Properties:\n"
      "      ImageId: !Ref ImageId\n"
      "      AvailabilityZone: !GetAtt Volume.AvailabilityZone\n"
      "      SubnetId: !Select [0, !GetAZs '']\n"
      "      UserData:\n"
      "        Fn::Base64: !Sub |\n"
      "          #!/bin/bash\n"
      "          echo ${AWS::StackName} {{{progress_url}}}\n"
      "      Tags:\n"
      "        - Key: Name\n"
      "          Value: !Join ['-', [!Ref 'AWS::StackName', x]]\n"
      "  Volume:\n"
      "    Type: AWS::EC2::Volume\n"
      "    Condition: !Equals [!Ref Env, prod]\n"
      "Outputs:\n"
      "  Id: {Value: !GetAtt [Instance, PrivateIp]}\n";
  ASSERT_EQ_INT(check(tpl), 0);
  ASSERT_EQ_STR(err, "");
  ASSERT_EQ_INT(check("---\nResources: {}\n...\n"), 0);
  ASSERT_EQ_INT(check("{Resources: {I: !Ref X}}"), 0); /* a YAML flow mapping */
}

static void test_yaml_scalar_refused(void) {
  ASSERT_EQ_INT(check("just some words"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "scalar") != NULL);
  ASSERT_EQ_INT(check("!Ref Thing"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "scalar") != NULL);
  ASSERT_EQ_INT(check("- a\n- b\n"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "sequence") != NULL);
  ASSERT_EQ_INT(check("   \n\t"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "empty") != NULL);
  ASSERT_EQ_INT(check("# only a comment\n"), ACTOR_EPARSE);
  ASSERT_TRUE(strstr(err, "empty") != NULL);
}

static void test_garbage_refused(void) {
  ASSERT_EQ_INT(check("Resources:\n  a: [unclosed\n  b: c\n"), ACTOR_EPARSE);
  ASSERT_TRUE(strncmp(err, "YAML: ", 6) == 0);
  ASSERT_TRUE(strstr(err, "line ") != NULL);
  ASSERT_EQ_INT(check("a: b\n c: d: e\n"), ACTOR_EPARSE);
  ASSERT_TRUE(strncmp(err, "YAML: ", 6) == 0);
  ASSERT_EQ_INT(check("\x01\x02\xff binary"), ACTOR_EPARSE);
  ASSERT_TRUE(strlen(err) > 6);
  ASSERT_EQ_INT(check("{ not json"), ACTOR_EPARSE);
  ASSERT_TRUE(strncmp(err, "JSON: ", 6) == 0);
  /* an error message never overflows a small buffer */
  char small[8];
  ASSERT_EQ_INT(cloud_template_check("- a", small, sizeof(small)), ACTOR_EPARSE);
  ASSERT_EQ_INT(strlen(small), sizeof(small) - 1);
  ASSERT_EQ_INT(cloud_template_check("- a", NULL, 0), ACTOR_EPARSE);
}

/* CloudFormation takes a TemplateBody of at most 51,200 bytes: one byte
 * more is refused here, not at CreateStack (1 MiB was accepted before). */
static void test_too_big(void) {
  size_t n = CLOUD_TEMPLATE_MAX + 1;
  char *big = malloc(n + 1);
  ASSERT_TRUE(big != NULL);
  memcpy(big, "a: ", 3);
  memset(big + 3, 'b', n - 3);
  big[n] = '\0';
  ASSERT_EQ_INT(check(big), ACTOR_ETOOBIG);
  ASSERT_TRUE(strstr(err, "larger") != NULL);
  big[n - 1] = '\0'; /* exactly the limit */
  ASSERT_EQ_INT(check(big), 0);
  free(big);
}

int main(void) {
  RUN_TEST(test_json_object_ok);
  RUN_TEST(test_json_array_refused);
  RUN_TEST(test_yaml_short_tags_ok);
  RUN_TEST(test_yaml_scalar_refused);
  RUN_TEST(test_garbage_refused);
  RUN_TEST(test_too_big);
  TEST_EXIT();
}
