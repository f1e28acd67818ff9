/* channels against a real RabbitMQ (env AMQP_URI). Skipped when AMQP_URI
 * is unset; fails when the broker is not there. Covers the loop connection
 * (declare, consume, ack, nack and redelivery, prefetch, publisher confirms
 * and returns, outbox, reconnect after the socket dies or the broker
 * cancels a consumer, close), the blocking client (publish, call, many
 * calls at once, get, queue length, purge, delete, delete-if-empty, moving
 * messages) and queue arguments (single-active-consumer, a declare with
 * other arguments). Queue names are unique per process and deleted at the
 * end. */
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "actor/errors.h"
#include "chan_int.h"
#include "channels/chan.h"
#include "test.h"

static uv_loop_t loop;
static uv_timer_t ticker;
static chan_client_t *client;
static char prefix[64];
static char queues[32][CHAN_NAME_MAX];
static int nqueues;

static const char *broker_uri(void) {
  return test_server_env("AMQP_URI");
}

static const char *qname(const char *suffix) {
  char *q = queues[nqueues++];
  snprintf(q, CHAN_NAME_MAX, "%s_%s", prefix, suffix);
  return q;
}

static uint64_t now_ms(void) {
  return uv_hrtime() / 1000000;
}

static void on_tick(uv_timer_t *t) {}

/* Runs the loop until cond holds or ms pass; evaluates to cond. */
#define RUN_UNTIL(cond, ms)                                                                        \
  ({                                                                                               \
    uint64_t run__end = now_ms() + (ms);                                                           \
    while (!(cond) && now_ms() < run__end)                                                         \
      uv_run(&loop, UV_RUN_ONCE);                                                                  \
    (cond);                                                                                        \
  })

typedef struct {
  int n;
  int autoack;
  char body[8][128];
  chan_tag_t tag[8];
  int redelivered[8];
  char corr[64], ctype[64], hdr[64], queue[CHAN_NAME_MAX];
} sink_t;

static void on_msg(chan_conn_t *c, const chan_msg_t *m, void *ud) {
  sink_t *s = ud;
  int i = s->n < 8 ? s->n : 7;
  snprintf(s->body[i], sizeof(s->body[i]), "%.*s", (int)m->len, (const char *)m->body);
  s->tag[i] = m->tag;
  s->redelivered[i] = m->redelivered;
  snprintf(s->corr, sizeof(s->corr), "%s", m->correlation_id ? m->correlation_id : "");
  snprintf(s->ctype, sizeof(s->ctype), "%s", m->content_type ? m->content_type : "");
  const char *h = chan_msg_header(m, "h1");
  snprintf(s->hdr, sizeof(s->hdr), "%s", h ? h : "");
  snprintf(s->queue, sizeof(s->queue), "%s", m->queue ? m->queue : "");
  s->n++;
  if (s->autoack)
    ACTOR_IGNORE(chan_ack(c, m->tag)); /* the tests check deliveries, not acks */
}

static void on_done(chan_conn_t *c, int status, void *ud) {
  *(int *)ud = status;
}

static void on_closed(chan_conn_t *c, void *ud) {
  *(int *)ud = 1;
}

static chan_conn_t *open_conn(const char *name) {
  chan_conn_t *c = NULL;
  ASSERT_EQ_INT(chan_conn_new(&loop, broker_uri(), name, &c), 0);
  return c;
}

static void close_conn(chan_conn_t *c) {
  int closed = 0;
  chan_conn_close(c, on_closed, &closed);
  ASSERT_TRUE(RUN_UNTIL(closed, 5000));
}

static long qlen(const char *q) {
  long n = -1;
  ASSERT_EQ_INT(chan_client_queue_len(client, q, &n), 0);
  return n;
}

static void test_broker_reachable(void) {
  long n = -1;
  int rc = chan_client_queue_len(client, qname("nonexistent"), &n);
  if (rc != 0)
    fprintf(stderr, "broker at %s unreachable: %s\n", broker_uri(), actor_strerror(rc));
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(n, 0);
}

