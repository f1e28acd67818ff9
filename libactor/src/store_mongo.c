/* The MongoDB half of the store: a mongoc_client_pool_t per store and the
 * handful of CRUD calls the models need (documents are converted by
 * store_bson.c). The driver is initialised once per process (pthread_once),
 * and its log goes to actor_log instead of stderr. */
#include "actor/store.h"

#include <mongoc/mongoc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/config.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "store_int.h"

#define STORE__MONGO_MAX_DEPTH 100
#define STORE__MONGO_APPNAME "abaco"

struct store_mongo_s {
  mongoc_client_pool_t *pool;
  char *db;
  char *where; /* host:port list for messages, without credentials */
};

/* ---- driver setup ---- */

static pthread_once_t mongo_once = PTHREAD_ONCE_INIT;

static void mongo_log_handler(mongoc_log_level_t level, const char *domain, const char *message,
                              void *ud) {
  int lvl;
  (void)ud;
  switch (level) {
  case MONGOC_LOG_LEVEL_ERROR:
  case MONGOC_LOG_LEVEL_CRITICAL:
    lvl = ACTOR_LOG_ERROR;
    break;
  case MONGOC_LOG_LEVEL_WARNING:
    lvl = ACTOR_LOG_WARNING;
    break;
  case MONGOC_LOG_LEVEL_MESSAGE:
    lvl = ACTOR_LOG_INFO;
    break;
  case MONGOC_LOG_LEVEL_TRACE:
    return; /* only in tracing builds, and far too verbose */
  default:
    lvl = ACTOR_LOG_DEBUG;
    break;
  }
  /* FerretDB has no sessions; the driver says so at every pool shutdown */
  if (lvl == ACTOR_LOG_WARNING && strstr(message, "endSessions"))
    lvl = ACTOR_LOG_DEBUG;
  ACTOR_LOG(lvl, "store", "mongoc %s: %s", domain, message);
}

static void mongo_init_once(void) {
  mongoc_log_set_handler(mongo_log_handler, NULL);
  mongoc_init();
}

/* Unconditional: a driver built with automatic globals (Debian's) has
 * initialised itself at load time even if no store was created, and
 * mongoc_cleanup runs its work once however often it is called. */
void store_mongo_cleanup(void) {
  mongoc_cleanup();
}

/* ---- configuration ---- */

/* Appends s percent-encoded (RFC 3986 unreserved kept) to buf. */
static int url_escape(char *buf, size_t cap, size_t *pos, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    int plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_' || c == '~';
    if (*pos + 4 > cap)
      return ACTOR_ETOOBIG;
    if (plain) {
      buf[(*pos)++] = (char)c;
    } else {
      buf[(*pos)++] = '%';
      buf[(*pos)++] = hex[c >> 4];
      buf[(*pos)++] = hex[c & 15];
    }
  }
  buf[*pos] = '\0';
  return 0;
}

/* mongodb://[user[:password]@]host:port/ from the separate keys. */
int store__mongo_build_url(const char *host, long port, const char *user, const char *password,
                           char *buf, size_t cap) {
  size_t pos;
  int n;
  if (cap < 16)
    return ACTOR_ETOOBIG;
  strcpy(buf, "mongodb://");
  pos = strlen(buf);
  if (user && *user) {
    if (url_escape(buf, cap, &pos, user) != 0)
      return ACTOR_ETOOBIG;
    if (password && *password) {
      if (pos + 2 > cap)
        return ACTOR_ETOOBIG;
      buf[pos++] = ':';
      if (url_escape(buf, cap, &pos, password) != 0)
        return ACTOR_ETOOBIG;
    }
    if (pos + 2 > cap)
      return ACTOR_ETOOBIG;
    buf[pos++] = '@';
  }
  /* a bare IPv6 address needs brackets */
  if (strchr(host, ':') && host[0] != '[')
    n = snprintf(buf + pos, cap - pos, "[%s]:%ld/", host, port);
  else
    n = snprintf(buf + pos, cap - pos, "%s:%ld/", host, port);
  if (n < 0 || (size_t)n >= cap - pos)
    return ACTOR_ETOOBIG;
  return 0;
}

