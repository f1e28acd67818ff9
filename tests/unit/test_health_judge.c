/* The health agent's decision for one worker record (health_judge in
 * services/health/src/judge.c: host filter, dead, stuck shutting down,
 * alive but not answering status requests, never started, idle past
 * worker_ttl), which workers the status round asks, the orphan-queue rules
 * (queue names, the two-pass verdict, the management API's listing) and the
 * command-line parsing that tells a worker process by its worker id
 * (procs.c). Both do no I/O on these paths; the test links them from
 * health_core. */
#include <jansson.h>

#include "actor/errors.h"
#include "actor/model.h"
#include "actor/timefmt.h"
#include "health.h"
#include "test.h"

#define NOW 1800000000000LL /* 2027-01-15 */
#define SEC 1000LL

static const health_limits_t LIMITS = {.worker_ttl_ms = -1,
                                       .shutdown_timeout_ms = 60 * SEC,
                                       .spawn_timeout_ms = 300 * SEC,
                                       .status_misses = 3};

/* A record: status, host (NULL: null), and times as seconds before NOW
 * (< 0: null). */
static json_t *rec(const char *status, const char *host, long create_ago, long start_ago,
                   long exec_ago) {
  json_t *w = json_pack("{s:s, s:s}", "id", "w1", "status", status);
  json_object_set_new(w, "host_id", host ? json_string(host) : json_null());
  const char *keys[] = {"create_time", "start_time", "last_execution_time"};
  long agos[] = {create_ago, start_ago, exec_ago};
  for (int i = 0; i < 3; i++) {
    char t[ACTOR_TIME_MAX];
    actor_time_format(NOW - agos[i] * SEC, t);
    json_object_set_new(w, keys[i], agos[i] < 0 ? json_null() : json_string(t));
  }
  return w;
}

static health_obs_t obs(bool alive) {
  health_obs_t o = {.host_id = "h0",
                    .serves_queue = true,
                    .alive = alive,
                    .running_container = false,
                    .now_ms = NOW,
                    .since_ms = NOW,
                    .dead_ticks = alive ? 0 : 1,
                    .term_ms = 0};
  return o;
}

static health_verdict_t judge(json_t *w, const health_obs_t *o, const health_limits_t *l) {
  health_verdict_t v = health_judge(w, o, l);
  json_decref(w);
  return v;
}

static void test_other_hosts_are_never_touched(void) {
  health_obs_t o = obs(false);
  o.dead_ticks = 5;
  o.since_ms = NOW - 3600 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h1", 4000, 4000, -1), &o, &LIMITS), HEALTH_FOREIGN);
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTTING_DOWN, "h1", 4000, 4000, -1), &o, &LIMITS),
                HEALTH_FOREIGN);
  ASSERT_EQ_INT(judge(rec(WORKER_SPAWNER_SETUP, "h1", 4000, -1, -1), &o, &LIMITS), HEALTH_FOREIGN);
  /* No host yet: ours only while REQUESTED on a queue we serve. */
  ASSERT_EQ_INT(judge(rec(WORKER_READY, NULL, 4000, 4000, -1), &o, &LIMITS), HEALTH_FOREIGN);
  o.serves_queue = false;
  ASSERT_EQ_INT(judge(rec(WORKER_REQUESTED, NULL, 4000, -1, -1), &o, &LIMITS), HEALTH_FOREIGN);
  o.serves_queue = true;
  ASSERT_EQ_INT(judge(rec(WORKER_REQUESTED, NULL, 4000, -1, -1), &o, &LIMITS), HEALTH_EXPIRED);
}

static void test_dead_worker_needs_two_ticks(void) {
  health_obs_t o = obs(false);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 10, 9, -1), &o, &LIMITS), HEALTH_SUSPECT);
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 10, 9, 5), &o, &LIMITS), HEALTH_SUSPECT);
  o.dead_ticks = 2;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 10, 9, -1), &o, &LIMITS), HEALTH_DEAD);
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 10, 9, 5), &o, &LIMITS), HEALTH_DEAD);
  o = obs(true);
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 10, 9, 5), &o, &LIMITS), HEALTH_OK);
}

