/* The HTTP glue (ahttp) end to end: a server on 127.0.0.1 (a free port)
 * runs in a libuv loop on the main thread while a client thread talks to it
 * with libcurl. An echo handler returns what it was given as JSON, so the
 * checks cover decoded paths and query arguments (order, duplicates, a flag
 * without '='), raw bodies kept byte for byte, url-encoded and multipart
 * forms (a value > 64 KiB that arrives in pieces), body limits (413 before
 * the body is read, chunked bodies cut off, per-request limits and a custom
 * answer from the hooks), CORS and custom
 * response headers, the default 500 of a handler that sets nothing, 32
 * concurrent requests from 4 threads, keep-alive reuse, and a stop while a
 * slow handler runs: the request still gets its whole (16 MiB) answer,
 * new connections are refused, the stop callback runs after it and the loop
 * closes cleanly. The ahttp_kvs_* lists and ahttp_respond* (no server):
 * test_http_kvs.c. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "actor/errors.h"
#include "actor/http.h"
#include "test.h"

#define MAX_BODY (256 * 1024)
#define BIG_LEN (100 * 1024) /* > the post processor's 64 KiB buffer */
#define CONC_THREADS 4
#define CONC_PER_THREAD 8
/* More than one write can send: a stop must not cut the response short. */
#define SLOW_LEN (16u << 20)

static int port;
static uv_loop_t loop;
static ahttp_server_t *server;
static uv_async_t stop_async;
static int handler_magic = 42;

/* Written by the handler (thread pool) or the loop, read by the client. */
static atomic_int slow_started, slow_done, stop_called, stopped;
static atomic_int stopped_seen_by_slow = -1, slow_done_seen_by_stop = -1;

/* ---- the handler ---- */

static json_t *kvs_pairs(const ahttp_kvs_t *kvs) {
  json_t *a = json_array();
  for (size_t i = 0; i < kvs->n; i++)
    json_array_append_new(a, json_pack("[s, s?]", kvs->items[i].key, kvs->items[i].value));
  return a;
}

static void echo(ahttp_req_t *req, void *ud) {
  const char *ct = ahttp_kvs_get(&req->headers, "content-type", 1);
  const char *xt = ahttp_kvs_get(&req->headers, "X-Test", 1);
  json_t *o = json_pack(
      "{s:s, s:s, s:o, s:o, s:b, s:I, s:s, s:b, s:s?, s:s?}", "method", req->method, "path",
      req->path, "query", kvs_pairs(&req->query), "form", kvs_pairs(&req->form), "is_form",
      req->is_form, "body_len", (json_int_t)req->body_len, "client_ip", req->client_ip, "ud_ok", ud == &handler_magic, "content_type", ct, "x_test", xt);
  char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (text)
    ahttp_respond_owned(req, 200, NULL, text, strlen(text));
  else
    ahttp_respond(req, 500, "text/plain", "oom", 3);
}

static void handler(ahttp_req_t *req, void *ud) {
  if (strcmp(req->path, "/raw") == 0 || strcmp(req->path, "/big/raw") == 0) {
    ahttp_respond(req, 200, "application/octet-stream", req->body, req->body_len);
  } else if (strcmp(req->path, "/hdr") == 0) {
    ASSERT_EQ_INT(ahttp_kvs_add(&req->resp_headers, "X-Custom", 8, "yes", 3), 0);
    ASSERT_EQ_INT(ahttp_kvs_add(&req->resp_headers, "X-Other", 7, "2", 1), 0);
    ahttp_respond(req, 201, "text/plain", "hdr", 3);
  } else if (strcmp(req->path, "/none") == 0) {
    /* sets nothing: the server answers 500 */
  } else if (strcmp(req->path, "/slow") == 0) {
    atomic_store(&slow_started, 1);
    usleep(300 * 1000);
    atomic_store(&stopped_seen_by_slow, atomic_load(&stopped));
    atomic_store(&slow_done, 1);
    char *big = malloc(SLOW_LEN);
    if (big) {
      memset(big, 's', SLOW_LEN);
      memcpy(big, "slow done", 9);
    }
    ahttp_respond_owned(req, 200, "text/plain", big, SLOW_LEN);
  } else if (strcmp(req->path, "/conc") == 0) {
    usleep(10 * 1000); /* keep several in flight at once */
    echo(req, ud);
  } else {
    echo(req, ud);
  }
}

