/* The Docker Engine API client (actor/docker.h): blocking libcurl calls to
 * the engine's REST API (/v1.41, Debian docker.io 20.10) over its unix
 * socket or plain http, with JSON bodies via jansson. Each call builds its
 * own curl easy handle, so a dkr_t (immutable after dkr_new) can be shared
 * by any number of threads. The pure parsers it relies on (the log stream
 * demultiplexer, the stats totals) are in docker_parse.c. */
#include "actor/docker.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "docker_int.h"

#define DKR__API "/v1.41"
#define DKR__MODULE "docker"
/* Every call but wait: a stuck engine must not hang a worker forever. */
#define DKR__CALL_TIMEOUT_MS 300000L
#define DKR__CONNECT_TIMEOUT_MS 10000L
/* Largest JSON response kept (container lists on a busy host stay far below). */
#define DKR__RESPONSE_MAX (64u << 20)
/* Longest error text returned through *err. */
#define DKR__ERRMSG_MAX 1024

struct dkr_s {
  char *unix_path; /* socket path for unix://, else NULL */
  char *base;      /* "http://localhost" or "http://host:port", no trailing '/' */
  char *dd;        /* as given, for messages */
};

/* ---- construction ---- */

static pthread_once_t dkr__curl_once = PTHREAD_ONCE_INIT;
static CURLcode dkr__curl_init_rc = CURLE_FAILED_INIT;

static void dkr__curl_init(void) { dkr__curl_init_rc = curl_global_init(CURL_GLOBAL_ALL); }

int dkr_new(const char *dd, dkr_t **out) {
  *out = NULL;
  if (!dd || !*dd)
    return ACTOR_EINVAL;
  pthread_once(&dkr__curl_once, dkr__curl_init);
  if (dkr__curl_init_rc != CURLE_OK)
    return ACTOR_ENOMEM;
  dkr_t *d = calloc(1, sizeof *d);
  if (!d)
    return ACTOR_ENOMEM;
  int rc = ACTOR_ENOMEM;
  if (!(d->dd = strdup(dd)))
    goto fail;
  if (strncmp(dd, "unix://", 7) == 0) {
    const char *path = dd + 7;
    if (*path == '\0') {
      rc = ACTOR_EINVAL;
      goto fail;
    }
    if (asprintf(&d->unix_path, "%s%s", *path == '/' ? "" : "/", path) < 0) {
      d->unix_path = NULL;
      goto fail;
    }
    if (!(d->base = strdup("http://localhost")))
      goto fail;
  } else if (strncmp(dd, "tcp://", 6) == 0 || strncmp(dd, "http://", 7) == 0) {
    const char *host = dd + (dd[0] == 't' ? 6 : 7);
    if (!*host || *host == '/') {
      rc = ACTOR_EINVAL;
      goto fail;
    }
    if (asprintf(&d->base, "http://%s", host) < 0) {
      d->base = NULL;
      goto fail;
    }
    size_t n = strlen(d->base);
    while (n > 7 && d->base[n - 1] == '/')
      d->base[--n] = '\0';
  } else {
    rc = ACTOR_EINVAL;
    goto fail;
  }
  *out = d;
  return 0;
fail:
  dkr_free(d);
  return rc;
}

int dkr_new_from_config(const actor_config_t *cfg, dkr_t **out) {
  const char *dd = actor_config_get(cfg, "docker", "dd", "unix:///var/run/docker.sock");
  int rc = dkr_new(dd, out);
  if (rc == ACTOR_EINVAL)
    actor_log(ACTOR_LOG_ERROR, "config",
              "[docker] dd: bad value '%s': expected unix:///path/to/docker.sock, "
              "tcp://host:port or http://host:port", dd);
  return rc == ACTOR_EINVAL ? ACTOR_ECONFIG : rc;
}

const char *dkr_unix_path(const dkr_t *d) {
  return d ? d->unix_path : NULL;
}

void dkr_free(dkr_t *d) {
  if (!d)
    return;
  free(d->unix_path);
  free(d->base);
  free(d->dd);
  free(d);
}

/* ---- requests ---- */

/* Percent-encodes everything but RFC 3986 unreserved characters, so an id,
 * image name or query value can neither add path segments nor queries. */
