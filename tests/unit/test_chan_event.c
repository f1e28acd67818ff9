/* Platform event bodies (channels/proto/event.h): the instance events'
 * fields and the stamp they share with the actor events (no broker: the
 * bodies are what the api's link and webhook consumers read). */
#include <stdint.h>
#include <string.h>

#include "actor/json.h"
#include "actor/timefmt.h"
#include "channels/proto/event.h"
#include "test.h"

/* The stamp every event carries: tenant, type, a parseable time twice. */
static void assert_stamp(const json_t *b, const char *tenant, const char *type) {
  ASSERT_EQ_STR(actor_json_str(b, "tenant_id", "?"), tenant);
  ASSERT_EQ_STR(actor_json_str(b, "event_type", "?"), type);
  const char *utc = actor_json_str(b, "event_time_utc", "");
  ASSERT_TRUE(strlen(utc) >= 19);
  ASSERT_EQ_STR(actor_json_str(b, "event_time_display", ""), utc);
  int64_t ms = 0;
  ASSERT_EQ_INT(actor_time_parse(utc, &ms), 0);
  int64_t skew = actor_time_now_ms() - ms;
  ASSERT_TRUE(skew >= -1000 && skew <= 60000);
}

static json_t *instance_record(void) {
  return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:{s:s, s:i}}", "id",
                   "i42Xy", "tenant", "DEV-x", "ec2_instance_id", "i-0abc123", "name", "build box",
                   "owner", "alice", "config", "ubuntu-22", "state", "running", "error",
                   "progress_token", "secret-tok", "stack_name", "ABACO-DEV-x-i42Xy", "progress",
                   "message", "booting", "percent", 40);
}

static void test_instance_body(void) {
  json_t *rec = instance_record();
  ASSERT_TRUE(rec != NULL);
  chan_instance_event_t e = {.type = CHAN_EVENT_INSTANCE_READY, .instance = rec};
  json_t *b = chan_instance_event_body(&e);
  ASSERT_TRUE(b != NULL);
  assert_stamp(b, "DEV-x", "INSTANCE_READY");
  ASSERT_EQ_STR(actor_json_str(b, "instance_id", ""), "i42Xy");
  ASSERT_EQ_STR(actor_json_str(b, "ec2_instance_id", ""), "i-0abc123");
  ASSERT_EQ_STR(actor_json_str(b, "name", ""), "build box");
  ASSERT_EQ_STR(actor_json_str(b, "owner", ""), "alice");
  ASSERT_EQ_STR(actor_json_str(b, "config", ""), "ubuntu-22");
  ASSERT_EQ_STR(actor_json_str(b, "state", ""), "running");
  ASSERT_TRUE(json_is_null(json_object_get(b, "error")));
  /* Exactly the documented fields: never the token nor the rest of the record. */
  ASSERT_EQ_INT((int)json_object_size(b), 11);
  ASSERT_TRUE(json_object_get(b, "progress_token") == NULL);
  ASSERT_TRUE(json_object_get(b, "tenant") == NULL);
  json_decref(b);
  json_decref(rec);
}

static void test_instance_overrides_and_absent_fields(void) {
  /* A record still launching: no EC2 id, no name; state and error given. */
  json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "i7", "tenant", "T1", "owner", "bob",
                          "config", "c", "state", "launching");
  ASSERT_TRUE(rec != NULL);
  chan_instance_event_t e = {.type = CHAN_EVENT_INSTANCE_ERROR,
                             .instance = rec,
                             .state = "failed",
                             .error = "CREATE_FAILED: Instance: capacity"};
  json_t *b = chan_instance_event_body(&e);
  ASSERT_TRUE(b != NULL);
  assert_stamp(b, "T1", "INSTANCE_ERROR");
  ASSERT_EQ_STR(actor_json_str(b, "state", ""), "failed");
  ASSERT_EQ_STR(actor_json_str(b, "error", ""), "CREATE_FAILED: Instance: capacity");
  ASSERT_TRUE(json_is_null(json_object_get(b, "ec2_instance_id")));
  ASSERT_TRUE(json_is_null(json_object_get(b, "name")));
  ASSERT_EQ_INT((int)json_object_size(b), 11);
  json_decref(b);

  /* The remaining types, and a record with nothing in it: still a body. */
  static const char *const TYPES[] = {CHAN_EVENT_INSTANCE_STOPPED, CHAN_EVENT_INSTANCE_TERMINATED,
                                      NULL};
  json_t *empty = json_object();
  for (int i = 0; TYPES[i]; i++) {
    chan_instance_event_t t = {.type = TYPES[i], .instance = i ? empty : rec};
    b = chan_instance_event_body(&t);
    ASSERT_TRUE(b != NULL);
    assert_stamp(b, i ? "" : "T1", TYPES[i]);
    ASSERT_EQ_INT(strncmp(TYPES[i], CHAN_EVENT_INSTANCE_PREFIX,
                          strlen(CHAN_EVENT_INSTANCE_PREFIX)),
                  0);
    ASSERT_EQ_STR(actor_json_str(b, "state", "null"), i ? "null" : "launching");
    json_decref(b);
  }
  json_decref(empty);
  json_decref(rec);
}

/* The actor events keep their fields now that the stamp is shared. */
static void test_actor_body(void) {
  json_t *actor = json_pack("{s:s, s:s, s:s}", "id", "Ab1", "db_id", "T1_Ab1", "tenant", "T1");
  ASSERT_TRUE(actor != NULL);
  chan_event_t e = {.type = CHAN_EVENT_EXECUTION_COMPLETE,
                    .actor = actor,
                    .execution_id = "Ex9",
                    .status = "COMPLETE",
                    .has_exit_code = true,
                    .exit_code = 3};
  json_t *b = chan_event_body(&e);
  ASSERT_TRUE(b != NULL);
  assert_stamp(b, "T1", "EXECUTION_COMPLETE");
  ASSERT_EQ_STR(actor_json_str(b, "actor_id", ""), "Ab1");
  ASSERT_EQ_STR(actor_json_str(b, "actor_dbid", ""), "T1_Ab1");
  ASSERT_EQ_STR(actor_json_str(b, "execution_id", ""), "Ex9");
  ASSERT_EQ_STR(actor_json_str(b, "status", ""), "COMPLETE");
  ASSERT_EQ_INT((int)actor_json_int(b, "exit_code", -1), 3);
  ASSERT_TRUE(json_object_get(b, "status_message") == NULL);
  ASSERT_EQ_INT((int)json_object_size(b), 9);
  json_decref(b);

  chan_event_t ready = {.type = CHAN_EVENT_ACTOR_READY, .actor = actor};
  b = chan_event_body(&ready);
  ASSERT_TRUE(b != NULL);
  assert_stamp(b, "T1", "ACTOR_READY");
  ASSERT_EQ_INT((int)json_object_size(b), 6);
  json_decref(b);
  json_decref(actor);
}

int main(void) {
  RUN_TEST(test_instance_body);
  RUN_TEST(test_instance_overrides_and_absent_fields);
  RUN_TEST(test_actor_body);
  TEST_EXIT();
}