static int mongo_make_uri(const struct actor_config_s *cfg, mongoc_uri_t **out) {
  const char *url = cfg ? actor_config_get(cfg, "store", "mongo_url", NULL) : NULL;
  char built[1024];
  bson_error_t err;
  mongoc_uri_t *uri;
  const char *key = "[store] mongo_url";

  if (!url || !*url) {
    const char *host = cfg ? actor_config_get(cfg, "store", "mongo_host", "127.0.0.1") : NULL;
    const char *user = cfg ? actor_config_get(cfg, "store", "mongo_user", NULL) : NULL;
    const char *pass = cfg ? actor_config_get(cfg, "store", "mongo_password", NULL) : NULL;
    long port = 27017;
    if (cfg) {
      int rc = actor_config_get_int(cfg, "store", "mongo_port", 27017, &port);
      if (rc != 0)
        return rc;
    }
    if (port < 1 || port > 65535) {
      LOG_ERROR("store", "[store] mongo_port = %ld is not a TCP port", port);
      return ACTOR_ECONFIG;
    }
    if (!host || !*host)
      host = "127.0.0.1";
    if (store__mongo_build_url(host, port, user, pass, built, sizeof(built)) != 0) {
      LOG_ERROR("store", "[store] mongo_host/mongo_user/mongo_password are too long");
      return ACTOR_ECONFIG;
    }
    url = built;
    key = "[store] mongo_host/mongo_port/mongo_user/mongo_password";
  }
  uri = mongoc_uri_new_with_error(url, &err);
  if (!uri) {
    /* err.message does not repeat the URL, which may hold a password */
    LOG_ERROR("store", "%s is not a MongoDB URL: %s", key, err.message);
    return ACTOR_ECONFIG;
  }
  if (mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0) == 0)
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 3000);
  if (mongoc_uri_get_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 0) == 0)
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, 2000);
  if (mongoc_uri_get_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 0) == 0)
    mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, 60000);
  *out = uri;
  return 0;
}

static char *hosts_string(const mongoc_uri_t *uri) {
  char buf[256];
  size_t pos = 0;
  buf[0] = '\0';
  for (const mongoc_host_list_t *h = mongoc_uri_get_hosts(uri); h && pos < sizeof(buf);
       h = h->next) {
    int n = snprintf(buf + pos, sizeof(buf) - pos, "%s%s", pos ? "," : "", h->host_and_port);
    if (n < 0)
      break;
    pos += (size_t)n;
  }
  return strdup(buf[0] ? buf : "mongodb");
}

int store_mongo_new(const struct actor_config_s *cfg, store_mongo_t **out) {
  mongoc_uri_t *uri = NULL;
  store_mongo_t *m;
  const char *db;
  int rc;

  *out = NULL;
  pthread_once(&mongo_once, mongo_init_once);
  m = calloc(1, sizeof(*m));
  if (!m)
    return ACTOR_ENOMEM;
  rc = mongo_make_uri(cfg, &uri);
  if (rc != 0)
    goto cleanup;
  db = cfg ? actor_config_get(cfg, "store", "mongo_db", NULL) : NULL;
  if (!db || !*db)
    db = mongoc_uri_get_database(uri);
  if (!db || !*db)
    db = "abaco";
  m->db = strdup(db);
  m->where = hosts_string(uri);
  if (!m->db || !m->where) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  m->pool = mongoc_client_pool_new(uri);
  if (!m->pool) {
    LOG_ERROR("store", "mongo %s: cannot create a client pool", m->where);
    rc = ACTOR_ECONFIG;
    goto cleanup;
  }
  mongoc_client_pool_set_error_api(m->pool, MONGOC_ERROR_API_VERSION_2);
  mongoc_client_pool_set_appname(m->pool, STORE__MONGO_APPNAME);
  *out = m;
  m = NULL;
cleanup:
  if (uri)
    mongoc_uri_destroy(uri);
  store_mongo_free(m);
  return rc;
}

void store_mongo_free(store_mongo_t *m) {
  if (!m)
    return;
  if (m->pool)
    mongoc_client_pool_destroy(m->pool);
  free(m->db);
  free(m->where);
  free(m);
}