/* ---- the body limit hooks (loop thread) ---- */

static size_t body_limit(const ahttp_req_t *req, void *ud) {
  (void)ud;
  return strncmp(req->path, "/big/", 5) == 0 ? 2 * MAX_BODY : MAX_BODY;
}

static void too_large(ahttp_req_t *req, size_t limit, void *ud) {
  if (strcmp(req->path, "/custom") != 0 || ud != &handler_magic || req->body_len != 0)
    return; /* the default answer */
  char text[64];
  int n = snprintf(text, sizeof(text), "custom %zu %s", limit, req->path);
  ahttp_respond(req, 400, "text/plain", text, (size_t)n);
}

/* ---- the loop side of stopping ---- */

static void on_stopped(void *ud) {
  (void)ud;
  atomic_store(&slow_done_seen_by_stop, atomic_load(&slow_done));
  atomic_store(&stopped, 1);
}

static void on_stop_async(uv_async_t *a) {
  ahttp_server_stop(server, on_stopped, NULL);
  ahttp_server_stop(server, on_stopped, NULL); /* a second stop is ignored */
  atomic_store(&stop_called, 1);
  uv_close((uv_handle_t *)a, NULL);
}

/* ---- a small libcurl client ---- */

typedef struct {
  long status;
  char *body;
  size_t len, cap;
  char *head;
  size_t hlen, hcap;
  CURLcode rc;
} resp_t;

static void buf_add(char **p, size_t *len, size_t *cap, const char *data, size_t n) {
  if (*len + n + 1 > *cap) {
    size_t c = *cap ? *cap : 256;
    while (*len + n + 1 > c)
      c *= 2;
    char *grown = realloc(*p, c);
    if (grown == NULL)
      abort();
    *p = grown;
    *cap = c;
  }
  memcpy(*p + *len, data, n);
  *len += n;
  (*p)[*len] = '\0';
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  buf_add(&r->body, &r->len, &r->cap, data, size * n);
  return size * n;
}

static size_t on_head(char *data, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  buf_add(&r->head, &r->hlen, &r->hcap, data, size * n);
  return size * n;
}

static void resp_free(resp_t *r) {
  free(r->body);
  free(r->head);
  memset(r, 0, sizeof(*r));
}

/* Value of a response header (case-insensitive name), copied into out. */
static const char *resp_header(const resp_t *r, const char *name, char *out, size_t outlen) {
  size_t nlen = strlen(name);
  for (const char *line = r->head; line && *line;) {
    const char *end = strstr(line, "\r\n");
    size_t llen = end ? (size_t)(end - line) : strlen(line);
    if (llen > nlen && strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
      const char *v = line + nlen + 1;
      while (*v == ' ')
        v++;
      size_t vlen = (size_t)(line + llen - v);
      if (vlen >= outlen)
        vlen = outlen - 1;
      memcpy(out, v, vlen);
      out[vlen] = '\0';
      return out;
    }
    line = end ? end + 2 : line + llen;
  }
  return NULL;
}

/* Resets handle c for a request to url with headers h, its answer into r. */
static void setup(CURL *c, resp_t *r, const char *url, struct curl_slist *h) {
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
}

/* One request on handle c (reused across calls for keep-alive). body NULL:
 * GET; ctype NULL: no Content-Type header; mime: a multipart body. */
static resp_t request(CURL *c, const char *path, const char *ctype, const void *body, size_t blen,
                      curl_mime *mime, struct curl_slist *extra) {
  resp_t r = {0};
  char url[1024], cth[256];
  struct curl_slist *h = NULL;
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  for (struct curl_slist *e = extra; e; e = e->next)
    h = curl_slist_append(h, e->data);
  if (ctype) {
    snprintf(cth, sizeof(cth), "Content-Type: %s", ctype);
    h = curl_slist_append(h, cth);
  }
  h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
  setup(c, &r, url, h);
  if (mime) {
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
  } else if (body) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
  }
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  return r;
}

static json_t *resp_json(const resp_t *r) {
  json_error_t err;
  json_t *v = r->body ? json_loadb(r->body, r->len, 0, &err) : NULL;
  if (v == NULL)
    fprintf(stderr, "response is not JSON: %.200s\n", r->body ? r->body : "(none)");
  return v;
}

