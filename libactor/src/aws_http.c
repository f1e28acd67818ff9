/* The AWS client's transport (actor/aws.h): options, the client object,
 * and aws__call, one Query-API Action over libcurl signed by libcurl
 * itself (CURLOPT_AWS_SIGV4), with retries and the Describe* token bucket.
 *
 * Design note. Each attempt uses a fresh curl handle, so calls from several
 * threads share nothing but the client's mutex, which guards the token
 * bucket and the jitter generator. Throttled (RequestLimitExceeded, 429,
 * 503 ...) and transient (5xx, connection failures, timeouts) attempts are
 * retried after aws_backoff_ms(base, cap, n, rnd): "full jitter", a uniform
 * draw in [0, min(cap, base * 2^(n-1))], which spreads the retries of many
 * clients instead of having them hit AWS again in step. Describe* calls
 * first take a token from a bucket refilled at describe_rate per second up
 * to describe_burst; an empty bucket makes the caller sleep until a token
 * is due (outside the lock), so a reconciler over many objects paces
 * itself below AWS's limits rather than being throttled.
 *
 * Secrets: the keys go to curl as user name and password (only curl's
 * signer reads them), the session token as a header; CURLOPT_VERBOSE is
 * never set, no parameter or header is ever logged, and the secret copies
 * are wiped when the client is freed. */
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "actor/log.h"
#include "aws_int.h"

#define AWS__LOG "aws"

/* ---- options ---- */

static const char *aws__env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

static int aws__opt_long(const actor_config_t *cfg, const char *key, long def, long min,
                         long max, long *out) {
  return actor_config_get_int_range(cfg, "cloud", key, def, min, max, out);
}

static int aws__opt_double(const actor_config_t *cfg, const char *key, double def, double min,
                           double max, double *out) {
  return actor_config_get_double_range(cfg, "cloud", key, def, min, max, out);
}

bool aws_opts_have_credentials(const aws_opts_t *o) {
  return o->access_key && *o->access_key && o->secret_key && *o->secret_key;
}

int aws_opts_from_config(const actor_config_t *cfg, aws_opts_t *o) {
  memset(o, 0, sizeof *o);
  const char *region = aws__env("AWS_REGION");
  if (!region)
    region = aws__env("AWS_DEFAULT_REGION");
  o->endpoint = actor_config_get(cfg, "cloud", "endpoint", "");
  o->region = actor_config_get(cfg, "cloud", "region", region ? region : "us-east-1");
  o->access_key = actor_config_get(cfg, "cloud", "access_key_id", aws__env("AWS_ACCESS_KEY_ID"));
  o->secret_key =
      actor_config_get(cfg, "cloud", "secret_access_key", aws__env("AWS_SECRET_ACCESS_KEY"));
  o->session_token =
      actor_config_get(cfg, "cloud", "session_token", aws__env("AWS_SESSION_TOKEN"));
  int rc = 0;
  long n = 0;
  if (aws__opt_long(cfg, "max_retries", 5, 0, 20, &n) != 0)
    rc = ACTOR_ECONFIG;
  o->max_retries = (int)n;
  if (aws__opt_long(cfg, "retry_base_ms", 200, 1, 600000, &o->retry_base_ms) != 0)
    rc = ACTOR_ECONFIG;
  if (aws__opt_long(cfg, "retry_cap_ms", 20000, 1, 3600000, &o->retry_cap_ms) != 0)
    rc = ACTOR_ECONFIG;
  if (aws__opt_long(cfg, "timeout_ms", 30000, 100, 3600000, &o->timeout_ms) != 0)
    rc = ACTOR_ECONFIG;
  if (aws__opt_double(cfg, "describe_rate", 5, 0.001, 10000, &o->describe_rate) != 0)
    rc = ACTOR_ECONFIG;
  if (aws__opt_double(cfg, "describe_burst", 20, 1, 100000, &o->describe_burst) != 0)
    rc = ACTOR_ECONFIG;
  if (o->retry_cap_ms < o->retry_base_ms) {
    LOG_ERROR(AWS__LOG, "[cloud] retry_cap_ms = %ld is below retry_base_ms = %ld",
              o->retry_cap_ms, o->retry_base_ms);
    rc = ACTOR_ECONFIG;
  }
  if (*o->endpoint && strncmp(o->endpoint, "http://", 7) != 0 &&
      strncmp(o->endpoint, "https://", 8) != 0) {
    LOG_ERROR(AWS__LOG, "[cloud] endpoint = %s: must be empty or an http:// or https:// URL",
              o->endpoint);
    rc = ACTOR_ECONFIG;
  }
  if (!*o->region || strspn(o->region, "abcdefghijklmnopqrstuvwxyz0123456789-") !=
                         strlen(o->region)) {
    LOG_ERROR(AWS__LOG, "[cloud] region = %s: not a region name (like us-east-1)", o->region);
    rc = ACTOR_ECONFIG;
  }
  return rc;
}