const char *store_mongo_db(const store_mongo_t *m) {
  return m->db;
}

/* ---- operations ---- */

/* Server error codes that mean "your request is wrong": BadValue,
 * FailedToParse, TypeMismatch (FerretDB also answers BadValue for values it
 * cannot store, such as arrays of arrays). */
static int is_bad_request(const bson_error_t *e) {
  return e->domain == MONGOC_ERROR_BSON ||
         (e->domain == MONGOC_ERROR_COMMAND && e->code == MONGOC_ERROR_COMMAND_INVALID_ARG) ||
         (e->domain == MONGOC_ERROR_SERVER && (e->code == 2 || e->code == 9 || e->code == 14));
}

/* Maps a driver error to an ACTOR_E* code, logging the unexpected ones. */
static int mongo_error(const store_mongo_t *m, const bson_error_t *e, const char *op,
                       const char *coll) {
  const char *dot = coll ? "." : "";
  if (!coll)
    coll = "";
  if (e->code == 11000) /* duplicate key: a result, not a failure */
    return ACTOR_EEXIST;
  if (e->domain == MONGOC_ERROR_SERVER_SELECTION || e->domain == MONGOC_ERROR_STREAM) {
    LOG_ERROR("store", "mongo %s: %s %s%s%s: %s", m->where, op, m->db, dot, coll, e->message);
    return ACTOR_ECONN;
  }
  if (is_bad_request(e)) {
    LOG_ERROR("store", "mongo %s%s%s: %s refused: %s", m->db, dot, coll, op, e->message);
    return ACTOR_EINVAL;
  }
  LOG_ERROR("store", "mongo %s%s%s: %s failed: %s (%u)", m->db, dot, coll, op, e->message,
            e->code);
  return ACTOR_ESTORE;
}

/* json (NULL: empty) -> initialised bson; ACTOR_EINVAL on a non-object. */
static int to_bson(const store_mongo_t *m, const json_t *v, bson_t *b, const char *what,
                   const char *coll) {
  int rc;
  bson_init(b);
  if (!v)
    return 0;
  rc = store_mongo_json_to_bson(v, b);
  if (rc != 0)
    LOG_ERROR("store", "mongo %s.%s: the %s cannot be converted to BSON: %s", m->db, coll, what,
              actor_strerror(rc));
  return rc;
}

/* The filter and update of an update or a find-and-modify; q and u are
 * initialised (destroy them) whatever the result. ACTOR_EINVAL without a
 * filter or with an update that is not an object. */
static int to_bson_update(const store_mongo_t *m, const char *coll, const json_t *filter,
                          const json_t *update, bson_t *q, bson_t *u) {
  if (!filter || !json_is_object(update)) {
    bson_init(q);
    bson_init(u);
    return ACTOR_EINVAL;
  }
  int rc = to_bson(m, filter, q, "filter", coll);
  if (rc == 0)
    return to_bson(m, update, u, "update", coll);
  bson_init(u);
  return rc;
}

typedef struct {
  mongoc_client_t *client;
  mongoc_collection_t *coll;
} mongo_conn_t;

static void conn_open(store_mongo_t *m, const char *coll, mongo_conn_t *c) {
  c->client = mongoc_client_pool_pop(m->pool);
  c->coll = mongoc_client_get_collection(c->client, m->db, coll);
}

static void conn_close(store_mongo_t *m, mongo_conn_t *c) {
  if (c->coll)
    mongoc_collection_destroy(c->coll);
  if (c->client)
    mongoc_client_pool_push(m->pool, c->client);
}

static long long reply_count(const bson_t *reply, const char *field) {
  bson_iter_t it;
  if (bson_iter_init_find(&it, reply, field) && BSON_ITER_HOLDS_NUMBER(&it))
    return (long long)bson_iter_as_int64(&it);
  return 0;
}

int store_mongo_ping(store_mongo_t *m) {
  bson_t cmd = BSON_INITIALIZER;
  bson_error_t err;
  mongoc_client_t *client = mongoc_client_pool_pop(m->pool);
  int rc = 0;
  BSON_APPEND_INT32(&cmd, "ping", 1);
  if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, NULL, &err))
    rc = mongo_error(m, &err, "ping", NULL);
  mongoc_client_pool_push(m->pool, client);
  bson_destroy(&cmd);
  return rc;
}

