/* Notifications (actor/notify.h): email through libcurl's SMTP client,
 * JSON POSTs to webhooks, and the cluster `notify` action made of them
 * (docs/notify.md).
 *
 * The message is built here, whole, before the connection: headers with
 * CRLF line ends (Date, Message-ID, From, To folded one address a line,
 * Subject as an RFC 2047 encoded word when it is not plain ASCII, MIME
 * 1.0 text/plain UTF-8), then the body, 7bit when it is ASCII with lines
 * of at most 998 octets, else quoted-printable (so no line is ever over
 * the SMTP limit and no 8BITMIME is needed). libcurl does the SMTP dot
 * stuffing. The server's replies reach us through the debug callback: the
 * last one that refused something is quoted in the error, so a caller's
 * record of the run says, e.g., "SMTP 550 5.1.1 <x@y>: recipient
 * rejected". */
#include "actor/notify.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "actor/json.h"
#include "actor/log.h"
#include "b64_int.h"

#define NOTIFY_LOG "notify"
#define NOTIFY_LINE_MAX 998 /* octets of a line, CRLF excluded (RFC 5322) */

static pthread_once_t notify__curl_once = PTHREAD_ONCE_INIT;
static CURLcode notify__curl_rc = CURLE_FAILED_INIT;

static void notify__curl_init(void) { notify__curl_rc = curl_global_init(CURL_GLOBAL_ALL); }

static int curl_ready(char *err, size_t errlen) {
  pthread_once(&notify__curl_once, notify__curl_init);
  if (notify__curl_rc != CURLE_OK)
    return actor_errorf(ACTOR_ENOMEM, err, errlen, "libcurl init failed: %s",
                        curl_easy_strerror(notify__curl_rc));
  return 0;
}

/* ---- checks ---- */

bool notify_address_ok(const char *addr) {
  if (addr == NULL)
    return false;
  size_t n = strlen(addr);
  if (n == 0 || n > NOTIFY_MAX_ADDR)
    return false;
  const char *at = NULL;
  for (const char *p = addr; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c <= 0x20 || c >= 0x7f || strchr("<>()[],;:\\\"'", c) != NULL)
      return false;
    if (c == '@') {
      if (at != NULL)
        return false;
      at = p;
    }
  }
  return at != NULL && at != addr && at[1] != '\0';
}

/* A subject: no control characters (CR and LF above all), bounded. */
static int subject_check(const char *s, char *err, size_t errlen) {
  if (s == NULL || *s == '\0')
    return actor_errorf(ACTOR_EINVAL, err, errlen, "email subject is empty");
  if (strlen(s) > NOTIFY_MAX_SUBJECT)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "email subject is longer than %d octets",
                        NOTIFY_MAX_SUBJECT);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return actor_errorf(ACTOR_EINVAL, err, errlen,
                          "email subject contains a control character (0x%02x at %zu): "
                          "CR and LF would inject headers",
                          *p, (size_t)(p - (const unsigned char *)s));
  return 0;
}

static int address_check(const char *what, const char *addr, char *err, size_t errlen) {
  if (notify_address_ok(addr))
    return 0;
  bool ctl = false;
  for (const unsigned char *p = (const unsigned char *)(addr ? addr : ""); *p; p++)
    ctl = ctl || *p < 0x20 || *p == 0x7f;
  return actor_errorf(ACTOR_EINVAL, err, errlen,
                      "%s %.*s%s is not a plain address (local@domain, printable ASCII, at most "
                      "%d octets)%s",
                      what, 64, addr ? addr : "(none)", addr && strlen(addr) > 64 ? "..." : "",
                      NOTIFY_MAX_ADDR, ctl ? ": it contains a control character" : "");
}

