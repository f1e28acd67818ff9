/* The channels transport without a broker: bounded JSON decoding, the
 * back-off curve, header lookup, publish properties and the assembler that
 * turns deliver/header/body frames into a message (fed synthetic frames). */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "chan_int.h"
#include "channels/chan.h"
#include "test.h"

static char *nested(int depth, const char *open, const char *close) {
  char *s = malloc((size_t)depth * 2 + 2);
  int n = 0;
  for (int i = 0; i < depth; i++)
    s[n++] = open[i % 2];
  s[n++] = '1';
  for (int i = depth - 1; i >= 0; i--)
    s[n++] = close[i % 2];
  s[n] = '\0';
  return s;
}

static void test_json_decode(void) {
  json_t *v = NULL;
  const char *ok = "{\"actor_id\": \"a1\", \"n\": [1, 2, {\"x\": null}]}";
  ASSERT_EQ_INT(chan_json_decode(ok, strlen(ok), 0, &v), 0);
  ASSERT_TRUE(json_is_object(v));
  ASSERT_EQ_STR(json_string_value(json_object_get(v, "actor_id")), "a1");
  json_decref(v);

  /* Bare strings are messages too (worker control channel). */
  ASSERT_EQ_INT(chan_json_decode("\"status\"", 8, 0, &v), 0);
  ASSERT_EQ_STR(json_string_value(v), "status");
  json_decref(v);

  /* Size limit: exactly max is fine, one byte more is not. */
  ASSERT_EQ_INT(chan_json_decode("[1, 2]", 6, 6, &v), 0);
  json_decref(v);
  v = (json_t *)1;
  ASSERT_EQ_INT(chan_json_decode("[1, 2]", 6, 5, &v), ACTOR_ETOOBIG);
  ASSERT_TRUE(v == NULL);

  /* Depth limit 64, counted over arrays and objects alike. */
  char *d64 = nested(CHAN_JSON_MAX_DEPTH, "[[", "]]");
  char *d65 = nested(CHAN_JSON_MAX_DEPTH + 1, "[[", "]]");
  ASSERT_EQ_INT(chan_json_decode(d64, strlen(d64), 0, &v), 0);
  json_decref(v);
  ASSERT_EQ_INT(chan_json_decode(d65, strlen(d65), 0, &v), ACTOR_ETOOBIG);
  free(d64);
  free(d65);
  char *deep = nested(5000, "[[", "]]");
  ASSERT_EQ_INT(chan_json_decode(deep, strlen(deep), 0, &v), ACTOR_ETOOBIG);
  free(deep);
  /* Brackets inside strings (with escaped quotes) do not count. */
  char str[400];
  strcpy(str, "{\"k\": \"\\\"");
  for (int i = 0; i < 100; i++)
    strcat(str, "[");
  strcat(str, "\"}");
  ASSERT_EQ_INT(chan_json_decode(str, strlen(str), 0, &v), 0);
  json_decref(v);

  /* Invalid input. */
  const char *bad[] = {"", "{", "{\"a\":}", "[1,]", "nul", "{} {}", "[1] x", "'single'"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    v = (json_t *)1;
    int rc = chan_json_decode(bad[i], strlen(bad[i]), 0, &v);
    if (rc != ACTOR_EPARSE)
      fprintf(stderr, "input '%s'\n", bad[i]);
    ASSERT_EQ_INT(rc, ACTOR_EPARSE);
    ASSERT_TRUE(v == NULL);
  }
  ASSERT_EQ_INT(chan_json_decode("[1,\0 2]", 7, 0, &v), ACTOR_EPARSE);
  ASSERT_EQ_INT(chan_json_decode(NULL, 0, 0, &v), ACTOR_EPARSE);
  ASSERT_EQ_INT(chan_json_decode("1", 1, 0, NULL), ACTOR_EINVAL);
  /* Default limit is 1 MiB. */
  size_t n = CHAN_JSON_MAX_DEFAULT + 1;
  char *huge = malloc(n);
  memset(huge, ' ', n);
  huge[0] = '1';
  ASSERT_EQ_INT(chan_json_decode(huge, n, 0, &v), ACTOR_ETOOBIG);
  ASSERT_EQ_INT(chan_json_decode(huge, n - 1, 0, &v), 0);
  json_decref(v);
  free(huge);
}