int store_mongo_insert(store_mongo_t *m, const char *coll, const json_t *doc) {
  bson_t b;
  bson_error_t err;
  mongo_conn_t c = {0};
  int rc;
  if (!json_is_object(doc))
    return ACTOR_EINVAL;
  rc = to_bson(m, doc, &b, "document", coll);
  if (rc == 0) {
    conn_open(m, coll, &c);
    if (!mongoc_collection_insert_one(c.coll, &b, NULL, NULL, &err))
      rc = mongo_error(m, &err, "insert", coll);
    conn_close(m, &c);
  }
  bson_destroy(&b);
  return rc;
}

int store_mongo_insert_many(store_mongo_t *m, const char *coll, const json_t *docs,
                            int *results) {
  size_t n = json_array_size(docs);
  if (!json_is_array(docs) || n == 0)
    return ACTOR_EINVAL;
  bson_t *bs = calloc(n, sizeof(*bs));
  const bson_t **ptrs = calloc(n, sizeof(*ptrs));
  int rc = (bs && ptrs) ? 0 : ACTOR_ENOMEM;
  size_t made = 0;
  for (; rc == 0 && made < n; made++) {
    results[made] = 0;
    rc = to_bson(m, json_array_get(docs, made), &bs[made], "document", coll);
    ptrs[made] = &bs[made];
  }
  if (rc == 0) {
    bson_t opts = BSON_INITIALIZER, reply;
    bson_error_t err;
    mongo_conn_t c = {0};
    BSON_APPEND_BOOL(&opts, "ordered", false);
    conn_open(m, coll, &c);
    if (!mongoc_collection_insert_many(c.coll, ptrs, n, &opts, &reply, &err)) {
      /* Per-document write errors (duplicate ids) are in writeErrors; a
       * failure without them concerns the whole batch. */
      bson_iter_t it, arr;
      int per_doc = 0;
      if (bson_iter_init_find(&it, &reply, "writeErrors") && BSON_ITER_HOLDS_ARRAY(&it) &&
          bson_iter_recurse(&it, &arr)) {
        while (bson_iter_next(&arr)) {
          bson_iter_t e, f;
          if (!BSON_ITER_HOLDS_DOCUMENT(&arr) || !bson_iter_recurse(&arr, &e))
            continue;
          long long idx = -1, code = 0;
          if (bson_iter_find(&e, "index") && BSON_ITER_HOLDS_NUMBER(&e))
            idx = bson_iter_as_int64(&e);
          if (bson_iter_recurse(&arr, &f) && bson_iter_find(&f, "code") &&
              BSON_ITER_HOLDS_NUMBER(&f))
            code = bson_iter_as_int64(&f);
          if (idx >= 0 && (size_t)idx < n) {
            results[idx] = code == 11000 ? ACTOR_EEXIST : ACTOR_ESTORE;
            per_doc = 1;
          }
        }
      }
      if (!per_doc)
        rc = mongo_error(m, &err, "insert_many", coll);
    }
    bson_destroy(&reply);
    bson_destroy(&opts);
    conn_close(m, &c);
  }
  for (size_t i = 0; i < made; i++)
    bson_destroy(&bs[i]);
  free(bs);
  free(ptrs);
  return rc;
}

/* Runs a cursor to the end, collecting documents into a new array. */
static int drain_cursor(store_mongo_t *m, mongoc_cursor_t *cur, const char *op, const char *coll,
                        size_t max, json_t **out) {
  const bson_t *doc;
  bson_error_t err;
  json_t *arr = json_array();
  int rc = 0;
  if (!arr)
    return ACTOR_ENOMEM;
  while (rc == 0 && json_array_size(arr) < max && mongoc_cursor_next(cur, &doc)) {
    json_t *v;
    rc = store_mongo_bson_to_json(doc, &v);
    if (rc == 0 && json_array_append_new(arr, v) != 0)
      rc = ACTOR_ENOMEM;
    if (rc == ACTOR_EPARSE)
      LOG_ERROR("store", "mongo %s.%s: %s returned a document that is not JSON", m->db, coll, op);
  }
  if (rc == 0 && mongoc_cursor_error(cur, &err))
    rc = mongo_error(m, &err, op, coll);
  if (rc != 0) {
    json_decref(arr);
    return rc;
  }
  *out = arr;
  return 0;
}