static int url_check(const char *url, char *err, size_t errlen) {
  if (url == NULL || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
    return actor_errorf(ACTOR_EINVAL, err, errlen, "webhook is not an http(s) URL");
  if (strlen(url) > NOTIFY_MAX_URL)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "webhook URL is longer than %d octets",
                        NOTIFY_MAX_URL);
  for (const unsigned char *p = (const unsigned char *)url; *p; p++)
    if (*p <= 0x20 || *p == 0x7f)
      return actor_errorf(ACTOR_EINVAL, err, errlen,
                          "webhook URL contains a blank or control character");
  return 0;
}

/* ---- configuration ---- */

static const char *const TLS_MODES[] = {"none", "starttls", "smtps", NULL};

static int conf_string(const actor_config_t *cfg, const char *key, const char *val, char *out,
                       size_t outlen, char *err, size_t errlen) {
  if (strlen(val) >= outlen) {
    LOG_ERROR(NOTIFY_LOG, "[smtp] %s: longer than %zu characters", key, outlen - 1);
    return actor_errorf(ACTOR_ECONFIG, err, errlen, "[smtp] %s: longer than %zu characters",
                        key, outlen - 1);
  }
  (void)cfg;
  memcpy(out, val, strlen(val) + 1);
  return 0;
}

int notify_config_load(const actor_config_t *cfg, notify_config *out, char *err,
                       size_t errlen) {
  memset(out, 0, sizeof *out);
  out->webhook_timeout_ms = NOTIFY_WEBHOOK_TIMEOUT_MS;
  const char *tls = NULL;
  long port = 0, timeout = 0;
  int rc;
  if ((rc = actor_config_get_enum(cfg, "smtp", "tls", "none", TLS_MODES, &tls)) != 0)
    return actor_errorf(rc, err, errlen, "[smtp] tls: must be none, starttls or smtps");
  out->tls = strcmp(tls, "smtps") == 0      ? NOTIFY_TLS_SMTPS
             : strcmp(tls, "starttls") == 0 ? NOTIFY_TLS_STARTTLS
                                            : NOTIFY_TLS_NONE;
  if ((rc = actor_config_get_int_range(cfg, "smtp", "port", 0, 0, 65535, &port)) != 0)
    return actor_errorf(rc, err, errlen, "[smtp] port: must be a port number (1-65535)");
  out->port = port > 0 ? (int)port : out->tls == NOTIFY_TLS_SMTPS ? 465 : 25;
  if ((rc = actor_config_get_int_range(cfg, "smtp", "timeout", 30, 1, 600, &timeout)) != 0)
    return actor_errorf(rc, err, errlen, "[smtp] timeout: must be 1 to 600 seconds");
  out->timeout_ms = timeout * 1000;
  if ((rc = conf_string(cfg, "host", actor_config_get(cfg, "smtp", "host", ""), out->host,
                        sizeof out->host, err, errlen)) != 0 ||
      (rc = conf_string(cfg, "from", actor_config_get(cfg, "smtp", "from", ""), out->from,
                        sizeof out->from, err, errlen)) != 0 ||
      (rc = conf_string(cfg, "user", actor_config_get(cfg, "smtp", "user", ""), out->user,
                        sizeof out->user, err, errlen)) != 0 ||
      (rc = conf_string(cfg, "password", actor_config_get(cfg, "smtp", "password", ""),
                        out->password, sizeof out->password, err, errlen)) != 0 ||
      (rc = conf_string(cfg, "ca_file", actor_config_get(cfg, "smtp", "ca_file", ""),
                        out->ca_file, sizeof out->ca_file, err, errlen)) != 0)
    return rc;
  if (out->ca_file[0] != '\0' && access(out->ca_file, R_OK) != 0) {
    LOG_ERROR(NOTIFY_LOG, "[smtp] ca_file: %s cannot be read", out->ca_file);
    return actor_errorf(ACTOR_ECONFIG, err, errlen, "[smtp] ca_file: %s cannot be read",
                        out->ca_file);
  }
  for (const char *p = out->host; *p; p++)
    if ((unsigned char)*p <= 0x20 || *p == '/' || *p == '@' || *p == '?' || *p == '#') {
      LOG_ERROR(NOTIFY_LOG, "[smtp] host: %s is not a host name or address", out->host);
      return actor_errorf(ACTOR_ECONFIG, err, errlen,
                          "[smtp] host: %s is not a host name or address", out->host);
    }
  if (out->host[0] != '\0' && !notify_address_ok(out->from)) {
    LOG_ERROR(NOTIFY_LOG, "[smtp] from: '%s' is not a plain address (local@domain); it is "
                          "required when [smtp] host is set", out->from);
    return actor_errorf(ACTOR_ECONFIG, err, errlen,
                        "[smtp] from: '%s' is not a plain address (local@domain); it is "
                        "required when [smtp] host is set",
                        out->from);
  }
  if (out->host[0] != '\0' && out->user[0] != '\0' && out->tls == NOTIFY_TLS_NONE)
    LOG_WARN(NOTIFY_LOG, "[smtp] user is set with tls = none: the password crosses the "
                         "network in clear");
  return 0;
}