static char *dkr__escape(const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  size_t n = strlen(s);
  char *o = malloc(3 * n + 1), *p = o;
  if (!o)
    return NULL;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      *p++ = (char)c;
    } else {
      *p++ = '%';
      *p++ = hex[c >> 4];
      *p++ = hex[c & 15];
    }
  }
  *p = '\0';
  return o;
}

/* An object name used as one path segment: non-empty and not a dot segment
 * (curl would fold "/containers/../x" into another endpoint). */
static int dkr__name_ok(const char *s) {
  return s && *s && strcmp(s, ".") != 0 && strcmp(s, "..") != 0;
}

/* "/v1.41/<prefix><escaped name><suffix>", malloc'd. */
static char *dkr__path(const char *prefix, const char *name, const char *suffix) {
  char *esc = dkr__escape(name), *path = NULL;
  if (esc && asprintf(&path, DKR__API "%s%s%s", prefix, esc, suffix) < 0)
    path = NULL;
  free(esc);
  return path;
}

typedef struct {
  /* in */
  const char *method; /* GET, POST, DELETE */
  const char *path;   /* from the API root, with query */
  const json_t *body; /* POST body or NULL */
  long timeout_ms;    /* 0: no limit */
  /* For a streamed 2xx body instead of collecting it; returning 0 from it
   * stops the transfer, which then counts as success if *stopped is set. */
  size_t (*sink)(const char *p, size_t n, void *ctx);
  void *sink_ctx;
  const int *stopped;
  /* out */
  CURL *curl;
  long status;
  dkr_buf_t resp; /* the body (2xx without a sink, or any error body) */
} dkr__req_t;

static size_t dkr__write_cb(char *p, size_t size, size_t nmemb, void *ctx) {
  dkr__req_t *r = ctx;
  size_t n = size * nmemb;
  long status = 0;
  curl_easy_getinfo(r->curl, CURLINFO_RESPONSE_CODE, &status);
  if (r->sink && status >= 200 && status < 300)
    return r->sink(p, n, r->sink_ctx);
  dkr__buf_append(&r->resp, p, n);
  return r->resp.truncated || r->resp.nomem ? 0 : n;
}

/* The engine's {"message": ...} (else the body's text, else the status). */
static char *dkr__engine_message(const dkr__req_t *r) {
  char *msg = NULL;
  json_t *j = r->resp.len ? json_loadb(r->resp.data, r->resp.len, 0, NULL) : NULL;
  const char *m = json_string_value(json_object_get(j, "message"));
  if (m) {
    msg = strndup(m, DKR__ERRMSG_MAX);
  } else if (r->resp.len) {
    size_t n = r->resp.len < DKR__ERRMSG_MAX ? r->resp.len : DKR__ERRMSG_MAX;
    while (n && (r->resp.data[n - 1] == '\n' || r->resp.data[n - 1] == '\r'))
      n--;
    msg = strndup(r->resp.data, n);
  } else if (asprintf(&msg, "HTTP %ld", r->status) < 0) {
    msg = NULL;
  }
  json_decref(j);
  return msg;
}

static void dkr__set_err(char **err, char *msg) {
  if (err) {
    free(*err);
    *err = msg;
  } else {
    free(msg);
  }
}