static int find_common(store_mongo_t *m, const char *coll, const json_t *filter, bson_t *opts,
                       size_t max, json_t **out) {
  bson_t q;
  mongo_conn_t c = {0};
  mongoc_cursor_t *cur;
  int rc = to_bson(m, filter, &q, "filter", coll);
  if (rc == 0) {
    conn_open(m, coll, &c);
    cur = mongoc_collection_find_with_opts(c.coll, &q, opts, NULL);
    rc = drain_cursor(m, cur, "find", coll, max, out);
    mongoc_cursor_destroy(cur);
    conn_close(m, &c);
  }
  bson_destroy(&q);
  return rc;
}

int store_mongo_find_one(store_mongo_t *m, const char *coll, const json_t *filter,
                         const json_t *projection, json_t **out) {
  bson_t opts = BSON_INITIALIZER;
  json_t *arr = NULL;
  int rc = 0;

  *out = NULL;
  if (projection) {
    bson_t p;
    rc = to_bson(m, projection, &p, "projection", coll);
    if (rc == 0 && !BSON_APPEND_DOCUMENT(&opts, "projection", &p))
      rc = ACTOR_ETOOBIG;
    bson_destroy(&p);
  }
  BSON_APPEND_INT64(&opts, "limit", 1);
  BSON_APPEND_BOOL(&opts, "singleBatch", true);
  if (rc == 0)
    rc = find_common(m, coll, filter, &opts, 1, &arr);
  if (rc == 0) {
    if (json_array_size(arr) == 0)
      rc = ACTOR_ENOTFOUND;
    else
      *out = json_incref(json_array_get(arr, 0));
  }
  json_decref(arr);
  bson_destroy(&opts);
  return rc;
}

int store_mongo_find(store_mongo_t *m, const char *coll, const json_t *filter,
                     const json_t *opts, json_t **out) {
  bson_t o;
  int rc;
  *out = NULL;
  rc = to_bson(m, opts, &o, "options", coll);
  if (rc == 0)
    rc = find_common(m, coll, filter, &o, SIZE_MAX, out);
  bson_destroy(&o);
  return rc;
}

int store_mongo_update(store_mongo_t *m, const char *coll, const json_t *filter,
                       const json_t *update, int upsert, long long *matched) {
  bson_t q, u, opts = BSON_INITIALIZER, reply;
  bson_error_t err;
  mongo_conn_t c = {0};
  int rc;

  if (matched)
    *matched = 0;
  rc = to_bson_update(m, coll, filter, update, &q, &u);
  if (rc != 0)
    goto cleanup;
  BSON_APPEND_BOOL(&opts, "upsert", upsert != 0);
  conn_open(m, coll, &c);
  if (mongoc_collection_update_many(c.coll, &q, &u, &opts, &reply, &err)) {
    if (matched)
      *matched = reply_count(&reply, "matchedCount");
  } else {
    rc = mongo_error(m, &err, "update", coll);
  }
  bson_destroy(&reply); /* initialised by the driver in every case */
  conn_close(m, &c);
cleanup:
  bson_destroy(&q);
  bson_destroy(&u);
  bson_destroy(&opts);
  return rc;
}

int store_mongo_delete(store_mongo_t *m, const char *coll, const json_t *filter,
                       long long *deleted) {
  bson_t q, reply;
  bson_error_t err;
  mongo_conn_t c = {0};
  int rc;

  if (deleted)
    *deleted = 0;
  if (!filter)
    return ACTOR_EINVAL;
  rc = to_bson(m, filter, &q, "filter", coll);
  if (rc == 0) {
    conn_open(m, coll, &c);
    if (mongoc_collection_delete_many(c.coll, &q, NULL, &reply, &err)) {
      if (deleted)
        *deleted = reply_count(&reply, "deletedCount");
    } else {
      rc = mongo_error(m, &err, "delete", coll);
    }
    bson_destroy(&reply);
    conn_close(m, &c);
  }
  bson_destroy(&q);
  return rc;
}