/* ---- the message ---- */

static void buf_str(actor_buf_t *b, const char *s) { actor_buf_add(b, s, strlen(s)); }

static void buf_fmt(actor_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_fmt(actor_buf_t *b, const char *fmt, ...) {
  char tmp[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  actor_buf_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* RFC 5322 date, in UTC, independent of the locale. */
static void rfc5322_date(char *out, size_t len) {
  static const char *const DAYS[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char *const MONTHS[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  time_t now = time(NULL);
  struct tm tm;
  if (gmtime_r(&now, &tm) == NULL)
    memset(&tm, 0, sizeof tm);
  snprintf(out, len, "%s, %02d %s %04d %02d:%02d:%02d +0000", DAYS[tm.tm_wday % 7], tm.tm_mday,
           MONTHS[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static atomic_uint notify__seq;

static void message_id(const char *from, char *out, size_t len) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  unsigned long long rnd = 0;
  if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd)
    rnd = (unsigned long long)ts.tv_nsec * 2654435761ULL ^ (unsigned long long)getpid();
  const char *at = strchr(from, '@');
  snprintf(out, len, "<%lld.%09ld.%u.%016llx@%s>", (long long)ts.tv_sec, ts.tv_nsec,
           atomic_fetch_add(&notify__seq, 1), rnd, at ? at + 1 : "localhost");
}

static bool plain_ascii(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (*p < 0x20 || *p > 0x7e)
      return false;
  return true;
}

/* Subject: as is when printable ASCII, else RFC 2047 "B" encoded words of
 * at most 45 octets of UTF-8 each (cut at character boundaries), folded. */
static int put_subject(actor_buf_t *b, const char *subject) {
  buf_str(b, "Subject: ");
  if (plain_ascii(subject)) {
    buf_str(b, subject);
    buf_str(b, "\r\n");
    return 0;
  }
  const unsigned char *p = (const unsigned char *)subject;
  size_t left = strlen(subject);
  bool first = true;
  while (left > 0) {
    size_t n = left < 45 ? left : 45;
    while (n < left && n > 0 && (p[n] & 0xC0) == 0x80) /* not inside a character */
      n--;
    if (n == 0)
      n = left < 45 ? left : 45;
    char *enc = NULL;
    if (actor__b64_encode(p, n, 0, &enc) != 0)
      return ACTOR_ENOMEM;
    buf_fmt(b, "%s=?UTF-8?B?%s?=", first ? "" : "\r\n ", enc);
    free(enc);
    first = false;
    p += n;
    left -= n;
  }
  buf_str(b, "\r\n");
  return 0;
}

/* Body lines, CRLF-terminated: LF, CR and CRLF all end a line. Whether
 * it can go 7bit (ASCII, no NUL, lines <= 998). */
static bool body_7bit(const char *body) {
  size_t line = 0;
  for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
    if (*p == '\r' || *p == '\n') {
      line = 0;
      continue;
    }
    if (*p >= 0x80 || (*p < 0x20 && *p != '\t') || ++line > NOTIFY_LINE_MAX)
      return false;
  }
  return true;
}

static void put_body_7bit(actor_buf_t *b, const char *body) {
  const char *p = body;
  while (*p) {
    size_t n = strcspn(p, "\r\n");
    actor_buf_add(b, p, n);
    buf_str(b, "\r\n");
    p += n;
    if (p[0] == '\r' && p[1] == '\n')
      p += 2;
    else if (*p)
      p++;
  }
}

/* Quoted-printable (RFC 2045 6.7): lines of at most 76 characters, soft
 * breaks "=" CRLF, hard breaks from the body's own line ends. */
static void put_body_qp(actor_buf_t *b, const char *body) {
  static const char HEX[] = "0123456789ABCDEF";
  size_t col = 0;
  for (const unsigned char *p = (const unsigned char *)body; *p; p++) {
    if (*p == '\r' || *p == '\n') {
      if (p[0] == '\r' && p[1] == '\n')
        p++;
      buf_str(b, "\r\n");
      col = 0;
      continue;
    }
    char enc[4];
    size_t n;
    bool at_eol = p[1] == '\0' || p[1] == '\r' || p[1] == '\n';
    if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !at_eol)) {
      enc[0] = (char)*p;
      n = 1;
    } else {
      enc[0] = '=';
      enc[1] = HEX[*p >> 4];
      enc[2] = HEX[*p & 15];
      n = 3;
    }
    if (col + n > 75) {
      buf_str(b, "=\r\n");
      col = 0;
    }
    actor_buf_add(b, enc, n);
    col += n;
  }
  if (col > 0)
    buf_str(b, "\r\n");
}

int notify_message_build(const char *from, const char *const *to, size_t nto,
                         const char *subject, const char *body, char **out, char *err,
                         size_t errlen) {
  *out = NULL;
  int rc;
  if ((rc = address_check("sender", from, err, errlen)) != 0)
    return rc;
  if (nto == 0)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "email has no recipient");
  if (nto > NOTIFY_MAX_RCPT)
    return actor_errorf(ACTOR_EINVAL, err, errlen,
                        "email has %zu recipients; at most %d are allowed", nto,
                        NOTIFY_MAX_RCPT);
  for (size_t i = 0; i < nto; i++)
    if ((rc = address_check("recipient", to[i], err, errlen)) != 0)
      return rc;
  if ((rc = subject_check(subject, err, errlen)) != 0)
    return rc;
  if (body == NULL)
    body = "";
  if (strlen(body) > NOTIFY_MAX_MESSAGE / 4)
    return actor_errorf(ACTOR_ETOOBIG, err, errlen, "email body is longer than %d octets",
                        NOTIFY_MAX_MESSAGE / 4);

  actor_buf_t b = {0};
  char date[64], mid[NOTIFY_MAX_ADDR + 96];
  rfc5322_date(date, sizeof date);
  message_id(from, mid, sizeof mid);
  buf_fmt(&b, "Date: %s\r\n", date);
  buf_fmt(&b, "Message-ID: %s\r\n", mid);
  buf_fmt(&b, "From: <%s>\r\n", from);
  buf_str(&b, "To: ");
  for (size_t i = 0; i < nto; i++) {
    buf_fmt(&b, "<%s>", to[i]);
    buf_str(&b, i + 1 < nto ? ",\r\n " : "\r\n");
  }
  if ((rc = put_subject(&b, subject)) != 0) {
    free(b.p);
    return actor_errorf(rc, err, errlen, "out of memory");
  }
  bool plain = body_7bit(body);
  buf_str(&b, "MIME-Version: 1.0\r\n");
  buf_str(&b, "Content-Type: text/plain; charset=utf-8\r\n");
  buf_fmt(&b, "Content-Transfer-Encoding: %s\r\n", plain ? "7bit" : "quoted-printable");
  buf_str(&b, "Auto-Submitted: auto-generated\r\n\r\n");
  if (plain)
    put_body_7bit(&b, body);
  else
    put_body_qp(&b, body);
  if (b.failed || b.p == NULL) {
    free(b.p);
    return actor_errorf(ACTOR_ENOMEM, err, errlen, "out of memory");
  }
  *out = b.p;
  return 0;
}

/* ---- SMTP ---- */

typedef struct {
  const char *data;
  size_t len, off;
} upload_t;

static size_t upload_read(char *dst, size_t size, size_t n, void *ud) {
  upload_t *u = ud;
  size_t room = size * n, left = u->len - u->off;
  size_t k = left < room ? left : room;
  memcpy(dst, u->data + u->off, k);
  u->off += k;
  return k;
}

/* The server's last reply line that refused something (4xx/5xx), and the
 * last reply line at all, from curl's protocol trace. */
typedef struct {
  char refused[256];
  char last[256];
} trace_t;

static int smtp_trace(CURL *h, curl_infotype type, char *data, size_t size, void *ud) {
  (void)h;
  if (type != CURLINFO_HEADER_IN || size < 3)
    return 0;
  trace_t *t = ud;
  size_t n = size;
  while (n > 0 && (data[n - 1] == '\r' || data[n - 1] == '\n'))
    n--;
  if (n >= sizeof t->last)
    n = sizeof t->last - 1;
  /* the server's own words: keep printable ASCII only */
  char line[sizeof t->last];
  for (size_t i = 0; i < n; i++)
    line[i] = (data[i] >= 0x20 && data[i] < 0x7f) ? data[i] : '?';
  line[n] = '\0';
  memcpy(t->last, line, n + 1);
  if (data[0] == '4' || data[0] == '5')
    memcpy(t->refused, line, n + 1);
  return 0;
}

static void result_set(notify_result *res, long smtp, long http, const char *error) {
  if (res == NULL)
    return;
  res->smtp_code = smtp;
  res->http_status = http;
  snprintf(res->error, sizeof res->error, "%s", error ? error : "");
}

int notify_email_send(const notify_config *cfg, const char *const *to, size_t nto,
                      const char *subject, const char *body, notify_result *res) {
  char err[512] = "";
  result_set(res, 0, 0, NULL);
  if (cfg == NULL || cfg->host[0] == '\0') {
    result_set(res, 0, 0, "email is not configured ([smtp] host is empty)");
    return ACTOR_ECONFIG;
  }
  char *msg = NULL;
  int rc = notify_message_build(cfg->from, to, nto, subject, body, &msg, err, sizeof err);
  if (rc != 0) {
    result_set(res, 0, 0, err);
    return rc;
  }
  if ((rc = curl_ready(err, sizeof err)) != 0) {
    free(msg);
    result_set(res, 0, 0, err);
    return rc;
  }
  const char *scheme = cfg->tls == NOTIFY_TLS_SMTPS ? "smtps" : "smtp";
  char url[320], mail_from[NOTIFY_MAX_ADDR + 3];
  bool v6 = strchr(cfg->host, ':') != NULL && cfg->host[0] != '[';
  snprintf(url, sizeof url, "%s://%s%s%s:%d", scheme, v6 ? "[" : "", cfg->host, v6 ? "]" : "",
           cfg->port);
  snprintf(mail_from, sizeof mail_from, "<%s>", cfg->from);

  CURL *h = curl_easy_init();
  struct curl_slist *rcpt = NULL;
  bool oom = h == NULL;
  for (size_t i = 0; i < nto && !oom; i++) {
    char a[NOTIFY_MAX_ADDR + 3];
    snprintf(a, sizeof a, "<%s>", to[i]);
    struct curl_slist *next = curl_slist_append(rcpt, a);
    if (next == NULL)
      oom = true;
    else
      rcpt = next;
  }
  if (oom) {
    curl_slist_free_all(rcpt);
    curl_easy_cleanup(h);
    free(msg);
    result_set(res, 0, 0, "out of memory");
    return ACTOR_ENOMEM;
  }
  upload_t up = {msg, strlen(msg), 0};
  trace_t trace = {"", ""};
  char cerr[CURL_ERROR_SIZE] = "";
  long timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 30000;
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, mail_from);
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(h, CURLOPT_READFUNCTION, upload_read);
  curl_easy_setopt(h, CURLOPT_READDATA, &up);
  curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)up.len);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* the trace below, not stderr */
  curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, smtp_trace);
  curl_easy_setopt(h, CURLOPT_DEBUGDATA, &trace);
  if (cfg->tls == NOTIFY_TLS_STARTTLS)
    curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  if (cfg->ca_file[0] != '\0')
    curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
  if (cfg->user[0] != '\0') {
    curl_easy_setopt(h, CURLOPT_USERNAME, cfg->user);
    curl_easy_setopt(h, CURLOPT_PASSWORD, cfg->password);
  }
  CURLcode cc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  const char *why = cerr[0] ? cerr : curl_easy_strerror(cc);
  if (cc == CURLE_OK) {
    rc = 0;
  } else if (cc == CURLE_OPERATION_TIMEDOUT) {
    rc = actor_errorf(ACTOR_ETIMEDOUT, err, sizeof err, "SMTP %s: timed out after %ld ms: %s",
                      url, timeout, why);
  } else if (trace.refused[0] != '\0' || code >= 400) {
    rc = actor_errorf(ACTOR_EPROTO, err, sizeof err, "SMTP server %s refused: %s (%s)", url,
                      trace.refused[0] ? trace.refused : trace.last, why);
  } else {
    rc = actor_errorf(ACTOR_ECONN, err, sizeof err, "SMTP %s: %s", url, why);
  }
  if (rc == 0)
    LOG_INFO(NOTIFY_LOG, "email sent through %s to %zu recipient(s): %s", url, nto,
             trace.last);
  else
    LOG_WARN(NOTIFY_LOG, "email not sent: %s", err);
  result_set(res, code, 0, rc == 0 ? NULL : err);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(h);
  free(msg);
  return rc;
}

