/* The fixture of the channels tests against a real RabbitMQ (env
 * AMQP_URI; test_chan_broker.c: the loop connection, test_chan_client.c:
 * the blocking client): a libuv loop kept ticking, a pooled client, queue
 * names unique per process (deleted at the end), a sink of deliveries and
 * RUN_UNTIL. broker_setup() fails the executable when the broker is not
 * there (AMQP_URI unset: skipped). */
#ifndef ABACO_CHAN_TEST_BROKER_H
#define ABACO_CHAN_TEST_BROKER_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static void cleanup_queues(void) {
  for (int i = 0; i < nqueues; i++)
    ACTOR_IGNORE(chan_client_delete_queue(client, queues[i])); /* cleanup */
}

static void walk_cb(uv_handle_t *h, void *arg) {
  fprintf(stderr, "handle left open: type %d\n", (int)h->type);
}

/* main()'s set-up: 0, or 1 (said on stderr) when there is no client. */
static int broker_setup(void) {
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
  return 0;
}

/* main()'s teardown: the queues deleted, the client freed, the loop closed. */
static void broker_teardown(void) {
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
}

#endif
