/* The stages of one mailbox message that run without servers
 * (services/worker/src/exec_*.c, see exec.h): taking a delivery (copy,
 * hold, give back), admission's checks of the message itself, the record of
 * which execution runs now (force_quit), and the COMPLETE fields built from
 * the engine's final state.
 *
 * The delivery's failure rule is the one that lost binary messages: when
 * the copy of a binary message's metadata (the abaco_meta header) could not
 * be made, the job looked like a message without metadata, which admission
 * drops as unreadable: the message was acked and lost. A failing allocator
 * (worker__job_alloc) drives each copy's failure here: the delivery must be
 * given back (nack, requeue), never run. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "test.h"

/* main.c's (not in worker_core): exec_delivery.c ends a stopping worker. */
void worker_shutdown(worker_t *w) {
  (void)w;
}

/* ---- a failing allocator ---- */

static int alloc_calls, alloc_fail_at; /* fail the alloc_fail_at-th call (1-based), 0: none */

static void *failing_alloc(size_t size) {
  alloc_calls++;
  if (alloc_calls == alloc_fail_at)
    return NULL;
  return malloc(size);
}

static void fail_alloc_at(int n) {
  alloc_calls = 0;
  alloc_fail_at = n;
  worker__job_alloc = failing_alloc;
}

static worker_t a_worker(void) {
  worker_t w;
  memset(&w, 0, sizeof(w));
  snprintf(w.db_id, sizeof(w.db_id), "%s", "TENANT_a1");
  snprintf(w.wid, sizeof(w.wid), "%s", "w1");
  w.host_id = "host7";
  return w;
}

static const char META[] = "{\"_abaco_execution_id\": \"e1\", \"_abaco_username\": \"u\"}";
static const char BYTES[] = "\x00\x01\x02binary";

static chan_msg_t binary_msg(const char *meta) {
  chan_msg_t m;
  memset(&m, 0, sizeof(m));
  m.body = BYTES;
  m.len = sizeof(BYTES) - 1;
  m.content_type = "application/octet-stream";
  m.tag.delivery_tag = 42;
  if (meta) {
    m.headers[0].key = "abaco_meta";
    m.headers[0].value = meta;
    m.nheaders = 1;
  }
  return m;
}

/* ---- taking a delivery ---- */

static void test_delivery_copies_a_binary_message(void) {
  worker_t w = a_worker();
  chan_msg_t msg = binary_msg(META);
  worker_job_t *j = NULL;
  fail_alloc_at(0);
  ASSERT_EQ_INT(worker__delivery_take(&w, &msg, &j), WORKER_DELIVERY_RUN);
  ASSERT_TRUE(j != NULL);
  ASSERT_TRUE(j->binary);
  ASSERT_EQ_INT(j->len, sizeof(BYTES) - 1);
  ASSERT_TRUE(memcmp(j->body, BYTES, sizeof(BYTES) - 1) == 0);
  ASSERT_EQ_STR(j->meta_text, META);
  ASSERT_EQ_INT(j->tag.delivery_tag, 42);
  ASSERT_EQ_INT(alloc_calls, 3); /* job, body, metadata */
  worker__job_free(j);
}

/* The bug: the metadata copy fails. */
static void test_delivery_metadata_copy_fails_nack(void) {
  worker_t w = a_worker();
  chan_msg_t msg = binary_msg(META);
  worker_job_t *j = (worker_job_t *)&w; /* must be reset */
  fail_alloc_at(3);
  ASSERT_EQ_INT(worker__delivery_take(&w, &msg, &j), WORKER_DELIVERY_NACK);
  ASSERT_TRUE(j == NULL);
  ASSERT_EQ_INT(alloc_calls, 3);
}

static void test_delivery_other_copies_fail_nack(void) {
  worker_t w = a_worker();
  chan_msg_t msg = binary_msg(META);
  for (int n = 1; n <= 2; n++) {
    worker_job_t *j = NULL;
    fail_alloc_at(n);
    ASSERT_EQ_INT(worker__delivery_take(&w, &msg, &j), WORKER_DELIVERY_NACK);
    ASSERT_TRUE(j == NULL);
  }
  chan_msg_t json = {.body = "{}", .len = 2, .content_type = "application/json"};
  worker_job_t *j = NULL;
  fail_alloc_at(2);
  ASSERT_EQ_INT(worker__delivery_take(&w, &json, &j), WORKER_DELIVERY_NACK);
  ASSERT_TRUE(j == NULL);
}

static void test_delivery_stopping_or_busy(void) {
  worker_t w = a_worker();
  chan_msg_t msg = binary_msg(META);
  worker_job_t *j = NULL;
  fail_alloc_at(0);
  w.busy = true;
  ASSERT_EQ_INT(worker__delivery_take(&w, &msg, &j), WORKER_DELIVERY_HOLD);
  ASSERT_TRUE(j == NULL);
  w.stopping = true;
  ASSERT_EQ_INT(worker__delivery_take(&w, &msg, &j), WORKER_DELIVERY_NACK);
  ASSERT_TRUE(j == NULL);
  ASSERT_EQ_INT(alloc_calls, 0);
}