/* ---- webhook ---- */

static size_t discard(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  (void)ud;
  return size * n;
}

int notify_webhook_post(const char *url, const char *body, long timeout_ms, long *status,
                        char *err, size_t errlen) {
  if (status != NULL)
    *status = 0;
  int rc = url_check(url, err, errlen);
  if (rc != 0)
    return rc;
  if ((rc = curl_ready(err, errlen)) != 0)
    return rc;
  CURL *h = curl_easy_init();
  struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
  if (h == NULL || hdrs == NULL) {
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    return actor_errorf(ACTOR_ENOMEM, err, errlen, "out of memory");
  }
  char cerr[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms
                                                         : (long)NOTIFY_WEBHOOK_TIMEOUT_MS);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
  CURLcode cc = curl_easy_perform(h);
  long code = 0;
  if (cc != CURLE_OK) {
    rc = actor_errorf(ACTOR_ECONN, err, errlen, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 299)
      rc = actor_errorf(ACTOR_ECONN, err, errlen, "HTTP %ld", code);
  }
  if (status != NULL)
    *status = code;
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  return rc;
}

/* ---- the notify action ---- */

/* strict: the stored spec (type, email, webhook, nothing else); else the
 * action as a run holds it, whose other top-level fields (status,
 * started, ...) are the runner's. */
