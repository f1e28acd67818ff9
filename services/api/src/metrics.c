/* GET /metrics: the api's counters and the platform's live figures in the
 * Prometheus text exposition format 0.0.4, plus the hooks that feed them.
 *
 * Design note: two kinds of series.
 *  - Counters of this process (HTTP requests and latency, channel publishes
 *    and consumes, store errors, autoscaler and cron): C11 atomics for the
 *    fixed ones and a small mutex-guarded table for the labelled HTTP
 *    series, bounded by construction (route patterns x methods x codes,
 *    never raw paths) and capped at HTTP_SERIES_MAX. Rendered fresh on
 *    every scrape; per process, as Prometheus expects (sum() them).
 *  - Figures read from the stores: workers and actors by status (the
 *    counters kept on every record write, model_index.c: two HGETALLs of a
 *    few fields, whatever the number of records), mailbox lengths of the
 *    actors of the autoscaler's index (those with a worker or waiting
 *    messages; one AMQP round trip each, at most SCRAPE_MAX_ACTORS), and
 *    the execution totals and runtime histogram, which are cluster-wide
 *    Redis hashes every process adds to (so each api shows the same value:
 *    aggregate them with max(), not sum()). A scrape refreshes them at
 *    most once per SCRAPE_CACHE_MS; concurrent scrapes wait for the one
 *    refresh and share it.
 *
 * Redis layout of the execution figures (writers: the api for SUBMITTED
 * and the ERRORs it decides; the worker and health agent for the rest):
 *   abaco:metrics:executions         hash  <status> -> count (HINCRBY 1)
 *   abaco:metrics:execution_runtime  hash  "<le>" -> count of finished
 *       executions with runtime <= le seconds, for each le of
 *       RUNTIME_BUCKETS and "+Inf" (cumulative, as exposed), "count",
 *       and "sum" (seconds, HINCRBYFLOAT).
 *
 * The cloud side (docs/cloud.md "Metrics"): instances by state are
 * counted over the records of this api's [cloud] tag (the tag index, at
 * most SCRAPE_MAX_INSTANCES), and the AWS and reconciler figures are the
 * cluster-wide hashes the launcher and updater add to:
 *   abaco:metrics:aws_calls   "<op>|<outcome>" -> count, "throttles" -> count
 *   abaco:metrics:reconcile   duration_ms, objects (the last pass), passes */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "actor/execstats.h"
#include "actor/json.h"
#include "actor/log.h"
#include "actor/model.h"
#include "actor/store_kv.h"
#include "actor/timefmt.h"
#include "api.h"
#include "cloud_api.h"

#define SCRAPE_CACHE_MS 1000
#define SCRAPE_MAX_ACTORS 500
#define SCRAPE_MAX_INSTANCES 5000
#define HTTP_SERIES_MAX 512
#define HTTP_LATENCY_MAX 128

#define STR_(x) #x
#define STR(x) STR_(x)

#define MAILBOX_HELP                                                                               \
  "Messages waiting in an actor's mailbox (actors with workers or messages, at most " STR(         \
      SCRAPE_MAX_ACTORS) " of them)."

#define KEY_EXECUTIONS ACTOR_METRICS_EXECUTIONS
#define KEY_RUNTIME ACTOR_METRICS_RUNTIME

static const double LATENCY_BUCKETS[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                         0.5,   1,    2.5,   5,    10,  30};
#define NLATENCY (sizeof(LATENCY_BUCKETS) / sizeof(LATENCY_BUCKETS[0]))
/* As the writers name the fields of KEY_RUNTIME. */
#define RUNTIME_BUCKETS ACTOR_RUNTIME_BUCKETS

static const char *const METHODS[] = {"GET",     "POST", "PUT",   "DELETE",
                                      "OPTIONS", "HEAD", "PATCH", NULL};
