/* HTTP server glue: libmicrohttpd in external-epoll mode inside a libuv loop.
 *
 * A request moves through three states. READING: MHD feeds the body (or a
 * post processor decodes a form) on the loop thread. RUNNING: the
 * connection is suspended and the handler runs on libuv's thread pool.
 * DONE: the loop thread resumed the connection; MHD calls the access
 * handler once more and the response is queued. Nothing of MHD is touched
 * off the loop thread: headers and arguments are copied into the request
 * before the handler runs.
 *
 * Bodies are bounded (see http.h). A Content-Length over the request's
 * limit is answered in MHD's first call, which is the one moment MHD lets
 * a response go out before the body: it then refuses the body and closes
 * the connection after the answer. A chunked body has no length to judge
 * up front and MHD queues no response while a body is being read, so its
 * bytes are counted as they come (raw bytes, forms included: decoding
 * never makes a form larger); past the limit everything kept is freed and
 * the rest is dropped as it arrives, and the answer goes out at the end. */
#include "actor/http.h"

#include <arpa/inet.h>
#include <limits.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/json.h"
#include "actor/log.h"

#define HTTP_MODULE "http"

enum { JOB_READING, JOB_RUNNING, JOB_DONE };

/* The post processor's buffer (MHD's minimum is 256). */
#define FORM_BUFFER 4096

struct ahttp_server_s {
  uv_loop_t *loop;
  struct MHD_Daemon *mhd;
  uv_poll_t poll;
  uv_timer_t timer;
  int handles_open;
  ahttp_handler_fn fn;
  void *ud;
  size_t max_body;
  ahttp_limit_fn body_limit;
  ahttp_too_large_fn too_large;
  unsigned inflight; /* handler started, response not yet fully sent */
  int stopping;
  void (*stop_cb)(void *);
  void *stop_ud;
};

typedef struct {
  ahttp_req_t req;
  uv_work_t work;
  struct MHD_Connection *conn;
  ahttp_server_t *srv;
  struct MHD_PostProcessor *pp;
  size_t body_cap;
  size_t limit;       /* of this request's body */
  uint64_t received;  /* raw body bytes so far */
  int too_large;      /* over the limit: nothing more is kept */
  size_t form_last;   /* length of the last form value so far (form_field) */
  int state;
} http_job_t;

/* ---- key/value lists ---- */

const char *ahttp_kvs_get(const ahttp_kvs_t *kvs, const char *key, int icase) {
  for (size_t i = 0; i < kvs->n; i++) {
    int eq = icase ? strcasecmp(kvs->items[i].key, key) : strcmp(kvs->items[i].key, key);
    if (eq == 0)
      return kvs->items[i].value;
  }
  return NULL;
}

int ahttp_kvs_add(ahttp_kvs_t *kvs, const char *key, size_t klen, const char *value,
                  size_t vlen) {
  ahttp_kv_t *items = actor_grow(kvs->items, &kvs->cap, kvs->n + 1, sizeof(*items), 8);
  if (items == NULL)
    return ACTOR_ENOMEM;
  kvs->items = items;
  ahttp_kv_t *kv = &kvs->items[kvs->n];
  kv->key = strndup(key, klen);
  kv->value = value ? strndup(value, vlen) : NULL;
  if (kv->key == NULL || (value && kv->value == NULL)) {
    free(kv->key);
    free(kv->value);
    return ACTOR_ENOMEM;
  }
  kvs->n++;
  return 0;
}

void ahttp_kvs_free(ahttp_kvs_t *kvs) {
  for (size_t i = 0; i < kvs->n; i++) {
    free(kvs->items[i].key);
    free(kvs->items[i].value);
  }
  free(kvs->items);
  memset(kvs, 0, sizeof(*kvs));
}

/* ---- responses ---- */

void ahttp_respond_owned(ahttp_req_t *req, int status, const char *type, char *body,
                         size_t len) {
  free(req->resp_body);
  req->status = status;
  req->resp_type = type ? type : "application/json";
  req->resp_body = body;
  req->resp_len = body ? len : 0;
}

void ahttp_respond(ahttp_req_t *req, int status, const char *type, const void *body,
                   size_t len) {
  char *copy = malloc(len + 1);
  if (copy == NULL) {
    ahttp_respond_owned(req, 500, "text/plain", NULL, 0);
    return;
  }
  if (len)
    memcpy(copy, body, len);
  copy[len] = '\0';
  ahttp_respond_owned(req, status, type, copy, len);
}

/* ---- the job ---- */