static int spec_check(const json_t *spec, bool strict, char *err, size_t errlen) {
  if (!json_is_object(spec))
    return actor_errorf(ACTOR_EINVAL, err, errlen, "notify: the action must be an object");
  const char *key;
  json_t *v;
  json_object_foreach((json_t *)spec, key, v) {
    if (!strict)
      break;
    if (strcmp(key, "type") == 0) {
      if (!json_is_string(v) || strcmp(json_string_value(v), "notify") != 0)
        return actor_errorf(ACTOR_EINVAL, err, errlen, "notify: type must be \"notify\"");
      continue;
    }
    if (strcmp(key, "email") != 0 && strcmp(key, "webhook") != 0)
      return actor_errorf(ACTOR_EINVAL, err, errlen,
                          "notify: unknown field '%.64s' (type, email, webhook)", key);
  }
  const json_t *email = json_object_get(spec, "email");
  const json_t *hook = json_object_get(spec, "webhook");
  if (email == NULL && hook == NULL)
    return actor_errorf(ACTOR_EINVAL, err, errlen, "notify: needs email, webhook or both");
  int rc;
  if (hook != NULL) {
    if (!json_is_string(hook))
      return actor_errorf(ACTOR_EINVAL, err, errlen, "notify.webhook: must be a URL string");
    char e[256];
    if ((rc = url_check(json_string_value(hook), e, sizeof e)) != 0)
      return actor_errorf(rc, err, errlen, "notify.webhook: %s", e);
  }
  if (email == NULL)
    return 0;
  if (!json_is_object(email))
    return actor_errorf(ACTOR_EINVAL, err, errlen, "notify.email: must be an object");
  json_object_foreach((json_t *)email, key, v) {
    if (strcmp(key, "to") != 0 && strcmp(key, "subject") != 0 && strcmp(key, "body") != 0)
      return actor_errorf(ACTOR_EINVAL, err, errlen,
                          "notify.email: unknown field '%.64s' (to, subject, body)", key);
  }
  const json_t *to = json_object_get(email, "to");
  if (!json_is_array(to) || json_array_size(to) == 0)
    return actor_errorf(ACTOR_EINVAL, err, errlen,
                        "notify.email.to: must be a non-empty list of addresses");
  if (json_array_size(to) > NOTIFY_MAX_RCPT)
    return actor_errorf(ACTOR_EINVAL, err, errlen,
                        "notify.email.to: %zu addresses; at most %d are allowed",
                        json_array_size(to), NOTIFY_MAX_RCPT);
  size_t i;
  json_array_foreach(to, i, v) {
    char e[256];
    if (!json_is_string(v))
      return actor_errorf(ACTOR_EINVAL, err, errlen, "notify.email.to[%zu]: not a string", i);
    if ((rc = address_check("address", json_string_value(v), e, sizeof e)) != 0)
      return actor_errorf(rc, err, errlen, "notify.email.to[%zu]: %s", i, e);
  }
  const json_t *subject = json_object_get(email, "subject");
  if (!json_is_string(subject))
    return actor_errorf(ACTOR_EINVAL, err, errlen, "notify.email.subject: must be a string");
  char e[256];
  if ((rc = subject_check(json_string_value(subject), e, sizeof e)) != 0)
    return actor_errorf(rc, err, errlen, "notify.email.subject: %s", e);
  const json_t *body = json_object_get(email, "body");
  if (body != NULL && !json_is_string(body))
    return actor_errorf(ACTOR_EINVAL, err, errlen, "notify.email.body: must be a string");
  if (body != NULL && json_string_length(body) > NOTIFY_MAX_TEXT)
    return actor_errorf(ACTOR_EINVAL, err, errlen,
                        "notify.email.body: longer than %d octets", NOTIFY_MAX_TEXT);
  return 0;
}