static void test_error_records_stay(void) {
  health_obs_t o = obs(false);
  o.dead_ticks = 9;
  o.since_ms = NOW - 3600 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_ERROR, "h0", 4000, -1, -1), &o, &LIMITS), HEALTH_LEAVE);
}

static void test_starting_workers_get_spawn_timeout(void) {
  health_obs_t o = obs(false);
  /* REQUESTED counts from its creation. */
  ASSERT_EQ_INT(judge(rec(WORKER_REQUESTED, NULL, 299, -1, -1), &o, &LIMITS), HEALTH_LEAVE);
  ASSERT_EQ_INT(judge(rec(WORKER_REQUESTED, "h0", 301, -1, -1), &o, &LIMITS), HEALTH_EXPIRED);
  /* A spawner that was busy took it late: SPAWNER SETUP counts from when
   * it was first seen so. */
  ASSERT_EQ_INT(judge(rec(WORKER_SPAWNER_SETUP, "h0", 4000, -1, -1), &o, &LIMITS), HEALTH_LEAVE);
  o.since_ms = NOW - 301 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_SPAWNER_SETUP, "h0", 4000, -1, -1), &o, &LIMITS), HEALTH_EXPIRED);
  ASSERT_EQ_INT(judge(rec(WORKER_UPDATING_STORE, "h0", 4000, -1, -1), &o, &LIMITS), HEALTH_EXPIRED);
  /* With a process it is fine, however long it takes. */
  o.alive = true;
  o.dead_ticks = 0;
  ASSERT_EQ_INT(judge(rec(WORKER_SPAWNER_SETUP, "h0", 4000, -1, -1), &o, &LIMITS), HEALTH_OK);
  /* An unreadable create_time falls back to what was observed. */
  o = obs(false);
  json_t *w = rec(WORKER_REQUESTED, "h0", 4000, -1, -1);
  json_object_set_new(w, "create_time", json_string("yesterday"));
  ASSERT_EQ_INT(judge(w, &o, &LIMITS), HEALTH_LEAVE);
}

static void test_stuck_shutting_down(void) {
  health_obs_t o = obs(true);
  o.since_ms = NOW - 59 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_OK);
  o.alive = false;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTTING_DOWN, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_LEAVE);
  /* Past the limit: dead ones are cleaned up (after two ticks) ... */
  o.since_ms = NOW - 61 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTTING_DOWN, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_SUSPECT);
  o.dead_ticks = 2;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTTING_DOWN, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_DEAD);
  /* ... a live one finishing an execution is left to it ... */
  o = obs(true);
  o.since_ms = NOW - 61 * SEC;
  o.running_container = true;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_OK);
  /* ... an idle one gets SIGTERM, then SIGKILL after the grace period. */
  o.running_container = false;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS),
                HEALTH_TERMINATE);
  o.term_ms = NOW - HEALTH_TERM_GRACE_MS + 1;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_OK);
  o.term_ms = NOW - HEALTH_TERM_GRACE_MS;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_KILL);
}

static void test_worker_ttl(void) {
  health_limits_t l = LIMITS;
  health_obs_t o = obs(true);
  /* -1: never. */
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &l), HEALTH_OK);
  l.worker_ttl_ms = 60 * SEC;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 61), &o, &l), HEALTH_IDLE);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 59), &o, &l), HEALTH_OK);
  /* Never ran: from its start, else its creation. */
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 61, -1), &o, &l), HEALTH_IDLE);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 59, -1), &o, &l), HEALTH_OK);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 61, -1, -1), &o, &l), HEALTH_IDLE);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", -1, -1, -1), &o, &l), HEALTH_OK);
  /* Busy, or a container still running: not idle. */
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 9000, 9000, 9000), &o, &l), HEALTH_OK);
  o.running_container = true;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &l), HEALTH_OK);
}

/* A READY worker whose actor's record is gone (requested by a send that
 * raced the deletion) is asked to stop; busy, or with a container running,
 * it is left to finish; a dead one is still cleaned up as dead. */
