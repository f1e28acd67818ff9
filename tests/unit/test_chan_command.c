/* Spawner commands (channels/proto/command.h): the spawner's reading of a
 * command body, and -- against Redis (REDIS_URL, database 15; skipped when
 * unset) -- the REQUESTED worker record chan_command_prepare writes before
 * the command exists, kept once published and removed when not. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/model.h"
#include "channels/proto/command.h"
#include "channels/proto/name.h"
#include "redis_test_store.h"
#include "test.h"

static void test_parse(void) {
  chan_command_req_t req;
  static const char OK[] = "{\"actor_id\":\"MY_TENANT-x_Ab1\",\"worker_id\":\"Wk42\","
                           "\"image\":\"me/img\",\"revision\":3,\"tenant\":\"MY_TENANT-x\","
                           "\"stop_existing\":false}";
  ASSERT_EQ_INT(chan_command_parse(OK, strlen(OK), &req), 0);
  ASSERT_EQ_STR(req.db_id, "MY_TENANT-x_Ab1");
  ASSERT_EQ_STR(req.worker_id, "Wk42");

  static const char *const UNREADABLE[] = {"", "{", "[]", "\"stop\"", "42", "{} {}", NULL};
  for (int i = 0; UNREADABLE[i]; i++) {
    ASSERT_EQ_INT(chan_command_parse(UNREADABLE[i], strlen(UNREADABLE[i]), &req), ACTOR_EPARSE);
    ASSERT_EQ_STR(req.db_id, "");
  }
  static const char *const INCOMPLETE[] = {"{}", "{\"actor_id\":\"T_a\"}", "{\"worker_id\":\"w\"}",
                                           "{\"actor_id\":1,\"worker_id\":\"w\"}", NULL};
  for (int i = 0; INCOMPLETE[i]; i++)
    ASSERT_EQ_INT(chan_command_parse(INCOMPLETE[i], strlen(INCOMPLETE[i]), &req), ACTOR_EINVAL);

  /* A body over CHAN_COMMAND_MAX is refused before it is decoded. */
  size_t big = CHAN_COMMAND_MAX + 1;
  char *body = malloc(big);
  ASSERT_TRUE(body != NULL);
  memset(body, ' ', big);
  body[0] = '{';
  body[big - 1] = '}';
  int rc = chan_command_parse(body, big, &req);
  free(body);
  ASSERT_EQ_INT(rc, ACTOR_ETOOBIG);
}

static void test_prepare_and_done(void) {
  store_redis_t *r = redis_test_store();
  ASSERT_TRUE(r != NULL);
  char tenant[64], db_id[96];
  snprintf(tenant, sizeof(tenant), "UT_%ld-cmd", (long)getpid());
  snprintf(db_id, sizeof(db_id), "%s_Ab1", tenant);
  json_t *actor = json_pack("{s:s, s:s, s:s, s:I, s:s}", "db_id", db_id, "image", "me/img:2",
                            "tenant", tenant, "revision", (json_int_t)3, "queue", "gpu");
  ASSERT_TRUE(actor != NULL);

  chan_command_t cmd;
  ASSERT_EQ_INT(chan_command_prepare(r, actor, &cmd), 0);
  ASSERT_EQ_STR(cmd.queue, "command_channel_gpu");
  /* The command reads back as what it was made from. */
  chan_command_req_t req;
  ASSERT_EQ_INT(chan_command_parse(cmd.body, strlen(cmd.body), &req), 0);
  ASSERT_EQ_STR(req.db_id, db_id);
  ASSERT_EQ_STR(req.worker_id, cmd.worker_id);
  json_t *body = json_loads(cmd.body, 0, NULL);
  ASSERT_EQ_STR(actor_json_str(body, "image", ""), "me/img:2");
  ASSERT_EQ_STR(actor_json_str(body, "tenant", ""), tenant);
  ASSERT_EQ_INT(actor_json_int(body, "revision", 0), 3);
  ASSERT_TRUE(json_is_false(json_object_get(body, "stop_existing")));
  json_decref(body);
  /* Its REQUESTED record exists, naming its control queue. */
  json_t *w = NULL;
  ASSERT_EQ_INT(model_worker_get(r, db_id, cmd.worker_id, &w), 0);
  char control[CHAN_NAME_MAX];
  chan_name_worker(cmd.worker_id, control);
  ASSERT_EQ_STR(actor_json_str(w, "status", ""), WORKER_REQUESTED);
  ASSERT_EQ_STR(actor_json_str(w, "ch_name", ""), control);
  ASSERT_EQ_STR(actor_json_str(w, "image", ""), "me/img:2");
  json_decref(w);
  /* Published: the record stays. */
  char published[ACTOR_ID_MAX];
  snprintf(published, sizeof(published), "%s", cmd.worker_id);
  chan_command_done(r, actor, &cmd, 1);
  ASSERT_TRUE(cmd.body == NULL);
  ASSERT_EQ_INT(model_worker_get(r, db_id, published, &w), 0);
  json_decref(w);

  /* Not published: the record goes again. */
  ASSERT_EQ_INT(chan_command_prepare(r, actor, &cmd), 0);
  ASSERT_TRUE(strcmp(cmd.worker_id, published) != 0);
  char unpublished[ACTOR_ID_MAX];
  snprintf(unpublished, sizeof(unpublished), "%s", cmd.worker_id);
  chan_command_done(r, actor, &cmd, 0);
  w = NULL;
  ASSERT_EQ_INT(model_worker_get(r, db_id, unpublished, &w), ACTOR_ENOTFOUND);

  ASSERT_EQ_INT(model_worker_delete(r, db_id, published), 0);
  json_decref(actor);
  store_redis_free(r);
}

int main(void) {
  RUN_TEST(test_parse);
  RUN_TEST(test_prepare_and_done);
  TEST_EXIT();
}
