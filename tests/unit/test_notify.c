/* Tests of notifications (actor/notify.h).
 *
 * Against the local stack's SMTP sink at SMTP_URL (scripts/smtp_sink.py,
 * started by `make up`; it keeps each message as JSON under SMTP_SPOOL/new
 * and refuses recipients @reject.invalid; unset: those tests are skipped,
 * set and unreachable: they fail): an email is sent and the stored copy
 * checked (envelope, headers, body, dot stuffing undone); AUTH with the
 * sink's login (SMTP_SINK_AUTH) and with a wrong password; a recipient the
 * server refuses; STARTTLS (SMTP_STARTTLS_URL) and TLS (SMTPS_URL) with the
 * sink's certificate (SMTP_SPOOL/tls/cert.pem) as ca_file, and refused
 * without it or when STARTTLS is not offered; the whole notify action with
 * a webhook.
 *
 * Without any server: the message as built (headers, folding, encoded
 * subject, quoted-printable long lines); header injection and bad
 * addresses refused before any connection (a listening socket of the
 * test's own sees none); connection refused; webhooks to a tiny HTTP
 * server of the test's own (a thread on a loopback port); the [smtp]
 * configuration. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "actor/notify.h"
#include "test.h"

/* ---- helpers ---- */

static char token[64];

static void make_token(const char *what) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(token, sizeof token, "%s-%ld-%ld", what, (long)getpid(), (long)ts.tv_nsec);
}

/* notify_config for the sink at SMTP_URL (smtp://host:port). */
static void sink_config(notify_config *c) {
  const char *url = test_server_env("SMTP_URL");
  memset(c, 0, sizeof *c);
  char host[128] = "";
  int port = 0;
  ASSERT_TRUE(sscanf(url, "smtp://%127[^:/]:%d", host, &port) == 2);
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
  snprintf(c->from, sizeof c->from, "abaco-test@example.org");
  c->tls = NOTIFY_TLS_NONE;
  c->timeout_ms = 10000;
  c->webhook_timeout_ms = 5000;
}

/* The stored message whose data contains `needle` (new reference), or
 * NULL. */
static json_t *spool_find(const char *needle) {
  const char *spool = test_server_env("SMTP_SPOOL");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/new", spool);
  DIR *d = opendir(dir);
  if (d == NULL)
    return NULL;
  json_t *found = NULL;
  struct dirent *e;
  while (found == NULL && (e = readdir(d)) != NULL) {
    size_t n = strlen(e->d_name);
    if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    json_t *m = json_load_file(path, 0, NULL);
    const char *data = json_string_value(json_object_get(m, "data"));
    if (data != NULL && strstr(data, needle) != NULL)
      found = m;
    else
      json_decref(m);
  }
  closedir(d);
  return found;
}

/* A header's value in a message (first occurrence; folded lines joined
 * as they are), copied into out. */
static bool header(const char *msg, const char *name, char *out, size_t len) {
  size_t n = strlen(name);
  for (const char *p = msg; p && *p && !(p[0] == '\r' && p[1] == '\n');) {
    if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
      const char *v = p + n + 1;
      while (*v == ' ')
        v++;
      const char *end = v;
      while (*end && !(end[0] == '\r' && end[1] == '\n' && end[2] != ' ' && end[2] != '\t'))
        end++;
      snprintf(out, len, "%.*s", (int)(end - v), v);
      return true;
    }
    p = strstr(p, "\r\n");
    if (p)
      p += 2;
  }
  return false;
}

static const char *body_of(const char *msg) {
  const char *p = strstr(msg, "\r\n\r\n");
  return p ? p + 4 : NULL;
}