static void test_backoff(void) {
  ASSERT_EQ_INT(chan_backoff_ms(0, 0.5), 100);
  ASSERT_EQ_INT(chan_backoff_ms(1, 0.5), 200);
  ASSERT_EQ_INT(chan_backoff_ms(5, 0.5), 3200);
  ASSERT_EQ_INT(chan_backoff_ms(6, 0.5), 5000);
  ASSERT_EQ_INT(chan_backoff_ms(0, 0.0), 80);
  ASSERT_TRUE(chan_backoff_ms(0, 0.9999) <= 120 && chan_backoff_ms(0, 0.9999) >= 119);
  /* Out-of-range randomness is clamped, huge attempts do not overflow. */
  ASSERT_EQ_INT(chan_backoff_ms(0, -3.0), 80);
  ASSERT_TRUE(chan_backoff_ms(0, 7.0) <= 120);
  ASSERT_EQ_INT(chan_backoff_ms(0, 0.0 / 0.0), 80);
  for (unsigned a = 0; a < 100; a += 7) {
    unsigned lo = chan_backoff_ms(a, 0.0), hi = chan_backoff_ms(a, 0.999999);
    ASSERT_TRUE(lo >= 80 && hi <= 6000 && lo <= hi);
  }
  ASSERT_EQ_INT(chan_backoff_ms(4000000000u, 0.0), 4000);
  ASSERT_TRUE(chan_backoff_ms(31, 0.999999) <= 6000);
  ASSERT_TRUE(chan_backoff_ms(32, 0.5) == 5000);
  /* Monotonic in the attempt for the same jitter. */
  for (unsigned a = 0; a < 10; a++)
    ASSERT_TRUE(chan_backoff_ms(a, 0.3) <= chan_backoff_ms(a + 1, 0.3));
}

static void test_header_lookup(void) {
  chan_msg_t m;
  memset(&m, 0, sizeof(m));
  m.headers[0] = (chan_header_t){"a", "1"};
  m.headers[1] = (chan_header_t){"_abaco_Content_Type", "application/octet-stream"};
  m.nheaders = 2;
  ASSERT_EQ_STR(chan_msg_header(&m, "a"), "1");
  ASSERT_EQ_STR(chan_msg_header(&m, "_abaco_Content_Type"), "application/octet-stream");
  ASSERT_TRUE(chan_msg_header(&m, "b") == NULL);
  ASSERT_TRUE(chan_msg_header(&m, NULL) == NULL);
  ASSERT_TRUE(chan_msg_header(NULL, "a") == NULL);
  m.nheaders = 1;
  ASSERT_TRUE(chan_msg_header(&m, "_abaco_Content_Type") == NULL);
}

static int bytes_eq(amqp_bytes_t b, const char *s) {
  return b.len == strlen(s) && memcmp(b.bytes, s, b.len) == 0;
}

static void test_props(void) {
  chan__props_t pr;
  chan__msg_props(NULL, &pr);
  ASSERT_EQ_INT(pr.p.delivery_mode, 2);
  ASSERT_TRUE(bytes_eq(pr.p.content_type, "application/json"));
  ASSERT_TRUE(!(pr.p._flags & AMQP_BASIC_HEADERS_FLAG));

  chan_props_t in = {.content_type = "application/octet-stream",
                     .reply_to = "amq.rabbitmq.reply-to",
                     .correlation_id = "c1",
                     .expiration_ms = 1500};
  in.headers[0] = (chan_header_t){"k1", "v1"};
  in.headers[1] = (chan_header_t){NULL, "skipped"};
  in.headers[2] = (chan_header_t){"k2", "v2"};
  in.nheaders = 3;
  chan__msg_props(&in, &pr);
  ASSERT_TRUE(pr.p._flags & AMQP_BASIC_REPLY_TO_FLAG);
  ASSERT_TRUE(bytes_eq(pr.p.reply_to, "amq.rabbitmq.reply-to"));
  ASSERT_TRUE(bytes_eq(pr.p.correlation_id, "c1"));
  ASSERT_TRUE(bytes_eq(pr.p.expiration, "1500"));
  ASSERT_TRUE(bytes_eq(pr.p.content_type, "application/octet-stream"));
  ASSERT_EQ_INT(pr.p.headers.num_entries, 2);
  ASSERT_TRUE(bytes_eq(pr.p.headers.entries[1].key, "k2"));
  ASSERT_EQ_INT(pr.p.headers.entries[1].value.kind, AMQP_FIELD_KIND_UTF8);
  in.nheaders = 99; /* clamped */
  chan__msg_props(&in, &pr);
  ASSERT_EQ_INT(pr.p.headers.num_entries, 2);
}