int notify_spec_check(const json_t *spec, char *err, size_t errlen) {
  return spec_check(spec, true, err, errlen);
}

/* "email: ...; webhook: ..." */
static void err_add(actor_buf_t *b, const char *part, const char *what) {
  if (b->len > 0)
    buf_str(b, "; ");
  buf_str(b, part);
  buf_str(b, ": ");
  buf_str(b, what);
}

static int run_email(const notify_config *cfg, const json_t *email, const char *ctx_text,
                     actor_buf_t *errs) {
  const json_t *to = json_object_get(email, "to");
  const char *subject = json_string_value(json_object_get(email, "subject"));
  const char *text = json_string_value(json_object_get(email, "body"));
  const char *addrs[NOTIFY_MAX_RCPT];
  size_t n = json_array_size(to);
  for (size_t i = 0; i < n; i++)
    addrs[i] = json_string_value(json_array_get(to, i));
  actor_buf_t body = {0};
  buf_str(&body, text && *text ? text : subject);
  buf_str(&body, "\n\n");
  buf_str(&body, ctx_text);
  buf_str(&body, "\n");
  if (body.failed) {
    free(body.p);
    err_add(errs, "email", "out of memory");
    return ACTOR_ENOMEM;
  }
  notify_result res;
  int rc = notify_email_send(cfg, addrs, n, subject, body.p, &res);
  free(body.p);
  if (rc != 0)
    err_add(errs, "email", res.error);
  return rc;
}