static void dkr__set_errf(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void dkr__set_errf(char **err, const char *fmt, ...) {
  char *msg = NULL;
  va_list ap;
  if (!err)
    return;
  va_start(ap, fmt);
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  va_end(ap);
  dkr__set_err(err, msg);
}

static double dkr__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Runs one request. Returns 0 for 2xx and 304, ACTOR_ENOTFOUND for 404,
 * ACTOR_EDOCKER for other statuses (the engine's message in *err),
 * ACTOR_ECONN / ACTOR_ETIMEDOUT / ACTOR_ETOOBIG / ACTOR_ENOMEM otherwise.
 * r->status and r->resp are set either way; the caller frees r->resp. */
static int dkr__request(dkr_t *d, dkr__req_t *r, char **err) {
  char errbuf[CURL_ERROR_SIZE] = "";
  char *url = NULL, *body = NULL;
  struct curl_slist *hdrs = NULL;
  int rc = ACTOR_ENOMEM;
  double t0 = dkr__now_ms();

  r->status = 0;
  r->resp.max = DKR__RESPONSE_MAX;
  if (asprintf(&url, "%s%s", d->base, r->path) < 0) {
    url = NULL;
    goto cleanup;
  }
  if (!(r->curl = curl_easy_init()))
    goto cleanup;
  CURL *c = r->curl;
  curl_easy_setopt(c, CURLOPT_URL, url);
  if (d->unix_path)
    curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, d->unix_path);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, DKR__CONNECT_TIMEOUT_MS);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, dkr__write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
  if (!(hdrs = curl_slist_append(hdrs, "Expect:")))
    goto cleanup;
  if (strcmp(r->method, "POST") == 0) {
    if (r->body) {
      if (!(body = json_dumps(r->body, JSON_COMPACT)))
        goto cleanup;
      struct curl_slist *h = curl_slist_append(hdrs, "Content-Type: application/json");
      if (!h)
        goto cleanup;
      hdrs = h;
    }
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, body ? (long)strlen(body) : 0L);
  } else if (strcmp(r->method, "GET") != 0) {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r->method);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

  CURLcode cc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
  if (cc == CURLE_WRITE_ERROR && r->stopped && *r->stopped) {
    cc = CURLE_OK; /* the sink had all it wanted */
  }
  if (cc != CURLE_OK) {
    if (cc == CURLE_OPERATION_TIMEDOUT) {
      rc = ACTOR_ETIMEDOUT;
      dkr__set_errf(err, "%s %s: timed out after %ld ms", r->method, r->path, r->timeout_ms);
    } else if (cc == CURLE_WRITE_ERROR && r->resp.nomem) {
      rc = ACTOR_ENOMEM;
    } else if (cc == CURLE_WRITE_ERROR && r->resp.truncated) {
      rc = ACTOR_ETOOBIG;
      dkr__set_errf(err, "%s %s: response over %u bytes", r->method, r->path, DKR__RESPONSE_MAX);
    } else if (cc == CURLE_WRITE_ERROR) {
      rc = ACTOR_ENOMEM; /* a sink only fails for memory */
    } else {
      rc = ACTOR_ECONN;
      dkr__set_errf(err, "Docker engine at %s: %s", d->dd,
                    *errbuf ? errbuf : curl_easy_strerror(cc));
    }
  } else if ((r->status >= 200 && r->status < 300) || r->status == 304) {
    rc = 0;
  } else {
    rc = r->status == 404 ? ACTOR_ENOTFOUND : ACTOR_EDOCKER;
    dkr__set_err(err, dkr__engine_message(r));
  }
  LOG_DEBUG(DKR__MODULE, "%s %s -> %ld (%s, %.1f ms)", r->method, r->path, r->status,
            actor_strerror(rc), dkr__now_ms() - t0);

cleanup:
  if (r->curl)
    curl_easy_cleanup(r->curl);
  r->curl = NULL;
  curl_slist_free_all(hdrs);
  free(body);
  free(url);
  return rc;
}

/* A request whose 2xx answer is a JSON value; *out gets a new reference. */
static int dkr__request_json(dkr_t *d, dkr__req_t *r, json_t **out, char **err) {
  *out = NULL;
  int rc = dkr__request(d, r, err);
  if (rc == 0) {
    json_error_t je;
    *out = json_loadb(r->resp.data ? r->resp.data : "", r->resp.len, 0, &je);
    if (!*out) {
      rc = ACTOR_EPROTO;
      dkr__set_errf(err, "%s %s: bad JSON from the engine: %s", r->method, r->path, je.text);
    }
  }
  dkr_buf_free(&r->resp);
  return rc;
}

/* A request whose answer body does not matter. */
static int dkr__request_void(dkr_t *d, dkr__req_t *r, char **err) {
  int rc = dkr__request(d, r, err);
  dkr_buf_free(&r->resp);
  return rc;
}

static void dkr__clear_err(char **err) {
  if (err)
    *err = NULL;
}

/* GET <prefix><escaped name><suffix> below the API root for a JSON answer;
 * *out gets a new reference. */
