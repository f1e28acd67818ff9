/* The instance audit (cloud_audit_add, cloud_audit_list) against a live
 * MongoDB-wire server (MONGO_URL; FerretDB here), in a database unique to
 * the run: documents come back newest first, with `time` added, only the
 * instance's own, at most `limit`; a document without tenant or
 * instance_id is refused. Skipped when MONGO_URL is unset; fails when the
 * server is unreachable. */
#include <jansson.h>
#include <unistd.h>

#include "actor/cloud.h"
#include "actor/config.h"
#include "actor/errors.h"
#include "actor/store.h"
#include "test.h"

static store_mongo_t *mongo;

static json_t *doc(const char *tenant, const char *iid, const char *action, const char *outcome) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s}", "tenant", tenant,
                   "instance_id", iid, "ec2_instance_id", "i-0abc", "who", "alice", "action",
                   action, "outcome", outcome, "code", "message", "", "request_id", "r-1");
}

static void test_add_and_list_newest_first(void) {
  const char *actions[] = {"launch", "stop", "start", "terminate"};
  for (int i = 0; i < 4; i++) {
    json_t *d = doc("T", "inst1", actions[i], i == 2 ? "error" : "ok");
    ASSERT_EQ_INT(cloud_audit_add(mongo, d), 0);
    ASSERT_TRUE(json_object_get(d, "time") == NULL); /* the caller's doc is not changed */
    json_decref(d);
  }
  json_t *other = doc("T", "inst2", "launch", "ok");
  ASSERT_EQ_INT(cloud_audit_add(mongo, other), 0);
  json_decref(other);
  other = doc("U", "inst1", "launch", "ok"); /* same id, other tenant */
  ASSERT_EQ_INT(cloud_audit_add(mongo, other), 0);
  json_decref(other);

  json_t *list = NULL;
  ASSERT_EQ_INT(cloud_audit_list(mongo, "T", "inst1", 50, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 4);
  for (int i = 0; i < 4; i++) {
    json_t *d = json_array_get(list, (size_t)i);
    ASSERT_EQ_STR(json_string_value(json_object_get(d, "action")), actions[3 - i]);
    ASSERT_TRUE(json_is_string(json_object_get(d, "time")));
    ASSERT_EQ_STR(json_string_value(json_object_get(d, "who")), "alice");
    ASSERT_TRUE(json_object_get(d, "_id") == NULL);
  }
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 1), "outcome")), "error");
  json_decref(list);
  ASSERT_EQ_INT(cloud_audit_list(mongo, "T", "inst1", 2, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 2);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(list, 0), "action")),
                "terminate");
  json_decref(list);
  ASSERT_EQ_INT(cloud_audit_list(mongo, "T", "nothing", 10, &list), 0);
  ASSERT_EQ_INT(json_array_size(list), 0);
  json_decref(list);
}

static void test_bad_document_refused(void) {
  json_t *d = json_pack("{s:s}", "tenant", "T");
  ASSERT_EQ_INT(cloud_audit_add(mongo, d), ACTOR_EINVAL);
  json_decref(d);
  d = json_pack("[]");
  ASSERT_EQ_INT(cloud_audit_add(mongo, d), ACTOR_EINVAL);
  json_decref(d);
}

int main(void) {
  const char *url = test_server_env("MONGO_URL");
  char text[512];
  snprintf(text, sizeof(text), "[store]\nmongo_url = %s\nmongo_db = test_cloud_audit_%d\n", url,
           (int)getpid());
  actor_config_t *cfg = NULL;
  if (actor_config_parse(text, &cfg) != 0 || store_mongo_new(cfg, &mongo) != 0 ||
      store_mongo_ping(mongo) != 0) {
    fprintf(stderr, "FAIL: no MongoDB-wire server at %s (set MONGO_URL)\n", url);
    return 1;
  }
  RUN_TEST(test_add_and_list_newest_first);
  RUN_TEST(test_bad_document_refused);
  ACTOR_IGNORE(store_mongo_drop_database(mongo)); /* cleanup */
  store_mongo_free(mongo);
  actor_config_free(cfg);
  store_mongo_cleanup();
  TEST_EXIT();
}