static void test_worker_of_a_deleted_actor(void) {
  health_obs_t o = obs(true);
  o.actor_gone = true;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &LIMITS), HEALTH_ORPHAN);
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 9000, 9000, 9000), &o, &LIMITS), HEALTH_OK);
  o.running_container = true;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &LIMITS), HEALTH_OK);
  o = obs(false);
  o.actor_gone = true;
  o.dead_ticks = HEALTH_DEAD_TICKS;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &LIMITS), HEALTH_DEAD);
  /* another host's: not ours to stop */
  o = obs(true);
  o.actor_gone = true;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h1", 9000, 9000, 9000), &o, &LIMITS), HEALTH_FOREIGN);
  ASSERT_EQ_STR(health_verdict_name(HEALTH_ORPHAN), "orphan");
}

static void test_not_answering_status(void) {
  health_obs_t o = obs(true);
  /* Fewer misses than the limit in a row: fine. */
  o.status_misses = 2;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_OK);
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 100, 99, 5), &o, &LIMITS), HEALTH_OK);
  /* At the limit, alive: stuck, READY or BUSY (a container running or not). */
  o.status_misses = 3;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_UNRESPONSIVE);
  o.running_container = true;
  ASSERT_EQ_INT(judge(rec(WORKER_BUSY, "h0", 100, 99, 5), &o, &LIMITS), HEALTH_UNRESPONSIVE);
  /* It takes precedence over worker_ttl: a deaf worker cannot be asked to stop. */
  health_limits_t l = LIMITS;
  l.worker_ttl_ms = 60 * SEC;
  o.running_container = false;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 9000, 9000, 9000), &o, &l), HEALTH_UNRESPONSIVE);
  /* 0 turns the rule off. */
  l = LIMITS;
  l.status_misses = 0;
  o.status_misses = 50;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 100, 99, -1), &o, &l), HEALTH_OK);
  /* A process that is gone is dead (or suspect), whatever it answered. */
  o = obs(false);
  o.status_misses = 5;
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_SUSPECT);
  /* Other statuses are not asked, so their misses never count. */
  o = obs(true);
  o.status_misses = 5;
  ASSERT_EQ_INT(judge(rec(WORKER_SHUTDOWN_REQUESTED, "h0", 100, 99, -1), &o, &LIMITS), HEALTH_OK);
  ASSERT_EQ_INT(judge(rec(WORKER_SPAWNER_SETUP, "h0", 100, -1, -1), &o, &LIMITS), HEALTH_OK);
  ASSERT_EQ_INT(judge(rec(WORKER_READY, "h1", 100, 99, -1), &o, &LIMITS), HEALTH_FOREIGN);
}

static void test_who_is_asked_for_status(void) {
  json_t *w = rec(WORKER_READY, "h0", 10, 9, -1);
  ASSERT_TRUE(health_status_asked(w, "h0", true));
  ASSERT_TRUE(!health_status_asked(w, "h0", false)); /* no process: nobody to answer */
  ASSERT_TRUE(!health_status_asked(w, "h1", true));  /* another host's */
  json_decref(w);
  w = rec(WORKER_BUSY, "h0", 10, 9, 5);
  ASSERT_TRUE(health_status_asked(w, "h0", true));
  json_decref(w);
  static const char *const NOT_ASKED[] = {WORKER_REQUESTED,
                                          WORKER_SPAWNER_SETUP,
                                          WORKER_CREATING_CONTAINER,
                                          WORKER_UPDATING_STORE,
                                          WORKER_SHUTDOWN_REQUESTED,
                                          WORKER_SHUTTING_DOWN,
                                          WORKER_ERROR,
                                          NULL};
  for (int i = 0; NOT_ASKED[i]; i++) {
    w = rec(NOT_ASKED[i], "h0", 10, 9, -1);
    ASSERT_TRUE(!health_status_asked(w, "h0", true));
    json_decref(w);
  }
  w = rec(WORKER_READY, NULL, 10, 9, -1);
  ASSERT_TRUE(!health_status_asked(w, "h0", true));
  json_decref(w);
}

