/* channels' blocking client against a real RabbitMQ (env AMQP_URI;
 * fixture in chan_test_broker.h). Skipped when AMQP_URI is unset; fails
 * when the broker is not there. Covers publish, get, queue length, purge,
 * delete and delete-if-empty, a pool whose connections went stale, group
 * publishing, calls (one, many at once), queue arguments (a declare with
 * other arguments) and moving messages. The loop connection:
 * test_chan_broker.c. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "chan_test_broker.h"

static void test_client_ops(void) {
  const char *q = qname("client");
  for (int i = 0; i < 3; i++) {
    char b[16];
    snprintf(b, sizeof(b), "{\"i\":%d}", i);
    ASSERT_EQ_INT(chan_client_publish(client, q, b, strlen(b), NULL, 3000), 0);
  }
  ASSERT_EQ_INT(qlen(q), 3);
  char *body = NULL;
  size_t len = 0;
  ASSERT_EQ_INT(chan_client_get(client, q, &body, &len), 0);
  ASSERT_EQ_STR(body, "{\"i\":0}");
  ASSERT_EQ_INT(len, 7);
  free(body);
  ASSERT_EQ_INT(qlen(q), 2);
  ASSERT_EQ_INT(chan_client_purge(client, q), 0);
  ASSERT_EQ_INT(qlen(q), 0);
  ASSERT_EQ_INT(chan_client_get(client, q, &body, &len), ACTOR_ENOTFOUND);
  ASSERT_TRUE(body == NULL);
  ASSERT_EQ_INT(chan_client_delete_queue(client, q), 0);
  /* Gone: zero length, purge/delete succeed, get finds nothing. */
  ASSERT_EQ_INT(qlen(q), 0);
  ASSERT_EQ_INT(chan_client_purge(client, q), 0);
  ASSERT_EQ_INT(chan_client_delete_queue(client, q), 0);
  ASSERT_EQ_INT(chan_client_get(client, q, &body, &len), ACTOR_ENOTFOUND);
  /* Publishing again re-declares it, whichever pooled connection is used. */
  for (int i = 0; i < 4; i++)
    ASSERT_EQ_INT(chan_client_publish(client, q, "{}", 2, NULL, 3000), 0);
  ASSERT_EQ_INT(qlen(q), 4);

  /* Results queues expire; publishing to one declared so still works. */
  const char *rq = qname("results");
  ASSERT_EQ_INT(chan_client_declare(client, rq, 60000), 0);
  ASSERT_EQ_INT(chan_client_publish(client, rq, "raw\x01", 4, NULL, 3000), 0);
  ASSERT_EQ_INT(qlen(rq), 1);
  ASSERT_EQ_INT(chan_client_get(client, rq, &body, &len), 0);
  ASSERT_EQ_INT(len, 4);
  ASSERT_TRUE(body && memcmp(body, "raw\x01", 4) == 0);
  free(body);

  /* Argument checks and an unreachable broker. */
  ASSERT_EQ_INT(chan_client_publish(client, "", "{}", 2, NULL, 1000), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan_client_publish(client, q, "{}", 2, NULL, 0), ACTOR_EINVAL);
  chan_client_t *down = NULL;
  ASSERT_EQ_INT(chan_client_new("amqp://guest:guest@127.0.0.1:1/%2f", 1, &down), 0);
  uint64_t t0 = now_ms();
  ASSERT_EQ_INT(chan_client_publish(down, q, "{}", 2, NULL, 1000), ACTOR_ECONN);
  long n = -1;
  ASSERT_EQ_INT(chan_client_queue_len(down, q, &n), ACTOR_ECONN);
  ASSERT_TRUE(now_ms() - t0 < 3000);
  chan_client_free(down);
}

/* Shuts down every socket of this process connected to the broker's port:
 * the client pool's idle connections go stale, as after a broker restart. */