/* [key, value|null] at index i of an echoed list. */
static const char *pair_key(const json_t *o, const char *list, size_t i) {
  return json_string_value(json_array_get(json_array_get(json_object_get(o, list), i), 0));
}
static const json_t *pair_val(const json_t *o, const char *list, size_t i) {
  return json_array_get(json_array_get(json_object_get(o, list), i), 1);
}

static void check_cors(const resp_t *r) {
  char v[64];
  ASSERT_EQ_STR(resp_header(r, "Access-Control-Allow-Origin", v, sizeof(v)), "*");
}

/* ---- client-side tests (run on the client thread) ---- */

static void test_get_query(void) {
  CURL *c = curl_easy_init();
  struct curl_slist *extra = curl_slist_append(NULL, "X-Test: hello there");
  resp_t r = request(c, "/a%20b/c?b=2&a=1&flag&x=a%20b+c%26d&b=3&e=", NULL, NULL, 0, NULL, extra);
  json_t *o = resp_json(&r);
  ASSERT_EQ_INT(r.rc, CURLE_OK);
  ASSERT_EQ_INT(r.status, 200);
  check_cors(&r);
  char ct[128];
  ASSERT_EQ_STR(resp_header(&r, "Content-Type", ct, sizeof(ct)), "application/json");
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "method")), "GET");
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "path")), "/a b/c");
  ASSERT_EQ_INT(json_array_size(json_object_get(o, "query")), 6);
  ASSERT_EQ_STR(pair_key(o, "query", 0), "b");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 0)), "2");
  ASSERT_EQ_STR(pair_key(o, "query", 1), "a");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 1)), "1");
  ASSERT_EQ_STR(pair_key(o, "query", 2), "flag");
  ASSERT_TRUE(json_is_null(pair_val(o, "query", 2)));
  ASSERT_EQ_STR(pair_key(o, "query", 3), "x");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 3)), "a b c&d");
  ASSERT_EQ_STR(pair_key(o, "query", 4), "b");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 4)), "3");
  ASSERT_EQ_STR(pair_key(o, "query", 5), "e");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 5)), "");
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "x_test")), "hello there");
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "client_ip")), "127.0.0.1");
  ASSERT_TRUE(json_is_true(json_object_get(o, "ud_ok")));
  ASSERT_TRUE(json_is_false(json_object_get(o, "is_form")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(o, "body_len")), 0);
  json_decref(o);
  resp_free(&r);
  curl_slist_free_all(extra);
  curl_easy_cleanup(c);
}

static void test_post_json_bytes(void) {
  CURL *c = curl_easy_init();
  /* UTF-8, a NUL and every byte value: the body comes back unchanged */
  char body[600];
  const char *json = "{\"k\": \"v\\u00e9 \xc3\xa9\", \"n\": [1, 2.5, null]}";
  size_t jlen = strlen(json);
  memcpy(body, json, jlen);
  for (int i = 0; i < 256; i++)
    body[jlen + (size_t)i] = (char)i;
  size_t blen = jlen + 256;
  resp_t r = request(c, "/raw", "application/json", body, blen, NULL, NULL);
  ASSERT_EQ_INT(r.status, 200);
  ASSERT_EQ_INT(r.len, blen);
  ASSERT_TRUE(r.body && memcmp(r.body, body, blen) == 0);
  check_cors(&r);
  resp_free(&r);

  r = request(c, "/echo", "application/json", json, jlen, NULL, NULL);
  json_t *o = resp_json(&r);
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "method")), "POST");
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "content_type")), "application/json");
  ASSERT_EQ_INT(json_integer_value(json_object_get(o, "body_len")), jlen);
  ASSERT_TRUE(json_is_false(json_object_get(o, "is_form")));
  ASSERT_EQ_INT(json_array_size(json_object_get(o, "form")), 0);
  json_decref(o);
  resp_free(&r);
  curl_easy_cleanup(c);
}