static const char *const CHANNELS[] = {"mailbox", "command", "worker", "results", "other", NULL};
#define NCHANNELS 5
static const char *const STORES[] = {"redis", "mongo", "rabbitmq", "other", NULL};
#define NSTORES 4
static const char *const WORKER_STATUSES[] = {WORKER_REQUESTED,
                                              WORKER_SPAWNER_SETUP,
                                              WORKER_PULLING_IMAGE,
                                              WORKER_CREATING_CONTAINER,
                                              WORKER_UPDATING_STORE,
                                              WORKER_READY,
                                              WORKER_BUSY,
                                              WORKER_SHUTDOWN_REQUESTED,
                                              WORKER_SHUTTING_DOWN,
                                              WORKER_ERROR,
                                              NULL};
static const char *const ACTOR_STATUSES[] = {ACTOR_SUBMITTED, ACTOR_READY, ACTOR_ERROR,
                                             ACTOR_SHUTTING_DOWN, NULL};
static const char *const EXEC_STATUSES[] = {EXEC_SUBMITTED, EXEC_RUNNING, EXEC_COMPLETE, EXEC_ERROR,
                                            NULL};

typedef struct {
  char method[8];
  char route[64];
  int code;
  uint64_t count;
} http_series_t;

typedef struct {
  char method[8];
  char route[64];
  uint64_t buckets[NLATENCY]; /* not cumulative here; summed when rendered */
  uint64_t count, sum_us;
} http_latency_t;

struct api_metrics_s {
  pthread_mutex_t http_lock;
  http_series_t http[HTTP_SERIES_MAX];
  size_t nhttp;
  http_latency_t latency[HTTP_LATENCY_MAX];
  size_t nlatency;
  bool http_full_logged;
  atomic_ullong published[NCHANNELS], publish_errors[NCHANNELS], consumed[NCHANNELS];
  atomic_ullong store_errors[NSTORES];
  atomic_ullong counts[API_COUNT_MAX];
  pthread_mutex_t cache_lock;
  char *cache; /* the store-derived part, rendered */
  size_t cache_len;
  int64_t cache_at; /* monotonic ms; 0 = never */
};

int api_metrics_new(api_metrics_t **out) {
  api_metrics_t *m = calloc(1, sizeof(*m));
  if (m == NULL)
    return ACTOR_ENOMEM;
  pthread_mutex_init(&m->http_lock, NULL);
  pthread_mutex_init(&m->cache_lock, NULL);
  for (int i = 0; i < NCHANNELS; i++) {
    atomic_init(&m->published[i], 0);
    atomic_init(&m->publish_errors[i], 0);
    atomic_init(&m->consumed[i], 0);
  }
  for (int i = 0; i < NSTORES; i++)
    atomic_init(&m->store_errors[i], 0);
  for (int i = 0; i < API_COUNT_MAX; i++)
    atomic_init(&m->counts[i], 0);
  *out = m;
  return 0;
}

void api_metrics_free(api_metrics_t *m) {
  if (m == NULL)
    return;
  pthread_mutex_destroy(&m->http_lock);
  pthread_mutex_destroy(&m->cache_lock);
  free(m->cache);
  free(m);
}

/* Index of s in a NULL-terminated list whose last entry is the catch-all. */
static int index_of(const char *const *list, const char *s) {
  int i = 0;
  for (; list[i + 1]; i++)
    if (s && strcmp(list[i], s) == 0)
      return i;
  return i;
}

static const char *method_label(const char *method) {
  for (int i = 0; METHODS[i]; i++)
    if (method && strcmp(METHODS[i], method) == 0)
      return METHODS[i];
  return "other";
}

/* ---- hooks ---- */

