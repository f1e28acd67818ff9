/* The api service: its shared context and the request pipeline.
 *
 * Every request runs api_dispatch() on libuv's thread pool:
 *   route match (router.c) -> OPTIONS/405 -> authenticate (auth.c) ->
 *   resolve {id} to an actor and check permission (auth.c) -> handler
 *   (routes_*.c) -> envelope and case conversion (respond.c).
 * Handlers are synchronous: they read and write the stores directly. */
#ifndef API_H
#define API_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "actor/config.h"
#include "actor/http.h"
#include "actor/store.h"
#include "channels/chan.h"

typedef struct {
  const actor_config_t *cfg;
  store_redis_t *redis;
  store_mongo_t *mongo;
  store_batch_t *exec_batch; /* group commit of new executions (store.h) */
  chan_client_t *chan;
  const char *version;        /* [general] TAG */
  bool camel;                 /* [web] case = camel */
  bool show_traceback;
  const char *access_control; /* "none" or "jwt" */
  const char *tenant_name;
  const char *host_queues;    /* [spawner] host_queues */
  long init_count;
  long max_log_length;
  long log_ex;
  long log_ex_limit;           /* [web] log_ex_limit: most an actor's log_ex may be */
  long max_content_length;
  long max_run_time;           /* [workers] max_run_time, seconds (0 = none) */
  long sync_max_idle_time;     /* [workers] sync_max_idle_time, seconds */
  atomic_int sync_waits;       /* synchronous messages being waited for (sync.c) */
} api_ctx_t;

/* Threads for ordinary requests, and how many more may sit in a
 * synchronous-message wait at once (see sync.c). The thread pool, the
 * Redis pool and the channel pool are sized API_THREADS + API_SYNC_MAX. */
#define API_THREADS 16
#define API_SYNC_MAX 16

/* Who is calling. */
typedef struct {
  char tenant[128];
  char username[256];
  bool admin, privileged;
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
} api_req_t;

typedef void (*api_handler_fn)(api_req_t *r);

/* router.c */
void api_dispatch(ahttp_req_t *http, void *ud);

/* auth.c */
/* Permission levels (API.md §2), in order. */
typedef enum { API_NONE, API_READ, API_EXECUTE, API_UPDATE } api_level_t;

int api_authenticate(api_req_t *r);
/* Loads the actor named by {id} into r->actor; answers 404 itself and
 * returns non-zero when there is none. */
int api_resolve_actor(api_req_t *r, const char *id);
/* Looks up an actor by id (later: or alias) in the caller's tenant without
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

/* cron.c: "YYYY-MM-DD HH + <n> <hour|day|week|month>[s]" or
 * "now + <n> <unit>[s]" (API.md §5). On success fills next
 * ("YYYY-MM-DD HH", the first run) and returns 0; otherwise writes the
 * reason into err and returns ACTOR_EPARSE (bad format) or ACTOR_EINVAL
 * (start time in the past). Pure: no I/O. */
#define API_CRON_NEXT_MAX 32
int api_cron_parse(const char *schedule, int64_t now_ms, char next[API_CRON_NEXT_MAX],
                   char *err, size_t errlen);

/* workers.c: asks the spawner for n new workers of an actor. */
int api_request_workers(api_req_t *r, const json_t *actor, int n);
/* Workers that are not on their way out (SHUTDOWN_REQUESTED, SHUTTING_DOWN). */
int api_live_workers(api_req_t *r, const char *db_id, json_t **out, long long *n);
/* Requests one worker when the actor has no live one (at most one request
 * per actor in flight across api processes). */
int api_ensure_worker(api_req_t *r, const json_t *actor);
/* Marks a worker SHUTDOWN_REQUESTED and publishes "stop" on worker_<wid>. */
int api_stop_worker(api_req_t *r, const char *db_id, const char *wid);
/* Publishes a control message ("stop", "force_quit") on worker_<wid>. */
int api_worker_control(api_req_t *r, const char *wid, const char *command);

/* sync.c: synchronous messages (?_abaco_synchronous=true). */
bool api_sync_acquire(api_ctx_t *c);
void api_sync_release(api_ctx_t *c);
/* Waits for execution eid of r->actor to finish and answers with its
 * first result (application/octet-stream) or its logs (text/plain). */
void api_sync_answer(api_req_t *r, const char *eid);

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