static void test_urlencoded_form(void) {
  CURL *c = curl_easy_init();
  const char *body = "name=J%C3%BCrgen+M&empty=&x=1%262&name=second";
  resp_t r =
      request(c, "/form?q=1", "application/x-www-form-urlencoded", body, strlen(body), NULL, NULL);
  json_t *o = resp_json(&r);
  ASSERT_EQ_INT(r.status, 200);
  check_cors(&r);
  ASSERT_TRUE(json_is_true(json_object_get(o, "is_form")));
  ASSERT_EQ_INT(json_integer_value(json_object_get(o, "body_len")), 0);
  ASSERT_EQ_INT(json_array_size(json_object_get(o, "form")), 4);
  ASSERT_EQ_STR(pair_key(o, "form", 0), "name");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 0)), "J\xc3\xbcrgen M");
  ASSERT_EQ_STR(pair_key(o, "form", 1), "empty");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 1)), "");
  ASSERT_EQ_STR(pair_key(o, "form", 2), "x");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 2)), "1&2");
  ASSERT_EQ_STR(pair_key(o, "form", 3), "name");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 3)), "second");
  ASSERT_EQ_STR(pair_key(o, "query", 0), "q"); /* the query is kept apart */
  json_decref(o);
  resp_free(&r);
  curl_easy_cleanup(c);
}

static char *pattern(size_t len, int seed) {
  char *p = malloc(len + 1);
  for (size_t i = 0; i < len; i++)
    p[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
  p[len] = '\0';
  return p;
}

static void test_multipart_form(void) {
  CURL *c = curl_easy_init();
  char *big = pattern(BIG_LEN, 3);
  curl_mime *mime = curl_mime_init(c);
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "message");
  curl_mime_data(part, "hello world", CURL_ZERO_TERMINATED);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "big");
  curl_mime_data(part, big, BIG_LEN);
  part = curl_mime_addpart(mime);
  curl_mime_name(part, "last");
  curl_mime_data(part, "x=y&z", CURL_ZERO_TERMINATED);
  resp_t r = request(c, "/multi", NULL, NULL, 0, mime, NULL);
  json_t *o = resp_json(&r);
  ASSERT_EQ_INT(r.status, 200);
  check_cors(&r);
  ASSERT_TRUE(json_is_true(json_object_get(o, "is_form")));
  ASSERT_EQ_INT(json_array_size(json_object_get(o, "form")), 3);
  ASSERT_EQ_STR(pair_key(o, "form", 0), "message");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 0)), "hello world");
  ASSERT_EQ_STR(pair_key(o, "form", 1), "big");
  ASSERT_EQ_INT(json_string_length(pair_val(o, "form", 1)), BIG_LEN);
  ASSERT_TRUE(json_string_value(pair_val(o, "form", 1)) &&
              strcmp(json_string_value(pair_val(o, "form", 1)), big) == 0);
  ASSERT_EQ_STR(pair_key(o, "form", 2), "last");
  ASSERT_EQ_STR(json_string_value(pair_val(o, "form", 2)), "x=y&z");
  json_decref(o);
  resp_free(&r);
  curl_mime_free(mime);
  free(big);
  curl_easy_cleanup(c);
}

/* The default answer to a body over the limit: a JSON 413 naming it. */
static void check_413(const resp_t *r, size_t limit) {
  char want[64];
  snprintf(want, sizeof(want), "the limit is %zu bytes", limit);
  ASSERT_EQ_INT(r->status, 413);
  check_cors(r);
  json_t *o = resp_json(r);
  const char *msg = json_string_value(json_object_get(o, "message"));
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "status")), "error");
  ASSERT_TRUE(msg && strstr(msg, want));
  json_decref(o);
}

/* A body sent with Transfer-Encoding: chunked (no Content-Length). */
typedef struct {
  const char *data;
  size_t len, off;
} upload_t;

static size_t on_read(char *buf, size_t size, size_t n, void *ud) {
  upload_t *u = ud;
  size_t want = size * n, left = u->len - u->off;
  if (want > left)
    want = left;
  if (want > 10000)
    want = 10000; /* many chunks */
  memcpy(buf, u->data + u->off, want);
  u->off += want;
  return want;
}

static resp_t chunked_post(CURL *c, const char *path, const char *data, size_t len) {
  resp_t r = {0};
  upload_t u = {data, len, 0};
  char url[256];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
  struct curl_slist *h = curl_slist_append(NULL, "Transfer-Encoding: chunked");
  h = curl_slist_append(h, "Content-Type: application/octet-stream");
  h = curl_slist_append(h, "Expect:");
  setup(c, &r, url, h);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
  curl_easy_setopt(c, CURLOPT_READDATA, &u);
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_slist_free_all(h);
  return r;
}

/* Sends only the head of a request declaring `declared` body bytes and
 * reads the answer: what a server that waited for the body never gives. */