static int run_webhook(const notify_config *cfg, const char *url, const json_t *email,
                       const json_t *context, actor_buf_t *errs) {
  json_t *doc = json_object();
  const json_t *subject = email ? json_object_get(email, "subject") : NULL;
  if (doc == NULL || json_object_set_new(doc, "subject", subject ? json_copy((json_t *)subject)
                                                                 : json_null()) != 0 ||
      json_object_set_new(doc, "context", context ? json_deep_copy(context) : json_null()) !=
          0) {
    json_decref(doc);
    err_add(errs, "webhook", "out of memory");
    return ACTOR_ENOMEM;
  }
  char *text = json_dumps(doc, JSON_COMPACT);
  json_decref(doc);
  if (text == NULL) {
    err_add(errs, "webhook", "out of memory");
    return ACTOR_ENOMEM;
  }
  if (strlen(text) > NOTIFY_MAX_MESSAGE) {
    free(text);
    err_add(errs, "webhook", "the context is over 1 MiB as JSON");
    return ACTOR_ETOOBIG;
  }
  char e[512], what[768];
  long status = 0;
  int rc = notify_webhook_post(url, text, cfg ? cfg->webhook_timeout_ms : 0, &status, e,
                               sizeof e);
  free(text);
  if (rc != 0) {
    snprintf(what, sizeof what, "POST %.200s: %s", url, e);
    err_add(errs, "webhook", what);
    LOG_WARN(NOTIFY_LOG, "webhook not delivered: %s", what);
  }
  return rc;
}