static void test_publish_consume(void) {
  const char *q = qname("pubsub");
  chan_conn_t *c = open_conn("test-pubsub");
  ASSERT_TRUE(!chan_conn_is_open(c));
  sink_t s = {.autoack = 0};
  ASSERT_EQ_INT(chan_declare(c, q), 0);
  ASSERT_EQ_INT(chan_consume(c, q, 10, on_msg, &s), 0);
  ASSERT_EQ_INT(chan_consume(c, q, 10, on_msg, &s), ACTOR_EEXIST);
  /* Published before the connection is up: waits in the outbox. */
  chan_props_t props = {.content_type = "application/json", .correlation_id = "corr-1"};
  props.headers[0] = (chan_header_t){"h1", "v1"};
  props.nheaders = 1;
  int done = 999;
  ASSERT_EQ_INT(chan_publish(c, q, "{\"m\":1}", 7, &props, on_done, &done), 0);
  ASSERT_EQ_INT(done, 999);
  ASSERT_TRUE(RUN_UNTIL(done != 999 && s.n == 1, 5000));
  ASSERT_TRUE(chan_conn_is_open(c));
  ASSERT_EQ_INT(done, 0);
  ASSERT_EQ_STR(s.body[0], "{\"m\":1}");
  ASSERT_EQ_STR(s.corr, "corr-1");
  ASSERT_EQ_STR(s.ctype, "application/json");
  ASSERT_EQ_STR(s.hdr, "v1");
  ASSERT_EQ_STR(s.queue, q);
  ASSERT_EQ_INT(s.redelivered[0], 0);
  ASSERT_EQ_INT(s.tag[0].generation, chan__conn_generation(c));
  ASSERT_EQ_INT(chan_ack(c, s.tag[0]), 0);

  /* Now open: published at once; the confirm comes later, never inside. */
  done = 999;
  ASSERT_EQ_INT(chan_publish(c, q, "[2]", 3, NULL, on_done, &done), 0);
  ASSERT_EQ_INT(done, 999);
  ASSERT_TRUE(RUN_UNTIL(done != 999 && s.n == 2, 5000));
  ASSERT_EQ_INT(done, 0);
  ASSERT_EQ_STR(s.body[1], "[2]");
  ASSERT_EQ_INT(chan_ack(c, s.tag[1]), 0);

  /* A queue that does not exist: the mandatory publish comes back. */
  done = 999;
  ASSERT_EQ_INT(chan_publish(c, qname("nowhere"), "{}", 2, NULL, on_done, &done), 0);
  ASSERT_TRUE(RUN_UNTIL(done != 999, 5000));
  ASSERT_EQ_INT(done, ACTOR_ENOTFOUND);
  /* ... and one without a callback is fine too. */
  ASSERT_EQ_INT(chan_publish(c, q, "[3]", 3, NULL, NULL, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == 3, 5000));
  ASSERT_EQ_INT(chan_ack(c, s.tag[2]), 0);

  ASSERT_EQ_INT(chan_cancel(c, q), 0);
  ASSERT_EQ_INT(chan_cancel(c, q), ACTOR_ENOTFOUND);
  ASSERT_EQ_INT(chan_publish(c, q, "[4]", 3, NULL, NULL, NULL), 0);
  RUN_UNTIL(0, 200);
  ASSERT_EQ_INT(s.n, 3);
  ASSERT_EQ_INT(qlen(q), 1);
  ASSERT_EQ_INT(chan_publish(c, "", "x", 1, NULL, NULL, NULL), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan_declare(c, ""), ACTOR_EINVAL);
  close_conn(c);
}

typedef struct {
  size_t len;
  int ok, n;
} big_t;

static void on_big(chan_conn_t *c, const chan_msg_t *m, void *ud) {
  big_t *b = ud;
  const unsigned char *p = m->body;
  b->len = m->len;
  b->ok = ((const char *)m->body)[m->len] == '\0';
  for (size_t i = 0; i < m->len && b->ok; i++)
    b->ok = p[i] == (unsigned char)(i * 7);
  b->n++;
  ACTOR_IGNORE(chan_ack(c, m->tag)); /* as above */
}