static void check_head_only(const char *path, unsigned long long declared, int want_status) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  struct timeval tv = {.tv_sec = 5};
  ASSERT_TRUE(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char head[256], got[2048];
  int n = snprintf(head, sizeof(head),
                   "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Content-Length: %llu\r\n\r\n",
                   path, declared);
  ASSERT_EQ_INT(send(fd, head, (size_t)n, 0), n);
  size_t have = 0;
  ssize_t k;
  while (have + 1 < sizeof(got) && (k = recv(fd, got + have, sizeof(got) - 1 - have, 0)) > 0)
    have += (size_t)k; /* until the server closes, or 5 s pass */
  got[have] = '\0';
  char want[32];
  snprintf(want, sizeof(want), "HTTP/1.1 %d", want_status);
  ASSERT_TRUE(strncmp(got, want, strlen(want)) == 0);
  if (strncmp(got, want, strlen(want)) != 0)
    fprintf(stderr, "  answer: %.200s\n", got);
  close(fd);
}

static void test_too_large(void) {
  CURL *c = curl_easy_init();
  size_t len = MAX_BODY + 50 * 1024;
  char *big = pattern(len, 1);
  resp_t r = request(c, "/echo", "application/octet-stream", big, len, NULL, NULL);
  check_413(&r, MAX_BODY);
  resp_free(&r);

  /* exactly max_body is accepted */
  r = request(c, "/raw", "application/octet-stream", big, MAX_BODY, NULL, NULL);
  ASSERT_EQ_INT(r.status, 200);
  ASSERT_EQ_INT(r.len, MAX_BODY);
  ASSERT_TRUE(r.body && memcmp(r.body, big, MAX_BODY) == 0);
  resp_free(&r);

  /* a multipart body over max_body */
  curl_mime *mime = curl_mime_init(c);
  curl_mimepart *part = curl_mime_addpart(mime);
  curl_mime_name(part, "huge");
  curl_mime_data(part, big, len);
  r = request(c, "/multi", NULL, NULL, 0, mime, NULL);
  check_413(&r, MAX_BODY);
  resp_free(&r);
  curl_mime_free(mime);

  /* a url-encoded form over max_body, in many small fields */
  r = request(c, "/form", "application/x-www-form-urlencoded", big, len, NULL, NULL);
  check_413(&r, MAX_BODY);
  resp_free(&r);

  /* answered from the head alone: 100 MB are announced, none sent */
  check_head_only("/echo", 100000000ULL, 413);

  /* chunked, no Content-Length: cut off at the limit, answered at the end */
  r = chunked_post(c, "/echo", big, len);
  ASSERT_EQ_INT(r.rc, CURLE_OK);
  check_413(&r, MAX_BODY);
  resp_free(&r);
  r = chunked_post(c, "/raw", big, MAX_BODY);
  ASSERT_EQ_INT(r.status, 200);
  ASSERT_EQ_INT(r.len, MAX_BODY);
  ASSERT_TRUE(r.body && memcmp(r.body, big, MAX_BODY) == 0);
  resp_free(&r);

  /* the hooks: /big may send twice as much, /custom answers its own way */
  r = request(c, "/big/raw", "application/octet-stream", big, len, NULL, NULL);
  ASSERT_EQ_INT(r.status, 200);
  ASSERT_EQ_INT(r.len, len);
  resp_free(&r);
  r = request(c, "/custom", "application/octet-stream", big, len, NULL, NULL);
  ASSERT_EQ_INT(r.status, 400);
  check_cors(&r);
  char want[64];
  snprintf(want, sizeof(want), "custom %d /custom", MAX_BODY);
  ASSERT_EQ_STR(r.body, want);
  resp_free(&r);
  r = chunked_post(c, "/custom", big, len);
  ASSERT_EQ_INT(r.status, 400);
  ASSERT_EQ_STR(r.body, want);
  resp_free(&r);

  /* the server still answers */
  r = request(c, "/after?ok=1", NULL, NULL, 0, NULL, NULL);
  json_t *o = resp_json(&r);
  ASSERT_EQ_INT(r.status, 200);
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "path")), "/after");
  json_decref(o);
  resp_free(&r);
  free(big);
  curl_easy_cleanup(c);
}