static amqp_frame_t method_frame(amqp_method_number_t id, void *decoded) {
  amqp_frame_t f;
  memset(&f, 0, sizeof(f));
  f.frame_type = AMQP_FRAME_METHOD;
  f.channel = 1;
  f.payload.method.id = id;
  f.payload.method.decoded = decoded;
  return f;
}

static amqp_frame_t header_frame(amqp_basic_properties_t *p, uint64_t size) {
  amqp_frame_t f;
  memset(&f, 0, sizeof(f));
  f.frame_type = AMQP_FRAME_HEADER;
  f.channel = 1;
  f.payload.properties.class_id = AMQP_BASIC_CLASS;
  f.payload.properties.body_size = size;
  f.payload.properties.decoded = p;
  return f;
}

static amqp_frame_t body_frame(const char *s, size_t n) {
  amqp_frame_t f;
  memset(&f, 0, sizeof(f));
  f.frame_type = AMQP_FRAME_BODY;
  f.channel = 1;
  f.payload.body_fragment.bytes = (void *)s;
  f.payload.body_fragment.len = n;
  return f;
}

static void test_assembler(void) {
  chan__asm_t a;
  chan__msg_asm_init(&a);
  amqp_basic_deliver_t d = {.consumer_tag = amqp_cstring_bytes("ctag.1"),
                            .delivery_tag = 42,
                            .redelivered = 1,
                            .exchange = amqp_empty_bytes,
                            .routing_key = amqp_cstring_bytes("actor_msg_x")};
  amqp_table_entry_t hdr[3];
  hdr[0].key = amqp_cstring_bytes("_abaco_Content_Type");
  hdr[0].value.kind = AMQP_FIELD_KIND_UTF8;
  hdr[0].value.value.bytes = amqp_cstring_bytes("str");
  hdr[1].key = amqp_cstring_bytes("n");
  hdr[1].value.kind = AMQP_FIELD_KIND_I32;
  hdr[1].value.value.i32 = -7;
  hdr[2].key = amqp_cstring_bytes("f");
  hdr[2].value.kind = AMQP_FIELD_KIND_F64; /* not a string: dropped */
  hdr[2].value.value.f64 = 1.5;
  amqp_basic_properties_t p;
  memset(&p, 0, sizeof(p));
  p._flags =
      AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_HEADERS_FLAG;
  p.content_type = amqp_cstring_bytes("application/json");
  p.correlation_id = amqp_cstring_bytes("corr-9");
  p.headers.num_entries = 3;
  p.headers.entries = hdr;

  amqp_frame_t f = method_frame(AMQP_BASIC_DELIVER_METHOD, &d);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = header_frame(&p, 11);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = body_frame("{\"a\":", 5);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = body_frame(" \"b\"}", 5);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = body_frame("\n", 1);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_COMPLETE);
  chan_msg_t m;
  chan__msg_asm_view(&a, &m);
  ASSERT_EQ_INT(m.len, 11);
  ASSERT_EQ_STR((const char *)m.body, "{\"a\": \"b\"}\n");
  ASSERT_EQ_STR(m.queue, "actor_msg_x");
  ASSERT_EQ_STR(m.content_type, "application/json");
  ASSERT_EQ_STR(m.correlation_id, "corr-9");
  ASSERT_TRUE(m.reply_to == NULL);
  ASSERT_EQ_INT(m.nheaders, 2);
  ASSERT_EQ_STR(chan_msg_header(&m, "_abaco_Content_Type"), "str");
  ASSERT_EQ_STR(chan_msg_header(&m, "n"), "-7");
  ASSERT_EQ_INT(m.redelivered, 1);
  ASSERT_EQ_INT(m.tag.delivery_tag, 42);
  ASSERT_EQ_STR(chan__msg_asm_str(&a, a.ctag), "ctag.1");
  chan__msg_asm_reset(&a);

  /* Empty body completes on the header frame. */
  f = method_frame(AMQP_BASIC_DELIVER_METHOD, &d);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = header_frame(&p, 0);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_COMPLETE);
  chan__msg_asm_view(&a, &m);
  ASSERT_EQ_INT(m.len, 0);
  ASSERT_EQ_STR((const char *)m.body, "");
  chan__msg_asm_reset(&a);

  /* Out of order: body without a header, two delivers, too much body. */
  f = body_frame("x", 1);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), ACTOR_EPROTO);
  f = method_frame(AMQP_BASIC_DELIVER_METHOD, &d);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), ACTOR_EPROTO);
  chan__msg_asm_reset(&a);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = header_frame(&p, 2);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = body_frame("xyz", 3);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), ACTOR_EPROTO);
  chan__msg_asm_reset(&a);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &(amqp_frame_t){0}), CHAN__ASM_NOTMINE);
  /* A body bigger than any broker allows is refused before allocating. */
  f = method_frame(AMQP_BASIC_DELIVER_METHOD, &d);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = header_frame(&p, CHAN__BODY_MAX + 1);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), ACTOR_ETOOBIG);
  chan__msg_asm_reset(&a);

  /* Other methods are the caller's. */
  amqp_basic_ack_t ack = {.delivery_tag = 1, .multiple = 0};
  f = method_frame(AMQP_BASIC_ACK_METHOD, &ack);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_NOTMINE);

  /* A returned message is assembled the same way. */
  amqp_basic_return_t ret = {.reply_code = 312,
                             .reply_text = amqp_cstring_bytes("NO_ROUTE"),
                             .exchange = amqp_empty_bytes,
                             .routing_key = amqp_cstring_bytes("nowhere")};
  f = method_frame(AMQP_BASIC_RETURN_METHOD, &ret);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = header_frame(&p, 1);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_MORE);
  f = body_frame("z", 1);
  ASSERT_EQ_INT(chan__msg_asm_feed(&a, &f), CHAN__ASM_COMPLETE);
  ASSERT_EQ_INT(a.kind, CHAN__KIND_RETURN);
  ASSERT_EQ_INT(a.reply_code, 312);
  ASSERT_EQ_STR(chan__msg_asm_str(&a, a.rkey), "nowhere");
  chan__msg_asm_free(&a);
}