static int dkr__get_json(dkr_t *d, const char *prefix, const char *name, const char *suffix,
                         json_t **out, char **err) {
  dkr__clear_err(err);
  *out = NULL;
  if (!dkr__name_ok(name))
    return ACTOR_EINVAL;
  char *path = dkr__path(prefix, name, suffix);
  if (!path)
    return ACTOR_ENOMEM;
  dkr__req_t r = {.method = "GET", .path = path, .timeout_ms = DKR__CALL_TIMEOUT_MS};
  int rc = dkr__request_json(d, &r, out, err);
  free(path);
  return rc;
}

/* ---- the calls ---- */

int dkr_ping(dkr_t *d, char **err) {
  dkr__clear_err(err);
  dkr__req_t r = {.method = "GET", .path = "/_ping", .timeout_ms = DKR__CALL_TIMEOUT_MS};
  return dkr__request_void(d, &r, err);
}

int dkr_image_inspect(dkr_t *d, const char *image, json_t **out, char **err) {
  return dkr__get_json(d, "/images/", image, "/json", out, err);
}

int dkr_network_inspect(dkr_t *d, const char *network, json_t **out, char **err) {
  return dkr__get_json(d, "/networks/", network, "", out, err);
}

int dkr_container_create(dkr_t *d, const char *name, const json_t *spec, char **id,
                         char **err) {
  dkr__clear_err(err);
  *id = NULL;
  if (!json_is_object(spec) || (name && !dkr__name_ok(name)))
    return ACTOR_EINVAL;
  char *path = NULL, *esc = NULL;
  json_t *res = NULL;
  int rc = ACTOR_ENOMEM;
  if (name) {
    if (!(esc = dkr__escape(name)))
      goto cleanup;
    if (asprintf(&path, DKR__API "/containers/create?name=%s", esc) < 0) {
      path = NULL;
      goto cleanup;
    }
  } else if (!(path = strdup(DKR__API "/containers/create"))) {
    goto cleanup;
  }
  dkr__req_t r = {
      .method = "POST", .path = path, .body = spec, .timeout_ms = DKR__CALL_TIMEOUT_MS};
  rc = dkr__request_json(d, &r, &res, err);
  if (rc == ACTOR_EDOCKER && r.status == 409) {
    rc = ACTOR_EEXIST; /* the name is taken */
  } else if (rc == 0) {
    const char *s = json_string_value(json_object_get(res, "Id"));
    if (!s) {
      rc = ACTOR_EPROTO;
      dkr__set_errf(err, "container create: no Id in the engine's answer");
    } else if (!(*id = strdup(s))) {
      rc = ACTOR_ENOMEM;
    }
  }
cleanup:
  json_decref(res);
  free(esc);
  free(path);
  return rc;
}

/* POST/GET/DELETE on /containers/{id}<suffix> with an ignored answer. */
static int dkr__container_call(dkr_t *d, const char *method, const char *id, const char *suffix,
                               long timeout_ms, int *status, char **err) {
  dkr__clear_err(err);
  if (!dkr__name_ok(id))
    return ACTOR_EINVAL;
  char *path = dkr__path("/containers/", id, suffix);
  if (!path)
    return ACTOR_ENOMEM;
  dkr__req_t r = {.method = method, .path = path, .timeout_ms = timeout_ms};
  int rc = dkr__request_void(d, &r, err);
  if (status)
    *status = (int)r.status;
  free(path);
  return rc;
}

int dkr_container_start(dkr_t *d, const char *id, char **err) {
  /* 304: already started, fine. */
  return dkr__container_call(d, "POST", id, "/start", DKR__CALL_TIMEOUT_MS, NULL, err);
}

int dkr_container_wait(dkr_t *d, const char *id, long timeout_ms, int64_t *status_code,
                       char **err) {
  dkr__clear_err(err);
  *status_code = -1;
  if (!dkr__name_ok(id))
    return ACTOR_EINVAL;
  char *path = dkr__path("/containers/", id, "/wait");
  if (!path)
    return ACTOR_ENOMEM;
  json_t *res = NULL;
  dkr__req_t r = {.method = "POST", .path = path, .timeout_ms = timeout_ms > 0 ? timeout_ms : 0};
  int rc = dkr__request_json(d, &r, &res, err);
  if (rc == 0) {
    const json_t *code = json_object_get(res, "StatusCode");
    const char *emsg = json_string_value(json_object_get(json_object_get(res, "Error"), "Message"));
    if (!json_is_integer(code)) {
      rc = ACTOR_EPROTO;
      dkr__set_errf(err, "container wait: no StatusCode in the engine's answer");
    } else {
      *status_code = (int64_t)json_integer_value(code);
      if (emsg && *emsg) {
        rc = ACTOR_EDOCKER;
        dkr__set_err(err, strndup(emsg, DKR__ERRMSG_MAX));
      }
    }
  }
  json_decref(res);
  free(path);
  return rc;
}