static void test_resp_headers_and_default(void) {
  CURL *c = curl_easy_init();
  char v[128];
  resp_t r = request(c, "/hdr", NULL, NULL, 0, NULL, NULL);
  ASSERT_EQ_INT(r.status, 201);
  ASSERT_EQ_STR(r.body, "hdr");
  check_cors(&r);
  ASSERT_EQ_STR(resp_header(&r, "X-Custom", v, sizeof(v)), "yes");
  ASSERT_EQ_STR(resp_header(&r, "X-Other", v, sizeof(v)), "2");
  ASSERT_EQ_STR(resp_header(&r, "Content-Type", v, sizeof(v)), "text/plain");
  resp_free(&r);

  r = request(c, "/none", NULL, NULL, 0, NULL, NULL);
  ASSERT_EQ_INT(r.status, 500);
  check_cors(&r);
  ASSERT_EQ_STR(r.body, "no response");
  resp_free(&r);

  /* a method other than GET/POST */
  curl_easy_reset(c);
  r = (resp_t){0};
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/thing", port);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_head);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
  ASSERT_EQ_INT(curl_easy_perform(c), CURLE_OK);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  json_t *o = resp_json(&r);
  ASSERT_EQ_INT(r.status, 200);
  check_cors(&r);
  ASSERT_EQ_STR(json_string_value(json_object_get(o, "method")), "DELETE");
  json_decref(o);
  resp_free(&r);
  curl_easy_cleanup(c);
}

static void test_keep_alive(void) {
  CURL *c = curl_easy_init();
  long conns = -1, port1 = -1, port2 = -2;
  resp_t r = request(c, "/ka?n=1", NULL, NULL, 0, NULL, NULL);
  ASSERT_EQ_INT(r.status, 200);
  curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &port1);
  resp_free(&r);
  r = request(c, "/ka?n=2", "application/json", "{}", 2, NULL, NULL);
  ASSERT_EQ_INT(r.status, 200);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
  curl_easy_getinfo(c, CURLINFO_LOCAL_PORT, &port2);
  ASSERT_EQ_INT(conns, 0); /* no new connection was made */
  ASSERT_EQ_INT(port1, port2);
  resp_free(&r);
  r = request(c, "/ka?n=3", NULL, NULL, 0, NULL, NULL);
  json_t *o = resp_json(&r);
  curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &conns);
  ASSERT_EQ_INT(conns, 0);
  ASSERT_EQ_STR(json_string_value(pair_val(o, "query", 0)), "3");
  json_decref(o);
  resp_free(&r);
  curl_easy_cleanup(c);
}

typedef struct {
  int base;
  int ok[CONC_PER_THREAD];
  pthread_t thread;
} conc_t;

static void *conc_run(void *arg) {
  conc_t *t = arg;
  CURL *c = curl_easy_init();
  for (int i = 0; i < CONC_PER_THREAD; i++) {
    int n = t->base + i;
    char path[64], hdr[64], want[16];
    snprintf(path, sizeof(path), "/conc?n=%d", n);
    snprintf(hdr, sizeof(hdr), "X-Test: t%d", n);
    snprintf(want, sizeof(want), "%d", n);
    struct curl_slist *extra = curl_slist_append(NULL, hdr);
    resp_t r = request(c, path, NULL, NULL, 0, NULL, extra);
    json_t *o = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
    const char *got = json_string_value(pair_val(o, "query", 0));
    const char *xt = json_string_value(json_object_get(o, "x_test"));
    t->ok[i] = r.rc == CURLE_OK && r.status == 200 && got && strcmp(got, want) == 0 && xt &&
               strcmp(xt + 1, want) == 0;
    json_decref(o);
    resp_free(&r);
    curl_slist_free_all(extra);
  }
  curl_easy_cleanup(c);
  return NULL;
}

static void test_concurrent(void) {
  conc_t t[CONC_THREADS];
  for (int i = 0; i < CONC_THREADS; i++) {
    memset(&t[i], 0, sizeof(t[i]));
    t[i].base = i * CONC_PER_THREAD;
    pthread_create(&t[i].thread, NULL, conc_run, &t[i]);
  }
  int answered = 0;
  for (int i = 0; i < CONC_THREADS; i++) {
    pthread_join(t[i].thread, NULL);
    for (int j = 0; j < CONC_PER_THREAD; j++)
      answered += t[i].ok[j];
  }
  ASSERT_EQ_INT(answered, CONC_THREADS * CONC_PER_THREAD);
}

typedef struct {
  resp_t r;
  pthread_t thread;
} slow_t;

