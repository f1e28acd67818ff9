/* The api service: its shared context and the request pipeline.
 *
 * Every request runs api_dispatch() on libuv's thread pool:
 *   route match (router.c) -> OPTIONS/405 -> authenticate (auth.c) ->
 *   resolve {id} to an actor and check permission (auth.c) -> handler
 *   (routes_*.c) -> envelope and case conversion (respond.c).
 * Handlers are synchronous: they read and write the stores directly.
 * GET /metrics and the progress routes of cloud instances are open: no
 * user authentication (/metrics has no envelope either; a progress report
 * carries its instance's token instead, progress.c).
 *
 * Besides requests, two periodic jobs run on the same thread pool, each
 * one tick at a time (jobs.c): the autoscaler (autoscaler.c) and the
 * cron tick (cron_tick.c). Both act only on actors of this api's
 * [spawner] host_queues and take a Redis lease per queue (jobs.c), so
 * several api processes serving a queue take turns instead of racing. */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/auth.h"
#include "actor/config.h"
#include "actor/http.h"
#include "actor/ids.h"
#include "actor/store.h"
#include "bounds.h"
#include "channels/chan.h"
#include "channels/proto/name.h"

typedef struct {
  const actor_config_t *cfg;
  store_redis_t *redis;
  store_mongo_t *mongo;
  store_batch_t *exec_batch; /* group commit of new executions (store.h) */
  chan_client_t *chan;
  const char *version;        /* [general] TAG */
  bool camel;                 /* [web] case = camel */
  bool show_traceback;
  const char *access_control; /* "none", "jwt" or "plugin" */
  char tenant_name[ACTOR_AUTH_TENANT_MAX]; /* [web] tenant_name, upper-cased */
  const char *host_queues;    /* [spawner] host_queues */
  long init_count;
  long max_log_length;
  long max_content_length;     /* [web] max_content_length: most bytes of a binary message */
  long max_body_size;          /* [web] max_body_size: most bytes of any other body */
  long max_run_time;           /* [workers] max_run_time, seconds (0 = none) */
  long sync_max_idle_time;     /* [workers] sync_max_idle_time, seconds */
  atomic_int sync_waits;       /* synchronous messages being waited for (sync.c) */
  struct api_metrics_s *metrics; /* counters behind GET /metrics (metrics.c) */
  bool autoscaling;            /* [workers] autoscaling */
  long autoscale_interval;     /* [workers] autoscale_interval, seconds between ticks */
  long autoscale_idle_grace;   /* [workers] autoscale_idle_grace, seconds */
  long max_workers_per_actor;  /* [spawner] max_workers_per_actor */
  long max_cmd_length;         /* [spawner] max_cmd_length */
  long cron_interval;          /* [web] cron_interval, seconds between cron ticks */
  int64_t cron_offset_ms;      /* [web] cron_clock_offset (a test hook), in ms */
  int64_t retention_ms;        /* [store] executions_retention, ms (0: keep everything) */
  long retention_interval;     /* [store] executions_retention_interval, seconds */
  long retention_batch;        /* [store] executions_retention_batch, executions per pass */
  struct api_access_s *access; /* keys, caches and settings of identity and sharing (access.h) */
  struct api_cloud_s *cloud;   /* [cloud] settings and prices (cloud_api.h) */
} api_ctx_t;

/* Threads for ordinary requests, and how many more may sit in a
 * synchronous-message wait at once (see sync.c). The thread pool, the
 * Redis pool and the channel pool are sized API_POOL. */
#define API_THREADS 16
#define API_SYNC_MAX 16
/* One more thread each for the autoscaler, the cron tick, retention and
 * the metrics flush. */
#define API_BACKGROUND 4
#define API_POOL (API_THREADS + API_SYNC_MAX + API_BACKGROUND)

/* Who is calling. */
typedef struct {
  char tenant[128];
  char username[256];
  bool admin, privileged;
  char roles[ACTOR_AUTH_ROLES_MAX]; /* comma-separated roles (auth.c) */
  /* Set when the caller authenticated with ?x-nonce= (nonces.c): the
   * request may only touch the nonce's actor or alias, up to its level. */
  char nonce[192];        /* the nonce id, "" otherwise */
  char nonce_scope[320];  /* "actor:<db_id>" or "alias:<alias_id>" */
  int nonce_level;        /* an api_level_t */
} api_ident_t;