/* ---- the client ---- */

static pthread_once_t aws__curl_once = PTHREAD_ONCE_INIT;
static CURLcode aws__curl_rc = CURLE_FAILED_INIT;

static void aws__curl_init(void) { aws__curl_rc = curl_global_init(CURL_GLOBAL_ALL); }

static double aws__now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void aws__wipe_free(char *s) {
  if (s) {
    explicit_bzero(s, strlen(s));
    free(s);
  }
}

int aws_new(const aws_opts_t *o, aws_t **out) {
  *out = NULL;
  const char *region = o->region && *o->region ? o->region : "us-east-1";
  if (strspn(region, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(region))
    return ACTOR_EINVAL;
  if (o->endpoint && *o->endpoint && strncmp(o->endpoint, "http://", 7) != 0 &&
      strncmp(o->endpoint, "https://", 8) != 0)
    return ACTOR_EINVAL;
  pthread_once(&aws__curl_once, aws__curl_init);
  if (aws__curl_rc != CURLE_OK)
    return ACTOR_ENOMEM;
  aws_t *a = calloc(1, sizeof *a);
  if (!a)
    return ACTOR_ENOMEM;
  if (pthread_mutex_init(&a->mu, NULL) != 0) {
    free(a);
    return ACTOR_ENOMEM;
  }
  static const char *const svc[AWS__SVC_N] = {"ec2", "cloudformation", "elasticloadbalancing"};
  for (int i = 0; i < AWS__SVC_N; i++) {
    int n = o->endpoint && *o->endpoint
                ? asprintf(&a->url[i], "%s", o->endpoint)
                : asprintf(&a->url[i], "https://%s.%s.amazonaws.com/", svc[i], region);
    if (n < 0) {
      a->url[i] = NULL;
      goto nomem;
    }
    if (asprintf(&a->sigv4[i], "aws:amz:%s:%s", region, svc[i]) < 0) {
      a->sigv4[i] = NULL;
      goto nomem;
    }
  }
  if (o->endpoint && *o->endpoint && !(a->endpoint = strdup(o->endpoint)))
    goto nomem;
  if (o->access_key && *o->access_key && !(a->access_key = strdup(o->access_key)))
    goto nomem;
  if (o->secret_key && *o->secret_key && !(a->secret_key = strdup(o->secret_key)))
    goto nomem;
  if (o->session_token && *o->session_token) {
    if (strpbrk(o->session_token, "\r\n")) {
      aws_free(a);
      return ACTOR_EINVAL;
    }
    if (asprintf(&a->token_hdr, "X-Amz-Security-Token: %s", o->session_token) < 0) {
      a->token_hdr = NULL;
      goto nomem;
    }
  }
  a->max_retries = o->max_retries >= 0 ? o->max_retries : 5;
  a->retry_base_ms = o->retry_base_ms > 0 ? o->retry_base_ms : 200;
  a->retry_cap_ms = o->retry_cap_ms > 0 ? o->retry_cap_ms : 20000;
  a->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 30000;
  a->rate = o->describe_rate > 0 ? o->describe_rate : 5;
  a->burst = o->describe_burst >= 1 ? o->describe_burst : 20;
  a->tokens = a->burst;
  a->refilled = aws__now();
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  a->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40) ^
           (uint64_t)(uintptr_t)a;
  *out = a;
  return 0;
nomem:
  aws_free(a);
  return ACTOR_ENOMEM;
}

