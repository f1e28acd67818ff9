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
#include <stdbool.h>

#include "actor/config.h"
#include "actor/http.h"
#include "actor/store.h"
#include "channels/chan.h"

typedef struct {
  const actor_config_t *cfg;
  store_redis_t *redis;
  store_mongo_t *mongo;
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
  long max_content_length;
} api_ctx_t;

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
int api_authenticate(api_req_t *r);
/* Loads the actor named by {id} into r->actor; answers 404 itself and
 * returns non-zero when there is none. */
int api_resolve_actor(api_req_t *r, const char *id);

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
/* Reads a boolean field that may be a JSON bool or a form string
 * ("true/false/True/False"). Returns 0, or answers 400 naming the field. */
int api_field_bool(api_req_t *r, json_t *body, const char *field, bool def, bool *out);
/* Reads an object field that may be a JSON object or JSON text (forms). */
int api_field_object(api_req_t *r, json_t *body, const char *field, json_t **out);

/* display.c: store models -> what clients see (new references). */
json_t *api_actor_display(api_req_t *r, const json_t *actor);
json_t *api_exec_display(api_req_t *r, const json_t *exec);
json_t *api_exec_summary(const json_t *exec);
json_t *api_worker_display(api_req_t *r, const json_t *worker);
json_t *api_links(api_req_t *r, const char *self_path, const char *owner,
                  const char *rel, const char *rel_path);

/* workers.c: asks the spawner for n new workers of an actor. */
int api_request_workers(api_req_t *r, const json_t *actor, int n);

/* routes_*.c */
void api_actors_list(api_req_t *r);
void api_actors_create(api_req_t *r);
void api_actor_get(api_req_t *r);
void api_actor_delete(api_req_t *r);
void api_messages_count(api_req_t *r);
void api_messages_send(api_req_t *r);
void api_executions_list(api_req_t *r);
void api_execution_get(api_req_t *r);
void api_execution_logs(api_req_t *r);
void api_workers_list(api_req_t *r);
void api_worker_get(api_req_t *r);

#endif