typedef struct {
  dkr_buf_t out;
  dkr_buf_t carry; /* unconsumed bytes: a partial frame */
  int framing_known;
  int stopped;
} dkr__logs_t;

/* Feeds carry through the demultiplexer; sets stopped once the output is
 * full, so the rest of the stream need not be read. */
static void dkr__logs_feed(dkr__logs_t *l) {
  if (!l->framing_known) {
    if (l->carry.len < 8)
      return;
    l->out.raw = !dkr__header_ok((const unsigned char *)l->carry.data);
    l->framing_known = 1;
  }
  size_t used = dkr_demux((const unsigned char *)l->carry.data, l->carry.len, &l->out);
  memmove(l->carry.data, l->carry.data + used, l->carry.len - used);
  l->carry.len -= used;
  if (l->carry.data)
    l->carry.data[l->carry.len] = '\0';
  if (l->out.max > 0 && !l->out.truncated && l->carry.len >= 8) {
    /* A pending frame bigger than the room left: keep what fits now
     * instead of buffering the whole frame. */
    size_t room = l->out.len < l->out.max ? l->out.max - l->out.len : 0;
    size_t flen = dkr__frame_len((const unsigned char *)l->carry.data);
    if (flen > room && l->carry.len - 8 >= room) {
      dkr__buf_append(&l->out, l->carry.data + 8, l->carry.len - 8);
      l->carry.len = 0;
    }
  }
  if (l->out.truncated)
    l->stopped = 1;
}

static size_t dkr__logs_sink(const char *p, size_t n, void *ctx) {
  dkr__logs_t *l = ctx;
  if (l->stopped)
    return 0;
  dkr__buf_append(&l->carry, p, n);
  if (l->carry.nomem)
    return 0;
  dkr__logs_feed(l);
  if (l->out.nomem)
    return 0;
  return l->stopped ? 0 : n;
}

int dkr_container_logs(dkr_t *d, const char *id, size_t max, char **out, size_t *len,
                       int *truncated, char **err) {
  dkr__clear_err(err);
  *out = NULL;
  *len = 0;
  if (truncated)
    *truncated = 0;
  if (!dkr__name_ok(id))
    return ACTOR_EINVAL;
  char *path = dkr__path("/containers/", id, "/logs?stdout=1&stderr=1");
  if (!path)
    return ACTOR_ENOMEM;
  dkr__logs_t l = {.out = {.max = max}};
  dkr__req_t r = {.method = "GET",
                  .path = path,
                  .timeout_ms = DKR__CALL_TIMEOUT_MS,
                  .sink = dkr__logs_sink,
                  .sink_ctx = &l,
                  .stopped = &l.stopped};
  int rc = dkr__request_void(d, &r, err);
  if (rc == 0 && !l.stopped && l.carry.len > 0) {
    /* The stream ended inside a frame (or was too short to tell framed
     * from raw): keep what came. */
    if (!l.framing_known)
      dkr__buf_append(&l.out, l.carry.data, l.carry.len);
    else if (!l.out.raw && l.carry.len > 8)
      dkr__buf_append(&l.out, l.carry.data + 8, l.carry.len - 8);
  }
  if (rc == 0 && !l.out.data)
    dkr__buf_append(&l.out, "", 0); /* an empty log is "", not NULL */
  if (rc == 0 && (l.out.nomem || l.carry.nomem))
    rc = ACTOR_ENOMEM;
  if (rc == 0) {
    *out = l.out.data;
    *len = l.out.len;
    if (truncated)
      *truncated = l.out.truncated;
    l.out.data = NULL;
  }
  dkr_buf_free(&l.out);
  dkr_buf_free(&l.carry);
  free(path);
  return rc;
}

int dkr_container_inspect(dkr_t *d, const char *id, json_t **out, char **err) {
  return dkr__get_json(d, "/containers/", id, "/json", out, err);
}