int notify_run(const notify_config *cfg, const json_t *action_spec, const json_t *context,
               char **err) {
  *err = NULL;
  char e[512];
  int rc = spec_check(action_spec, false, e, sizeof e);
  if (rc != 0) {
    *err = strdup(e);
    return rc;
  }
  const json_t *email = json_object_get(action_spec, "email");
  const json_t *hook = json_object_get(action_spec, "webhook");
  actor_buf_t errs = {0};
  int first = 0;
  if (email != NULL) {
    char *ctx = context ? json_dumps(context, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY)
                        : strdup("null");
    if (ctx == NULL) {
      err_add(&errs, "email", "out of memory");
      first = ACTOR_ENOMEM;
    } else if (strlen(ctx) > NOTIFY_MAX_MESSAGE / 8) {
      err_add(&errs, "email", "the context is too large for a message");
      first = ACTOR_ETOOBIG;
    } else {
      first = run_email(cfg, email, ctx, &errs);
    }
    free(ctx);
  }
  if (hook != NULL) {
    rc = run_webhook(cfg, json_string_value(hook), email, context, &errs);
    if (first == 0)
      first = rc;
  }
  if (first != 0) {
    *err = errs.p != NULL && !errs.failed ? errs.p : (free(errs.p), strdup("out of memory"));
    if (*err == NULL)
      return ACTOR_ENOMEM;
  } else {
    free(errs.p);
  }
  return first;
}