static void test_uri(void) {
  chan__uri_t u;
  ASSERT_EQ_INT(chan__amqp_uri_parse("amqp://guest:pw@h1:5673/%2f", &u), 0);
  ASSERT_EQ_STR(u.info.host, "h1");
  ASSERT_EQ_INT(u.info.port, 5673);
  ASSERT_EQ_STR(u.info.vhost, "/");
  ASSERT_EQ_STR(u.info.password, "pw");
  chan__amqp_uri_free(&u);
  ASSERT_EQ_INT(chan__amqp_uri_parse("amqps://h1/", &u), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan__amqp_uri_parse("http://h1/", &u), ACTOR_EINVAL);
  ASSERT_EQ_INT(chan__amqp_uri_parse(NULL, &u), ACTOR_EINVAL);
  chan__amqp_uri_free(NULL);

  chan_client_t *cl = (chan_client_t *)1;
  ASSERT_EQ_INT(chan_client_new("bogus", 2, &cl), ACTOR_EINVAL);
  ASSERT_TRUE(cl == NULL);
  chan_client_free(NULL);
}

int main(void) {
  RUN_TEST(test_json_decode);
  RUN_TEST(test_backoff);
  RUN_TEST(test_header_lookup);
  RUN_TEST(test_props);
  RUN_TEST(test_assembler);
  RUN_TEST(test_uri);
  TEST_EXIT();
}
