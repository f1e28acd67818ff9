/* HTTP server glue: libmicrohttpd driven by a libuv loop.
 *
 * MHD runs in external-epoll mode: its epoll fd sits in a uv_poll and its
 * timeouts in a uv_timer, so the loop thread does all socket work. When a
 * request has been read completely, its connection is suspended and the
 * handler runs on libuv's thread pool (uv_queue_work), where it may block on
 * Redis, MongoDB, RabbitMQ or Docker. When the handler returns, the loop
 * thread resumes the connection and sends the response. So handlers are
 * plain synchronous functions of a request, testable without a server.
 *
 * Every request has a body limit (ahttp_options_t). A request that
 * declares a larger Content-Length is answered at once, before any of its
 * body is read (the connection is then closed); a chunked body is kept
 * only up to the limit, the rest is read and dropped, and the request is
 * answered once it ends. Either way the handler never runs for it: the
 * too_large hook writes the answer (by default a plain JSON 413).
 *
 * Every response carries Access-Control-Allow-Origin: *. */
#ifndef ACTOR_HTTP_H
#define ACTOR_HTTP_H

#include "actor/errors.h"

#include <stddef.h>
#include <uv.h>

typedef struct {
  char *key;
  char *value; /* may be NULL for a query flag without '=' */
} ahttp_kv_t;

typedef struct {
  ahttp_kv_t *items;
  size_t n, cap;
} ahttp_kvs_t;

/* Returns the first value for key (case-sensitive unless icase), or NULL. */
const char *ahttp_kvs_get(const ahttp_kvs_t *kvs, const char *key, int icase);
ACTOR_MUST_CHECK
int ahttp_kvs_add(ahttp_kvs_t *kvs, const char *key, size_t klen, const char *value,
                  size_t vlen);
void ahttp_kvs_free(ahttp_kvs_t *kvs);

typedef struct ahttp_req_s {
  /* request: owned by the request, valid until the response is sent */
  char *method;
  char *path;          /* decoded path without the query string */
  ahttp_kvs_t query;   /* decoded query arguments, in order */
  ahttp_kvs_t headers; /* request headers */
  ahttp_kvs_t form;    /* fields of a form-encoded or multipart body */
  int is_form;         /* body was form-encoded or multipart */
  char *body;          /* raw body (NUL-terminated), empty for forms */
  size_t body_len;
  char client_ip[64];

  /* response: set by the handler */
  int status;
  char *resp_body;     /* malloc'd; freed by the server */
  size_t resp_len;
  const char *resp_type; /* static string, default application/json */
  ahttp_kvs_t resp_headers;

  void *server_data;   /* private */
} ahttp_req_t;

/* Runs on the thread pool. Must set status and body. ud (here and in the
 * hooks of ahttp_options_t) is the ud given to ahttp_server_start. */
typedef void (*ahttp_handler_fn)(ahttp_req_t *req, void *ud);

typedef struct ahttp_server_s ahttp_server_t;

/* The body limit of one request (bytes), from its method, path, query and
 * headers; its body is not read yet. Runs on the loop thread: must not
 * block. */
typedef size_t (*ahttp_limit_fn)(const ahttp_req_t *req, void *ud);
/* Answers (ahttp_respond*) a request whose body is over `limit`; req has
 * no body nor form. Runs on the loop thread: must not block. */
typedef void (*ahttp_too_large_fn)(ahttp_req_t *req, size_t limit, void *ud);

typedef struct {
  const char *bind;   /* "127.0.0.1", "0.0.0.0"; NULL = any */
  int port;
  size_t max_body;    /* body limit of every request (0: 1 MiB) ... */
  ahttp_limit_fn body_limit;    /* ... unless this says otherwise (may be NULL) */
  ahttp_too_large_fn too_large; /* NULL: a plain JSON 413 naming the limit */
  unsigned max_connections;
} ahttp_options_t;

ACTOR_MUST_CHECK
int ahttp_server_start(uv_loop_t *loop, const ahttp_options_t *opts, ahttp_handler_fn fn,
                       void *ud, ahttp_server_t **out);
/* Stops listening; requests in flight finish first. cb runs on the loop
 * once everything is closed and freed. */
void ahttp_server_stop(ahttp_server_t *s, void (*cb)(void *), void *cb_ud);

/* Sets the response (body copied). */
void ahttp_respond(ahttp_req_t *req, int status, const char *type, const void *body,
                   size_t len);
/* Sets the response and takes ownership of a malloc'd body. */
void ahttp_respond_owned(ahttp_req_t *req, int status, const char *type, char *body,
                         size_t len);

#endif