static void test_queue_kinds(void) {
  /* Health judges the queues an actor or a worker owns, read back by the
   * protocol's parser (its own cases: test_chan_name.c). */
  char name[CHAN_NAME_MAX];
  chan_qname_t q;
  chan_name_mailbox("DEV-DEVELOP_6Ab1kQ3xYz", name);
  ASSERT_TRUE(health_queue_judged(chan_name_parse(name, &q)) && health_queue_of_actor(q.kind));
  ASSERT_EQ_STR(q.id, "DEV-DEVELOP_6Ab1kQ3xYz");
  chan_name_results("MY_TENANT_abc", "E9x", name);
  ASSERT_TRUE(health_queue_judged(chan_name_parse(name, &q)) && health_queue_of_actor(q.kind));
  ASSERT_EQ_STR(q.id, "MY_TENANT_abc");
  chan_name_worker("Wk42xYz", name);
  ASSERT_TRUE(health_queue_judged(chan_name_parse(name, &q)) && !health_queue_of_actor(q.kind));
  ASSERT_EQ_STR(q.id, "Wk42xYz");
  chan_name_spawner_worker("Wk42xYz", name);
  ASSERT_TRUE(health_queue_judged(chan_name_parse(name, &q)) && !health_queue_of_actor(q.kind));
  ASSERT_EQ_STR(q.id, "Wk42xYz");
  /* Everything else is left alone: commands, parked mailboxes (an upgrade
   * in progress), clients, events, and what is not ours. */
  static const char *const OTHERS[] = {"command_channel_default",
                                       "mailbox_upgrade_T_a",
                                       "clients",
                                       "events",
                                       "launch",
                                       "instance_cmd",
                                       "actor_msg_",
                                       "worker_",
                                       "results_x_y",
                                       "results_nodbid",
                                       "results_T_a_",
                                       "amq.gen-abc",
                                       "Worker_x",
                                       "xactor_msg_T_a",
                                       NULL};
  for (int i = 0; OTHERS[i]; i++)
    ASSERT_TRUE(!health_queue_judged(chan_name_parse(OTHERS[i], &q)));
  ASSERT_TRUE(!health_queue_judged(chan_name_parse(NULL, &q)));
}

static void test_queue_verdict(void) {
  /* An orphan is deleted only at its second pass. */
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_MAILBOX, false, 0, false), HEALTH_QUEUE_SUSPECT);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_MAILBOX, false, 0, true), HEALTH_QUEUE_DELETE);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_WORKER, false, -1, true), HEALTH_QUEUE_DELETE);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_SPAWNER_WORKER, false, 0, true), HEALTH_QUEUE_DELETE);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_RESULTS, false, 0, true), HEALTH_QUEUE_DELETE);
  /* The owner exists: never, whatever it holds and however long seen. */
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_MAILBOX, true, 0, true), HEALTH_QUEUE_KEEP);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_WORKER, true, 0, true), HEALTH_QUEUE_KEEP);
  /* Someone consumes it: theirs to fix. */
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_MAILBOX, false, 1, true), HEALTH_QUEUE_KEEP);
  /* Not ours, or not health's to judge. */
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_OTHER, false, 0, true), HEALTH_QUEUE_KEEP);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_COMMAND, false, 0, true), HEALTH_QUEUE_KEEP);
  ASSERT_EQ_INT(health_queue_judge(CHAN_Q_MAILBOX_PARKING, false, 0, true), HEALTH_QUEUE_KEEP);
  ASSERT_EQ_STR(health_qverdict_name(HEALTH_QUEUE_DELETE), "delete");
}

static void test_queue_listing(void) {
  static const char body[] = "[{\"name\":\"worker_a\",\"consumers\":0},"
                             "{\"name\":\"actor_msg_T_b\",\"consumers\":2},"
                             "{\"name\":\"new_one\"},{\"consumers\":1},"
                             "{\"name\":7}]";
  json_t *q = NULL;
  ASSERT_EQ_INT(health_queue_list_parse(body, sizeof(body) - 1, &q), 0);
  ASSERT_EQ_INT(json_object_size(q), 3);
  ASSERT_EQ_INT(json_integer_value(json_object_get(q, "worker_a")), 0);
  ASSERT_EQ_INT(json_integer_value(json_object_get(q, "actor_msg_T_b")), 2);
  ASSERT_EQ_INT(json_integer_value(json_object_get(q, "new_one")), -1); /* no stats yet */
  json_decref(q);
  ASSERT_EQ_INT(health_queue_list_parse("[]", 2, &q), 0);
  ASSERT_EQ_INT(json_object_size(q), 0);
  json_decref(q);
  static const char *const BAD[] = {"{\"error\":\"not_authorised\"}", "[", "", "null", NULL};
  for (int i = 0; BAD[i]; i++) {
    ASSERT_EQ_INT(health_queue_list_parse(BAD[i], strlen(BAD[i]), &q), ACTOR_EPARSE);
    ASSERT_TRUE(q == NULL);
  }
  ASSERT_EQ_INT(health_queue_list_parse(NULL, 0, &q), ACTOR_EPARSE);
}