int dkr_container_stats(dkr_t *d, const char *id, json_t **out, char **err) {
  /* one-shot (API 1.41): no second sample a second later; the totals need
   * none. */
  return dkr__get_json(d, "/containers/", id, "/stats?stream=false&one-shot=true", out, err);
}

int dkr_container_kill(dkr_t *d, const char *id, const char *signal, char **err) {
  char *suffix = NULL, *esc = NULL;
  int rc;
  dkr__clear_err(err);
  if (signal) {
    if (!*signal)
      return ACTOR_EINVAL;
    if (!(esc = dkr__escape(signal)) || asprintf(&suffix, "/kill?signal=%s", esc) < 0) {
      free(esc);
      return ACTOR_ENOMEM;
    }
  }
  rc = dkr__container_call(d, "POST", id, suffix ? suffix : "/kill", DKR__CALL_TIMEOUT_MS, NULL,
                           err);
  free(suffix);
  free(esc);
  return rc;
}

int dkr_container_remove(dkr_t *d, const char *id, char **err) {
  char *msg = NULL;
  int status = 0;
  int rc = dkr__container_call(d, "DELETE", id, "?force=1&v=1", DKR__CALL_TIMEOUT_MS, &status,
                               &msg);
  if (rc == ACTOR_ENOTFOUND ||
      (rc == ACTOR_EDOCKER && status == 409 && msg && strstr(msg, "already in progress"))) {
    /* Gone, or going: either way nothing is left to do. */
    rc = 0;
  }
  if (rc == 0) {
    free(msg);
    msg = NULL;
  }
  dkr__clear_err(err);
  dkr__set_err(err, msg);
  return rc;
}

int dkr_container_list(dkr_t *d, const char *filters, int all, json_t **out, char **err) {
  dkr__clear_err(err);
  *out = NULL;
  char *path = NULL, *esc = NULL;
  int rc = ACTOR_ENOMEM;
  if (filters && !(esc = dkr__escape(filters)))
    goto cleanup;
  if (asprintf(&path, DKR__API "/containers/json?all=%d%s%s", all ? 1 : 0,
               esc ? "&filters=" : "", esc ? esc : "") < 0) {
    path = NULL;
    goto cleanup;
  }
  dkr__req_t r = {.method = "GET", .path = path, .timeout_ms = DKR__CALL_TIMEOUT_MS};
  rc = dkr__request_json(d, &r, out, err);
  if (rc == 0 && !json_is_array(*out)) {
    json_decref(*out);
    *out = NULL;
    rc = ACTOR_EPROTO;
    dkr__set_errf(err, "container list: not an array");
  }
cleanup:
  free(esc);
  free(path);
  return rc;
}

/* ---- export (the OCI runtime's image cache) ---- */

typedef struct {
  int fd;
  int failed; /* errno of a failed write */
} dkr__export_t;

static size_t dkr__export_sink(const char *p, size_t n, void *ctx) {
  dkr__export_t *e = ctx;
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(e->fd, p + done, n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      e->failed = w < 0 ? errno : EIO;
      return 0;
    }
    done += (size_t)w;
  }
  return n;
}

int dkr_container_export(dkr_t *d, const char *id, int fd, char **err) {
  dkr__clear_err(err);
  if (!dkr__name_ok(id) || fd < 0)
    return ACTOR_EINVAL;
  char *path = dkr__path("/containers/", id, "/export");
  if (!path)
    return ACTOR_ENOMEM;
  dkr__export_t e = {.fd = fd};
  dkr__req_t r = {.method = "GET", .path = path, .timeout_ms = 0,
                  .sink = dkr__export_sink, .sink_ctx = &e};
  int rc = dkr__request_void(d, &r, err);
  if (rc != 0 && e.failed) {
    rc = ACTOR_EIO;
    dkr__set_errf(err, "GET %s: writing the archive: %s", path, strerror(e.failed));
  }
  free(path);
  return rc;
}

int dkr_network_create(dkr_t *d, const json_t *body, char **err) {
  dkr__clear_err(err);
  dkr__req_t r = {.method = "POST", .path = DKR__API "/networks/create", .body = body,
                  .timeout_ms = DKR__CALL_TIMEOUT_MS};
  return dkr__request_void(d, &r, err);
}