static int confirmed, confirm_errors;

static void on_count(chan_conn_t *c, int status, void *ud) {
  if (status == 0)
    confirmed++;
  else
    confirm_errors++;
}

/* A body spanning several frames (frame_max 128 KiB), with NUL bytes, and
 * a burst of publishes whose confirms come back batched (multiple). */
static void test_large_and_many(void) {
  const char *q = qname("large");
  chan_conn_t *c = open_conn("test-large");
  big_t b = {0};
  ASSERT_EQ_INT(chan_consume(c, q, 2, on_big, &b), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  size_t n = 700 * 1024;
  unsigned char *body = malloc(n);
  for (size_t i = 0; i < n; i++)
    body[i] = (unsigned char)(i * 7);
  int done = 999;
  chan_props_t props = {.content_type = "application/octet-stream"};
  ASSERT_EQ_INT(chan_publish(c, q, body, n, &props, on_done, &done), 0);
  free(body);
  ASSERT_TRUE(RUN_UNTIL(b.n == 1 && done != 999, 5000));
  ASSERT_EQ_INT(done, 0);
  ASSERT_EQ_INT(b.len, n);
  ASSERT_TRUE(b.ok);
  ASSERT_EQ_INT(chan_cancel(c, q), 0);

  const char *q2 = qname("many");
  ASSERT_EQ_INT(chan_declare(c, q2), 0);
  confirmed = confirm_errors = 0;
  for (int i = 0; i < 500; i++)
    ASSERT_EQ_INT(chan_publish(c, q2, "{\"i\":1}", 7, NULL, on_count, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(confirmed + confirm_errors == 500, 10000));
  ASSERT_EQ_INT(confirmed, 500);
  ASSERT_EQ_INT(qlen(q2), 500);
  close_conn(c);
}

/* chan_frame_max_set (the worker asks for 16 KiB frames): out-of-range
 * sizes are refused; with small frames a 700 KiB body still goes and comes
 * back whole (many more frames), and the setting only changes connections
 * made after it. */
static void test_small_frames(void) {
  ASSERT_EQ_INT(chan_frame_max_set(CHAN_FRAME_MIN - 1), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan_frame_max_set(CHAN__FRAME_MAX + 1), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan_frame_max_set(16384), 0);
  const char *q = qname("small-frames");
  chan_conn_t *c = open_conn("test-small-frames");
  big_t b = {0};
  ASSERT_EQ_INT(chan_consume(c, q, 2, on_big, &b), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  size_t n = 700 * 1024;
  unsigned char *body = malloc(n);
  ASSERT_TRUE(body != NULL);
  for (size_t i = 0; i < n; i++)
    body[i] = (unsigned char)(i * 7);
  int done = 999;
  chan_props_t props = {.content_type = "application/octet-stream"};
  ASSERT_EQ_INT(chan_publish(c, q, body, n, &props, on_done, &done), 0);
  free(body);
  ASSERT_TRUE(RUN_UNTIL(b.n == 1 && done != 999, 5000));
  ASSERT_EQ_INT(done, 0);
  ASSERT_EQ_INT(b.len, n);
  ASSERT_TRUE(b.ok);
  close_conn(c);
  ASSERT_EQ_INT(chan_frame_max_set(CHAN__FRAME_MAX), 0);
}

/* Several consumers share the connection's channel; each queue reaches
 * only its own callback, and cancelling one leaves the other running. */
static void test_two_consumers(void) {
  const char *qa = qname("two_a"), *qb = qname("two_b");
  chan_conn_t *c = open_conn("test-two");
  sink_t a = {.autoack = 1}, b = {.autoack = 1};
  ASSERT_EQ_INT(chan_consume(c, qa, 1, on_msg, &a), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  ASSERT_EQ_INT(chan_consume(c, qb, 1, on_msg, &b), 0); /* added while open */
  ASSERT_EQ_INT(chan_publish(c, qa, "\"a\"", 3, NULL, NULL, NULL), 0);
  ASSERT_EQ_INT(chan_publish(c, qb, "\"b\"", 3, NULL, NULL, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(a.n == 1 && b.n == 1, 5000));
  ASSERT_EQ_STR(a.body[0], "\"a\"");
  ASSERT_EQ_STR(b.body[0], "\"b\"");
  ASSERT_EQ_STR(a.queue, qa);
  ASSERT_EQ_STR(b.queue, qb);
  ASSERT_EQ_INT(chan_cancel(c, qa), 0);
  ASSERT_EQ_INT(chan_publish(c, qa, "\"a2\"", 4, NULL, NULL, NULL), 0);
  ASSERT_EQ_INT(chan_publish(c, qb, "\"b2\"", 4, NULL, NULL, NULL), 0);
  ASSERT_TRUE(RUN_UNTIL(b.n == 2, 5000));
  RUN_UNTIL(0, 100);
  ASSERT_EQ_INT(a.n, 1);
  ASSERT_EQ_INT(qlen(qa), 1);
  close_conn(c);
}

static void test_nack_requeue(void) {
  const char *q = qname("nack");
  chan_conn_t *c = open_conn("test-nack");
  sink_t s = {0};
  ASSERT_EQ_INT(chan_consume(c, q, 5, on_msg, &s), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  ASSERT_EQ_INT(chan_client_publish(client, q, "\"again\"", 7, NULL, 3000), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == 1, 5000));
  ASSERT_EQ_INT(s.redelivered[0], 0);
  ASSERT_EQ_INT(chan_nack(c, s.tag[0], 1), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == 2, 5000));
  ASSERT_EQ_STR(s.body[1], "\"again\"");
  ASSERT_EQ_INT(s.redelivered[1], 1);
  /* Without requeue the message is gone. */
  ASSERT_EQ_INT(chan_nack(c, s.tag[1], 0), 0);
  RUN_UNTIL(0, 200);
  ASSERT_EQ_INT(s.n, 2);
  ASSERT_EQ_INT(qlen(q), 0);
  close_conn(c);
}

static void test_prefetch(void) {
  const char *q = qname("prefetch");
  chan_conn_t *c = open_conn("test-prefetch");
  sink_t s = {0};
  ASSERT_EQ_INT(chan_consume(c, q, 1, on_msg, &s), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  for (int i = 0; i < 3; i++) {
    char b[8];
    snprintf(b, sizeof(b), "[%d]", i);
    ASSERT_EQ_INT(chan_client_publish(client, q, b, strlen(b), NULL, 3000), 0);
  }
  ASSERT_TRUE(RUN_UNTIL(s.n == 1, 5000));
  RUN_UNTIL(0, 300);
  ASSERT_EQ_INT(s.n, 1);
  ASSERT_EQ_INT(qlen(q), 2);
  for (int i = 0; i < 3; i++) {
    char b[8];
    snprintf(b, sizeof(b), "[%d]", i);
    ASSERT_EQ_STR(s.body[i], b);
    ASSERT_EQ_INT(chan_ack(c, s.tag[i]), 0);
    if (i < 2) {
      ASSERT_TRUE(RUN_UNTIL(s.n == i + 2, 5000));
      RUN_UNTIL(0, 100);
      ASSERT_EQ_INT(s.n, i + 2);
    }
  }
  RUN_UNTIL(0, 100);
  ASSERT_EQ_INT(qlen(q), 0);
  close_conn(c);
}

static void test_close_fails_outbox(void) {
  chan_conn_t *c = open_conn("test-close");
  int done = 999;
  ASSERT_EQ_INT(chan_publish(c, qname("outbox"), "{}", 2, NULL, on_done, &done), 0);
  int closed = 0;
  chan_conn_close(c, on_closed, &closed);
  ASSERT_EQ_INT(done, ACTOR_ECLOSED);
  ASSERT_TRUE(RUN_UNTIL(closed, 2000));

  /* A broker that is not there: never open, closes cleanly. */
  ASSERT_EQ_INT(chan_conn_new(&loop, "amqp://guest:guest@127.0.0.1:1/%2f", "test-nobroker", &c), 0);
  done = 999;
  ASSERT_EQ_INT(chan_publish(c, "q", "{}", 2, NULL, on_done, &done), 0);
  RUN_UNTIL(0, 400);
  ASSERT_TRUE(!chan_conn_is_open(c));
  ASSERT_EQ_INT(done, 999);
  close_conn(c);
  ASSERT_EQ_INT(done, ACTOR_ECLOSED);
  chan_conn_t *bad = (chan_conn_t *)1;
  ASSERT_EQ_INT(chan_conn_new(&loop, "amqps://h/", "x", &bad), ACTOR_EINVAL);
  ASSERT_TRUE(bad == NULL);
}

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

static void test_reconnect(void) {
  const char *q = qname("reconnect");
  chan_conn_t *c = open_conn("test-reconnect");
  sink_t s = {0};
  ASSERT_EQ_INT(chan_consume(c, q, 10, on_msg, &s), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
  ASSERT_EQ_INT(chan_client_publish(client, q, "[1]", 3, NULL, 3000), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == 1, 5000));
  uint64_t gen = chan__conn_generation(c);

  /* Kill the socket under the connection, as a network failure would. */
  int fd = chan__conn_fd(c);
  ASSERT_TRUE(fd >= 0);
  ASSERT_EQ_INT(shutdown(fd, SHUT_RDWR), 0);
  int lost = 999;
  ASSERT_EQ_INT(chan_publish(c, q, "[lost]", 6, NULL, on_done, &lost), 0);
  ASSERT_TRUE(RUN_UNTIL(lost != 999, 3000));
  ASSERT_EQ_INT(lost, ACTOR_ECONN);
  ASSERT_TRUE(RUN_UNTIL(chan__conn_generation(c) > gen && chan_conn_is_open(c), 5000));
  /* The unacked delivery comes again; the old tag is refused. */
  ASSERT_TRUE(RUN_UNTIL(s.n == 2, 5000));
  ASSERT_EQ_STR(s.body[1], "[1]");
  ASSERT_EQ_INT(s.redelivered[1], 1);
  ASSERT_EQ_INT(chan_ack(c, s.tag[0]), ACTOR_ESTATE);
  ASSERT_EQ_INT(chan_ack(c, s.tag[1]), 0);
  /* The consumer runs again for new messages. */
  ASSERT_EQ_INT(chan_client_publish(client, q, "[2]", 3, NULL, 3000), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n >= 3, 5000));
  ASSERT_EQ_STR(s.body[s.n - 1], "[2]");
  ASSERT_EQ_INT(chan_ack(c, s.tag[s.n - 1]), 0);

  /* The broker cancels the consumer when its queue is deleted: the
   * connection starts over and re-declares the queue. */
  gen = chan__conn_generation(c);
  ASSERT_EQ_INT(chan_client_delete_queue(client, q), 0);
  ASSERT_TRUE(RUN_UNTIL(chan__conn_generation(c) > gen && chan_conn_is_open(c), 5000));
  int n0 = s.n;
  ASSERT_EQ_INT(chan_client_publish(client, q, "[3]", 3, NULL, 3000), 0);
  ASSERT_TRUE(RUN_UNTIL(s.n == n0 + 1, 5000));
  ASSERT_EQ_STR(s.body[(s.n - 1) < 8 ? s.n - 1 : 7], "[3]");
  ASSERT_EQ_INT(chan_ack(c, s.tag[(s.n - 1) < 8 ? s.n - 1 : 7]), 0);
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

/* Two consumers of a single-active-consumer queue: one gets everything;
 * when it goes, the other takes over, its unacked message first. */
static void test_single_active_consumer(void) {
  const char *q = qname("sac_consume");
  chan_queue_opts_t sac = {.single_active = 1};
  chan_conn_t *a = open_conn("test-sac-a"), *b = open_conn("test-sac-b");
  sink_t sa = {0}, sb = {0};
  ASSERT_EQ_INT(chan_declare_opts(a, q, &sac), 0);
  ASSERT_EQ_INT(chan_consume(a, q, 1, on_msg, &sa), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(a), 5000));
  ASSERT_EQ_INT(chan_declare_opts(b, q, &sac), 0);
  ASSERT_EQ_INT(chan_consume(b, q, 1, on_msg, &sb), 0);
  ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(b), 5000));
  for (int i = 0; i < 3; i++) {
    char m[8];
    snprintf(m, sizeof(m), "[%d]", i);
    ASSERT_EQ_INT(chan_client_publish_to(client, q, &sac, m, 3, NULL, 3000), 0);
  }
  ASSERT_TRUE(RUN_UNTIL(sa.n == 1, 5000));
  ASSERT_EQ_INT(chan_ack(a, sa.tag[0]), 0);
  ASSERT_TRUE(RUN_UNTIL(sa.n == 2, 5000));
  RUN_UNTIL(0, 200);
  ASSERT_EQ_INT(sb.n, 0); /* standing by, though it has room */
  close_conn(a);          /* leaves [1] unacked */
  ASSERT_TRUE(RUN_UNTIL(sb.n == 1, 5000));
  ASSERT_EQ_STR(sb.body[0], "[1]");
  ASSERT_EQ_INT(sb.redelivered[0], 1);
  ASSERT_EQ_INT(chan_ack(b, sb.tag[0]), 0);
  ASSERT_TRUE(RUN_UNTIL(sb.n == 2, 5000));
  ASSERT_EQ_STR(sb.body[1], "[2]");
  ASSERT_EQ_INT(chan_ack(b, sb.tag[1]), 0);
  close_conn(b);
}

/* Deletes q and declares it again with no round trip in between, as the
 * api re-making a mailbox does (mailbox.c), only faster. */
static void remake_queue_at_once(const char *q) {
  chan__uri_t u;
  amqp_connection_state_t st = NULL;
  char err[CHAN__ERR_MAX];
  ASSERT_EQ_INT(chan__amqp_uri_parse(broker_uri(), &u), 0);
  ASSERT_EQ_INT(chan__amqp_open(&u, "test-remake", 0, 3000, &st, err, sizeof(err)), 0);
  amqp_queue_delete_t del = {.queue = amqp_cstring_bytes(q), .if_empty = 1};
  amqp_queue_declare_t dec = {.queue = amqp_cstring_bytes(q), .durable = 1};
  ASSERT_EQ_INT(amqp_send_method(st, CHAN__CH_ADMIN, AMQP_QUEUE_DELETE_METHOD, &del), 0);
  ASSERT_EQ_INT(amqp_send_method(st, CHAN__CH_ADMIN, AMQP_QUEUE_DECLARE_METHOD, &dec), 0);
  amqp_method_number_t want[] = {AMQP_QUEUE_DELETE_OK_METHOD, AMQP_QUEUE_DECLARE_OK_METHOD};
  for (int i = 0; i < 2; i++) {
    amqp_method_t m;
    ASSERT_EQ_INT(amqp_simple_wait_method(st, CHAN__CH_ADMIN, want[i], &m), 0);
  }
  amqp_connection_close(st, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(st);
  chan__amqp_uri_free(&u);
}

/* A queue deleted and declared again at once under a consumer that holds
 * a delivery (a worker running a message while the api re-makes its
 * mailbox). RabbitMQ moves a consumer of a deleted queue onto a new queue
 * of the same name when that exists by the time the consumer's channel
 * hears of the deletion, and the channel's unacked deliveries then name
 * the new queue: the old delivery's ack settles a message of the new one,
 * which is lost. Our consumers ask to be cancelled instead: the connection
 * starts over, the old tag is refused, and each message of the new queue
 * is delivered. Repeated, since the race is inside the broker. */
static void test_queue_remade_under_consumer(void) {
  const char *q = qname("remade"), *noise = qname("remade_noise");
  ASSERT_EQ_INT(chan_client_declare(client, noise, 0), 0);
  for (int round = 0; round < 20; round++) {
    chan_conn_t *c = open_conn("test-remade");
    sink_t s = {0};
    ASSERT_EQ_INT(chan_declare(c, q), 0);
    ASSERT_EQ_INT(chan_consume(c, q, 1, on_msg, &s), 0);
    ASSERT_TRUE(RUN_UNTIL(chan_conn_is_open(c), 5000));
    ASSERT_EQ_INT(chan_client_publish(client, q, "[old]", 5, NULL, 3000), 0);
    ASSERT_TRUE(RUN_UNTIL(s.n == 1, 5000));
    /* Publishes keep the consumer's channel busy, so that the news of the
     * deletion reaches it after the new queue exists. */
    for (int i = 0; i < 2000; i++)
      ASSERT_EQ_INT(chan_publish(c, noise, "{}", 2, NULL, NULL, NULL), 0);
    uint64_t gen = chan__conn_generation(c);
    remake_queue_at_once(q);
    ASSERT_EQ_INT(chan_client_publish(client, q, "[new]", 5, NULL, 3000), 0);
    if (!RUN_UNTIL(chan__conn_generation(c) > gen && chan_conn_is_open(c), 3000))
      fprintf(stderr, "round %d: the consumer was moved onto the new queue (%d deliveries)\n",
              round, s.n);
    ASSERT_TRUE(chan__conn_generation(c) > gen);
    /* Gone with the old queue: told apart from a delivery the broker requeued. */
    ASSERT_EQ_INT(chan_nack(c, s.tag[0], 1), ACTOR_ENOTFOUND);
    ASSERT_EQ_INT(chan_ack(c, s.tag[0]), ACTOR_ENOTFOUND);
    ASSERT_TRUE(RUN_UNTIL(s.n == 2, 5000));
    ASSERT_EQ_STR(s.body[1], "[new]");
    ASSERT_EQ_INT(chan_ack(c, s.tag[1]), 0);
    close_conn(c);
    ASSERT_EQ_INT(qlen(q), 0);
    ASSERT_EQ_INT(chan_client_delete_queue(client, q), 0);
    ASSERT_EQ_INT(chan_client_purge(client, noise), 0);
  }
}

static void cleanup_queues(void) {
  for (int i = 0; i < nqueues; i++)
    ACTOR_IGNORE(chan_client_delete_queue(client, queues[i])); /* cleanup */
}

static void walk_cb(uv_handle_t *h, void *arg) {
  fprintf(stderr, "handle left open: type %d\n", (int)h->type);
}

int main(void) {
  snprintf(prefix, sizeof(prefix), "chantest_%d_%llu", (int)getpid(),
           (unsigned long long)(uv_hrtime() / 1000 % 1000000000ull));
  uv_loop_init(&loop);
  uv_timer_init(&loop, &ticker);
  uv_timer_start(&ticker, on_tick, 5, 5);
  if (chan_client_new(broker_uri(), 4, &client) != 0) {
    fprintf(stderr, "chan_client_new failed\n");
    return 1;
  }
  test_broker_reachable(); /* its asserts keep the tests from running without a broker */
  RUN_TEST(test_publish_consume);
  RUN_TEST(test_large_and_many);
  RUN_TEST(test_two_consumers);
  RUN_TEST(test_nack_requeue);
  RUN_TEST(test_prefetch);
  RUN_TEST(test_close_fails_outbox);
  RUN_TEST(test_client_ops);
  RUN_TEST(test_client_stale_pool);
  RUN_TEST(test_publish_group);
  RUN_TEST(test_request_reply);
  RUN_TEST(test_request_reply_many);
  RUN_TEST(test_reconnect);
  RUN_TEST(test_queue_args_and_move);
  RUN_TEST(test_single_active_consumer);
  RUN_TEST(test_queue_remade_under_consumer);
  RUN_TEST(test_small_frames);
  cleanup_queues();
  chan_client_free(client);
  uv_close((uv_handle_t *)&ticker, NULL);
  /* Bounded: a test that failed half-way may have left a connection open. */
  for (uint64_t end = now_ms() + 5000; uv_run(&loop, UV_RUN_NOWAIT) != 0 && now_ms() < end;)
    usleep(1000);
  int lc = uv_loop_close(&loop);
  if (lc != 0)
    uv_walk(&loop, walk_cb, NULL);
  ASSERT_EQ_INT(lc, 0);
  TEST_EXIT();
}