/* The request as handlers see it. */
typedef struct {
  api_ctx_t *ctx;
  ahttp_req_t *http;
  api_ident_t ident;
  const char *params[4]; /* path parameters ({id}, {eid}, {wid}) */
  int nparams;
  json_t *actor;         /* the resolved actor of {id}, when the route has one */
  const char *db_id;     /* its db_id (borrowed from actor) */
  char api_server[256];  /* "http://host:port" of this request */
  /* The caller's level on the actor db_id, read with the actor in one
   * round trip (api_resolve_actor_send); api_level_of uses it. */
  bool level_read;
  int level; /* an api_level_t */
} api_req_t;

typedef void (*api_handler_fn)(api_req_t *r);

/* router.c */
void api_dispatch(ahttp_req_t *http, void *ud);
/* router.c: the body limit hooks of the HTTP server (ahttp_options_t; loop
 * thread, no I/O). A request may send [web] max_body_size bytes of body;
 * a binary message (POST /actors/{id}/messages, application/octet-stream,
 * with a Content-Length) [web] max_content_length. Over its limit, the
 * answer is 413 naming the limit and the key, or for a binary message
 * Abaco's 400 "Message exceeds max content length of: <n>"; it is counted
 * under its route like any other answer. */
size_t api_body_limit(const ahttp_req_t *http, void *ud);
void api_body_too_large(ahttp_req_t *http, size_t limit, void *ud);
/* A request-less api_req_t for background jobs (autoscaler, cron): only
 * ctx is set, the caller is `username`. Such a request must never be
 * answered (api_ok/api_error). */
void api_background_req(api_ctx_t *c, const char *username, api_req_t *r);

/* auth.c */
/* Permission levels (docs/auth.md), in order. */
typedef enum { API_NONE, API_READ, API_EXECUTE, API_UPDATE } api_level_t;

int api_authenticate(api_req_t *r);
/* Loads the actor named by {id} into r->actor; answers 404 itself and
 * returns non-zero when there is none. */
int api_resolve_actor(api_req_t *r, const char *id);
/* api_resolve_actor for POST /actors/{id}/messages: r->actor gets only the
 * fields that path reads (API_SEND_FIELDS; always fresh from Redis, never
 * cached), read together with the caller's permissions in one round trip. */
int api_resolve_actor_send(api_req_t *r, const char *id);
/* Looks up an actor by id or alias in the caller's tenant without
 * answering: 0 and *out (new reference), ACTOR_ENOTFOUND, or a store error. */
int api_lookup_actor(api_req_t *r, const char *id, json_t **out);
/* Whether the caller holds `level` on `actor`. */
bool api_has_level(api_req_t *r, const json_t *actor, api_level_t level);
/* Role checks: 0, or -1 after answering 400 (Abaco's "Not authorized"). */
int api_require_admin(api_req_t *r);
int api_require_privileged(api_req_t *r, const char *field);
/* Removes what the access layer keeps about an actor (permissions, nonces,
 * aliases) when it is deleted. */
int api_forget_actor(api_req_t *r, const char *db_id);