void aws_free(aws_t *a) {
  if (!a)
    return;
  for (int i = 0; i < AWS__SVC_N; i++) {
    free(a->url[i]);
    free(a->sigv4[i]);
  }
  free(a->endpoint);
  free(a->access_key);
  aws__wipe_free(a->secret_key);
  aws__wipe_free(a->token_hdr);
  pthread_mutex_destroy(&a->mu);
  free(a);
}

void aws_set_observer(aws_t *a, aws_observer_fn fn, void *data) {
  a->observer = fn;
  a->observer_data = data;
}

const char *aws_class_name(aws_class_t c) {
  switch (c) {
  case AWS_OK: return "ok";
  case AWS_THROTTLE: return "throttle";
  case AWS_TRANSIENT: return "transient";
  case AWS_CAPACITY: return "capacity";
  case AWS_AUTH: return "auth";
  case AWS_NOTFOUND: return "notfound";
  case AWS_PERMANENT: return "permanent";
  }
  return "permanent";
}

/* ---- back-off and the token bucket ---- */

long aws_backoff_ms(long base_ms, long cap_ms, int n, double rnd) {
  if (base_ms <= 0 || cap_ms <= 0)
    return 0;
  if (n < 1)
    n = 1;
  if (!(rnd >= 0))
    rnd = 0;
  if (rnd >= 1)
    rnd = 0.999999999;
  long ceil = base_ms < cap_ms ? base_ms : cap_ms;
  for (int i = 1; i < n && ceil < cap_ms; i++)
    ceil = ceil > cap_ms / 2 ? cap_ms : ceil * 2;
  long v = (long)(rnd * (double)(ceil + 1));
  return v > ceil ? ceil : v;
}

/* A uniform double in [0, 1) (splitmix64 under the client's lock). */
static double aws__random(aws_t *a) {
  pthread_mutex_lock(&a->mu);
  uint64_t z = (a->rng += 0x9E3779B97F4A7C15ull);
  pthread_mutex_unlock(&a->mu);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return (double)(z >> 11) / 9007199254740992.0;
}

static void aws__sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (ms > 0 && nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Takes one token, sleeping (unlocked) until one is due. */
static void aws__take_token(aws_t *a) {
  for (;;) {
    pthread_mutex_lock(&a->mu);
    double now = aws__now();
    a->tokens += (now - a->refilled) * a->rate;
    if (a->tokens > a->burst)
      a->tokens = a->burst;
    a->refilled = now;
    if (a->tokens >= 1) {
      a->tokens -= 1;
      pthread_mutex_unlock(&a->mu);
      return;
    }
    double wait_s = (1 - a->tokens) / a->rate;
    pthread_mutex_unlock(&a->mu);
    aws__sleep_ms((long)ceil(wait_s * 1000));
  }
}

/* ---- parameters ---- */

int aws__param(aws__params_t *p, const char *key, const char *value) {
  char *k = curl_easy_escape(NULL, key, 0);
  char *v = curl_easy_escape(NULL, value ? value : "", 0);
  if (k && v) {
    if (p->b.len > 0)
      actor_buf_add(&p->b, "&", 1);
    actor_buf_add(&p->b, k, strlen(k));
    actor_buf_add(&p->b, "=", 1);
    actor_buf_add(&p->b, v, strlen(v));
  }
  int ok = k && v && !p->b.failed;
  curl_free(k);
  if (v) {
    explicit_bzero(v, strlen(v)); /* a template or parameter may hold secrets */
    curl_free(v);
  }
  return ok ? 0 : ACTOR_ENOMEM;
}

int aws__paramf(aws__params_t *p, const char *value, const char *keyfmt, ...) {
  char key[256];
  va_list ap;
  va_start(ap, keyfmt);
  int n = vsnprintf(key, sizeof key, keyfmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof key)
    return ACTOR_EINVAL;
  return aws__param(p, key, value);
}

int aws__call_page(aws_t *a, aws__svc_t svc, const char *action, const aws__params_t *base,
                   const char *token_name, const char *token, actor_buf_t *body,
                   aws_result_t *res) {
  aws__params_t p = {{0}};
  memset(body, 0, sizeof *body);
  actor_buf_add(&p.b, base->b.p ? base->b.p : "", base->b.len);
  int rc = p.b.failed ? ACTOR_ENOMEM : 0;
  if (rc == 0 && token)
    rc = aws__param(&p, token_name, token);
  if (rc == 0)
    rc = aws__call(a, svc, action, &p, body, res);
  aws__params_free(&p);
  return rc;
}

int aws__param_list(aws__params_t *p, const char *prefix, const json_t *arr, size_t *count) {
  if (count)
    *count = 0;
  if (!arr || json_is_null(arr))
    return 0;
  if (!json_is_array(arr))
    return ACTOR_EINVAL;
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v) {
    const char *s = json_string_value(v);
    if (!s || !*s)
      return ACTOR_EINVAL;
    int rc = aws__paramf(p, s, "%s.%zu", prefix, i + 1);
    if (rc != 0)
      return rc;
  }
  if (count)
    *count = json_array_size(arr);
  return 0;
}