static void job_free(http_job_t *job) {
  if (job == NULL)
    return;
  if (job->pp)
    MHD_destroy_post_processor(job->pp);
  ahttp_req_t *req = &job->req;
  free(req->method);
  free(req->path);
  ahttp_kvs_free(&req->query);
  ahttp_kvs_free(&req->headers);
  ahttp_kvs_free(&req->form);
  ahttp_kvs_free(&req->resp_headers);
  free(req->body);
  free(req->resp_body);
  free(job);
}

static enum MHD_Result copy_value(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
  (void)kind;
  ahttp_kvs_t *kvs = cls;
  if (key == NULL)
    return MHD_YES;
  if (ahttp_kvs_add(kvs, key, strlen(key), value, value ? strlen(value) : 0) != 0)
    return MHD_NO;
  return MHD_YES;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data,
                                  uint64_t off, size_t size) {
  (void)kind;
  (void)filename;
  (void)content_type;
  (void)transfer_encoding;
  http_job_t *job = cls;
  ahttp_kvs_t *form = &job->req.form;
  if (key == NULL)
    return MHD_YES;
  /* Large values arrive in pieces with growing offsets. */
  if (off > 0 && form->n > 0 && strcmp(form->items[form->n - 1].key, key) == 0) {
    ahttp_kv_t *kv = &form->items[form->n - 1];
    size_t have = job->form_last;
    char *grown = realloc(kv->value, have + size + 1);
    if (grown == NULL)
      return MHD_NO;
    memcpy(grown + have, data, size);
    grown[have + size] = '\0';
    kv->value = grown;
    job->form_last = have + size;
    return MHD_YES;
  }
  if (ahttp_kvs_add(form, key, strlen(key), data ? data : "", data ? size : 0) != 0)
    return MHD_NO;
  job->form_last = strlen(form->items[form->n - 1].value); /* up to a NUL, as later reads */
  return MHD_YES;
}

static int append_body(http_job_t *job, const char *data, size_t len) {
  ahttp_req_t *req = &job->req;
  char *grown = actor_grow(req->body, &job->body_cap, req->body_len + len + 1, 1, 1024);
  if (grown == NULL)
    return ACTOR_ENOMEM;
  req->body = grown;
  memcpy(req->body + req->body_len, data, len);
  req->body_len += len;
  req->body[req->body_len] = '\0';
  return 0;
}

/* Frees what was kept of the body of a request found too large. */
static void drop_body(http_job_t *job) {
  ahttp_req_t *req = &job->req;
  job->too_large = 1;
  if (job->pp) {
    MHD_destroy_post_processor(job->pp);
    job->pp = NULL;
  }
  ahttp_kvs_free(&req->form);
  char *small = realloc(req->body, 1);
  if (small) {
    req->body = small;
    job->body_cap = 1;
  }
  req->body_len = 0;
  req->body[0] = '\0';
}

/* The declared Content-Length; -1 when there is none (chunked) or MHD
 * will refuse it anyway. */
static long long declared_length(const ahttp_req_t *req) {
  const char *cl = ahttp_kvs_get(&req->headers, MHD_HTTP_HEADER_CONTENT_LENGTH, 1);
  if (cl == NULL || *cl < '0' || *cl > '9')
    return -1;
  char *end = NULL;
  unsigned long long n = strtoull(cl, &end, 10);
  while (*end == ' ' || *end == '\t')
    end++;
  if (*end != '\0')
    return -1;
  return n > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)n;
}

static void default_too_large(ahttp_req_t *req, size_t limit) {
  char msg[160];
  int n = snprintf(msg, sizeof(msg),
                   "{\"status\":\"error\",\"message\":\"Request body too large: the limit "
                   "is %zu bytes.\",\"result\":null}",
                   limit);
  ahttp_respond(req, 413, "application/json", msg, (size_t)n);
}

static void server_pump(ahttp_server_t *s);

static void job_work(uv_work_t *w) {
  http_job_t *job = w->data;
  job->srv->fn(&job->req, job->srv->ud);
  if (job->req.status == 0)
    ahttp_respond(&job->req, 500, "text/plain", "no response", 11);
}

static void job_after_work(uv_work_t *w, int status) {
  http_job_t *job = w->data;
  ahttp_server_t *s = job->srv;
  if (status != 0) /* cancelled: only during shutdown */
    ahttp_respond(&job->req, 503, "text/plain", "shutting down", 13);
  job->state = JOB_DONE;
  MHD_resume_connection(job->conn);
  server_pump(s);
}

