/* The Redis half of the store: a mutex-protected pool of blocking hiredis
 * connections plus the JSON-in-a-hash helpers the models use.
 *
 * Design note. Connections are dialled lazily and kept in an idle stack of
 * at most pool_size entries; a caller that finds the stack empty dials its
 * own connection, so nobody ever waits for one. Before an idle connection
 * is handed out it is polled: anything readable (EOF after the server closed
 * it, or a stray reply) means it cannot be trusted and it is closed. When a
 * command still fails on a broken connection (NULL reply, c->err set), the
 * connection is closed together with every idle one (they usually share its
 * fate: a server restart) and the command is sent once more on a freshly
 * dialled connection. A read timeout is not retried: the server may have run
 * the command, and running INCR twice is worse than reporting an error. */
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/log.h"

#define STORE__REDIS_DEFAULT_POOL 8
#define STORE__REDIS_CONNECT_TIMEOUT_S 2
#define STORE__REDIS_COMMAND_TIMEOUT_S 5

struct store_redis_s {
  pthread_mutex_t lock;
  redisContext **idle; /* stack of pooled connections, owned */
  size_t nidle;
  size_t pool_size;
  char *host; /* host name, or a unix socket path when it starts with '/' */
  int port;
  char *user;     /* ACL user, NULL for plain AUTH <password> */
  char *password; /* NULL when none */
  int db;
};

/* ---- configuration ---- */

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Percent-decodes s[0..len) into a new string; NULL on bad escapes or OOM. */
static char *pct_decode(const char *s, size_t len) {
  char *out = malloc(len + 1), *o = out;
  if (!out)
    return NULL;
  for (size_t i = 0; i < len; i++) {
    if (s[i] != '%') {
      *o++ = s[i];
      continue;
    }
    int hi = i + 2 < len ? hexval((unsigned char)s[i + 1]) : -1;
    int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      free(out);
      return NULL;
    }
    *o++ = (char)(hi * 16 + lo);
    i += 2;
  }
  *o = '\0';
  return out;
}

static int parse_port(const char *s, size_t len, int *out) {
  if (len == 0 || len > 5)
    return ACTOR_ECONFIG;
  long v = 0;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return ACTOR_ECONFIG;
    v = v * 10 + (s[i] - '0');
  }
  if (v < 1 || v > 65535)
    return ACTOR_ECONFIG;
  *out = (int)v;
  return 0;
}

/* redis://[[user]:password@]host[:port][/db]; host may be [v6addr]. */
int store__redis_parse_url(const char *url, char **host, int *port, char **user, char **password,
                           int *db) {
  static const char scheme[] = "redis://";
  const char *p, *end, *at, *slash, *hend, *colon;
  *host = *user = *password = NULL;
  *port = 6379;
  *db = 0;
  if (strncmp(url, scheme, sizeof(scheme) - 1) != 0)
    return ACTOR_ECONFIG;
  p = url + sizeof(scheme) - 1;
  end = p + strlen(p);
  slash = strchr(p, '/');
  if (!slash)
    slash = end;
  at = memchr(p, '@', (size_t)(slash - p));
  if (at) {
    /* the last '@' before the path separates credentials, so a raw '@' in a
     * password still works */
    const char *q;
    for (q = at; q < slash; q++)
      if (*q == '@')
        at = q;
    colon = memchr(p, ':', (size_t)(at - p));
    if (colon) {
      if (colon > p && !(*user = pct_decode(p, (size_t)(colon - p))))
        goto bad;
      if (!(*password = pct_decode(colon + 1, (size_t)(at - colon - 1))))
        goto bad;
      if (**password == '\0') {
        free(*password);
        *password = NULL;
      }
    } else if (at > p && !(*password = pct_decode(p, (size_t)(at - p)))) {
      goto bad; /* redis://password@host, as redis-py reads it */
    }
    p = at + 1;
  }
  if (*p == '[') {
    hend = memchr(p, ']', (size_t)(slash - p));
    if (!hend)
      goto bad;
    *host = strndup(p + 1, (size_t)(hend - p - 1));
    hend++;
  } else {
    hend = memchr(p, ':', (size_t)(slash - p));
    if (!hend)
      hend = slash;
    *host = strndup(p, (size_t)(hend - p));
  }
  if (!*host || **host == '\0')
    goto bad;
  if (hend < slash) {
    if (*hend != ':' || parse_port(hend + 1, (size_t)(slash - hend - 1), port) != 0)
      goto bad;
  }
  if (slash < end && slash[1] != '\0') {
    char *dend;
    long v = strtol(slash + 1, &dend, 10);
    if (*dend != '\0' || v < 0 || v > INT_MAX || dend == slash + 1)
      goto bad;
    *db = (int)v;
  }
  return 0;
bad:
  free(*host);
  free(*user);
  free(*password);
  *host = *user = *password = NULL;
  return ACTOR_ECONFIG;
}