int aws__param_pairs(aws__params_t *p, const char *list, const char *kname, const char *vname,
                     const json_t *obj) {
  if (!obj || json_is_null(obj))
    return 0;
  if (!json_is_object(obj))
    return ACTOR_EINVAL;
  size_t n = 0;
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)obj, k, v) {
    const char *s = json_string_value(v);
    if (!s || !*k)
      return ACTOR_EINVAL;
    n++;
    int rc = aws__paramf(p, k, "%s.%zu.%s", list, n, kname);
    if (rc == 0)
      rc = aws__paramf(p, s, "%s.%zu.%s", list, n, vname);
    if (rc != 0)
      return rc;
  }
  return 0;
}

void aws__params_free(aws__params_t *p) {
  if (p->b.p) {
    explicit_bzero(p->b.p, p->b.len);
    free(p->b.p);
  }
  memset(p, 0, sizeof *p);
}

/* ---- one call ---- */

typedef struct {
  actor_buf_t body;
  int too_big;
} aws__resp_t;

static size_t aws__write_cb(char *ptr, size_t size, size_t nmemb, void *ctx) {
  aws__resp_t *r = ctx;
  size_t n = size * nmemb;
  if (r->body.len + n > AWS__MAX_BODY) {
    r->too_big = 1;
    return 0;
  }
  actor_buf_add(&r->body, ptr, n);
  return r->body.failed ? 0 : n;
}

static void aws__set(aws_result_t *res, aws_class_t cls, const char *code, const char *msg) {
  res->cls = cls;
  snprintf(res->code, sizeof res->code, "%s", code);
  snprintf(res->message, sizeof res->message, "%s", msg);
}

int aws__malformed(aws_result_t *res, const char *action) {
  res->cls = AWS_PERMANENT;
  snprintf(res->code, sizeof res->code, "MalformedResponse");
  snprintf(res->message, sizeof res->message, "the %s answer is not the expected XML", action);
  return ACTOR_EAWS;
}

/* One HTTP attempt. Returns 0 with res filled (AWS_OK and *body, or the
 * error's class), or ACTOR_ENOMEM. */