static int kill_broker_sockets(void) {
  chan__uri_t u;
  int n = 0;
  if (chan__amqp_uri_parse(broker_uri(), &u) != 0)
    return 0;
  for (int fd = 3; fd < 1024; fd++) {
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    if (getpeername(fd, (struct sockaddr *)&sa, &sl) == 0 && sa.sin_family == AF_INET &&
        ntohs(sa.sin_port) == u.info.port && shutdown(fd, SHUT_RDWR) == 0)
      n++;
  }
  chan__amqp_uri_free(&u);
  return n;
}

static void test_client_stale_pool(void) {
  const char *q = qname("stale");
  ASSERT_EQ_INT(chan_client_publish(client, q, "[1]", 3, NULL, 3000), 0);
  ASSERT_TRUE(kill_broker_sockets() >= 1);
  /* The first attempt fails on the dead connection; the retry succeeds. */
  ASSERT_EQ_INT(chan_client_publish(client, q, "[2]", 3, NULL, 3000), 0);
  ASSERT_EQ_INT(qlen(q), 2);
  ASSERT_TRUE(kill_broker_sockets() >= 1);
  ASSERT_EQ_INT(qlen(q), 2);
  ASSERT_TRUE(kill_broker_sockets() >= 1);
  ASSERT_EQ_INT(chan_client_purge(client, q), 0);
  ASSERT_EQ_INT(qlen(q), 0);
}

/* Group publishing: concurrent callers share connections and confirms;
 * every message arrives exactly once and each caller gets its own answer. */
#define GROUP_THREADS 8
#define GROUP_EACH 40
typedef struct {
  chan_client_t *cl;
  const char *q[2];
  int id, each, fails;
  int rc_last;
} group_job_t;

static void *group_thread(void *arg) {
  group_job_t *j = arg;
  for (int i = 0; i < j->each; i++) {
    char b[48];
    snprintf(b, sizeof(b), "{\"t\":%d,\"i\":%d}", j->id, i);
    chan_props_t props = {.nheaders = 1};
    props.headers[0].key = "h1";
    props.headers[0].value = b;
    j->rc_last = chan_client_publish_group(j->cl, j->q[i % 2], NULL, b, strlen(b), &props, 3000);
    if (j->rc_last != 0)
      j->fails++;
  }
  return NULL;
}

static void run_group(chan_client_t *cl, const char *q0, const char *q1, int each,
                      group_job_t jobs[GROUP_THREADS]) {
  pthread_t th[GROUP_THREADS];
  for (int t = 0; t < GROUP_THREADS; t++) {
    jobs[t] = (group_job_t){.cl = cl, .q = {q0, q1}, .id = t, .each = each};
    ASSERT_EQ_INT(pthread_create(&th[t], NULL, group_thread, &jobs[t]), 0);
  }
  for (int t = 0; t < GROUP_THREADS; t++)
    pthread_join(th[t], NULL);
}