int store_mongo_count(store_mongo_t *m, const char *coll, const json_t *filter,
                      long long *count) {
  bson_t q;
  bson_error_t err;
  mongo_conn_t c = {0};
  int64_t n;
  int rc;

  *count = 0;
  rc = to_bson(m, filter, &q, "filter", coll);
  if (rc == 0) {
    conn_open(m, coll, &c);
    n = mongoc_collection_count_documents(c.coll, &q, NULL, NULL, NULL, &err);
    if (n < 0)
      rc = mongo_error(m, &err, "count", coll);
    else
      *count = (long long)n;
    conn_close(m, &c);
  }
  bson_destroy(&q);
  return rc;
}

int store_mongo_find_and_modify(store_mongo_t *m, const char *coll, const json_t *filter,
                                const json_t *update, int upsert, int return_new, json_t **out) {
  bson_t q, u, reply;
  bson_error_t err;
  bson_iter_t it;
  mongo_conn_t c = {0};
  mongoc_find_and_modify_opts_t *fam = NULL;
  int flags = MONGOC_FIND_AND_MODIFY_NONE;
  int rc;

  if (out)
    *out = NULL;
  rc = to_bson_update(m, coll, filter, update, &q, &u);
  if (rc != 0)
    goto cleanup;
  fam = mongoc_find_and_modify_opts_new();
  if (upsert)
    flags |= MONGOC_FIND_AND_MODIFY_UPSERT;
  if (return_new)
    flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW;
  if (!fam || !mongoc_find_and_modify_opts_set_update(fam, &u) ||
      !mongoc_find_and_modify_opts_set_flags(fam, (mongoc_find_and_modify_flags_t)flags)) {
    rc = ACTOR_ENOMEM;
    goto cleanup;
  }
  conn_open(m, coll, &c);
  if (!mongoc_collection_find_and_modify_with_opts(c.coll, &q, fam, &reply, &err)) {
    rc = mongo_error(m, &err, "findAndModify", coll);
  } else if (!bson_iter_init_find(&it, &reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
    rc = ACTOR_ENOTFOUND;
  } else if (out) {
    uint32_t len;
    const uint8_t *data;
    bson_t value;
    bson_iter_document(&it, &len, &data);
    if (!bson_init_static(&value, data, len) || store_mongo_bson_to_json(&value, out) != 0)
      rc = ACTOR_EPARSE;
  }
  bson_destroy(&reply);
  conn_close(m, &c);
cleanup:
  if (fam)
    mongoc_find_and_modify_opts_destroy(fam);
  bson_destroy(&q);
  bson_destroy(&u);
  return rc;
}

int store_mongo_aggregate(store_mongo_t *m, const char *coll, const json_t *pipeline,
                          json_t **out) {
  bson_t p = BSON_INITIALIZER;
  mongo_conn_t c = {0};
  mongoc_cursor_t *cur;
  int rc;

  *out = NULL;
  if (!json_is_array(pipeline))
    return ACTOR_EINVAL;
  rc = store__bson_append_json(&p, "pipeline", pipeline, 1);
  if (rc != 0) {
    LOG_ERROR("store", "mongo %s.%s: the pipeline cannot be converted to BSON: %s", m->db, coll,
              actor_strerror(rc));
  } else {
    conn_open(m, coll, &c);
    cur = mongoc_collection_aggregate(c.coll, MONGOC_QUERY_NONE, &p, NULL, NULL);
    rc = drain_cursor(m, cur, "aggregate", coll, SIZE_MAX, out);
    mongoc_cursor_destroy(cur);
    conn_close(m, &c);
  }
  bson_destroy(&p);
  return rc;
}

int store_mongo_create_index(store_mongo_t *m, const char *coll, const json_t *keys,
                             const json_t *opts) {
  bson_t cmd = BSON_INITIALIZER, indexes, spec, k;
  bson_error_t err;
  mongoc_client_t *client = NULL;
  mongoc_database_t *db = NULL;
  char name[256] = "";
  int rc;

  if (!json_is_object(keys) || json_object_size(keys) == 0 || (opts && !json_is_object(opts)))
    return ACTOR_EINVAL;
  rc = to_bson(m, keys, &k, "index keys", coll);
  if (rc != 0)
    goto cleanup;
  if (!json_is_string(json_object_get(opts, "name"))) {
    /* the server's own default: field_1_other_-1 */
    const char *f;
    json_t *dir;
    size_t pos = 0;
    json_object_foreach((json_t *)keys, f, dir) {
      int n = json_is_integer(dir)
                  ? snprintf(name + pos, sizeof(name) - pos, "%s%s_%lld", pos ? "_" : "", f,
                             (long long)json_integer_value(dir))
                  : snprintf(name + pos, sizeof(name) - pos, "%s%s_%s", pos ? "_" : "", f,
                             json_is_string(dir) ? json_string_value(dir) : "x");
      if (n < 0 || (size_t)n >= sizeof(name) - pos) {
        rc = ACTOR_ETOOBIG;
        goto cleanup;
      }
      pos += (size_t)n;
    }
  }
  BSON_APPEND_UTF8(&cmd, "createIndexes", coll);
  BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &indexes);
  BSON_APPEND_DOCUMENT_BEGIN(&indexes, "0", &spec);
  BSON_APPEND_DOCUMENT(&spec, "key", &k);
  if (name[0])
    BSON_APPEND_UTF8(&spec, "name", name);
  if (opts)
    rc = store_mongo_json_to_bson(opts, &spec);
  bson_append_document_end(&indexes, &spec);
  bson_append_array_end(&cmd, &indexes);
  if (rc != 0)
    goto cleanup;
  client = mongoc_client_pool_pop(m->pool);
  db = mongoc_client_get_database(client, m->db);
  if (!mongoc_database_write_command_with_opts(db, &cmd, NULL, NULL, &err)) {
    if (err.domain == MONGOC_ERROR_SERVER) {
      /* e.g. FerretDB v1 and TTL indexes: the caller has a fallback */
      LOG_WARN("store", "mongo %s.%s: createIndexes %s refused: %s", m->db, coll, name,
               err.message);
      rc = ACTOR_ESTORE;
    } else {
      rc = mongo_error(m, &err, "createIndexes", coll);
    }
  }
cleanup:
  if (db)
    mongoc_database_destroy(db);
  if (client)
    mongoc_client_pool_push(m->pool, client);
  bson_destroy(&k);
  bson_destroy(&cmd);
  return rc;
}