static int redis_configure(store_redis_t *r, const struct actor_config_s *cfg) {
  const char *url = cfg ? actor_config_get(cfg, "store", "redis_url", NULL) : NULL;
  if (url && *url) {
    if (store__redis_parse_url(url, &r->host, &r->port, &r->user, &r->password, &r->db) != 0) {
      /* the URL may hold a password: do not log it */
      LOG_ERROR("store", "[store] redis_url is not redis://[[user]:password@]host[:port][/db]");
      return ACTOR_ECONFIG;
    }
    return 0;
  }
  const char *host = cfg ? actor_config_get(cfg, "store", "redis_host", "127.0.0.1") : "127.0.0.1";
  const char *pass = cfg ? actor_config_get(cfg, "store", "redis_password", NULL) : NULL;
  long port = 6379, db = 0;
  if (cfg) {
    int rc = actor_config_get_int(cfg, "store", "redis_port", 6379, &port);
    if (rc != 0)
      return rc;
    rc = actor_config_get_int(cfg, "store", "redis_db", 0, &db);
    if (rc != 0)
      return rc;
  }
  if (port < 1 || port > 65535) {
    LOG_ERROR("store", "[store] redis_port = %ld is not a TCP port", port);
    return ACTOR_ECONFIG;
  }
  if (db < 0 || db > INT_MAX) {
    LOG_ERROR("store", "[store] redis_db = %ld is not a database number", db);
    return ACTOR_ECONFIG;
  }
  if (!host || !*host)
    host = "127.0.0.1";
  r->host = strdup(host);
  r->password = pass && *pass ? strdup(pass) : NULL;
  r->port = (int)port;
  r->db = (int)db;
  if (!r->host || (pass && *pass && !r->password))
    return ACTOR_ENOMEM;
  return 0;
}