static int aws__attempt_x(aws_t *a, const char *url, const char *sigv4, const char *method,
                          const char *ctype, const char *form, actor_buf_t *body,
                          aws_result_t *res) {
  aws__resp_t r = {{0}, 0};
  char errbuf[CURL_ERROR_SIZE] = "";
  struct curl_slist *hdrs = NULL, *h;
  int rc = ACTOR_ENOMEM;
  CURL *c = curl_easy_init();
  if (!c)
    goto out;
  const char *const lines[] = {ctype, "Expect:", a->token_hdr};
  for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
    if (!lines[i])
      continue;
    if (!(h = curl_slist_append(hdrs, lines[i])))
      goto out;
    hdrs = h;
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_VERBOSE, 0L); /* never: it would print the signed headers */
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, a->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, a->timeout_ms < 10000 ? a->timeout_ms : 10000L);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4);
  curl_easy_setopt(c, CURLOPT_USERNAME, a->access_key);
  curl_easy_setopt(c, CURLOPT_PASSWORD, a->secret_key);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  if (strcmp(method, "POST") == 0 || form != NULL) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form ? form : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)(form ? strlen(form) : 0));
  }
  if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, aws__write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  CURLcode cc = curl_easy_perform(c);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  res->http_status = (int)status;
  res->request_id[0] = '\0';
  rc = 0;
  if (r.body.failed) {
    rc = ACTOR_ENOMEM;
  } else if (cc != CURLE_OK && !(r.too_big && status >= 200 && status < 300)) {
    const char *why = *errbuf ? errbuf : curl_easy_strerror(cc);
    if (r.too_big)
      aws__set(res, AWS_PERMANENT, "ResponseTooLarge", "the answer is larger than 32 MiB");
    else if (cc == CURLE_OPERATION_TIMEDOUT)
      aws__set(res, AWS_TRANSIENT, "Timeout", why);
    else
      aws__set(res, aws_classify("ConnectionError", 0, why), "ConnectionError", why);
    res->http_status = 0;
  } else if (r.too_big) {
    aws__set(res, AWS_PERMANENT, "ResponseTooLarge", "the answer is larger than 32 MiB");
  } else if (status >= 200 && status < 300) {
    aws__set(res, AWS_OK, "", "");
    aws_parse_request_id(r.body.p ? r.body.p : "", r.body.len, res);
    *body = r.body;
    r.body.p = NULL;
  } else if (aws_parse_error(r.body.p ? r.body.p : "", r.body.len, (int)status, res) != 0) {
    char code[32];
    snprintf(code, sizeof code, "HTTP%ld", status);
    aws__set(res, aws_classify(NULL, (int)status, NULL), code,
             "an error answer without an AWS error document");
  }
out:
  free(r.body.p);
  curl_slist_free_all(hdrs);
  if (c)
    curl_easy_cleanup(c);
  return rc;
}

static int aws__attempt(aws_t *a, aws__svc_t svc, const char *form, actor_buf_t *body,
                        aws_result_t *res) {
  return aws__attempt_x(a, a->url[svc], a->sigv4[svc], "POST",
                        "Content-Type: application/x-www-form-urlencoded; charset=utf-8", form,
                        body, res);
}