static enum MHD_Result queue_response(http_job_t *job) {
  ahttp_req_t *req = &job->req;
  struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
      req->resp_len, req->resp_body, free);
  if (resp == NULL)
    return MHD_NO;
  req->resp_body = NULL; /* owned by the response now */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                          req->resp_type ? req->resp_type : "application/json");
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
  for (size_t i = 0; i < req->resp_headers.n; i++)
    MHD_add_response_header(resp, req->resp_headers.items[i].key,
                            req->resp_headers.items[i].value ? req->resp_headers.items[i].value
                                                             : "");
  enum MHD_Result r = MHD_queue_response(job->conn, (unsigned)req->status, resp);
  MHD_destroy_response(resp);
  return r;
}

/* Answers a request over its body limit without running the handler
 * (loop thread). A DONE job counts as in flight until it is sent. */
static enum MHD_Result answer_too_large(http_job_t *job) {
  ahttp_server_t *s = job->srv;
  drop_body(job);
  if (s->too_large)
    s->too_large(&job->req, job->limit, s->ud);
  if (job->req.status == 0)
    default_too_large(&job->req, job->limit);
  job->state = JOB_DONE;
  s->inflight++;
  return queue_response(job);
}

static http_job_t *job_new(ahttp_server_t *s, struct MHD_Connection *conn, const char *url,
                           const char *method) {
  http_job_t *job = calloc(1, sizeof(*job));
  if (job == NULL)
    return NULL;
  job->srv = s;
  job->conn = conn;
  job->work.data = job;
  job->req.server_data = s;
  job->req.method = strdup(method);
  job->req.path = strdup(url);
  if (job->req.method == NULL || job->req.path == NULL)
    goto fail;
  MHD_get_connection_values(conn, MHD_HEADER_KIND, copy_value, &job->req.headers);
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, copy_value, &job->req.query);

  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci && ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, job->req.client_ip,
                sizeof(job->req.client_ip));
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, job->req.client_ip,
                sizeof(job->req.client_ip));
  }

  const char *ct = ahttp_kvs_get(&job->req.headers, "Content-Type", 1);
  if (ct && (strncasecmp(ct, "application/x-www-form-urlencoded", 33) == 0 ||
             strncasecmp(ct, "multipart/form-data", 19) == 0)) {
    job->req.is_form = 1;
    /* MHD zeroes the whole buffer for every request: a small one (values
     * longer than it arrive in pieces, form_field) keeps a form post from
     * costing a 64 KiB memset. */
    job->pp = MHD_create_post_processor(conn, FORM_BUFFER, form_field, job);
    /* NULL: an encoding MHD cannot decode (e.g. multipart without a
     * boundary); the body is then kept raw and the handler reports it. */
    if (job->pp == NULL)
      job->req.is_form = 0;
  }
  job->req.body = calloc(1, 1);
  if (job->req.body == NULL)
    goto fail;
  job->body_cap = 1;
  return job;
fail:
  job_free(job);
  return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
  (void)version;
  ahttp_server_t *s = cls;
  http_job_t *job = *con_cls;

  if (job == NULL) {
    job = job_new(s, conn, url, method);
    if (job == NULL)
      return MHD_NO;
    *con_cls = job;
    job->limit = s->body_limit ? s->body_limit(&job->req, s->ud) : s->max_body;
    long long declared = declared_length(&job->req);
    if (declared >= 0 && (unsigned long long)declared > job->limit)
      return answer_too_large(job); /* MHD refuses the body, then closes */
    return MHD_YES;
  }

  if (job->state == JOB_READING && *upload_data_size > 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (job->too_large)
      return MHD_YES; /* dropped */
    job->received += n;
    if (job->received > job->limit) {
      drop_body(job);
      return MHD_YES;
    }
    if (job->pp) {
      if (MHD_post_process(job->pp, upload_data, n) != MHD_YES) {
        /* undecodable form: keep what was decoded, report a bad body */
        MHD_destroy_post_processor(job->pp);
        job->pp = NULL;
      }
    } else if (append_body(job, upload_data, n) != 0) {
      return MHD_NO;
    }
    return MHD_YES;
  }

  if (job->state == JOB_READING && job->too_large)
    return answer_too_large(job);
  if (job->state == JOB_READING) {
    job->state = JOB_RUNNING;
    MHD_suspend_connection(conn);
    s->inflight++;
    int rc = uv_queue_work(s->loop, &job->work, job_work, job_after_work);
    if (rc != 0) {
      LOG_ERROR(HTTP_MODULE, "cannot queue request: %s", uv_strerror(rc));
      MHD_resume_connection(conn);
      ahttp_respond(&job->req, 500, "text/plain", "internal error", 14);
      job->state = JOB_DONE;
    }
    return MHD_YES;
  }

  if (job->state == JOB_DONE)
    return queue_response(job);
  return MHD_YES; /* RUNNING: MHD should not call us while suspended */
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  (void)toe;
  ahttp_server_t *s = cls;
  http_job_t *job = *con_cls;
  /* A job still RUNNING belongs to the thread pool; its after-work callback
   * resumes the connection, which is then torn down and comes back here. */
  if (job && job->state != JOB_RUNNING) {
    /* A DONE job counts as in flight until its response is sent (or the
     * connection is gone), so a stop never cuts a response short. */
    if (job->state == JOB_DONE)
      s->inflight--;
    job_free(job);
    *con_cls = NULL;
  }
}