int store_redis_new(const struct actor_config_s *cfg, size_t pool_size, store_redis_t **out) {
  store_redis_t *r;
  int rc;
  *out = NULL;
  if (pool_size == 0)
    pool_size = STORE__REDIS_DEFAULT_POOL;
  r = calloc(1, sizeof(*r));
  if (!r)
    return ACTOR_ENOMEM;
  if (pthread_mutex_init(&r->lock, NULL) != 0) {
    free(r);
    return ACTOR_ENOMEM;
  }
  r->pool_size = pool_size;
  r->idle = calloc(pool_size, sizeof(*r->idle));
  if (!r->idle) {
    store_redis_free(r);
    return ACTOR_ENOMEM;
  }
  rc = redis_configure(r, cfg);
  if (rc != 0) {
    store_redis_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void store_redis_free(store_redis_t *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->nidle; i++)
    redisFree(r->idle[i]);
  free(r->idle);
  free(r->host);
  free(r->user);
  free(r->password);
  pthread_mutex_destroy(&r->lock);
  free(r);
}

/* ---- connections ---- */

static redisContext *redis_dial(store_redis_t *r) {
  struct timeval ct = {STORE__REDIS_CONNECT_TIMEOUT_S, 0};
  struct timeval ot = {STORE__REDIS_COMMAND_TIMEOUT_S, 0};
  redisContext *c;
  redisReply *reply = NULL;

  if (r->host[0] == '/')
    c = redisConnectUnixWithTimeout(r->host, ct);
  else
    c = redisConnectWithTimeout(r->host, r->port, ct);
  if (!c) {
    LOG_ERROR("store", "redis %s:%d: cannot allocate a connection", r->host, r->port);
    return NULL;
  }
  if (c->err) {
    LOG_ERROR("store", "redis %s:%d: %s", r->host, r->port, c->errstr);
    goto fail;
  }
  /* hiredis opens its socket without close-on-exec: without it every
   * process a service starts (the spawner's workers) would hold its Redis
   * connections open (fds, and clients the server never sees close). */
  int fl = fcntl(c->fd, F_GETFD);
  if (fl < 0 || fcntl(c->fd, F_SETFD, fl | FD_CLOEXEC) < 0) {
    LOG_ERROR("store", "redis %s:%d: cannot set close-on-exec: %s", r->host, r->port,
              strerror(errno));
    goto fail;
  }
  if (redisSetTimeout(c, ot) != REDIS_OK) {
    LOG_ERROR("store", "redis %s:%d: cannot set the command timeout", r->host, r->port);
    goto fail;
  }
  if (c->connection_type == REDIS_CONN_TCP)
    (void)redisEnableKeepAlive(c); /* best effort: notices dead peers */
  if (r->password) {
    if (r->user)
      reply = redisCommand(c, "AUTH %s %s", r->user, r->password);
    else
      reply = redisCommand(c, "AUTH %s", r->password);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      LOG_ERROR("store", "redis %s:%d: AUTH failed: %s", r->host, r->port,
                reply ? reply->str : c->errstr);
      goto fail;
    }
    freeReplyObject(reply);
    reply = NULL;
  }
  if (r->db != 0) {
    reply = redisCommand(c, "SELECT %d", r->db);
    if (!reply || reply->type == REDIS_REPLY_ERROR) {
      LOG_ERROR("store", "redis %s:%d: SELECT %d failed: %s", r->host, r->port, r->db,
                reply ? reply->str : c->errstr);
      goto fail;
    }
    freeReplyObject(reply);
  }
  return c;
fail:
  if (reply)
    freeReplyObject(reply);
  redisFree(c);
  return NULL;
}

/* An idle connection is usable only if the server has sent nothing since its
 * last reply: readable means EOF (closed by the server) or a stray reply. */
static int redis_idle_ok(const redisContext *c) {
  struct pollfd p = {.fd = c->fd, .events = POLLIN};
  return c->err == 0 && poll(&p, 1, 0) == 0;
}

static void redis_flush_idle(store_redis_t *r) {
  redisContext **old;
  size_t n;
  pthread_mutex_lock(&r->lock);
  n = r->nidle;
  old = n ? malloc(n * sizeof(*old)) : NULL;
  if (old) {
    memcpy(old, r->idle, n * sizeof(*old));
    r->nidle = 0;
  }
  pthread_mutex_unlock(&r->lock);
  if (old) { /* closing sockets outside the lock */
    for (size_t i = 0; i < n; i++)
      redisFree(old[i]);
    free(old);
  }
}

redisContext *store_redis_acquire(store_redis_t *r) {
  for (;;) {
    redisContext *c = NULL;
    pthread_mutex_lock(&r->lock);
    if (r->nidle > 0)
      c = r->idle[--r->nidle];
    pthread_mutex_unlock(&r->lock);
    if (!c)
      break;
    if (redis_idle_ok(c))
      return c;
    redisFree(c);
  }
  return redis_dial(r);
}

void store_redis_release(store_redis_t *r, redisContext *c, int broken) {
  int dead;
  if (!c)
    return;
  dead = c->err != 0;
  if (!broken && !dead) {
    pthread_mutex_lock(&r->lock);
    if (r->nidle < r->pool_size) {
      r->idle[r->nidle++] = c;
      c = NULL;
    }
    pthread_mutex_unlock(&r->lock);
  }
  if (c)
    redisFree(c);
  if (dead) /* the server went away: its other connections are suspect too */
    redis_flush_idle(r);
}

/* ---- commands ---- */

