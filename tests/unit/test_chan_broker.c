/* channels' loop connection against a real RabbitMQ (env AMQP_URI;
 * fixture in chan_test_broker.h). Skipped when AMQP_URI is unset; fails
 * when the broker is not there. Covers declare, consume, ack, nack and
 * redelivery, prefetch, publisher confirms and returns, large bodies and
 * small frames, the outbox, reconnect after the socket dies or the broker
 * cancels a consumer (its queue deleted and declared again), close, and
 * single-active-consumer queues. The blocking client: test_chan_client.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "chan_test_broker.h"

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

/* Consumes q on c into *b (which must outlive the consumer), publishes a
 * 700 KiB body with NUL bytes (many frames) to it and checks that it is
 * confirmed and comes back whole. */
static void big_round_trip(chan_conn_t *c, const char *q, big_t *b) {
  ASSERT_EQ_INT(chan_consume(c, q, 2, on_big, b), 0);
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
  ASSERT_TRUE(RUN_UNTIL(b->n == 1 && done != 999, 5000));
  ASSERT_EQ_INT(done, 0);
  ASSERT_EQ_INT(b->len, n);
  ASSERT_TRUE(b->ok);
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
  big_round_trip(c, q, &b);
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
  big_round_trip(c, q, &b);
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

int main(void) {
  if (broker_setup() != 0)
    return 1;
  RUN_TEST(test_publish_consume);
  RUN_TEST(test_large_and_many);
  RUN_TEST(test_two_consumers);
  RUN_TEST(test_nack_requeue);
  RUN_TEST(test_prefetch);
  RUN_TEST(test_close_fails_outbox);
  RUN_TEST(test_reconnect);
  RUN_TEST(test_single_active_consumer);
  RUN_TEST(test_queue_remade_under_consumer);
  RUN_TEST(test_small_frames);
  broker_teardown();
  TEST_EXIT();
}