static void test_record_time(void) {
  json_t *w = rec(WORKER_READY, "h0", 10, -1, -1);
  ASSERT_EQ_INT(health_record_time(w, "create_time"), NOW - 10 * SEC);
  ASSERT_EQ_INT(health_record_time(w, "start_time"), -1);
  ASSERT_EQ_INT(health_record_time(w, "no_such_field"), -1);
  json_decref(w);
}

static void test_cmdline(void) {
  static const char worker[] = "/x/bin/worker\0-c\0/x/abaco.conf\0--\0T_a1\0W42";
  char wid[64] = "";
  ASSERT_TRUE(health_cmdline_worker(worker, sizeof(worker), wid, sizeof(wid)));
  ASSERT_EQ_STR(wid, "W42");
  ASSERT_TRUE(health_cmdline_has(worker, sizeof(worker), "W42"));
  ASSERT_TRUE(health_cmdline_has(worker, sizeof(worker), "T_a1"));
  ASSERT_TRUE(!health_cmdline_has(worker, sizeof(worker), "W4"));
  ASSERT_TRUE(!health_cmdline_has(worker, sizeof(worker), "W421"));
  /* Not a worker: no "--", three arguments after it, an empty one. */
  static const char spawner[] = "/x/bin/spawner\0-c\0/x/abaco.conf";
  ASSERT_TRUE(!health_cmdline_worker(spawner, sizeof(spawner), wid, sizeof(wid)));
  static const char three[] = "prog\0--\0a\0b\0c";
  ASSERT_TRUE(!health_cmdline_worker(three, sizeof(three), wid, sizeof(wid)));
  static const char empty[] = "prog\0--\0a\0";
  ASSERT_TRUE(!health_cmdline_worker(empty, sizeof(empty), wid, sizeof(wid)));
  ASSERT_TRUE(!health_cmdline_worker("", 0, wid, sizeof(wid)));
  /* A worker id longer than the buffer is refused, not cut. */
  char small[3];
  ASSERT_TRUE(!health_cmdline_worker(worker, sizeof(worker), small, sizeof(small)));
  /* Without the trailing NUL (a truncated read) the last argument still counts. */
  ASSERT_TRUE(health_cmdline_worker(worker, sizeof(worker) - 1, wid, sizeof(wid)));
  ASSERT_EQ_STR(wid, "W42");
}

static void test_procs_find_own_pid(void) {
  /* A record pid that is not the worker's (here: this test) does not count. */
  health_procs_t p = {0};
  ASSERT_EQ_INT(health_procs_find(&p, "W42", (long long)getpid()), 0);
  ASSERT_EQ_INT(health_procs_find(&p, "W42", 0), 0);
  ASSERT_EQ_INT(health_procs_scan(&p), 0);
  ASSERT_EQ_INT(health_procs_find(&p, "no-such-worker-id", 0), 0);
  health_procs_free(&p);
}

int main(void) {
  RUN_TEST(test_other_hosts_are_never_touched);
  RUN_TEST(test_dead_worker_needs_two_ticks);
  RUN_TEST(test_error_records_stay);
  RUN_TEST(test_starting_workers_get_spawn_timeout);
  RUN_TEST(test_stuck_shutting_down);
  RUN_TEST(test_worker_ttl);
  RUN_TEST(test_worker_of_a_deleted_actor);
  RUN_TEST(test_not_answering_status);
  RUN_TEST(test_who_is_asked_for_status);
  RUN_TEST(test_queue_kinds);
  RUN_TEST(test_queue_verdict);
  RUN_TEST(test_queue_listing);
  RUN_TEST(test_record_time);
  RUN_TEST(test_cmdline);
  RUN_TEST(test_procs_find_own_pid);
  TEST_EXIT();
}