static redisReply *redis_exec(store_redis_t *r, const char *cmd, size_t len) {
  for (int attempt = 0; attempt < 2; attempt++) {
    redisContext *c = attempt == 0 ? store_redis_acquire(r) : redis_dial(r);
    void *reply = NULL;
    int saved_errno, err;
    char errstr[sizeof(c->errstr)];

    if (!c)
      return NULL; /* dial failed, logged */
    errno = 0;
    if (redisAppendFormattedCommand(c, cmd, len) == REDIS_OK)
      (void)redisGetReply(c, &reply);
    if (reply) {
      store_redis_release(r, c, 0);
      return reply;
    }
    saved_errno = errno;
    err = c->err;
    memcpy(errstr, c->errstr, sizeof(errstr));
    errstr[sizeof(errstr) - 1] = '\0';
    store_redis_release(r, c, 1);
    if (err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK)) {
      LOG_ERROR("store", "redis %s:%d: no reply within %d s", r->host, r->port,
                STORE__REDIS_COMMAND_TIMEOUT_S);
      return NULL;
    }
    if (err != REDIS_ERR_IO && err != REDIS_ERR_EOF) {
      LOG_ERROR("store", "redis %s:%d: %s", r->host, r->port, errstr[0] ? errstr : "error");
      return NULL;
    }
    if (attempt == 0)
      LOG_WARN("store", "redis %s:%d: connection lost (%s), retrying", r->host, r->port, errstr);
    else
      LOG_ERROR("store", "redis %s:%d: connection lost again (%s)", r->host, r->port, errstr);
  }
  return NULL;
}

redisReply *store_redis_cmd(store_redis_t *r, const char *fmt, ...) {
  char *cmd = NULL;
  redisReply *reply;
  va_list ap;
  int len;

  va_start(ap, fmt);
  len = redisvFormatCommand(&cmd, fmt, ap);
  va_end(ap);
  if (len < 0) {
    LOG_ERROR("store", "redis: cannot format command \"%s\"", fmt);
    return NULL;
  }
  reply = redis_exec(r, cmd, (size_t)len);
  redisFreeCommand(cmd);
  return reply;
}

/* Sends n commands on one connection, then reads their n replies. Command
 * i is argvs[i] (argcs[i] arguments) or, with argvs NULL, the argc
 * arguments at flat + i * argc. */
static int pipeline_run(store_redis_t *r, size_t n, int argc, const char **flat,
                        const int *argcs, const char *const *const *argvs,
                        redisReply **replies) {
  memset(replies, 0, n * sizeof(*replies));
  if (n == 0)
    return 0;
  redisContext *c = store_redis_acquire(r);
  if (c == NULL)
    return ACTOR_ECONN;
  int broken = 0;
  for (size_t i = 0; i < n && !broken; i++)
    broken = (argvs ? redisAppendCommandArgv(c, argcs[i], (const char **)argvs[i], NULL)
                    : redisAppendCommandArgv(c, argc, flat + i * (size_t)argc, NULL)) != REDIS_OK;
  for (size_t i = 0; i < n && !broken; i++)
    broken = redisGetReply(c, (void **)&replies[i]) != REDIS_OK;
  store_redis_release(r, c, broken);
  return broken ? ACTOR_ECONN : 0;
}

int store__redis_pipeline(store_redis_t *r, int argc, const char **argv, size_t n,
                          redisReply **replies) {
  return pipeline_run(r, n, argc, argv, NULL, NULL, replies);
}

int store__redis_pipeline_mixed(store_redis_t *r, size_t n, const int *argc,
                                const char *const *const *argv, redisReply **replies) {
  int rc = pipeline_run(r, n, 0, NULL, argc, argv, replies);
  if (rc == ACTOR_ECONN)
    for (size_t i = 0; i < n; i++)
      if (replies[i]) {
        freeReplyObject(replies[i]);
        replies[i] = NULL;
      }
  return rc;
}

int store_redis_reply_rc(redisReply *rep) {
  if (rep == NULL)
    return ACTOR_ECONN;
  int rc = rep->type == REDIS_REPLY_ERROR ? ACTOR_ESTORE : 0;
  freeReplyObject(rep);
  return rc;
}