static void test_publish_group(void) {
  const char *q0 = qname("group0"), *q1 = qname("group1");
  group_job_t jobs[GROUP_THREADS];
  run_group(client, q0, q1, GROUP_EACH, jobs);
  for (int t = 0; t < GROUP_THREADS; t++)
    ASSERT_EQ_INT(jobs[t].fails, 0);
  ASSERT_EQ_INT(qlen(q0), GROUP_THREADS * GROUP_EACH / 2);
  ASSERT_EQ_INT(qlen(q1), GROUP_THREADS * GROUP_EACH / 2);
  /* Each message once: drain q0 and check there is no repeat. */
  static char seen[GROUP_THREADS][GROUP_EACH];
  memset(seen, 0, sizeof(seen));
  for (int k = 0; k < GROUP_THREADS * GROUP_EACH / 2; k++) {
    char *body = NULL;
    size_t len = 0;
    ASSERT_EQ_INT(chan_client_get(client, q0, &body, &len), 0);
    int t = -1, i = -1;
    ASSERT_EQ_INT(sscanf(body ? body : "", "{\"t\":%d,\"i\":%d}", &t, &i), 2);
    ASSERT_TRUE(t >= 0 && t < GROUP_THREADS && i >= 0 && i < GROUP_EACH && i % 2 == 0);
    ASSERT_EQ_INT(seen[t][i], 0);
    seen[t][i] = 1;
    free(body);
  }
  ASSERT_EQ_INT(qlen(q0), 0);

  /* Queues deleted behind the pool's back (another client): the broker
   * returns the messages, which are published again once re-declared --
   * each exactly once. */
  chan_client_t *other = NULL;
  ASSERT_EQ_INT(chan_client_new(broker_uri(), 1, &other), 0);
  ASSERT_EQ_INT(chan_client_delete_queue(other, q0), 0);
  ASSERT_EQ_INT(chan_client_delete_queue(other, q1), 0);
  chan_client_free(other);
  run_group(client, q0, q1, 2, jobs);
  for (int t = 0; t < GROUP_THREADS; t++)
    ASSERT_EQ_INT(jobs[t].fails, 0);
  ASSERT_EQ_INT(qlen(q0), GROUP_THREADS);
  ASSERT_EQ_INT(qlen(q1), GROUP_THREADS);

  /* Stale pooled connections: the group is sent again on fresh ones. */
  ASSERT_TRUE(kill_broker_sockets() > 0);
  run_group(client, q0, q1, 2, jobs);
  for (int t = 0; t < GROUP_THREADS; t++)
    ASSERT_EQ_INT(jobs[t].fails, 0);
  ASSERT_EQ_INT(qlen(q0), 2 * GROUP_THREADS);

  /* No broker: every caller of every group fails, none waits forever. */
  chan_client_t *down = NULL;
  ASSERT_EQ_INT(chan_client_new("amqp://guest:guest@127.0.0.1:1/%2f", 2, &down), 0);
  uint64_t t0 = now_ms();
  run_group(down, q0, q1, 3, jobs);
  for (int t = 0; t < GROUP_THREADS; t++) {
    ASSERT_EQ_INT(jobs[t].fails, 3);
    ASSERT_EQ_INT(jobs[t].rc_last, ACTOR_ECONN);
  }
  ASSERT_TRUE(now_ms() - t0 < 10000);
  chan_client_free(down);
  ASSERT_EQ_INT(chan_client_publish_group(client, "", NULL, "{}", 2, NULL, 1000), ACTOR_EINVAL);
}

typedef struct {
  int rc, rc_timeout, done;
  char reply[128];
  const char *q, *q_idle;
} call_t;