int aws_rest(aws_t *a, const char *service, const char *method, const char *path,
             const char *body, char **answer, size_t *len, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *answer = NULL;
  if (len)
    *len = 0;
  char *url = NULL, *sigv4 = NULL;
  actor_buf_t got = {0};
  int rc = ACTOR_EAWS;
  if (!a->access_key || !a->secret_key) {
    aws__set(res, AWS_AUTH, "MissingCredentials",
             "no AWS credentials: set [cloud] access_key_id and secret_access_key, or "
             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    goto done;
  }
  if (strspn(service, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(service) ||
      path[0] != '/' || strpbrk(path, " \r\n") != NULL) {
    aws__set(res, AWS_PERMANENT, "InvalidRequest", "bad service name or path");
    goto done;
  }
  /* the endpoint without its trailing '/', then the path */
  const char *ep = a->endpoint ? a->endpoint : "";
  size_t eplen = strlen(ep);
  while (eplen > 0 && ep[eplen - 1] == '/')
    eplen--;
  int n = eplen > 0 ? asprintf(&url, "%.*s%s", (int)eplen, ep, path)
                    : asprintf(&url, "https://%s.amazonaws.com%s", service, path);
  /* Route 53 and IAM are global: signed for us-east-1 */
  if (n < 0 || asprintf(&sigv4, "aws:amz:us-east-1:%s", service) < 0) {
    url = n < 0 ? NULL : url;
    sigv4 = NULL;
    rc = ACTOR_ENOMEM;
    aws__set(res, AWS_TRANSIENT, "OutOfMemory", "out of memory");
    goto done;
  }
  for (int i = 0;; i++) {
    int attempts = res->attempts, throttled = res->throttled;
    if (aws__attempt_x(a, url, sigv4, method, body ? "Content-Type: text/xml" : "Content-Type:",
                       body, &got, res) != 0) {
      rc = ACTOR_ENOMEM;
      break;
    }
    res->attempts = attempts + 1;
    res->throttled = throttled + (res->cls == AWS_THROTTLE);
    if (res->cls == AWS_OK) {
      rc = 0;
      break;
    }
    if ((res->cls != AWS_THROTTLE && res->cls != AWS_TRANSIENT) || i >= a->max_retries)
      break;
    aws__sleep_ms(aws_backoff_ms(a->retry_base_ms, a->retry_cap_ms, i + 1, aws__random(a)));
  }
  if (rc == 0) {
    actor_buf_add(&got, "", 1); /* NUL */
    if (got.failed) {
      rc = ACTOR_ENOMEM;
    } else {
      *answer = got.p;
      if (len)
        *len = got.len - 1;
      got.p = NULL;
    }
  }
done:
  free(got.p);
  free(url);
  free(sigv4);
  if (a->observer) {
    char op[64];
    snprintf(op, sizeof op, "%.20s:%.8s", service, method);
    a->observer(a->observer_data, op, res);
  }
  return rc;
}

int aws__call(aws_t *a, aws__svc_t svc, const char *action, const aws__params_t *params,
              actor_buf_t *body, aws_result_t *res) {
  memset(res, 0, sizeof *res);
  memset(body, 0, sizeof *body);
  int rc = 0;
  aws__params_t form = {{0}};
  if (!a->access_key || !a->secret_key) {
    aws__set(res, AWS_AUTH, "MissingCredentials",
             "no AWS credentials: set [cloud] access_key_id and secret_access_key, or "
             "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    rc = ACTOR_EAWS;
    goto done;
  }
  if (aws__param(&form, "Action", action) != 0 ||
      aws__param(&form, "Version",
                 svc == AWS__SVC_EC2   ? AWS__EC2_VERSION
                 : svc == AWS__SVC_CFN ? AWS__CFN_VERSION
                                       : AWS__ELB_VERSION))
    goto nomem;
  if (params && params->b.len > 0) {
    actor_buf_add(&form.b, "&", 1);
    actor_buf_add(&form.b, params->b.p, params->b.len);
    if (form.b.failed)
      goto nomem;
  }
  int describe = strncmp(action, "Describe", 8) == 0;
  for (int n = 0;; n++) {
    if (describe)
      aws__take_token(a);
    int attempts = res->attempts, throttled = res->throttled;
    if (aws__attempt(a, svc, form.b.p, body, res) != 0)
      goto nomem;
    res->attempts = attempts + 1;
    res->throttled = throttled + (res->cls == AWS_THROTTLE);
    if (res->cls == AWS_OK)
      break;
    if ((res->cls != AWS_THROTTLE && res->cls != AWS_TRANSIENT) || n >= a->max_retries) {
      rc = ACTOR_EAWS;
      break;
    }
    long ms = aws_backoff_ms(a->retry_base_ms, a->retry_cap_ms, n + 1, aws__random(a));
    LOG_INFO(AWS__LOG, "%s: %s %s (HTTP %d): retry %d of %d in %ld ms", action,
             aws_class_name(res->cls), res->code, res->http_status, n + 1, a->max_retries, ms);
    aws__sleep_ms(ms);
  }
  goto done;
nomem:
  rc = ACTOR_ENOMEM;
  aws__set(res, AWS_TRANSIENT, "OutOfMemory", "out of memory");
  free(body->p);
  memset(body, 0, sizeof *body);
done:
  aws__params_free(&form);
  if (rc != 0)
    LOG_DEBUG(AWS__LOG, "%s: %s %s (HTTP %d, %d attempts): %s", action, aws_class_name(res->cls),
              res->code, res->http_status, res->attempts, res->message);
  if (a->observer)
    a->observer(a->observer_data, action, res);
  return rc;
}