redisReply *store_redis_cmdargv(store_redis_t *r, int argc, const char **argv,
                                const size_t *argvlen) {
  char *cmd = NULL;
  redisReply *reply;
  int len = redisFormatCommandArgv(&cmd, argc, argv, argvlen);
  if (len < 0) {
    LOG_ERROR("store", "redis: cannot format a command of %d arguments", argc);
    return NULL;
  }
  reply = redis_exec(r, cmd, (size_t)len);
  redisFreeCommand(cmd);
  return reply;
}

/* ---- JSON in hashes ---- */

int store__redis_expect(const redisReply *reply, int type, const char *what, const char *key) {
  if (!reply)
    return ACTOR_ECONN;
  if (reply->type == type)
    return 0;
  if (reply->type == REDIS_REPLY_ERROR)
    LOG_ERROR("store", "redis %s %s: %s", what, key, reply->str);
  else
    LOG_ERROR("store", "redis %s %s: unexpected reply type %d", what, key, reply->type);
  return ACTOR_ESTORE;
}

int store_redis_hget_json(store_redis_t *r, const char *key, const char *field, json_t **out) {
  redisReply *reply;
  json_error_t jerr;
  int rc = 0;

  *out = NULL;
  reply = store_redis_cmd(r, "HGET %s %s", key, field);
  if (reply && reply->type == REDIS_REPLY_NIL) {
    rc = ACTOR_ENOTFOUND;
  } else if (reply && reply->type == REDIS_REPLY_STRING) {
    *out = json_loadb(reply->str, reply->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!*out) {
      LOG_ERROR("store", "redis HGET %s %s: not JSON: %s", key, field, jerr.text);
      rc = ACTOR_EPARSE;
    }
  } else {
    rc = store__redis_expect(reply, REDIS_REPLY_STRING, "HGET", key); /* neither NIL nor a string */
  }
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_redis_hset_json(store_redis_t *r, const char *key, const char *field, const json_t *v) {
  redisReply *reply;
  char *text;

  if (!v)
    return ACTOR_EINVAL;
  text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
  if (!text)
    return ACTOR_ENOMEM;
  reply = store_redis_cmd(r, "HSET %s %s %b", key, field, text, strlen(text));
  free(text);
  return store__redis_integer(reply, "HSET", key, NULL);
}

int store_redis_hdel(store_redis_t *r, const char *key, const char *field) {
  redisReply *reply = store_redis_cmd(r, "HDEL %s %s", key, field);
  int rc;
  if (reply && reply->type == REDIS_REPLY_INTEGER)
    rc = reply->integer > 0 ? 0 : ACTOR_ENOTFOUND;
  else
    rc = store__redis_expect(reply, REDIS_REPLY_INTEGER, "HDEL", key);
  if (reply)
    freeReplyObject(reply);
  return rc;
}

int store_redis_hvals_json(store_redis_t *r, const char *key, json_t **out) {
  redisReply *reply;
  json_t *arr;
  int rc = 0;

  *out = NULL;
  reply = store_redis_cmd(r, "HVALS %s", key);
  rc = store__redis_expect(reply, REDIS_REPLY_ARRAY, "HVALS", key);
  if (rc != 0)
    goto cleanup;
  arr = json_array();
  if (!arr) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  for (size_t i = 0; i < reply->elements; i++) {
    const redisReply *e = reply->element[i];
    json_error_t jerr;
    json_t *v;
    if (e->type != REDIS_REPLY_STRING)
      continue;
    v = json_loadb(e->str, e->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!v) {
      /* one corrupt entry must not hide the others */
      LOG_WARN("store", "redis HVALS %s: skipping a value that is not JSON: %s", key, jerr.text);
      continue;
    }
    if (json_array_append_new(arr, v) != 0) {
      json_decref(arr);
      rc = ACTOR_ENOMEM;
      goto cleanup;
    }
  }
  *out = arr;
cleanup:
  if (reply)
    freeReplyObject(reply);
  return rc;
}