/* ---- driving MHD from the loop ---- */

static void server_finish_stop(ahttp_server_t *s);

static void on_timer(uv_timer_t *t) { server_pump(t->data); }

static void on_poll(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  server_pump(p->data);
}

static void server_pump(ahttp_server_t *s) {
  if (s->mhd == NULL)
    return;
  MHD_run(s->mhd);
  if (s->stopping && s->inflight == 0) {
    server_finish_stop(s);
    return;
  }
  MHD_UNSIGNED_LONG_LONG timeout;
  if (MHD_get_timeout(s->mhd, &timeout) == MHD_YES)
    uv_timer_start(&s->timer, on_timer, timeout, 0);
  else
    uv_timer_stop(&s->timer);
}

int ahttp_server_start(uv_loop_t *loop, const ahttp_options_t *opts, ahttp_handler_fn fn,
                       void *ud, ahttp_server_t **out) {
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)opts->port);
  if (opts->bind == NULL || *opts->bind == '\0')
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
  else if (inet_pton(AF_INET, opts->bind, &addr.sin_addr) != 1)
    return ACTOR_EINVAL;

  ahttp_server_t *s = calloc(1, sizeof(*s));
  if (s == NULL)
    return ACTOR_ENOMEM;
  s->loop = loop;
  s->fn = fn;
  s->ud = ud;
  s->max_body = opts->max_body ? opts->max_body : 1 << 20;
  s->body_limit = opts->body_limit;
  s->too_large = opts->too_large;

  s->mhd = MHD_start_daemon(
      MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO | MHD_USE_ERROR_LOG,
      (uint16_t)opts->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &addr,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_CONNECTION_LIMIT,
      opts->max_connections ? opts->max_connections : 4096u, MHD_OPTION_CONNECTION_TIMEOUT,
      120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u, MHD_OPTION_END);
  if (s->mhd == NULL) {
    free(s);
    return ACTOR_EIO;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
  if (info == NULL || uv_poll_init(loop, &s->poll, info->epoll_fd) != 0) {
    MHD_stop_daemon(s->mhd);
    free(s);
    return ACTOR_EIO;
  }
  uv_timer_init(loop, &s->timer);
  s->poll.data = s;
  s->timer.data = s;
  s->handles_open = 2;
  uv_poll_start(&s->poll, UV_READABLE, on_poll);
  server_pump(s);
  *out = s;
  return 0;
}

static void on_handle_closed(uv_handle_t *h) {
  ahttp_server_t *s = h->data;
  if (--s->handles_open > 0)
    return;
  void (*cb)(void *) = s->stop_cb;
  void *cb_ud = s->stop_ud;
  free(s);
  if (cb)
    cb(cb_ud);
}

static void server_finish_stop(ahttp_server_t *s) {
  struct MHD_Daemon *d = s->mhd;
  s->mhd = NULL;
  /* uv_close stops polling the epoll fd at once, before MHD closes it. */
  uv_close((uv_handle_t *)&s->poll, on_handle_closed);
  uv_close((uv_handle_t *)&s->timer, on_handle_closed);
  MHD_stop_daemon(d);
}

void ahttp_server_stop(ahttp_server_t *s, void (*cb)(void *), void *cb_ud) {
  if (s == NULL || s->stopping)
    return;
  s->stopping = 1;
  s->stop_cb = cb;
  s->stop_ud = cb_ud;
  /* Stop accepting; suspended requests finish, then the daemon stops. */
  MHD_socket lsock = MHD_quiesce_daemon(s->mhd);
  if (lsock != MHD_INVALID_SOCKET)
    close(lsock);
  server_pump(s);
}