void api_metrics_http(api_metrics_t *m, const char *method, const char *route, int status,
                      int64_t usec) {
  if (m == NULL)
    return;
  const char *meth = method_label(method);
  if (route == NULL)
    route = "unmatched";
  if (usec < 0)
    usec = 0;
  pthread_mutex_lock(&m->http_lock);
  http_series_t *s = NULL;
  for (size_t i = 0; i < m->nhttp && !s; i++)
    if (m->http[i].code == status && strcmp(m->http[i].route, route) == 0 &&
        strcmp(m->http[i].method, meth) == 0)
      s = &m->http[i];
  if (s == NULL && m->nhttp < HTTP_SERIES_MAX) {
    s = &m->http[m->nhttp++];
    snprintf(s->method, sizeof(s->method), "%s", meth);
    snprintf(s->route, sizeof(s->route), "%s", route);
    s->code = status;
  }
  http_latency_t *l = NULL;
  for (size_t i = 0; i < m->nlatency && !l; i++)
    if (strcmp(m->latency[i].route, route) == 0 && strcmp(m->latency[i].method, meth) == 0)
      l = &m->latency[i];
  if (l == NULL && m->nlatency < HTTP_LATENCY_MAX) {
    l = &m->latency[m->nlatency++];
    snprintf(l->method, sizeof(l->method), "%s", meth);
    snprintf(l->route, sizeof(l->route), "%s", route);
  }
  bool full = (s == NULL || l == NULL) && !m->http_full_logged;
  if (full)
    m->http_full_logged = true;
  if (s)
    s->count++;
  if (l) {
    double secs = (double)usec / 1e6;
    for (size_t i = 0; i < NLATENCY; i++)
      if (secs <= LATENCY_BUCKETS[i]) {
        l->buckets[i]++;
        break;
      }
    l->count++;
    l->sum_us += (uint64_t)usec;
  }
  pthread_mutex_unlock(&m->http_lock);
  if (full)
    LOG_WARN("api", "metrics: the HTTP series table is full; new series are not counted");
}

void api_metrics_store_error(api_metrics_t *m, const char *store) {
  if (m)
    atomic_fetch_add(&m->store_errors[index_of(STORES, store)], 1);
}

void api_metrics_count(api_metrics_t *m, api_count_t which, long n) {
  if (m && which >= 0 && which < API_COUNT_MAX && n > 0)
    atomic_fetch_add(&m->counts[which], (unsigned long long)n);
}

/* Counting SUBMITTED executions is one HINCRBY per message if done on the
 * request path. It is a metric, not part of what the 200 promises (the
 * execution record and the mailbox message are): a send only adds itself
 * to a pending count, which the api's metrics ticker (every
 * API_METRICS_FLUSH_MS, main.c) writes with one HINCRBY, as /metrics does
 * before reading the counters and the api once more when it stops. A
 * write that fails is added back and tried again at the next flush. */
static atomic_llong submitted_pending;

void api_metrics_flush_submitted(api_ctx_t *c) {
  long long n = atomic_exchange(&submitted_pending, 0);
  if (n <= 0)
    return;
  if (store_counter_add(c->redis, ACTOR_METRICS_EXECUTIONS, EXEC_SUBMITTED, n, NULL) != 0) {
    atomic_fetch_add(&submitted_pending, n);
    api_metrics_store_error(c->metrics, "redis");
    LOG_DEBUG("api", "metrics: could not count %lld execution(s) SUBMITTED; tried again later", n);
  }
}

void api_metrics_execution(api_ctx_t *c, const char *status) {
  if (strcmp(status, EXEC_SUBMITTED) == 0) {
    atomic_fetch_add(&submitted_pending, 1);
    return;
  }
  if (actor_execstats_status(c->redis, status) != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_DEBUG("api", "metrics: could not count an execution %s", status);
  }
}

int api_publish(api_ctx_t *c, const char *kind, const char *queue, const void *body, size_t len,
                const chan_props_t *props, int timeout_ms) {
  return api_publish_to(c, kind, queue, NULL, body, len, props, timeout_ms);
}

int api_publish_to(api_ctx_t *c, const char *kind, const char *queue, const chan_queue_opts_t *qo,
                   const void *body, size_t len, const chan_props_t *props, int timeout_ms) {
  int rc = chan_client_publish_to(c->chan, queue, qo, body, len, props, timeout_ms);
  if (c->metrics) {
    int k = index_of(CHANNELS, kind);
    atomic_fetch_add(rc == 0 ? &c->metrics->published[k] : &c->metrics->publish_errors[k], 1);
  }
  return rc;
}

int api_publish_grouped(api_ctx_t *c, const char *kind, const char *queue,
                        const chan_queue_opts_t *qo, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms) {
  int rc = chan_client_publish_group(c->chan, queue, qo, body, len, props, timeout_ms);
  if (c->metrics) {
    int k = index_of(CHANNELS, kind);
    atomic_fetch_add(rc == 0 ? &c->metrics->published[k] : &c->metrics->publish_errors[k], 1);
  }
  return rc;
}