/* A loopback listening socket on a free port (the port in *port). */
static int listener(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(fd >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t al = sizeof a;
  ASSERT_EQ_INT(getsockname(fd, (struct sockaddr *)&a, &al), 0);
  ASSERT_EQ_INT(listen(fd, 8), 0);
  *port = ntohs(a.sin_port);
  return fd;
}

/* No connection is waiting on fd. */
static bool no_connection(int fd) {
  ASSERT_EQ_INT(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
  int c = accept(fd, NULL, NULL);
  if (c >= 0) {
    close(c);
    return false;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

/* ---- a tiny HTTP server for webhooks ---- */

typedef struct {
  int fd, port, status, served;
  pthread_t thread;
  char method[16], path[256], ctype[128];
  char body[65536];
} hook_srv_t;

static void *hook_main(void *ud) {
  hook_srv_t *s = ud;
  int c = accept(s->fd, NULL, NULL);
  if (c < 0)
    return NULL;
  static char req[70000];
  size_t got = 0;
  long clen = -1;
  char *hdr_end = NULL;
  while (got < sizeof req - 1) {
    ssize_t n = recv(c, req + got, sizeof req - 1 - got, 0);
    if (n <= 0)
      break;
    got += (size_t)n;
    req[got] = '\0';
    if (hdr_end == NULL && (hdr_end = strstr(req, "\r\n\r\n")) != NULL) {
      const char *cl = strcasestr(req, "\r\nContent-Length:");
      clen = cl ? strtol(cl + 17, NULL, 10) : 0;
    }
    if (hdr_end != NULL && got >= (size_t)(hdr_end + 4 - req) + (size_t)clen)
      break;
  }
  if (hdr_end != NULL) {
    sscanf(req, "%15s %255s", s->method, s->path);
    const char *ct = strcasestr(req, "\r\nContent-Type:");
    if (ct != NULL && ct < hdr_end)
      sscanf(ct + 15, " %127[^\r]", s->ctype);
    snprintf(s->body, sizeof s->body, "%.*s", (int)clen, hdr_end + 4);
  }
  char resp[128];
  int n = snprintf(resp, sizeof resp,
                   "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", s->status);
  ACTOR_IGNORE(send(c, resp, (size_t)n, MSG_NOSIGNAL)); /* the client's view is what we test */
  close(c);
  s->served = 1;
  return NULL;
}

static void hook_start(hook_srv_t *s, int status) {
  memset(s, 0, sizeof *s);
  s->status = status;
  s->fd = listener(&s->port);
  ASSERT_EQ_INT(pthread_create(&s->thread, NULL, hook_main, s), 0);
}

static void hook_join(hook_srv_t *s) {
  shutdown(s->fd, SHUT_RDWR); /* wakes an accept that never got a client */
  pthread_join(s->thread, NULL);
  close(s->fd);
}

/* ---- offline ---- */

static void test_message_headers(void) {
  const char *to[] = {"a@example.org", "b@example.net"};
  char *msg = NULL, err[256] = "";
  ASSERT_EQ_INT(notify_message_build("abaco@example.com", to, 2, "Cluster web: scale out",
                                     "line one\nline two\r\n.dot line", &msg, err, sizeof err),
                0);
  char v[512];
  ASSERT_TRUE(header(msg, "Date", v, sizeof v));
  ASSERT_TRUE(strstr(v, " +0000") != NULL && strlen(v) >= 29);
  ASSERT_TRUE(header(msg, "Message-ID", v, sizeof v));
  ASSERT_TRUE(v[0] == '<' && strstr(v, "@example.com>") != NULL);
  ASSERT_TRUE(header(msg, "From", v, sizeof v));
  ASSERT_EQ_STR(v, "<abaco@example.com>");
  ASSERT_TRUE(header(msg, "To", v, sizeof v));
  ASSERT_EQ_STR(v, "<a@example.org>,\r\n <b@example.net>");
  ASSERT_TRUE(header(msg, "Subject", v, sizeof v));
  ASSERT_EQ_STR(v, "Cluster web: scale out");
  ASSERT_TRUE(header(msg, "Content-Transfer-Encoding", v, sizeof v));
  ASSERT_EQ_STR(v, "7bit");
  ASSERT_EQ_STR(body_of(msg), "line one\r\nline two\r\n.dot line\r\n");
  /* every line ends CRLF: no bare LF or CR */
  for (const char *p = msg; *p; p++) {
    if (*p == '\n')
      ASSERT_TRUE(p > msg && p[-1] == '\r');
    if (*p == '\r')
      ASSERT_TRUE(p[1] == '\n');
  }
  free(msg);
}

static void test_message_encodings(void) {
  const char *to[] = {"a@example.org"};
  char *msg = NULL, err[256] = "";
  /* a subject in UTF-8, and a body with a line of 3000 octets and one
   * non-ASCII character */
  char *body = malloc(3100);
  ASSERT_TRUE(body != NULL);
  memset(body, 'x', 3000);
  strcpy(body + 3000, "\n= caf\xc3\xa9\n");
  ASSERT_EQ_INT(notify_message_build("abaco@example.com", to, 1,
                                     "Gr\xc3\xbc\xc3\x9f"
                                     "e aus dem Cluster",
                                     body, &msg, err, sizeof err),
                0);
  char v[512];
  ASSERT_TRUE(header(msg, "Subject", v, sizeof v));
  ASSERT_EQ_STR(v, "=?UTF-8?B?R3LDvMOfZSBhdXMgZGVtIENsdXN0ZXI=?=");
  ASSERT_TRUE(header(msg, "Content-Transfer-Encoding", v, sizeof v));
  ASSERT_EQ_STR(v, "quoted-printable");
  /* no line over 76 in the body, and it decodes back */
  const char *b = body_of(msg);
  size_t col = 0;
  for (const char *p = b; *p; p++) {
    col = *p == '\n' ? 0 : col + 1;
    ASSERT_TRUE(col <= 77);
  }
  char *dec = malloc(strlen(b) + 1);
  ASSERT_TRUE(dec != NULL);
  size_t n = 0;
  for (const char *p = b; *p;) {
    if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
      p += 3;
    } else if (p[0] == '=') {
      unsigned x = 0;
      ASSERT_TRUE(sscanf(p + 1, "%2x", &x) == 1);
      dec[n++] = (char)x;
      p += 3;
    } else if (p[0] == '\r' && p[1] == '\n') {
      dec[n++] = '\n';
      p += 2;
    } else {
      dec[n++] = *p++;
    }
  }
  dec[n] = '\0';
  ASSERT_EQ_STR(dec, body);
  free(dec);
  free(body);
  free(msg);
}

static void test_injection_refused_offline(void) {
  int port = 0, fd = listener(&port);
  notify_config c = {.port = port, .tls = NOTIFY_TLS_NONE, .timeout_ms = 2000};
  snprintf(c.host, sizeof c.host, "127.0.0.1");
  snprintf(c.from, sizeof c.from, "abaco@example.org");
  notify_result res;
  const char *ok[] = {"a@example.org"};
  ASSERT_EQ_INT(notify_email_send(&c, ok, 1, "hi\r\nBcc: victim@example.org", "x", &res),
                ACTOR_EINVAL);
  ASSERT_TRUE(strstr(res.error, "subject") != NULL && strstr(res.error, "control") != NULL);
  ASSERT_EQ_INT(notify_email_send(&c, ok, 1, "hi\nthere", "x", &res), ACTOR_EINVAL);
  const char *inj[] = {"a@example.org\r\nRCPT TO:<victim@example.org>"};
  ASSERT_EQ_INT(notify_email_send(&c, inj, 1, "hi", "x", &res), ACTOR_EINVAL);
  ASSERT_TRUE(strstr(res.error, "recipient") != NULL);
  ASSERT_TRUE(strstr(res.error, "control character") != NULL);
  const char *angle[] = {"a@example.org>"}, *noat[] = {"nobody"}, *two[] = {"a@b@c"};
  ASSERT_EQ_INT(notify_email_send(&c, angle, 1, "hi", "x", &res), ACTOR_EINVAL);
  ASSERT_EQ_INT(notify_email_send(&c, noat, 1, "hi", "x", &res), ACTOR_EINVAL);
  ASSERT_EQ_INT(notify_email_send(&c, two, 1, "hi", "x", &res), ACTOR_EINVAL);
  ASSERT_EQ_INT(notify_email_send(&c, ok, 0, "hi", "x", &res), ACTOR_EINVAL);
  const char *many[NOTIFY_MAX_RCPT + 1];
  for (int i = 0; i <= NOTIFY_MAX_RCPT; i++)
    many[i] = "a@example.org";
  ASSERT_EQ_INT(notify_email_send(&c, many, NOTIFY_MAX_RCPT + 1, "hi", "x", &res),
                ACTOR_EINVAL);
  ASSERT_TRUE(strstr(res.error, "at most 50") != NULL);
  /* a from with a CR from a caller's struct, too */
  snprintf(c.from, sizeof c.from, "abaco@example.org\r\nX: y");
  ASSERT_EQ_INT(notify_email_send(&c, ok, 1, "hi", "x", &res), ACTOR_EINVAL);
  ASSERT_TRUE(strstr(res.error, "sender") != NULL);
  /* and a webhook URL with a CRLF */
  char err[256];
  ASSERT_EQ_INT(notify_webhook_post("http://127.0.0.1:1/x\r\nHost: evil", "{}", 1000, NULL,
                                    err, sizeof err),
                ACTOR_EINVAL);
  ASSERT_EQ_INT(notify_webhook_post("file:///etc/passwd", "{}", 1000, NULL, err, sizeof err),
                ACTOR_EINVAL);
  ASSERT_TRUE(no_connection(fd)); /* nothing reached the network */
  close(fd);
}

static void test_spec_check(void) {
  char err[256];
  struct {
    const char *spec, *needle;
  } bad[] = {
      {"[]", "object"},
      {"{}", "email, webhook or both"},
      {"{\"sms\": 1, \"webhook\": \"http://127.0.0.1:1/\"}", "unknown field 'sms'"},
      {"{\"type\": \"run_actor\", \"webhook\": \"http://127.0.0.1:1/\"}", "type must be"},
      {"{\"webhook\": \"ftp://x/\"}", "notify.webhook"},
      {"{\"webhook\": 3}", "notify.webhook"},
      {"{\"email\": {\"to\": [], \"subject\": \"s\"}}", "notify.email.to"},
      {"{\"email\": {\"to\": \"a@b.c\", \"subject\": \"s\"}}", "notify.email.to"},
      {"{\"email\": {\"to\": [\"a@b.c\", 5], \"subject\": \"s\"}}", "notify.email.to[1]"},
      {"{\"email\": {\"to\": [\"a@b.c\", \"x\\r\\n@y\"], \"subject\": \"s\"}}",
       "notify.email.to[1]"},
      {"{\"email\": {\"to\": [\"a@b.c\"]}}", "notify.email.subject"},
      {"{\"email\": {\"to\": [\"a@b.c\"], \"subject\": \"a\\nBcc: x@y.z\"}}",
       "notify.email.subject"},
      {"{\"email\": {\"to\": [\"a@b.c\"], \"subject\": \"s\", \"cc\": []}}",
       "unknown field 'cc'"},
      {"{\"email\": {\"to\": [\"a@b.c\"], \"subject\": \"s\", \"body\": 1}}",
       "notify.email.body"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    json_t *s = test_json(bad[i].spec);
    ASSERT_TRUE(s != NULL);
    err[0] = '\0';
    ASSERT_EQ_INT(notify_spec_check(s, err, sizeof err), ACTOR_EINVAL);
    if (strstr(err, bad[i].needle) == NULL)
      fprintf(stderr, "spec %s: error '%s' lacks '%s'\n", bad[i].spec, err, bad[i].needle);
    ASSERT_TRUE(strstr(err, bad[i].needle) != NULL);
    /* notify_run refuses it the same way, without sending, but for the
     * top-level fields that are not its own */
    char *e = NULL;
    bool top = strstr(bad[i].needle, "unknown field 'sms'") || strstr(bad[i].needle, "type");
    int rc = notify_run(NULL, s, NULL, &e);
    if (top) {
      ASSERT_EQ_INT(rc, ACTOR_ECONN); /* it tried the webhook (nothing listens there) */
      ASSERT_TRUE(e != NULL && strstr(e, "webhook: POST http://127.0.0.1:1/") != NULL);
    } else {
      ASSERT_EQ_INT(rc, ACTOR_EINVAL);
      ASSERT_TRUE(e != NULL && strstr(e, bad[i].needle) != NULL);
    }
    free(e);
    json_decref(s);
  }
  json_t *s = test_json("{\"type\": \"notify\", \"email\": {\"to\": [\"ops@example.org\"], "
                        "\"subject\": \"s\", \"body\": \"b\"}, "
                        "\"webhook\": \"https://hooks.example.org/x\"}");
  ASSERT_EQ_INT(notify_spec_check(s, err, sizeof err), 0);
  json_decref(s);
}

static void test_connection_refused(void) {
  int port = 0, fd = listener(&port);
  close(fd); /* nothing listens there now */
  notify_config c = {.port = port, .tls = NOTIFY_TLS_NONE, .timeout_ms = 3000};
  snprintf(c.host, sizeof c.host, "127.0.0.1");
  snprintf(c.from, sizeof c.from, "abaco@example.org");
  notify_result res;
  const char *to[] = {"a@example.org"};
  ASSERT_EQ_INT(notify_email_send(&c, to, 1, "hi", "x", &res), ACTOR_ECONN);
  char url[64];
  snprintf(url, sizeof url, "smtp://127.0.0.1:%d", port);
  fprintf(stderr, "connection refused: %s\n", res.error);
  ASSERT_TRUE(strstr(res.error, url) != NULL);
  ASSERT_TRUE(strcasestr(res.error, "connect") != NULL);
  ASSERT_EQ_INT(res.smtp_code, 0);
  /* no [smtp] host: email is off */
  c.host[0] = '\0';
  ASSERT_EQ_INT(notify_email_send(&c, to, 1, "hi", "x", &res), ACTOR_ECONFIG);
  ASSERT_TRUE(strstr(res.error, "[smtp] host") != NULL);
  /* a webhook to the closed port */
  char err[256], hook[64];
  long status = -1;
  snprintf(hook, sizeof hook, "http://127.0.0.1:%d/hook", port);
  ASSERT_EQ_INT(notify_webhook_post(hook, "{}", 2000, &status, err, sizeof err), ACTOR_ECONN);
  ASSERT_EQ_INT(status, 0);
  ASSERT_TRUE(strcasestr(err, "connect") != NULL);
}

static void test_webhook_post(void) {
  hook_srv_t s;
  hook_start(&s, 204);
  char url[96], err[256] = "";
  long status = 0;
  snprintf(url, sizeof url, "http://127.0.0.1:%d/hooks/cluster", s.port);
  ASSERT_EQ_INT(notify_webhook_post(url, "{\"a\":1}", 3000, &status, err, sizeof err), 0);
  hook_join(&s);
  ASSERT_EQ_INT(status, 204);
  ASSERT_EQ_STR(s.method, "POST");
  ASSERT_EQ_STR(s.path, "/hooks/cluster");
  ASSERT_EQ_STR(s.ctype, "application/json");
  ASSERT_EQ_STR(s.body, "{\"a\":1}");

  /* non-2xx is a failure naming the status */
  hook_start(&s, 503);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x", s.port);
  ASSERT_EQ_INT(notify_webhook_post(url, "{}", 3000, &status, err, sizeof err), ACTOR_ECONN);
  hook_join(&s);
  ASSERT_EQ_INT(status, 503);
  ASSERT_EQ_STR(err, "HTTP 503");
}

static void test_run_webhook_only(void) {
  hook_srv_t s;
  hook_start(&s, 200);
  char spec_text[256];
  /* as a run holds it: with the runner's own fields */
  snprintf(spec_text, sizeof spec_text,
           "{\"type\": \"notify\", \"webhook\": \"http://127.0.0.1:%d/n\", "
           "\"status\": \"running\", \"started\": \"2026-01-01T00:00:00Z\"}",
           s.port);
  json_t *spec = test_json(spec_text);
  json_t *ctx = test_json("{\"cluster\": \"web\", \"trigger\": \"cpu-high\", "
                          "\"counters\": {\"cpu\": 93.5}}");
  char *err = NULL;
  /* no [smtp] at all: a webhook-only action does not need it */
  notify_config c = {0};
  ASSERT_EQ_INT(notify_run(&c, spec, ctx, &err), 0);
  ASSERT_TRUE(err == NULL);
  hook_join(&s);
  json_t *got = test_json(s.body);
  ASSERT_TRUE(got != NULL);
  ASSERT_TRUE(json_is_null(json_object_get(got, "subject")));
  ASSERT_TRUE(json_equal(json_object_get(got, "context"), ctx));
  json_decref(got);
  json_decref(spec);
  json_decref(ctx);
}

static void test_config_load(void) {
  actor_config_t *cfg = NULL;
  notify_config c;
  char err[256];
  ASSERT_EQ_INT(actor_config_parse("[web]\nport = 1\n", &cfg), 0);
  ASSERT_EQ_INT(notify_config_load(cfg, &c, err, sizeof err), 0);
  ASSERT_EQ_STR(c.host, "");
  ASSERT_EQ_INT(c.port, 25);
  ASSERT_EQ_INT(c.tls, NOTIFY_TLS_NONE);
  ASSERT_EQ_INT(c.timeout_ms, 30000);
  actor_config_free(cfg);

  ASSERT_EQ_INT(actor_config_parse("[smtp]\nhost = mail.example.org\nfrom = a@example.org\n"
                                   "tls = smtps\nuser = u\npassword = p\ntimeout = 7\n",
                                   &cfg),
                0);
  ASSERT_EQ_INT(notify_config_load(cfg, &c, err, sizeof err), 0);
  ASSERT_EQ_STR(c.host, "mail.example.org");
  ASSERT_EQ_INT(c.port, 465);
  ASSERT_EQ_INT(c.tls, NOTIFY_TLS_SMTPS);
  ASSERT_EQ_STR(c.user, "u");
  ASSERT_EQ_STR(c.password, "p");
  ASSERT_EQ_INT(c.timeout_ms, 7000);
  actor_config_free(cfg);

  struct {
    const char *ini, *key;
  } bad[] = {{"[smtp]\ntls = ssl\n", "[smtp] tls"},
             {"[smtp]\nport = 70000\n", "[smtp] port"},
             {"[smtp]\ntimeout = 0\n", "[smtp] timeout"},
             {"[smtp]\nhost = mail.example.org\n", "[smtp] from"},
             {"[smtp]\nhost = mail.example.org\nfrom = a@b@c\n", "[smtp] from"},
             {"[smtp]\nhost = a/b\nfrom = a@b.c\n", "[smtp] host"},
             {"[smtp]\nca_file = /nonexistent/ca.pem\n", "[smtp] ca_file"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    ASSERT_EQ_INT(actor_config_parse(bad[i].ini, &cfg), 0);
    err[0] = '\0';
    ASSERT_EQ_INT(notify_config_load(cfg, &c, err, sizeof err), ACTOR_ECONFIG);
    if (strstr(err, bad[i].key) == NULL)
      fprintf(stderr, "%s: error '%s' lacks '%s'\n", bad[i].ini, err, bad[i].key);
    ASSERT_TRUE(strstr(err, bad[i].key) != NULL);
    actor_config_free(cfg);
  }
}

/* ---- against the stack's SMTP sink ---- */

static void test_send_to_sink(void) {
  notify_config c;
  sink_config(&c);
  make_token("send");
  char subject[128], body[512];
  snprintf(subject, sizeof subject, "abaco test %s", token);
  snprintf(body, sizeof body,
           "Counter cpu held above 80.\n.a line starting with a dot\n..two\n%s\n", token);
  const char *to[] = {"ops@example.org", "oncall@example.net"};
  notify_result res;
  int rc = notify_email_send(&c, to, 2, subject, body, &res);
  if (rc != 0)
    fprintf(stderr, "send: %s\n", res.error);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(res.smtp_code, 250);
  ASSERT_EQ_STR(res.error, "");
  json_t *m = spool_find(token);
  ASSERT_TRUE(m != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(m, "mail_from")), "abaco-test@example.org");
  json_t *rcpt = json_object_get(m, "rcpt_tos");
  ASSERT_EQ_INT(json_array_size(rcpt), 2);
  ASSERT_EQ_STR(json_string_value(json_array_get(rcpt, 0)), "ops@example.org");
  ASSERT_EQ_STR(json_string_value(json_array_get(rcpt, 1)), "oncall@example.net");
  ASSERT_TRUE(json_is_null(json_object_get(m, "auth_user")));
  const char *data = json_string_value(json_object_get(m, "data"));
  char v[512];
  ASSERT_TRUE(header(data, "Subject", v, sizeof v));
  ASSERT_EQ_STR(v, subject);
  ASSERT_TRUE(header(data, "From", v, sizeof v));
  ASSERT_EQ_STR(v, "<abaco-test@example.org>");
  ASSERT_TRUE(header(data, "To", v, sizeof v));
  ASSERT_EQ_STR(v, "<ops@example.org>,\r\n <oncall@example.net>");
  ASSERT_TRUE(header(data, "Date", v, sizeof v));
  ASSERT_TRUE(header(data, "Message-ID", v, sizeof v));
  ASSERT_TRUE(strstr(v, "@example.org>") != NULL);
  /* the body as sent: the dot lines came back unstuffed */
  char want[600];
  snprintf(want, sizeof want,
           "Counter cpu held above 80.\r\n.a line starting with a dot\r\n..two\r\n%s\r\n", token);
  ASSERT_EQ_STR(body_of(data), want);
  json_decref(m);
}

static void test_sink_auth(void) {
  notify_config c;
  sink_config(&c);
  const char *login = test_server_env("SMTP_SINK_AUTH");
  const char *colon = strchr(login, ':');
  ASSERT_TRUE(colon != NULL);
  snprintf(c.user, sizeof c.user, "%.*s", (int)(colon - login), login);
  snprintf(c.password, sizeof c.password, "%s", colon + 1);
  make_token("auth");
  const char *to[] = {"ops@example.org"};
  notify_result res;
  int rc = notify_email_send(&c, to, 1, token, "authenticated", &res);
  if (rc != 0)
    fprintf(stderr, "send: %s\n", res.error);
  ASSERT_EQ_INT(rc, 0);
  json_t *m = spool_find(token);
  ASSERT_TRUE(m != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(m, "auth_user")), c.user);
  json_decref(m);

  /* a wrong password: the server's 535 is in the error, nothing stored */
  snprintf(c.password, sizeof c.password, "not-the-password");
  make_token("badauth");
  ASSERT_EQ_INT(notify_email_send(&c, to, 1, token, "x", &res), ACTOR_EPROTO);
  fprintf(stderr, "wrong password: %s\n", res.error);
  ASSERT_EQ_INT(res.smtp_code, 535);
  ASSERT_TRUE(strstr(res.error, "535") != NULL);
  ASSERT_TRUE(spool_find(token) == NULL);
}

static void test_recipient_rejected(void) {
  notify_config c;
  sink_config(&c);
  make_token("reject");
  const char *to[] = {"ops@example.org", "nobody@reject.invalid"};
  notify_result res;
  ASSERT_EQ_INT(notify_email_send(&c, to, 2, token, "x", &res), ACTOR_EPROTO);
  fprintf(stderr, "rejected: %s\n", res.error);
  ASSERT_EQ_INT(res.smtp_code, 550);
  ASSERT_TRUE(strstr(res.error, "550") != NULL);
  ASSERT_TRUE(strstr(res.error, "nobody@reject.invalid") != NULL);
  ASSERT_TRUE(spool_find(token) == NULL);
}

/* notify_config for one of the sink's TLS listeners (env var: its URL). */
static void tls_config(notify_config *c, const char *var, notify_tls_t tls) {
  sink_config(c);
  const char *url = test_server_env(var);
  char host[128] = "";
  int port = 0;
  ASSERT_TRUE(sscanf(url, "%*[a-z]://%127[^:/]:%d", host, &port) == 2);
  snprintf(c->host, sizeof c->host, "%s", host);
  c->port = port;
  c->tls = tls;
  snprintf(c->ca_file, sizeof c->ca_file, "%s/tls/cert.pem", test_server_env("SMTP_SPOOL"));
}

static void tls_send(notify_config *c, const char *what) {
  make_token(what);
  const char *to[] = {"ops@example.org"};
  notify_result res;
  int rc = notify_email_send(c, to, 1, token, "over TLS", &res);
  if (rc != 0)
    fprintf(stderr, "%s: %s\n", what, res.error);
  ASSERT_EQ_INT(rc, 0);
  json_t *m = spool_find(token);
  ASSERT_TRUE(m != NULL);
  const char *tls = json_string_value(json_object_get(m, "tls"));
  ASSERT_TRUE(tls != NULL && strncmp(tls, "TLSv1.", 6) == 0);
  json_decref(m);
}

static void test_starttls(void) {
  notify_config c;
  tls_config(&c, "SMTP_STARTTLS_URL", NOTIFY_TLS_STARTTLS);
  tls_send(&c, "starttls");
  /* AUTH after STARTTLS */
  const char *login = test_server_env("SMTP_SINK_AUTH");
  const char *colon = strchr(login, ':');
  ASSERT_TRUE(colon != NULL);
  snprintf(c.user, sizeof c.user, "%.*s", (int)(colon - login), login);
  snprintf(c.password, sizeof c.password, "%s", colon + 1);
  tls_send(&c, "starttls-auth");
  /* without TLS, that listener refuses the mail (530) */
  c.tls = NOTIFY_TLS_NONE;
  c.user[0] = '\0';
  make_token("starttls-plain");
  const char *to[] = {"ops@example.org"};
  notify_result res;
  ASSERT_EQ_INT(notify_email_send(&c, to, 1, token, "x", &res), ACTOR_EPROTO);
  fprintf(stderr, "plain to a STARTTLS-only server: %s\n", res.error);
  ASSERT_EQ_INT(res.smtp_code, 530);
  ASSERT_TRUE(spool_find(token) == NULL);
}

static void test_smtps(void) {
  notify_config c;
  tls_config(&c, "SMTPS_URL", NOTIFY_TLS_SMTPS);
  tls_send(&c, "smtps");
}

static void test_tls_refusals(void) {
  const char *to[] = {"ops@example.org"};
  notify_result res;
  /* STARTTLS required, the plain listener does not offer it */
  notify_config c;
  sink_config(&c);
  c.tls = NOTIFY_TLS_STARTTLS;
  make_token("nostarttls");
  int rc = notify_email_send(&c, to, 1, token, "x", &res);
  fprintf(stderr, "STARTTLS not offered: %s\n", res.error);
  ASSERT_TRUE(rc == ACTOR_ECONN || rc == ACTOR_EPROTO);
  ASSERT_TRUE(strcasestr(res.error, "STARTTLS") != NULL || strcasestr(res.error, "SSL") != NULL);
  ASSERT_TRUE(spool_find(token) == NULL);
  /* the sink's self-signed certificate is not among the system's CAs */
  tls_config(&c, "SMTPS_URL", NOTIFY_TLS_SMTPS);
  c.ca_file[0] = '\0';
  make_token("untrusted");
  ASSERT_EQ_INT(notify_email_send(&c, to, 1, token, "x", &res), ACTOR_ECONN);
  fprintf(stderr, "untrusted certificate: %s\n", res.error);
  ASSERT_TRUE(strcasestr(res.error, "certificate") != NULL);
  ASSERT_TRUE(spool_find(token) == NULL);
}

static void test_run_email_and_webhook(void) {
  notify_config c;
  sink_config(&c);
  make_token("run");
  hook_srv_t s;
  hook_start(&s, 200);
  char spec_text[512];
  snprintf(spec_text, sizeof spec_text,
           "{\"email\": {\"to\": [\"ops@example.org\"], \"subject\": \"web scaled out %s\", "
           "\"body\": \"Trigger cpu-high fired.\"}, \"webhook\": \"http://127.0.0.1:%d/n\"}",
           token, s.port);
  json_t *spec = test_json(spec_text);
  json_t *ctx = test_json("{\"cluster\": \"web\", \"trigger\": \"cpu-high\", "
                          "\"counters\": {\"cpu\": 93.5}, \"run_id\": \"r-1\"}");
  char *err = NULL;
  int rc = notify_run(&c, spec, ctx, &err);
  hook_join(&s);
  if (rc != 0)
    fprintf(stderr, "notify_run: %s\n", err);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(err == NULL);
  json_t *m = spool_find(token);
  ASSERT_TRUE(m != NULL);
  const char *data = json_string_value(json_object_get(m, "data"));
  const char *b = body_of(data);
  ASSERT_TRUE(b != NULL);
  ASSERT_TRUE(strncmp(b, "Trigger cpu-high fired.\r\n\r\n{\r\n", 30) == 0);
  ASSERT_TRUE(strstr(b, "\"cluster\": \"web\"") != NULL);
  ASSERT_TRUE(strstr(b, "\"cpu\": 93.5") != NULL);
  json_decref(m);
  json_t *got = test_json(s.body);
  ASSERT_TRUE(got != NULL);
  char subj[128];
  snprintf(subj, sizeof subj, "web scaled out %s", token);
  ASSERT_EQ_STR(json_string_value(json_object_get(got, "subject")), subj);
  ASSERT_TRUE(json_equal(json_object_get(got, "context"), ctx));
  json_decref(got);

  /* the email refused and the webhook failing: both named, both tried */
  make_token("runfail");
  hook_start(&s, 500);
  snprintf(spec_text, sizeof spec_text,
           "{\"email\": {\"to\": [\"x@reject.invalid\"], \"subject\": \"%s\"}, "
           "\"webhook\": \"http://127.0.0.1:%d/n\"}",
           token, s.port);
  json_decref(spec);
  spec = test_json(spec_text);
  ASSERT_EQ_INT(notify_run(&c, spec, ctx, &err), ACTOR_EPROTO);
  hook_join(&s);
  ASSERT_EQ_INT(s.served, 1);
  fprintf(stderr, "both failed: %s\n", err);
  ASSERT_TRUE(err != NULL && strncmp(err, "email: ", 7) == 0);
  ASSERT_TRUE(strstr(err, "550") != NULL);
  ASSERT_TRUE(strstr(err, "; webhook: POST http://127.0.0.1:") != NULL);
  ASSERT_TRUE(strstr(err, "HTTP 500") != NULL);
  free(err);
  json_decref(spec);
  json_decref(ctx);
}

int main(void) {
  RUN_TEST(test_message_headers);
  RUN_TEST(test_message_encodings);
  RUN_TEST(test_injection_refused_offline);
  RUN_TEST(test_spec_check);
  RUN_TEST(test_connection_refused);
  RUN_TEST(test_webhook_post);
  RUN_TEST(test_run_webhook_only);
  RUN_TEST(test_config_load);
  RUN_TEST(test_send_to_sink);
  RUN_TEST(test_sink_auth);
  RUN_TEST(test_recipient_rejected);
  RUN_TEST(test_starttls);
  RUN_TEST(test_smtps);
  RUN_TEST(test_tls_refusals);
  RUN_TEST(test_run_email_and_webhook);
  TEST_EXIT();
}