int store_mongo_drop_database(store_mongo_t *m) {
  bson_error_t err;
  mongoc_client_t *client = mongoc_client_pool_pop(m->pool);
  mongoc_database_t *db = mongoc_client_get_database(client, m->db);
  int rc = 0;
  if (!mongoc_database_drop_with_opts(db, NULL, &err))
    rc = mongo_error(m, &err, "dropDatabase", NULL);
  mongoc_database_destroy(db);
  mongoc_client_pool_push(m->pool, client);
  return rc;
}

int store_mongo_find_each(store_mongo_t *m, const char *coll, const json_t *filter,
                          const json_t *opts, int (*fn)(const json_t *doc, void *ud), void *ud) {
  bson_t q, o;
  bson_error_t err;
  const bson_t *doc;
  mongo_conn_t c = {0};
  int rc = to_bson(m, opts, &o, "options", coll);
  if (rc != 0) {
    bson_destroy(&o);
    return rc;
  }
  rc = to_bson(m, filter, &q, "filter", coll);
  if (rc == 0) {
    conn_open(m, coll, &c);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c.coll, &q, &o, NULL);
    while (rc == 0 && mongoc_cursor_next(cur, &doc)) {
      json_t *v = NULL;
      rc = store_mongo_bson_to_json(doc, &v);
      if (rc == 0)
        rc = fn(v, ud);
      json_decref(v);
    }
    if (rc == 0 && mongoc_cursor_error(cur, &err))
      rc = mongo_error(m, &err, "find", coll);
    mongoc_cursor_destroy(cur);
    conn_close(m, &c);
  }
  bson_destroy(&q);
  bson_destroy(&o);
  return rc;
}