static void *caller(void *arg) {
  call_t *t = arg;
  char *reply = NULL;
  size_t len = 0;
  t->rc = chan_client_call(client, t->q, "{\"command\":\"new\"}", 17, 5000, &reply, &len);
  if (reply)
    snprintf(t->reply, sizeof(t->reply), "%.*s", (int)len, reply);
  free(reply);
  t->rc_timeout = chan_client_call(client, t->q_idle, "{}", 2, 300, &reply, &len);
  free(reply);
  __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static int replied;

static void on_request(chan_conn_t *c, const chan_msg_t *m, void *ud) {
  char out[128];
  int n = snprintf(out, sizeof(out), "{\"status\":\"ok\",\"req\":%.*s}", (int)m->len,
                   (const char *)m->body);
  chan_props_t p = {.correlation_id = m->correlation_id};
  if (m->reply_to && chan_publish(c, m->reply_to, out, (size_t)n, &p, on_done, &replied) == 0)
    ACTOR_IGNORE(chan_ack(c, m->tag)); /* as above */
  else
    ACTOR_IGNORE(chan_nack(c, m->tag, 0)); /* as above */
}

static void test_request_reply(void) {
  call_t t = {.q = qname("rpc"), .q_idle = qname("rpc_idle")};
  chan_conn_t *c = open_conn("test-rpc");
  ASSERT_EQ_INT(chan_consume(c, t.q, 4, on_request, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  replied = 999;
  pthread_t th;
  pthread_create(&th, NULL, caller, &t);
  ASSERT_TRUE(RUN_UNTIL(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST), 10000));
  pthread_join(th, NULL);
  ASSERT_EQ_INT(t.rc, 0);
  ASSERT_EQ_STR(t.reply, "{\"status\":\"ok\",\"req\":{\"command\":\"new\"}}");
  ASSERT_EQ_INT(t.rc_timeout, ACTOR_ETIMEDOUT);
  ASSERT_TRUE(RUN_UNTIL(replied != 999, 2000));
  ASSERT_EQ_INT(replied, 0);
  close_conn(c);
}

typedef struct {
  const char *q, *q_idle, *q_missing;
  chan_call_t first[4], quick[2], missing[1];
  int rc_first, rc_quick, rc_missing, rc_publish, done;
  uint64_t first_ms, quick_ms;
} many_t;

static void *many_caller(void *arg) {
  many_t *t = arg;
  const char *first[] = {t->q, t->q_idle, t->q_missing, t->q};
  for (int i = 0; i < 4; i++)
    t->first[i].queue = first[i];
  uint64_t t0 = now_ms();
  t->rc_first = chan_client_call_many(client, t->first, 4, "\"status\"", 8, 800);
  t->first_ms = now_ms() - t0;
  t->quick[0].queue = t->quick[1].queue = t->q;
  t0 = now_ms();
  t->rc_quick = chan_client_call_many(client, t->quick, 2, "{}", 2, 3000);
  t->quick_ms = now_ms() - t0;
  /* The pool is clean afterwards: a publish gets its own confirm. */
  t->rc_publish = chan_client_publish(client, t->q_idle, "[1]", 3, NULL, 3000);
  /* The missing queue was not created by the first request. */
  t->missing[0].queue = t->q_missing;
  t->rc_missing = chan_client_call_many(client, t->missing, 1, "{}", 2, 800);
  __atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
  return NULL;
}

static void test_request_reply_many(void) {
  many_t t = {.q = qname("many"), .q_idle = qname("many_idle"), .q_missing = qname("many_none")};
  chan_conn_t *c = open_conn("test-many");
  ASSERT_EQ_INT(chan_consume(c, t.q, 4, on_request, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  ASSERT_EQ_INT(chan_client_declare(client, t.q_idle, 0), 0);
  pthread_t th;
  pthread_create(&th, NULL, many_caller, &t);
  ASSERT_TRUE(RUN_UNTIL(__atomic_load_n(&t.done, __ATOMIC_SEQ_CST), 15000));
  pthread_join(th, NULL);
  ASSERT_EQ_INT(t.rc_first, 0);
  ASSERT_EQ_INT(t.first[0].rc, 0);
  ASSERT_EQ_STR(t.first[0].reply, "{\"status\":\"ok\",\"req\":\"status\"}");
  ASSERT_EQ_INT(t.first[1].rc, ACTOR_ETIMEDOUT);
  ASSERT_EQ_INT(t.first[2].rc, ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(t.first[3].rc, 0);
  ASSERT_TRUE(t.first[1].reply == NULL && t.first[2].reply == NULL);
  /* One wait for all of them, not one per call. */
  ASSERT_TRUE(t.first_ms >= 790 && t.first_ms < 2000);
  ASSERT_EQ_INT(t.rc_quick, 0);
  ASSERT_EQ_INT(t.quick[0].rc, 0);
  ASSERT_EQ_INT(t.quick[1].rc, 0);
  ASSERT_TRUE(t.quick_ms < 1000); /* all answered: no timeout waited */
  ASSERT_EQ_INT(t.rc_publish, 0);
  ASSERT_EQ_INT(t.rc_missing, 0);
  ASSERT_EQ_INT(t.missing[0].rc, ACTOR_ENOTFOUND);
  /* The expired request did not stay in the idle queue; the publish did. */
  ASSERT_EQ_INT(qlen(t.q_idle), 1);
  for (int i = 0; i < 4; i++)
    free(t.first[i].reply);
  for (int i = 0; i < 2; i++)
    free(t.quick[i].reply);
  /* Bad arguments touch nothing. */
  chan_call_t bad = {.queue = ""};
  ASSERT_EQ_INT(chan_client_call_many(client, &bad, 1, "{}", 2, 100), ACTOR_EINVAL);
  ASSERT_EQ_INT(bad.rc, ACTOR_EINVAL);
  ASSERT_EQ_INT(chan_client_call_many(client, NULL, 0, "{}", 2, 100), 0);
  close_conn(c);
}

/* Queue arguments are fixed: a declare with others is told apart; the
 * if-empty delete; moving messages keeps their order and properties. */
static void test_queue_args_and_move(void) {
  const char *q = qname("sac"), *to = qname("sac_to");
  chan_queue_opts_t sac = {.single_active = 1}, plain = {0};
  ASSERT_EQ_INT(chan_client_declare_opts(client, q, &sac), 0);
  ASSERT_EQ_INT(chan_client_declare_opts(client, q, &sac), 0);
  ASSERT_EQ_INT(chan_client_declare_opts(client, q, &plain), ACTOR_EEXIST);
  ASSERT_EQ_INT(chan_client_declare_opts(client, q, NULL), ACTOR_EEXIST);
  ASSERT_EQ_INT(chan_client_declare(client, q, 0), 0); /* used as it is */
  /* Publishing with other arguments still reaches the queue. */
  chan_props_t props = {.content_type = "application/octet-stream", .nheaders = 1};
  props.headers[0] = (chan_header_t){"h1", "meta"};
  for (int i = 0; i < 3; i++) {
    char b[8];
    snprintf(b, sizeof(b), "[%d]", i);
    ASSERT_EQ_INT(chan_client_publish_to(client, q, i ? &plain : &sac, b, 3, &props, 3000), 0);
  }
  ASSERT_EQ_INT(qlen(q), 3);
  ASSERT_EQ_INT(chan_client_delete_queue_if_empty(client, q), ACTOR_ESTATE);
  ASSERT_EQ_INT(qlen(q), 3);

  long moved = -1;
  ASSERT_EQ_INT(chan_client_move(client, q, to, &sac, 1, &moved), 0);
  ASSERT_EQ_INT(moved, 1);
  ASSERT_EQ_INT(chan_client_move(client, q, to, &sac, 0, &moved), 0);
  ASSERT_EQ_INT(moved, 2);
  ASSERT_EQ_INT(qlen(q), 0);
  ASSERT_EQ_INT(qlen(to), 3);
  ASSERT_EQ_INT(chan_client_declare_opts(client, to, &sac), 0); /* made with the arguments */
  ASSERT_EQ_INT(chan_client_move(client, q, to, &sac, 0, &moved), 0); /* nothing left */
  ASSERT_EQ_INT(moved, 0);
  ASSERT_EQ_INT(chan_client_delete_queue_if_empty(client, q), 0);
  ASSERT_EQ_INT(chan_client_declare_opts(client, q, &plain), 0); /* gone: made anew */
  ASSERT_EQ_INT(chan_client_delete_queue_if_empty(client, q), 0);
  ASSERT_EQ_INT(chan_client_delete_queue_if_empty(client, q), 0); /* missing is fine */
  ASSERT_EQ_INT(chan_client_move(client, q, to, &sac, 0, &moved), 0); /* missing: none */
  ASSERT_EQ_INT(chan_client_move(client, q, q, NULL, 0, &moved), ACTOR_EINVAL);

  chan_conn_t *c = open_conn("test-moved");
  sink_t s = {.autoack = 1};
  ASSERT_EQ_INT(chan_consume(c, to, 10, on_msg, &s), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == 3, 5000));
  ASSERT_EQ_STR(s.body[0], "[0]");
  ASSERT_EQ_STR(s.body[1], "[1]");
  ASSERT_EQ_STR(s.body[2], "[2]");
  ASSERT_EQ_STR(s.ctype, "application/octet-stream");
  ASSERT_EQ_STR(s.hdr, "meta");
  close_conn(c);
}

int main(void) {
  if (broker_setup() != 0)
    return 1;
  RUN_TEST(test_client_ops);
  RUN_TEST(test_client_stale_pool);
  RUN_TEST(test_publish_group);
  RUN_TEST(test_request_reply);
  RUN_TEST(test_request_reply_many);
  RUN_TEST(test_queue_args_and_move);
  broker_teardown();
  TEST_EXIT();
}
