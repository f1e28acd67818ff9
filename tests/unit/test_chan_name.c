/* Queue names (channels/proto/name.h): what each chan_name_* writes, and
 * chan_name_parse reading every one of them back -- tenants with '_' and
 * '-' included -- and refusing what is not ours. */
#include <string.h>

#include "channels/proto/name.h"
#include "test.h"

static void test_format(void) {
  char out[CHAN_NAME_MAX];
  chan_name_command("default", out);
  ASSERT_EQ_STR(out, "command_channel_default");
  chan_name_mailbox("TACC-PROD_abc", out);
  ASSERT_EQ_STR(out, "actor_msg_TACC-PROD_abc");
  chan_name_mailbox_parking("TACC-PROD_abc", out);
  ASSERT_EQ_STR(out, "mailbox_upgrade_TACC-PROD_abc");
  chan_name_worker("w1", out);
  ASSERT_EQ_STR(out, "worker_w1");
  chan_name_spawner_worker("w1", out);
  ASSERT_EQ_STR(out, "spawner_worker_w1");
  chan_name_results("a1", "e1", out);
  ASSERT_EQ_STR(out, "results_a1_e1");
  ASSERT_EQ_STR(CHAN_CLIENTS, "clients");
  ASSERT_EQ_STR(CHAN_EVENTS, "events");

  /* Too long for AMQP: truncated to 255 bytes, never overflowing. */
  char big[600];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  chan_name_mailbox(big, out);
  ASSERT_EQ_INT(strlen(out), CHAN_NAME_MAX - 1);
  ASSERT_TRUE(strncmp(out, "actor_msg_xxx", 13) == 0);
  chan_name_worker(NULL, out);
  ASSERT_EQ_STR(out, "worker_");
  chan_name_results("a1", NULL, out);
  ASSERT_EQ_STR(out, "results_a1_");
}

/* name -> parse gives back kind, id and eid. */
static void round_trip(const char *name, chan_qkind_t kind, const char *id, const char *eid) {
  chan_qname_t q;
  memset(&q, 'z', sizeof(q)); /* parse must clear what it does not set */
  ASSERT_EQ_INT(chan_name_parse(name, &q), kind);
  ASSERT_EQ_INT(q.kind, kind);
  ASSERT_EQ_STR(q.id, id);
  ASSERT_EQ_STR(q.eid, eid);
}

static void test_round_trips(void) {
  /* db_ids of plain tenants and of tenants with '_' and '-' in them. */
  static const char *const DBIDS[] = {"TACC_6Ab1kQ3xYz",  "DEV-DEVELOP_6Ab1kQ3xYz",
                                      "MY_TENANT_abc",    "a_b-c_d-e_Xy9",
                                      "T-_-_x_Q1",        "__x",
                                      NULL};
  char name[CHAN_NAME_MAX];
  for (int i = 0; DBIDS[i]; i++) {
    const char *db = DBIDS[i];
    chan_name_mailbox(db, name);
    round_trip(name, CHAN_Q_MAILBOX, db, "");
    chan_name_mailbox_parking(db, name);
    round_trip(name, CHAN_Q_MAILBOX_PARKING, db, "");
    chan_name_results(db, "E9xKq2", name);
    round_trip(name, CHAN_Q_RESULTS, db, "E9xKq2");
  }
  chan_name_worker("Wk42xYz", name);
  round_trip(name, CHAN_Q_WORKER, "Wk42xYz", "");
  chan_name_spawner_worker("Wk42xYz", name);
  round_trip(name, CHAN_Q_SPAWNER_WORKER, "Wk42xYz", "");
  chan_name_command("default", name);
  round_trip(name, CHAN_Q_COMMAND, "default", "");
  chan_name_command("gpu_queue-2", name);
  round_trip(name, CHAN_Q_COMMAND, "gpu_queue-2", "");
  round_trip(CHAN_CLIENTS, CHAN_Q_CLIENTS, "", "");
  round_trip(CHAN_EVENTS, CHAN_Q_EVENTS, "", "");
}

static void test_not_ours(void) {
  static const char *const OTHERS[] = {"",
                                       "launch",
                                       "instance_cmd",
                                       "actor_msg_",
                                       "worker_",
                                       "spawner_worker_",
                                       "command_channel_",
                                       "mailbox_upgrade_",
                                       "results_",
                                       "results_x_y",    /* db_id without '_' */
                                       "results_nodbid", /* no execution id */
                                       "results_T_a_",   /* empty execution id */
                                       "results__x",
                                       "amq.gen-abc",
                                       "amq.rabbitmq.reply-to.g1",
                                       "Worker_x",
                                       "xactor_msg_T_a",
                                       "clientsx",
                                       "events2",
                                       NULL};
  for (int i = 0; OTHERS[i]; i++)
    round_trip(OTHERS[i], CHAN_Q_OTHER, "", "");
  round_trip(NULL, CHAN_Q_OTHER, "", "");
  /* Longer than any queue name can be: not guessed at. */
  char big[CHAN_NAME_MAX + 10];
  memset(big, 'x', sizeof(big) - 1);
  memcpy(big, "worker_", 7);
  big[sizeof(big) - 1] = '\0';
  round_trip(big, CHAN_Q_OTHER, "", "");
}

int main(void) {
  RUN_TEST(test_format);
  RUN_TEST(test_round_trips);
  RUN_TEST(test_not_ours);
  TEST_EXIT();
}