/* ---- admission: the message itself (before any store is asked) ---- */

static int admit_of(worker_t *w, const chan_msg_t *msg) {
  worker_job_t *j = NULL;
  fail_alloc_at(0);
  ASSERT_EQ_INT(worker__delivery_take(w, msg, &j), WORKER_DELIVERY_RUN);
  j->w = w;
  worker_msg_t m;
  int out = worker__admit(w, j, &m); /* w->redis is NULL: must not be reached */
  ASSERT_TRUE(m.actor == NULL);
  worker__msg_free(&m);
  worker__job_free(j);
  return out;
}

static void test_admit_drops_what_can_never_run(void) {
  worker_t w = a_worker();
  chan_msg_t none = binary_msg(NULL); /* binary without metadata */
  ASSERT_EQ_INT(admit_of(&w, &none), WORKER_OUT_ACK);
  chan_msg_t bad = binary_msg("{not json");
  ASSERT_EQ_INT(admit_of(&w, &bad), WORKER_OUT_ACK);
  chan_msg_t noeid = binary_msg("{\"_abaco_username\": \"u\"}");
  ASSERT_EQ_INT(admit_of(&w, &noeid), WORKER_OUT_ACK);
  const char *text = "[\"message\"]";
  chan_msg_t notobj = {.body = text, .len = strlen(text), .content_type = "application/json"};
  ASSERT_EQ_INT(admit_of(&w, &notobj), WORKER_OUT_ACK);
}

/* ---- which execution runs now (force_quit) ---- */

static void test_running_and_early_quit(void) {
  worker_t w = a_worker();
  ASSERT_EQ_INT(uv_mutex_init(&w.lock), 0);
  worker__set_running(&w, "e1", NULL);
  ASSERT_EQ_STR(w.eid, "e1");
  ASSERT_EQ_STR(w.cid, "");
  w.quit_pending = true; /* force_quit before the container started */
  worker__set_running(&w, "e1", "c1");
  ASSERT_EQ_STR(w.cid, "c1");
  ASSERT_TRUE(worker__take_quit(&w));
  ASSERT_TRUE(!worker__take_quit(&w)); /* taken once */
  w.quit_pending = true;
  worker__set_running(&w, NULL, NULL); /* the execution is over: forgotten */
  ASSERT_EQ_STR(w.eid, "");
  ASSERT_TRUE(!worker__take_quit(&w));
  uv_mutex_destroy(&w.lock);
}

/* ---- the COMPLETE fields ---- */

static void test_complete_fields(void) {
  worker_t w = a_worker();
  worker_run_in_t in = {.eid = "e1"};
  char why[64];
  worker_exec_t x;
  worker__exec_init(&x, &w, &in, why, sizeof(why));
  x.wt.exit_code = 3;
  x.cpu = 1200;
  x.io = 4096;
  json_t *state = test_json("{\"Status\": \"exited\", \"ExitCode\": 3,"
                            " \"StartedAt\": \"2024-01-02T03:04:05.250Z\","
                            " \"FinishedAt\": \"2024-01-02T03:04:07.750Z\"}");
  json_t *f = worker__complete_fields(&x, state);
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(f, "status")), "COMPLETE");
  ASSERT_EQ_INT(json_integer_value(json_object_get(f, "exit_code")), 3);
  ASSERT_EQ_INT(json_integer_value(json_object_get(f, "runtime")), 2); /* whole seconds */
  ASSERT_EQ_INT(json_integer_value(json_object_get(f, "cpu")), 1200);
  ASSERT_EQ_INT(json_integer_value(json_object_get(f, "io")), 4096);
  ASSERT_TRUE(json_equal(json_object_get(f, "final_state"), state));
  ASSERT_EQ_INT((long long)(x.runtime_s * 1000), 2500);
  json_decref(f);
  json_decref(state);

  /* No state (or no times): runtime 0, unknown to the metrics. */
  f = worker__complete_fields(&x, NULL);
  ASSERT_TRUE(f != NULL);
  ASSERT_EQ_INT(json_integer_value(json_object_get(f, "runtime")), 0);
  ASSERT_TRUE(json_is_null(json_object_get(f, "final_state")));
  ASSERT_TRUE(x.runtime_s < 0);
  json_decref(f);
  worker__exec_free(&x);
}

int main(void) {
  RUN_TEST(test_delivery_copies_a_binary_message);
  RUN_TEST(test_delivery_metadata_copy_fails_nack);
  RUN_TEST(test_delivery_other_copies_fail_nack);
  RUN_TEST(test_delivery_stopping_or_busy);
  RUN_TEST(test_admit_drops_what_can_never_run);
  RUN_TEST(test_running_and_early_quit);
  RUN_TEST(test_complete_fields);
  TEST_EXIT();
}