int api_consume(api_ctx_t *c, const char *kind, const char *queue, char **body, size_t *len) {
  int rc = chan_client_get(c->chan, queue, body, len);
  if (rc == 0 && c->metrics)
    atomic_fetch_add(&c->metrics->consumed[index_of(CHANNELS, kind)], 1);
  return rc;
}

/* ---- text output ---- */

static void buf_printf(actor_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(actor_buf_t *b, const char *fmt, ...) {
  char small[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(small, sizeof(small), fmt, ap);
  va_end(ap);
  if (n < 0)
    return;
  if ((size_t)n < sizeof(small)) {
    actor_buf_add(b, small, (size_t)n);
    return;
  }
  char *big = malloc((size_t)n + 1);
  if (big == NULL) {
    b->failed = true;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  actor_buf_add(b, big, (size_t)n);
  free(big);
}

/* A label value: backslash, double quote and newline escaped. */
static void buf_label(actor_buf_t *b, const char *v) {
  for (const char *s = v ? v : ""; *s; s++) {
    if (*s == '\\')
      actor_buf_add(b, "\\\\", 2);
    else if (*s == '"')
      actor_buf_add(b, "\\\"", 2);
    else if (*s == '\n')
      actor_buf_add(b, "\\n", 2);
    else
      actor_buf_add(b, s, 1);
  }
}

static void family(actor_buf_t *b, const char *name, const char *type, const char *help) {
  buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} n */
static void sample1(actor_buf_t *b, const char *name, const char *label, const char *value,
                    unsigned long long n) {
  buf_printf(b, "%s{%s=\"", name, label);
  buf_label(b, value);
  buf_printf(b, "\"} %llu\n", n);
}

/* ---- the store-derived part ---- */

/* A status read by model_actor_field_many: the string, or NULL. */
static const char *status_of(const json_t *statuses, size_t i) {
  return json_string_value(json_array_get(statuses, i));
}

static void tally(json_t *counts, const char *status) {
  if (status == NULL)
    return;
  json_t *n = json_object_get(counts, status);
  json_object_set_new(counts, status, json_integer(n ? json_integer_value(n) + 1 : 1));
}

static json_t *zero_counts(const char *const *statuses) {
  json_t *o = json_object();
  for (int i = 0; o && statuses[i]; i++)
    json_object_set_new(o, statuses[i], json_integer(0));
  return o;
}

static void render_counts(actor_buf_t *b, const char *name, const char *label,
                          const json_t *counts) {
  const char *k;
  json_t *v;
  json_object_foreach((json_t *)counts, k, v)
      sample1(b, name, label, k, (unsigned long long)json_integer_value(v));
}

/* Up to SCRAPE_MAX_ACTORS ids of the autoscaler's index (model.h
 * MODEL_KEY_AUTOSCALE: every actor with a worker or waiting messages; an
 * actor outside it has an empty mailbox), SSCAN from the start. */
static int scan_active(api_ctx_t *c, json_t **out) {
  unsigned long long cursor = 0;
  json_t *ids = json_array();
  if (ids == NULL)
    return ACTOR_ENOMEM;
  int rc = 0;
  do {
    json_t *page = NULL;
    rc = store_set_scan_count(c->redis, MODEL_KEY_AUTOSCALE, &cursor, SCRAPE_MAX_ACTORS, &page);
    for (size_t i = 0; rc == 0 && i < json_array_size(page) &&
                       json_array_size(ids) < SCRAPE_MAX_ACTORS;
         i++)
      json_array_append(ids, json_array_get(page, i));
    json_decref(page);
  } while (rc == 0 && cursor != 0 && json_array_size(ids) < SCRAPE_MAX_ACTORS);
  if (rc != 0) {
    json_decref(ids);
    return rc;
  }
  *out = ids;
  return 0;
}

/* The counters kept on writes (model_index.c) into counts (status -> n). */
static int index_counts(store_redis_t *rs, bool workers, json_t *counts) {
  json_t *h = NULL;
  int rc = model_index_counts(rs, workers, &h);
  const char *k;
  json_t *v;
  json_object_foreach(h, k, v) {
    long long n = strtoll(json_string_value(v) ? json_string_value(v) : "0", NULL, 10);
    if (n > 0 || json_object_get(counts, k)) /* a status none is in any more: not shown */
      json_object_set_new(counts, k, json_integer(n > 0 ? n : 0));
  }
  json_decref(h);
  return rc;
}

/* Actors and workers by status from the counters kept on writes (two
 * round trips, whatever the number of records); the ids of the actors
 * whose mailbox is worth a look (of the autoscaler's index, not being
 * deleted) go to mailboxes (one pipelined round trip). */
static int status_counts(api_ctx_t *c, json_t *actors, json_t *workers, json_t *mailboxes) {
  store_redis_t *rs = c->redis;
  int rc = index_counts(rs, false, actors);
  if (rc == 0)
    rc = index_counts(rs, true, workers);
  json_t *ids = NULL, *st = NULL;
  if (rc == 0)
    rc = scan_active(c, &ids);
  if (rc == 0)
    rc = model_actor_field_many(rs, ids, "status", &st);
  size_t n = json_array_size(ids);
  for (size_t i = 0; rc == 0 && i < n; i++) {
    const char *status = status_of(st, i);
    /* a mailbox is reported for actors that may have one */
    if (status && strcmp(status, ACTOR_SHUTTING_DOWN) != 0)
      json_array_append(mailboxes, json_array_get(ids, i));
  }
  json_decref(st);
  json_decref(ids);
  return rc;
}

static void render_mailboxes(api_ctx_t *c, actor_buf_t *b, const json_t *ids) {
  family(b, "abaco_actor_mailbox_messages", "gauge", MAILBOX_HELP);
  size_t i;
  json_t *id;
  json_array_foreach(ids, i, id) {
    const char *db = json_string_value(id);
    const char *aid = model_db_id_actor(db); /* "<TENANT>_<id>": split at the last '_' */
    if (aid == db)
      continue;
    char q[CHAN_NAME_MAX], tenant[MODEL_KEY_MAX];
    chan_name_mailbox(db, q);
    long n = 0;
    int rc = chan_client_queue_len(c->chan, q, &n);
    if (rc != 0) {
      api_metrics_store_error(c->metrics, "rabbitmq");
      LOG_WARN("api", "metrics: mailbox length of actor %s: %s", db, actor_strerror(rc));
      return;
    }
    snprintf(tenant, sizeof(tenant), "%.*s", (int)(aid - 1 - db), db);
    actor_buf_add(b, "abaco_actor_mailbox_messages{actor_id=\"", 39);
    buf_label(b, aid);
    actor_buf_add(b, "\",tenant=\"", 10);
    buf_label(b, tenant);
    buf_printf(b, "\"} %ld\n", n);
  }
}

/* A counter of a hash read with store_hash_get_all (0 when absent). */
static unsigned long long hash_count(const json_t *hash, const char *field) {
  const char *v = json_string_value(json_object_get(hash, field));
  return v ? strtoull(v, NULL, 10) : 0;
}

static void render_executions(api_ctx_t *c, actor_buf_t *b) {
  json_t *execs = NULL, *rt = NULL;
  api_metrics_flush_submitted(c); /* this api's sends so far are in the counter */
  int rc1 = store_hash_get_all(c->redis, KEY_EXECUTIONS, &execs);
  int rc2 = store_hash_get_all(c->redis, KEY_RUNTIME, &rt);
  if (rc1 != 0 || rc2 != 0)
    api_metrics_store_error(c->metrics, "redis");
  family(b, "abaco_executions_total", "counter",
         "Executions that reached each status, cluster-wide (kept in Redis: every api shows "
         "the same value).");
  json_t *counts = zero_counts(EXEC_STATUSES);
  const char *status;
  json_t *n;
  json_object_foreach(execs, status, n) {
    json_object_set_new(counts, status,
                        json_integer((json_int_t)strtoll(json_string_value(n), NULL, 10)));
  }
  if (execs) /* no zeros for what could not be read */
    render_counts(b, "abaco_executions_total", "status", counts);
  json_decref(counts);

  family(b, "abaco_execution_runtime_seconds", "histogram",
         "Runtime of finished executions, cluster-wide (kept in Redis).");
  if (rt == NULL) {
    json_decref(execs);
    return;
  }
  for (int i = 0; RUNTIME_BUCKETS[i]; i++)
    buf_printf(b, "abaco_execution_runtime_seconds_bucket{le=\"%s\"} %llu\n", RUNTIME_BUCKETS[i],
               hash_count(rt, RUNTIME_BUCKETS[i]));
  buf_printf(b, "abaco_execution_runtime_seconds_bucket{le=\"+Inf\"} %llu\n",
             hash_count(rt, "+Inf"));
  const char *sum = json_string_value(json_object_get(rt, "sum"));
  buf_printf(b, "abaco_execution_runtime_seconds_sum %.3f\n", strtod(sum ? sum : "0", NULL));
  buf_printf(b, "abaco_execution_runtime_seconds_count %llu\n", hash_count(rt, "count"));
  json_decref(execs);
  json_decref(rt);
}

/* The instance states, in their order of life (cloud.h). */
static const char *const INSTANCE_STATES[] = {"launching", "pending",       "running",
                                              "stopping",  "stopped",       "shutting-down",
                                              "terminated", "failed",       NULL};

static void render_cloud(api_ctx_t *c, actor_buf_t *b) {
  if (c->cloud == NULL)
    return;
  json_t *recs = NULL, *aws = NULL, *rec = NULL, *counts = zero_counts(INSTANCE_STATES);
  int rc = cloud_instances_of_tag(c->redis, c->cloud->s.tag, &recs);
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "metrics: cannot read the instances: %s", actor_strerror(rc));
  }
  family(b, "abaco_instances", "gauge",
         "Cloud instances of this api's [cloud] tag by state (at most " STR(
             SCRAPE_MAX_INSTANCES) " are counted).");
  size_t i;
  json_array_foreach(recs, i, rec) {
    if (i >= SCRAPE_MAX_INSTANCES)
      break;
    tally(counts, json_string_value(json_object_get(rec, "state")));
  }
  if (rc == 0)
    render_counts(b, "abaco_instances", "state", counts);
  json_decref(counts);
  json_decref(recs);

  int rc1 = store_hash_get_all(c->redis, "abaco:metrics:aws_calls", &aws);
  json_t *rec_h = NULL;
  int rc2 = store_hash_get_all(c->redis, "abaco:metrics:reconcile", &rec_h);
  if (rc1 != 0 || rc2 != 0)
    api_metrics_store_error(c->metrics, "redis");
  family(b, "abaco_aws_calls_total", "counter",
         "AWS calls of the launcher and updater by operation and outcome, cluster-wide (kept in "
         "Redis).");
  const char *k;
  json_t *v;
  json_object_foreach(aws, k, v) {
    const char *bar = strchr(k, '|');
    if (bar == NULL || bar - k > 64)
      continue;
    char op[80];
    snprintf(op, sizeof(op), "%.*s", (int)(bar - k), k);
    buf_printf(b, "abaco_aws_calls_total{op=\"");
    buf_label(b, op);
    buf_printf(b, "\",outcome=\"");
    buf_label(b, bar + 1);
    buf_printf(b, "\"} %llu\n", hash_count(aws, k));
  }
  family(b, "abaco_aws_throttles_total", "counter",
         "AWS calls answered with throttling (then retried), cluster-wide.");
  if (aws)
    buf_printf(b, "abaco_aws_throttles_total %llu\n", hash_count(aws, "throttles"));
  family(b, "abaco_reconcile_duration_seconds", "gauge",
         "Duration of the updater's last reconciling pass.");
  if (rec_h)
    buf_printf(b, "abaco_reconcile_duration_seconds %.3f\n",
               (double)hash_count(rec_h, "duration_ms") / 1000.0);
  family(b, "abaco_reconcile_objects", "gauge", "Objects the updater's last pass looked at.");
  if (rec_h)
    buf_printf(b, "abaco_reconcile_objects %llu\n", hash_count(rec_h, "objects"));
  family(b, "abaco_reconcile_passes_total", "counter", "Reconciling passes of the updaters.");
  if (rec_h)
    buf_printf(b, "abaco_reconcile_passes_total %llu\n", hash_count(rec_h, "passes"));
  json_decref(aws);
  json_decref(rec_h);
}

static void render_store_part(api_ctx_t *c, actor_buf_t *b) {
  json_t *actors = zero_counts(ACTOR_STATUSES), *workers = zero_counts(WORKER_STATUSES),
         *mailboxes = json_array();
  int rc = (actors && workers && mailboxes) ? status_counts(c, actors, workers, mailboxes)
                                            : ACTOR_ENOMEM;
  if (rc != 0) {
    api_metrics_store_error(c->metrics, "redis");
    LOG_WARN("api", "metrics: cannot read actors and workers: %s", actor_strerror(rc));
  }
  family(b, "abaco_actors", "gauge", "Actors by status.");
  if (rc == 0)
    render_counts(b, "abaco_actors", "status", actors);
  family(b, "abaco_workers", "gauge", "Workers by status.");
  if (rc == 0)
    render_counts(b, "abaco_workers", "status", workers);
  if (rc == 0)
    render_mailboxes(c, b, mailboxes);
  else
    family(b, "abaco_actor_mailbox_messages", "gauge", MAILBOX_HELP);
  render_executions(c, b);
  render_cloud(c, b);
  json_decref(actors);
  json_decref(workers);
  json_decref(mailboxes);
}

/* Appends the store-derived part, refreshed when older than SCRAPE_CACHE_MS. */
static void add_store_part(api_ctx_t *c, actor_buf_t *b) {
  api_metrics_t *m = c->metrics;
  pthread_mutex_lock(&m->cache_lock);
  int64_t now = actor_time_mono_ms();
  if (m->cache == NULL || now - m->cache_at >= SCRAPE_CACHE_MS) {
    actor_buf_t fresh = {0};
    render_store_part(c, &fresh);
    if (!fresh.failed && fresh.p) {
      free(m->cache);
      m->cache = fresh.p;
      m->cache_len = fresh.len;
      m->cache_at = actor_time_mono_ms();
    } else {
      free(fresh.p);
    }
  }
  if (m->cache)
    actor_buf_add(b, m->cache, m->cache_len);
  pthread_mutex_unlock(&m->cache_lock);
}

/* ---- this process's counters ---- */

static void render_http(api_metrics_t *m, actor_buf_t *b) {
  family(b, "abaco_http_requests_total", "counter",
         "HTTP requests answered by this api process, by method, route pattern and status "
         "code.");
  pthread_mutex_lock(&m->http_lock);
  for (size_t i = 0; i < m->nhttp; i++) {
    http_series_t *s = &m->http[i];
    buf_printf(b, "abaco_http_requests_total{method=\"%s\",route=\"", s->method);
    buf_label(b, s->route);
    buf_printf(b, "\",code=\"%d\"} %llu\n", s->code, (unsigned long long)s->count);
  }
  family(b, "abaco_http_request_duration_seconds", "histogram",
         "Time this api process took to handle an HTTP request (route, authentication, "
         "handler), by method and route pattern.");
  for (size_t i = 0; i < m->nlatency; i++) {
    http_latency_t *l = &m->latency[i];
    uint64_t cum = 0;
    for (size_t k = 0; k <= NLATENCY; k++) {
      buf_printf(b, "abaco_http_request_duration_seconds_bucket{method=\"%s\",route=\"", l->method);
      buf_label(b, l->route);
      if (k < NLATENCY) {
        cum += l->buckets[k];
        buf_printf(b, "\",le=\"%g\"} %llu\n", LATENCY_BUCKETS[k], (unsigned long long)cum);
      } else {
        buf_printf(b, "\",le=\"+Inf\"} %llu\n", (unsigned long long)l->count);
      }
    }
    for (int k = 0; k < 2; k++) {
      buf_printf(b, "abaco_http_request_duration_seconds_%s{method=\"%s\",route=\"",
                 k ? "count" : "sum", l->method);
      buf_label(b, l->route);
      if (k)
        buf_printf(b, "\"} %llu\n", (unsigned long long)l->count);
      else
        buf_printf(b, "\"} %.6f\n", (double)l->sum_us / 1e6);
    }
  }
  pthread_mutex_unlock(&m->http_lock);
}

static void render_atomics(actor_buf_t *b, const char *name, const char *help, const char *label,
                           const char *const *values, atomic_ullong *counts) {
  family(b, name, "counter", help);
  for (int i = 0; values[i]; i++)
    sample1(b, name, label, values[i], atomic_load(&counts[i]));
}

static void render_count(actor_buf_t *b, api_metrics_t *m, const char *name, api_count_t which,
                         const char *help) {
  family(b, name, "counter", help);
  buf_printf(b, "%s %llu\n", name, atomic_load(&m->counts[which]));
}

/* The plain counters of this process, in the order they are rendered. */
static const struct {
  const char *name;
  api_count_t which;
  const char *help;
} COUNTERS[] = {
    {"abaco_autoscaler_ticks_total", API_COUNT_AUTOSCALE_TICKS,
     "Autoscaler passes this api process made (holding the lease of a queue)."},
    {"abaco_autoscaler_workers_requested_total", API_COUNT_WORKERS_REQUESTED,
     "Workers the autoscaler of this api process requested."},
    {"abaco_autoscaler_workers_stopped_total", API_COUNT_WORKERS_STOPPED,
     "Idle workers the autoscaler of this api process stopped."},
    {"abaco_autoscaler_scale_up_deferred_total", API_COUNT_SCALE_UP_DEFERRED,
     "Scale-ups put off because the command queue was longer than max_cmd_length."},
    {"abaco_cron_ticks_total", API_COUNT_CRON_TICKS,
     "Cron passes this api process made (holding the lease of a queue)."},
    {"abaco_cron_executions_total", API_COUNT_CRON_EXECUTIONS,
     "Cron executions this api process sent."},
};

static void render_process_part(api_ctx_t *c, actor_buf_t *b) {
  api_metrics_t *m = c->metrics;
  render_http(m, b);
  render_atomics(b, "abaco_channel_messages_published_total",
                 "Messages this api process published with a broker confirm, by kind of "
                 "channel.",
                 "channel", CHANNELS, m->published);
  render_atomics(b, "abaco_channel_publish_errors_total",
                 "Publishes of this api process the broker did not confirm, by kind of channel.",
                 "channel", CHANNELS, m->publish_errors);
  render_atomics(b, "abaco_channel_messages_consumed_total",
                 "Messages this api process took off a queue, by kind of channel.", "channel",
                 CHANNELS, m->consumed);
  render_atomics(b, "abaco_store_errors_total",
                 "Store calls of this api process that failed, by store.", "store", STORES,
                 m->store_errors);
  for (size_t i = 0; i < sizeof(COUNTERS) / sizeof(COUNTERS[0]); i++)
    render_count(b, m, COUNTERS[i].name, COUNTERS[i].which, COUNTERS[i].help);
}

void api_metrics_get(api_req_t *r) {
  api_ctx_t *c = r->ctx;
  actor_buf_t b = {0};
  family(&b, "abaco_build_info", "gauge",
         "The api's version ([general] TAG) as a label; the value is always 1.");
  actor_buf_add(&b, "abaco_build_info{version=\"", 26);
  buf_label(&b, c->version);
  actor_buf_add(&b, "\"} 1\n", 5);
  add_store_part(c, &b);
  render_process_part(c, &b);
  if (b.failed || b.p == NULL) {
    free(b.p);
    static const char OOM[] = "out of memory\n";
    ahttp_respond(r->http, 500, "text/plain", OOM, sizeof(OOM) - 1);
    return;
  }
  ahttp_respond_owned(r->http, 200, "text/plain; version=0.0.4; charset=utf-8", b.p, b.len);
}