/* respond.c: every response goes through these. `result` is stolen. */
void api_ok(api_req_t *r, const char *message, json_t *result);
/* A success with another 2xx status (201 Created, 202 Accepted). */
void api_answer(api_req_t *r, int status, const char *message, json_t *result);
void api_error(api_req_t *r, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api_store_error(api_req_t *r, int rc, const char *what);
/* Parses a JSON or form body into an object with snake_case keys.
 * Returns NULL (after answering 400) if the body cannot be read. A form
 * field holding JSON text for a dict/list field is left as text here; the
 * handler decodes it. New reference. */
json_t *api_body_object(api_req_t *r);

/* fields.c: typed fields of a body object (JSON values, or form strings).
 * Each returns 0, or answers 400 naming the field and returns -1. A field
 * that is absent or JSON null leaves the default (and *present false). */
/* Booleans: JSON true/false or "true/false/True/False". */
int api_field_bool(api_req_t *r, json_t *body, const char *field, bool def, bool *out);
/* Objects: a JSON object or its JSON text. *out new reference or NULL. */
int api_field_object(api_req_t *r, json_t *body, const char *field, json_t **out);
/* Lists: a JSON array or its JSON text. *out new reference or NULL. */
int api_field_list(api_req_t *r, json_t *body, const char *field, json_t **out);
/* Integers: a JSON integer or a string of digits, at least `min`. */
int api_field_int(api_req_t *r, json_t *body, const char *field, long long min, bool *present,
                  long long *out);
/* Strings: *out borrowed from body, or NULL when absent. */
int api_field_string(api_req_t *r, json_t *body, const char *field, const char **out);
/* Bounds (bounds.h): 0 when `have` (measured in the limit's unit) is
 * within it, else a 400 "Invalid <field>: at most ..." and -1. The
 * _text and _json forms measure a string (NULL passes) or a JSON value
 * (NULL passes); api_field_text is api_field_string of the limit's field
 * plus its check. */
int api_check_limit(api_req_t *r, api_limit_t which, size_t have);
int api_check_text(api_req_t *r, api_limit_t which, const char *s);
int api_check_json(api_req_t *r, api_limit_t which, const json_t *v);
int api_field_text(api_req_t *r, json_t *body, api_limit_t which, const char **out);

/* display.c: store models -> what clients see (new references). */
json_t *api_actor_display(api_req_t *r, const json_t *actor);
json_t *api_exec_display(api_req_t *r, const json_t *exec);
json_t *api_exec_summary(const json_t *exec);
json_t *api_worker_display(api_req_t *r, const json_t *worker);
json_t *api_links(api_req_t *r, const char *self_path, const char *owner,
                  const char *rel, const char *rel_path);

/* actor_spec.c: a registration (existing NULL) or full update body ->
 * the actor record to store (new reference); NULL after answering 400.
 * For an update, *bump (may be NULL) tells whether the revision moved. */
json_t *api_actor_from_body(api_req_t *r, json_t *body, const json_t *existing, bool *bump);

/* tenant_conf.c: [web] log_ex_limit and default_token, or the tenant's own
 * <tenant>_log_ex_limit / <tenant>_default_token. The check runs at
 * start-up (ACTOR_ECONFIG, each bad key logged); the lookups cannot fail. */
int api_tenant_conf_check(const actor_config_t *cfg);
long api_log_ex_limit(const api_ctx_t *c, const char *tenant);
bool api_default_token(const api_ctx_t *c, const char *tenant);

/* cron.c: Abaco's "<Y-M-D H | now> + <n> <hour|day|week|month>[s]" (docs/api.md
 * §5; numbers with or without leading zeros). On success fills next
 * ("YYYY-MM-DD HH", the first run) and returns 0; otherwise writes
 * Abaco's message (or ours where Abaco fails with a 500) into err, at
 * most API_CRON_ERR_MAX bytes are needed, and returns ACTOR_EPARSE (bad
 * text) or ACTOR_EINVAL (start time in the past). Pure: no I/O. */
#define API_CRON_NEXT_MAX 32
#define API_CRON_ERR_MAX 700
int api_cron_parse(const char *schedule, int64_t now_ms, char next[API_CRON_NEXT_MAX],
                   char *err, size_t errlen);
/* "YYYY-MM-DD HH" (a cron_next_ex; also Abaco's unpadded "Y-M-D H") -> ms
 * since the epoch; ACTOR_EPARSE. */
int api_cron_time(const char *next_ex, int64_t *ms);
/* The run after a due one: next_ms advanced by whole increments of the
 * schedule until it lies after now_ms, written "YYYY-MM-DD HH" into out.
 * Missed runs are skipped, not replayed. ACTOR_EPARSE for a bad schedule.
 * Pure: no I/O. */
int api_cron_advance(const char *schedule, int64_t next_ms, int64_t now_ms,
                     char out[API_CRON_NEXT_MAX]);
/* The clock of cron schedules: now, shifted by [web] cron_clock_offset. */
int64_t api_cron_now_ms(const api_ctx_t *c);

/* cron_tick.c: every [web] cron_interval seconds, sends each due actor of
 * this api's queues "This is your cron execution" (executor "cron") and
 * moves its cron_next_ex past now. cursor: the scan position (jobs.c). */
void api_cron_tick(api_ctx_t *c, unsigned long long *cursor);
/* The cron index (abaco:cron:due) after an actor was written: scored by its
 * cron_next_ex when cron_on, else removed (a failure is logged). */
void api_cron_index(api_ctx_t *c, const char *db_id, const json_t *actor);
/* Adds every actor with cron_on to the index (api start). */
int api_cron_index_repair(api_ctx_t *c);

/* autoscaler.c: one pass over the stateless actors of this api's queues
 * (see the file's design note). cursor: the scan position (jobs.c). */
void api_autoscale_tick(api_ctx_t *c, unsigned long long *cursor);

/* retention.c: [store] executions_retention. api_retention_parse reads
 * the setting ("keep" or empty: 0; "<n>" days; "<n>s|m|h|d"), ACTOR_EINVAL
 * for anything else (pure). api_retention_setup keeps the executions'
 * indexes from now on (and builds them if missing); api_retention_index
 * indexes one execution written outside the group commit and
 * api_retention_unindex takes it out again when its insert failed; the tick
 * rebuilds missing indexes and removes old executions and their logs in
 * bounded batches (see the file). */
int api_retention_parse(const char *text, int64_t *ms);
int api_retention_setup(api_ctx_t *c);
ACTOR_MUST_CHECK int api_retention_index(api_ctx_t *c, const json_t *exec);
void api_retention_unindex(api_ctx_t *c, const json_t *exec);
void api_retention_tick(api_ctx_t *c);

/* jobs.c: a periodic job on the thread pool, never overlapping itself.
 * The struct owns its handles and must outlive the loop. */
typedef struct api_ticker_s api_ticker_t;
typedef void (*api_tick_fn)(api_ticker_t *t);
struct api_ticker_s {
  uv_timer_t timer;
  uv_work_t work;
  api_ctx_t *ctx;
  const char *name;
  api_tick_fn fn;      /* runs on the thread pool */
  void *data;          /* for fn */
  bool busy, stopped;
  uint64_t skipped;    /* ticks skipped because the previous one still ran */
};
int api_ticker_start(uv_loop_t *loop, api_ticker_t *t, api_ctx_t *c, const char *name,
                     uint64_t interval_ms, api_tick_fn fn, void *data);
/* The same with the first tick first_ms after start. */
int api_ticker_start_first(uv_loop_t *loop, api_ticker_t *t, api_ctx_t *c, const char *name,
                           uint64_t first_ms, uint64_t interval_ms, api_tick_fn fn, void *data);
/* Stops the timer; a tick in flight finishes (the loop waits for it). */
void api_ticker_stop(api_ticker_t *t);

/* jobs.c: short Redis leases so that, of the api processes serving a
 * queue, one at a time does a periodic job for it. Key
 * "abaco:<job>:lease:<queue>", taken with SET NX PX hold_ms (long enough
 * for a slow tick). api_leases_take tries each queue of [spawner]
 * host_queues and returns how many it holds; api_leases_end keeps each
 * held lease for keep_ms more (the rest of the tick interval, so that no
 * other process ticks sooner) or releases it (keep_ms <= 0), touching only
 * leases that still hold this tick's token, and frees l's contents. */
typedef struct {
  char job[32];
  char token[64];
  json_t *queues; /* names of the queues held */
} api_leases_t;
int api_leases_take(api_ctx_t *c, const char *job, int64_t hold_ms, api_leases_t *l);
bool api_leases_cover(const api_leases_t *l, const char *queue);
void api_leases_end(api_ctx_t *c, api_leases_t *l, int64_t keep_ms);
/* jobs.c: calls fn for up to about max actor db_ids of abaco:actors, from
 * *cursor on (SSCAN; 0 = from the start), and leaves in *cursor where the
 * next call goes on (0 once the whole set was seen). ACTOR_ESTORE when
 * Redis fails (fn may have run for some ids). */
int api_scan_actors(api_ctx_t *c, unsigned long long *cursor, size_t max,
                    void (*fn)(const char *db_id, void *ud), void *ud);

/* workers.c: asks the spawner for n new workers of an actor. */
int api_request_workers(api_req_t *r, const json_t *actor, int n);
/* Workers that are not on their way out (SHUTDOWN_REQUESTED, SHUTTING_DOWN). */
int api_live_workers(api_req_t *r, const char *db_id, json_t **out, long long *n);
/* The same with only the named fields of each worker (model_worker_list_fields;
 * the list must hold "status"). */
int api_live_workers_fields(api_ctx_t *c, const char *db_id, const char *const *fields,
                            json_t **out, long long *n);
/* Requests one worker when the actor has no live one (at most one request
 * per actor in flight across api processes). */
/* Forgets that the actor was seen with a live worker (workers.c). */
void api_live_forget(const char *db_id);
int api_ensure_worker(api_req_t *r, const json_t *actor);
/* Marks a worker SHUTDOWN_REQUESTED and publishes "stop" on worker_<wid>. */
int api_stop_worker(api_req_t *r, const char *db_id, const char *wid);
/* Publishes a control message ("stop", "force_quit") on worker_<wid>. */
int api_worker_control(api_req_t *r, const char *wid, const char *command);

/* mailbox.c: the arguments an actor's mailbox is declared with (a stateful
 * actor's: single-active-consumer), and keeping every declare in line. */
void api_mailbox_opts(const json_t *actor, chan_queue_opts_t *out);
/* Publishes to the actor's mailbox, declaring it with its arguments. */
int api_mailbox_publish(api_ctx_t *c, const json_t *actor, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms);
/* Declares the actor's mailbox with its arguments. A stateful actor's
 * mailbox that exists without x-single-active-consumer is re-made with it,
 * its messages kept (see the design note), and messages parked by an
 * interrupted re-make go back. 0, or an error (logged). Blocks. */
int api_mailbox_prepare(api_ctx_t *c, const json_t *actor);
/* Deletes the actor's mailbox (and its parking queue). */
int api_mailbox_delete(api_ctx_t *c, const char *db_id);

/* submit.c: one message to an actor, for POST .../messages and the cron. */
typedef struct {
  json_t *message;          /* str or any JSON value (borrowed); NULL for bytes */
  const char *content_type; /* "str", "application/json", "application/octet-stream" */
  const char *bytes;        /* binary only (borrowed) */
  size_t nbytes;
  const char *executor;     /* the execution's executor and _abaco_username */
  const char *api_server;   /* _abaco_api_server */
  const json_t *env;        /* extra environment variables (strings), or NULL */
} api_message_t;
/* Stores the execution (SUBMITTED), publishes the message to the actor's
 * mailbox (waiting for the broker's confirm) and makes sure the actor has
 * a worker. 0 with eid filled, or an error with *what naming what failed
 * ("execution" or "message queue"); when the publish fails the execution
 * is marked ERROR, so nothing accepted is silently dropped. */
int api_message_submit(api_req_t *r, const json_t *actor, const api_message_t *m,
                       char eid[ACTOR_ID_MAX], const char **what);

/* metrics.c: the counters behind GET /metrics (Prometheus text format
 * 0.0.4) and the one-line hooks that feed them. Thread safe. */
typedef struct api_metrics_s api_metrics_t;
int api_metrics_new(api_metrics_t **out);
void api_metrics_free(api_metrics_t *m);
void api_metrics_get(api_req_t *r); /* GET /metrics */
/* GET /docs/openapi.json: docs/openapi.json, embedded at build time (docs.c). */
void api_docs_openapi(api_req_t *r);
/* One answered request: route is its pattern ("/actors/{id}"), or
 * "unmatched"; usec its handling time. */
void api_metrics_http(api_metrics_t *m, const char *method, const char *route, int status,
                      int64_t usec);
/* A store call failed; store is "redis", "mongo" or "rabbitmq". */
void api_metrics_store_error(api_metrics_t *m, const char *store);
/* Counters of the background jobs. */
typedef enum {
  API_COUNT_AUTOSCALE_TICKS,
  API_COUNT_WORKERS_REQUESTED, /* by the autoscaler */
  API_COUNT_WORKERS_STOPPED,   /* by the autoscaler */
  API_COUNT_SCALE_UP_DEFERRED, /* command queue longer than max_cmd_length */
  API_COUNT_CRON_TICKS,
  API_COUNT_CRON_EXECUTIONS,
  API_COUNT_MAX
} api_count_t;
void api_metrics_count(api_metrics_t *m, api_count_t which, long n);

/* jobs.c: one tick of a leased job over the actors. It takes the job's
 * leases (none held: another api process has this interval), counts the
 * tick, acts as the user named after the job, scans up to max_actors from
 * *cursor calling each(db_id, pass), and keeps the leases for the rest of
 * the interval (interval_s seconds, less a margin for timer jitter). */
typedef struct {
  api_ctx_t *c;
  api_req_t req; /* request-less, for the worker helpers (workers.c) */
  api_leases_t leases;
  int64_t now;   /* the job's clock at the start of the scan */
} api_pass_t;
typedef struct {
  const char *name; /* lease job, user name and log prefix */
  int64_t hold_ms;  /* how long a tick may hold its leases at most */
  size_t max_actors;
  api_count_t ticks;
  int64_t (*now)(const api_ctx_t *c);
  void (*each)(const char *db_id, void *pass);
  const char *set; /* the Redis set of actor ids scanned (NULL: every actor) */
  /* Instead of the set scan: finds the actors itself, calling each(). */
  int (*scan)(api_pass_t *p, size_t max);
} api_job_t;
void api_job_tick(api_ctx_t *c, const api_job_t *job, int64_t interval_s,
                  unsigned long long *cursor);

/* Execution transitions this process makes, counted cluster-wide in Redis
 * (HINCRBY abaco:metrics:executions <status> 1). */
void api_metrics_execution(api_ctx_t *c, const char *status);
/* Writes the SUBMITTED executions counted since the last flush (one
 * HINCRBY); main.c's metrics ticker calls it every API_METRICS_FLUSH_MS. */
void api_metrics_flush_submitted(api_ctx_t *c);
#define API_METRICS_FLUSH_MS 100
/* The api's channel client, counted per kind of channel ("mailbox",
 * "command", "worker", "results"): same contracts as chan_client_publish
 * and chan_client_get. */
int api_publish(api_ctx_t *c, const char *kind, const char *queue, const void *body, size_t len,
                const chan_props_t *props, int timeout_ms);
/* The same, declaring the queue with the arguments qo (chan_client_publish_to). */
int api_publish_to(api_ctx_t *c, const char *kind, const char *queue, const chan_queue_opts_t *qo,
                   const void *body, size_t len, const chan_props_t *props, int timeout_ms);
/* Same, sharing the write and the confirm with concurrent callers
 * (chan_client_publish_group): the message intake's publish. */
int api_publish_grouped(api_ctx_t *c, const char *kind, const char *queue,
                        const chan_queue_opts_t *qo, const void *body, size_t len,
                        const chan_props_t *props, int timeout_ms);
int api_consume(api_ctx_t *c, const char *kind, const char *queue, char **body, size_t *len);

/* sync.c: synchronous messages (?_abaco_synchronous=true). */
bool api_sync_acquire(api_ctx_t *c);
void api_sync_release(api_ctx_t *c);
/* Waits for execution eid of r->actor to finish and answers with its
 * first result (application/octet-stream) or its logs (text/plain). */
void api_sync_answer(api_req_t *r, const char *eid);

/* events.c: consumes the `events` channel (its own broker connection on
 * the loop) and turns each event into a message to the actor's `link` and
 * a POST to its `webhook`; what still fails after the retries is listed by
 * GET /actors/admin/events/dead-letter (see the file's design note). */
int api_events_start(uv_loop_t *loop, api_ctx_t *c, const char *uri);
/* Stops consuming and closes the connection (loop thread). */
void api_events_stop(void);
void api_events_dead_letter(api_req_t *r);

/* routes_*.c */
void api_actors_list(api_req_t *r);
void api_actors_create(api_req_t *r);
void api_actor_get(api_req_t *r);
void api_actor_update(api_req_t *r);
void api_actor_delete(api_req_t *r);
void api_state_get(api_req_t *r);
void api_state_set(api_req_t *r);
void api_messages_count(api_req_t *r);
void api_messages_send(api_req_t *r);
void api_messages_purge(api_req_t *r);
/* routes_messages.c: whether the body is application/octet-stream. */
bool api_octet_stream(const ahttp_req_t *h);
void api_executions_list(api_req_t *r);
void api_executions_add(api_req_t *r);
void api_execution_get(api_req_t *r);
void api_execution_force_quit(api_req_t *r);
void api_execution_logs(api_req_t *r);
void api_execution_results(api_req_t *r);
void api_workers_list(api_req_t *r);
void api_workers_ensure(api_req_t *r);
void api_worker_get(api_req_t *r);
void api_worker_stop(api_req_t *r);

#endif