static void *slow_run(void *arg) {
  slow_t *s = arg;
  CURL *c = curl_easy_init();
  s->r = request(c, "/slow", NULL, NULL, 0, NULL, NULL);
  curl_easy_cleanup(c);
  return NULL;
}

static int wait_flag(atomic_int *flag, int ms) {
  for (int i = 0; i < ms && !atomic_load(flag); i++)
    usleep(1000);
  return atomic_load(flag);
}

/* Last: stops the server while /slow is in its handler. */
static void test_stop_with_inflight(void) {
  slow_t s = {0};
  pthread_create(&s.thread, NULL, slow_run, &s);
  ASSERT_TRUE(wait_flag(&slow_started, 5000));
  uv_async_send(&stop_async);
  ASSERT_TRUE(wait_flag(&stop_called, 5000));
  ASSERT_EQ_INT(atomic_load(&stopped), 0); /* not before the handler is done */

  /* no longer listening: a new connection is refused */
  CURL *c = curl_easy_init();
  resp_t r = request(c, "/late", NULL, NULL, 0, NULL, NULL);
  ASSERT_EQ_INT(r.rc, CURLE_COULDNT_CONNECT);
  resp_free(&r);
  curl_easy_cleanup(c);

  pthread_join(s.thread, NULL);
  ASSERT_EQ_INT(s.r.rc, CURLE_OK);
  ASSERT_EQ_INT(s.r.status, 200);
  ASSERT_EQ_INT(s.r.len, SLOW_LEN);
  ASSERT_TRUE(s.r.body && memcmp(s.r.body, "slow done", 9) == 0 && s.r.body[SLOW_LEN - 1] == 's');
  check_cors(&s.r);
  resp_free(&s.r);
  ASSERT_TRUE(wait_flag(&stopped, 5000));
  ASSERT_EQ_INT(atomic_load(&stopped_seen_by_slow), 0);
  ASSERT_EQ_INT(atomic_load(&slow_done_seen_by_stop), 1);
}

static void *client_main(void *arg) {
  (void)arg;
  RUN_TEST(test_get_query);
  RUN_TEST(test_post_json_bytes);
  RUN_TEST(test_urlencoded_form);
  RUN_TEST(test_multipart_form);
  RUN_TEST(test_too_large);
  RUN_TEST(test_resp_headers_and_default);
  RUN_TEST(test_keep_alive);
  RUN_TEST(test_concurrent);
  RUN_TEST(test_stop_with_inflight);
  if (!atomic_load(&stop_called)) /* a failed check above: stop anyway */
    uv_async_send(&stop_async);
  return NULL;
}

static int free_port(void) {
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), p = -1;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
    p = ntohs(sa.sin_port);
  if (fd >= 0)
    close(fd);
  return p;
}

static void test_start_errors(void) {
  ahttp_server_t *s = NULL;
  ahttp_options_t bad = {.bind = "not-an-address", .port = 0};
  ASSERT_EQ_INT(ahttp_server_start(&loop, &bad, handler, NULL, &s), ACTOR_EINVAL);
  ASSERT_TRUE(s == NULL);
}

int main(void) {
  pthread_t client;
  signal(SIGPIPE, SIG_IGN);
  ASSERT_EQ_INT(curl_global_init(CURL_GLOBAL_DEFAULT), 0);
  ASSERT_EQ_INT(uv_loop_init(&loop), 0);
  RUN_TEST(test_start_errors);
  port = free_port();
  ASSERT_TRUE(port > 0);
  ahttp_options_t opts = {
      .bind = "127.0.0.1", .port = port, .max_body = MAX_BODY, .body_limit = body_limit,
      .too_large = too_large, .max_connections = 64};
  int rc = ahttp_server_start(&loop, &opts, handler, &handler_magic, &server);
  ASSERT_EQ_INT(rc, 0);
  if (rc != 0) {
    uv_loop_close(&loop);
    curl_global_cleanup();
    TEST_EXIT();
  }
  uv_async_init(&loop, &stop_async, on_stop_async);
  pthread_create(&client, NULL, client_main, NULL);
  uv_run(&loop, UV_RUN_DEFAULT); /* until the server and the async are closed */
  pthread_join(client, NULL);
  ASSERT_EQ_INT(atomic_load(&stopped), 1);
  ASSERT_EQ_INT(uv_loop_close(&loop), 0);
  curl_global_cleanup();
  TEST_EXIT();
}
