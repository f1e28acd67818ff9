/* The worker's heavy half, loaded on first use.
 *
 * An idle worker needs Redis, RabbitMQ and its loop; the Docker engine
 * client (libcurl), the execution store (libmongoc) and the secret-config
 * cipher (libcrypto) serve executions only. Linked in, those libraries and
 * what they pull (about 40 shared objects: OpenSSL, GnuTLS, Kerberos, ICU,
 * SASL and its plugins...) cost every worker about 1.2 MiB of private
 * memory (relocated data) and their start-up allocations, whether it ever
 * runs a message or not. So the worker binary links none of them: the
 * functions of libactor's docker.c, store_mongo.c, store_bson.c and
 * secret.c live in worker-ext.so (next to the worker binary), and this
 * file defines the same functions, which dlopen it on the first call and
 * forward. The module resolves what it takes from libactor (logging,
 * config, Redis helpers) against the worker binary (built with exported
 * symbols).
 *
 * dkr_new_from_config and store_mongo_new load nothing: they return a
 * handle that makes the real client on its first use (a configuration
 * error shows then, logged with its key, as the call's error code). */
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/docker.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "actor/secret.h"
#include "actor/service.h"
#include "actor/store.h"
#include "exec.h"
#include "worker.h"

#define EXT_NAME "worker-ext.so"

/* ---- the module ---- */

static struct {
  int (*dkr_new_from_config)(const actor_config_t *, dkr_t **);
  const char *(*dkr_unix_path)(const dkr_t *);
  void (*dkr_free)(dkr_t *);
  int (*dkr_container_create)(dkr_t *, const char *, const json_t *, char **, char **);
  int (*dkr_container_start)(dkr_t *, const char *, char **);
  int (*dkr_container_wait)(dkr_t *, const char *, long, int64_t *, char **);
  int (*dkr_container_logs)(dkr_t *, const char *, size_t, char **, size_t *, int *, char **);
  int (*dkr_container_inspect)(dkr_t *, const char *, json_t **, char **);
  int (*dkr_container_stats)(dkr_t *, const char *, json_t **, char **);
  int (*dkr_container_kill)(dkr_t *, const char *, const char *, char **);
  int (*dkr_container_remove)(dkr_t *, const char *, char **);
  int (*dkr_container_export)(dkr_t *, const char *, int, char **);
  int (*dkr_image_inspect)(dkr_t *, const char *, json_t **, char **);
  int (*dkr_network_inspect)(dkr_t *, const char *, json_t **, char **);
  int (*dkr_network_create)(dkr_t *, const json_t *, char **);
  void (*dkr_stats_totals)(const json_t *, int64_t *, int64_t *);
  int (*store_mongo_new)(const struct actor_config_s *, store_mongo_t **);
  void (*store_mongo_free)(store_mongo_t *);
  int (*store_mongo_insert)(store_mongo_t *, const char *, const json_t *);
  int (*store_mongo_find_one)(store_mongo_t *, const char *, const json_t *, const json_t *,
                              json_t **);
  int (*store_mongo_find)(store_mongo_t *, const char *, const json_t *, const json_t *,
                          json_t **);
  int (*store_mongo_delete)(store_mongo_t *, const char *, const json_t *, long long *);
  int (*store_mongo_find_and_modify)(store_mongo_t *, const char *, const json_t *,
                                     const json_t *, int, int, json_t **);
  int (*store_mongo_create_index)(store_mongo_t *, const char *, const json_t *, const json_t *);
  int (*actor_secret_key_init)(actor_secret_key_t *, const char *);
  int (*actor_secret_decrypt)(const actor_secret_key_t *, const char *, const char *, char **,
                              size_t *);
  int (*worker__oci_create)(worker_exec_t *);
  int (*worker__oci_start)(worker_exec_t *);
  void (*worker__oci_wait)(worker_exec_t *);
  bool (*worker__oci_never_started)(worker_exec_t *);
  void (*worker__oci_sample)(worker_exec_t *);
  int (*worker__oci_logs)(worker_exec_t *, size_t, char **, size_t *, int *);
  json_t *(*worker__oci_state)(worker_exec_t *);
  void (*worker__oci_cleanup)(worker_exec_t *);
  void (*worker__oci_release)(worker_exec_t *);
  void (*worker_ext_thread_stop)(void);
} ext;

static pthread_once_t ext_once = PTHREAD_ONCE_INIT;
static bool ext_ok;

/* Each entry: its name and where its address goes. */
#define EXT_SYMS(XX)                                                                             \
  XX(dkr_new_from_config)                                                                        \
  XX(dkr_unix_path)                                                                              \
  XX(dkr_free)                                                                                   \
  XX(dkr_container_create)                                                                       \
  XX(dkr_container_start)                                                                        \
  XX(dkr_container_wait)                                                                         \
  XX(dkr_container_logs)                                                                         \
  XX(dkr_container_inspect)                                                                      \
  XX(dkr_container_stats)                                                                        \
  XX(dkr_container_kill)                                                                         \
  XX(dkr_container_remove)                                                                       \
  XX(dkr_container_export)                                                                       \
  XX(dkr_image_inspect)                                                                          \
  XX(dkr_network_inspect)                                                                        \
  XX(dkr_network_create)                                                                         \
  XX(dkr_stats_totals)                                                                           \
  XX(store_mongo_new)                                                                            \
  XX(store_mongo_free)                                                                           \
  XX(store_mongo_insert)                                                                         \
  XX(store_mongo_find_one)                                                                       \
  XX(store_mongo_find)                                                                           \
  XX(store_mongo_delete)                                                                         \
  XX(store_mongo_find_and_modify)                                                                \
  XX(store_mongo_create_index)                                                                   \
  XX(actor_secret_key_init)                                                                      \
  XX(actor_secret_decrypt)                                                                       \
  XX(worker__oci_create)                                                                         \
  XX(worker__oci_start)                                                                          \
  XX(worker__oci_wait)                                                                           \
  XX(worker__oci_never_started)                                                                  \
  XX(worker__oci_sample)                                                                         \
  XX(worker__oci_logs)                                                                           \
  XX(worker__oci_state)                                                                          \
  XX(worker__oci_cleanup)                                                                        \
  XX(worker__oci_release)                                                                        \
  XX(worker_ext_thread_stop)

/* $ABACO_WORKER_EXT, else worker-ext.so in the directory of this binary. */
static int ext_path(char *out, size_t size) {
  const char *env = getenv("ABACO_WORKER_EXT");
  if (env != NULL && *env != '\0') {
    if ((size_t)snprintf(out, size, "%s", env) >= size)
      return ACTOR_ETOOBIG;
    return 0;
  }
  return actor_exe_sibling(EXT_NAME, out, size);
}

static void ext_load(void) {
  char path[PATH_MAX + sizeof(EXT_NAME)];
  if (ext_path(path, sizeof(path)) != 0) {
    LOG_ERROR("worker", "cannot locate %s (the worker's executable path is unreadable)",
              EXT_NAME);
    return;
  }
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h == NULL) {
    LOG_ERROR("worker", "cannot load %s: %s", path, dlerror());
    return;
  }
#define EXT_SYM(name)                                                                            \
  if ((*(void **)&ext.name = dlsym(h, #name)) == NULL) {                                         \
    LOG_ERROR("worker", "%s: no symbol %s", path, #name);                                        \
    return;                                                                                      \
  }
  EXT_SYMS(EXT_SYM)
#undef EXT_SYM
  LOG_DEBUG("worker", "loaded %s", path);
  /* never unloaded; release: read without the once by worker_ext_thread_done */
  __atomic_store_n(&ext_ok, true, __ATOMIC_RELEASE);
}

static bool ext_ready(void) {
  if (pthread_once(&ext_once, ext_load) != 0)
    return false;
  return ext_ok;
}

/* ---- lazy handles ---- */

/* What dkr_new_from_config / store_mongo_new hand out: the config, and the
 * real client once made (under lock). */
typedef struct {
  const actor_config_t *cfg;
  pthread_mutex_t lock;
  void *real;
  int failed; /* the error of a failed make: returned from then on */
} lazy_t;

static int lazy_new(const actor_config_t *cfg, lazy_t **out) {
  *out = NULL;
  lazy_t *l = calloc(1, sizeof(*l));
  if (l == NULL)
    return ACTOR_ENOMEM;
  if (pthread_mutex_init(&l->lock, NULL) != 0) {
    free(l);
    return ACTOR_ENOMEM;
  }
  l->cfg = cfg;
  *out = l;
  return 0;
}

static void lazy_free(lazy_t *l, void (*free_real)(void *)) {
  if (l == NULL)
    return;
  if (l->real != NULL && free_real != NULL)
    free_real(l->real);
  pthread_mutex_destroy(&l->lock);
  free(l);
}

static int lazy_get(lazy_t *l, int (*make)(const actor_config_t *, void **), const char *what,
                    void **real) {
  *real = NULL;
  if (l == NULL)
    return ACTOR_EINVAL;
  if (!ext_ready())
    return ACTOR_EIO;
  pthread_mutex_lock(&l->lock);
  int rc = l->failed;
  if (rc == 0 && l->real == NULL) {
    rc = make(l->cfg, &l->real);
    if (rc != 0) {
      LOG_ERROR("worker", "cannot set up the %s client: %s", what, actor_strerror(rc));
      l->failed = rc;
      l->real = NULL;
    }
  }
  *real = l->real;
  pthread_mutex_unlock(&l->lock);
  return rc;
}

/* Declares `real`: the client behind the lazy handle h, made on first
 * use; returns the error from the calling function when there is none. */
#define LAZY_REAL(type, h, real, make, what)                                                     \
  type *real = NULL;                                                                             \
  do {                                                                                           \
    void *r_;                                                                                    \
    int rc_ = lazy_get((lazy_t *)(h), make, what, &r_);                                          \
    if (rc_ != 0)                                                                                \
      return rc_;                                                                                \
    real = r_;                                                                                   \
  } while (0)

/* ---- Docker engine client ---- */

static int make_docker(const actor_config_t *cfg, void **out) {
  dkr_t *d = NULL;
  int rc = ext.dkr_new_from_config(cfg, &d);
  *out = d;
  return rc;
}

static void free_docker(void *d) { ext.dkr_free(d); }

#define DKR(d, real) LAZY_REAL(dkr_t, d, real, make_docker, "Docker engine")

int dkr_new_from_config(const actor_config_t *cfg, dkr_t **out) {
  lazy_t *l = NULL;
  int rc = lazy_new(cfg, &l);
  *out = (dkr_t *)l;
  return rc;
}

void dkr_free(dkr_t *d) { lazy_free((lazy_t *)d, free_docker); }

const char *dkr_unix_path(const dkr_t *d) {
  void *real = NULL;
  if (lazy_get((lazy_t *)d, make_docker, "Docker engine", &real) != 0)
    return NULL;
  return ext.dkr_unix_path(real);
}

int dkr_container_create(dkr_t *d, const char *name, const json_t *spec, char **id, char **err) {
  DKR(d, real);
  return ext.dkr_container_create(real, name, spec, id, err);
}

int dkr_container_start(dkr_t *d, const char *id, char **err) {
  DKR(d, real);
  return ext.dkr_container_start(real, id, err);
}

int dkr_container_wait(dkr_t *d, const char *id, long timeout_ms, int64_t *status_code,
                       char **err) {
  DKR(d, real);
  return ext.dkr_container_wait(real, id, timeout_ms, status_code, err);
}

int dkr_container_logs(dkr_t *d, const char *id, size_t max, char **out, size_t *len,
                       int *truncated, char **err) {
  DKR(d, real);
  return ext.dkr_container_logs(real, id, max, out, len, truncated, err);
}

int dkr_container_inspect(dkr_t *d, const char *id, json_t **out, char **err) {
  DKR(d, real);
  return ext.dkr_container_inspect(real, id, out, err);
}

int dkr_container_stats(dkr_t *d, const char *id, json_t **out, char **err) {
  DKR(d, real);
  return ext.dkr_container_stats(real, id, out, err);
}

int dkr_container_kill(dkr_t *d, const char *id, const char *signal, char **err) {
  DKR(d, real);
  return ext.dkr_container_kill(real, id, signal, err);
}

int dkr_container_remove(dkr_t *d, const char *id, char **err) {
  DKR(d, real);
  return ext.dkr_container_remove(real, id, err);
}

int dkr_container_export(dkr_t *d, const char *id, int fd, char **err) {
  DKR(d, real);
  return ext.dkr_container_export(real, id, fd, err);
}

int dkr_image_inspect(dkr_t *d, const char *image, json_t **out, char **err) {
  *out = NULL;
  DKR(d, real);
  return ext.dkr_image_inspect(real, image, out, err);
}

int dkr_network_inspect(dkr_t *d, const char *network, json_t **out, char **err) {
  *out = NULL;
  DKR(d, real);
  return ext.dkr_network_inspect(real, network, out, err);
}

int dkr_network_create(dkr_t *d, const json_t *body, char **err) {
  DKR(d, real);
  return ext.dkr_network_create(real, body, err);
}

void dkr_stats_totals(const json_t *stats, int64_t *cpu_ns, int64_t *io_bytes) {
  *cpu_ns = 0;
  *io_bytes = 0;
  if (ext_ready())
    ext.dkr_stats_totals(stats, cpu_ns, io_bytes);
}

/* ---- execution store (MongoDB wire) ---- */

static int make_mongo(const actor_config_t *cfg, void **out) {
  store_mongo_t *m = NULL;
  int rc = ext.store_mongo_new(cfg, &m);
  *out = m;
  return rc;
}

static void free_mongo(void *m) { ext.store_mongo_free(m); }

#define MONGO(m, real) LAZY_REAL(store_mongo_t, m, real, make_mongo, "execution store")

int store_mongo_new(const struct actor_config_s *cfg, store_mongo_t **out) {
  lazy_t *l = NULL;
  int rc = lazy_new(cfg, &l);
  *out = (store_mongo_t *)l;
  return rc;
}

void store_mongo_free(store_mongo_t *m) { lazy_free((lazy_t *)m, free_mongo); }

int store_mongo_insert(store_mongo_t *m, const char *coll, const json_t *doc) {
  MONGO(m, real);
  return ext.store_mongo_insert(real, coll, doc);
}

int store_mongo_find_one(store_mongo_t *m, const char *coll, const json_t *filter,
                         const json_t *projection, json_t **out) {
  *out = NULL;
  MONGO(m, real);
  return ext.store_mongo_find_one(real, coll, filter, projection, out);
}

int store_mongo_find(store_mongo_t *m, const char *coll, const json_t *filter, const json_t *opts,
                     json_t **out) {
  *out = NULL;
  MONGO(m, real);
  return ext.store_mongo_find(real, coll, filter, opts, out);
}

int store_mongo_delete(store_mongo_t *m, const char *coll, const json_t *filter,
                       long long *deleted) {
  MONGO(m, real);
  return ext.store_mongo_delete(real, coll, filter, deleted);
}

int store_mongo_find_and_modify(store_mongo_t *m, const char *coll, const json_t *filter,
                                const json_t *update, int upsert, int return_new, json_t **out) {
  if (out != NULL)
    *out = NULL;
  MONGO(m, real);
  return ext.store_mongo_find_and_modify(real, coll, filter, update, upsert, return_new, out);
}

int store_mongo_create_index(store_mongo_t *m, const char *coll, const json_t *keys,
                             const json_t *opts) {
  MONGO(m, real);
  return ext.store_mongo_create_index(real, coll, keys, opts);
}

/* ---- secret configs ---- */

int actor_secret_key_init(actor_secret_key_t *key, const char *key_text) {
  memset(key, 0, sizeof(*key));
  if (key_text == NULL || *key_text == '\0')
    return ACTOR_ECONFIG;
  if (!ext_ready())
    return ACTOR_EIO;
  return ext.actor_secret_key_init(key, key_text);
}

void actor_secret_key_wipe(actor_secret_key_t *key) {
  if (key != NULL)
    explicit_bzero(key, sizeof(*key));
}

int actor_secret_decrypt(const actor_secret_key_t *key, const char *text, const char *aad,
                         char **out, size_t *out_len) {
  *out = NULL;
  if (!ext_ready())
    return ACTOR_EIO;
  return ext.actor_secret_decrypt(key, text, aad, out, out_len);
}

void actor_secret_free(char *plain, size_t len) {
  if (plain == NULL)
    return;
  explicit_bzero(plain, len ? len : strlen(plain));
  free(plain);
}

/* ---- the OCI runtime's stages (ext/oci.c) ----
 *
 * The module's dkr_* calls bind to this binary's functions above (the
 * executable's exported definitions come first), so oci.c works with the
 * same lazy handle as the rest of the worker. */

int worker__oci_create(worker_exec_t *x) {
  if (!ext_ready())
    return ACTOR_EIO;
  return ext.worker__oci_create(x);
}

int worker__oci_start(worker_exec_t *x) {
  if (!ext_ready())
    return ACTOR_EIO;
  return ext.worker__oci_start(x);
}

void worker__oci_wait(worker_exec_t *x) {
  if (ext_ready())
    ext.worker__oci_wait(x);
}

bool worker__oci_never_started(worker_exec_t *x) {
  return ext_ready() ? ext.worker__oci_never_started(x) : true;
}

void worker__oci_sample(worker_exec_t *x) {
  if (ext_ready())
    ext.worker__oci_sample(x);
}

int worker__oci_logs(worker_exec_t *x, size_t max, char **out, size_t *len, int *truncated) {
  *out = NULL;
  *len = 0;
  *truncated = 0;
  if (!ext_ready())
    return ACTOR_EIO;
  return ext.worker__oci_logs(x, max, out, len, truncated);
}

json_t *worker__oci_state(worker_exec_t *x) { return ext_ready() ? ext.worker__oci_state(x) : NULL; }

void worker__oci_cleanup(worker_exec_t *x) {
  if (ext_ready())
    ext.worker__oci_cleanup(x);
}

void worker__oci_release(worker_exec_t *x) {
  if (ext_ready())
    ext.worker__oci_release(x);
}

/* ---- pool threads ---- */

void worker_ext_thread_done(void) {
  /* not loaded: this thread cannot have used OpenSSL (only the module links it) */
  if (__atomic_load_n(&ext_ok, __ATOMIC_ACQUIRE))
    ext.worker_ext_thread_stop();
}

/* ---- the worker's first message ---- */

void worker_ext_load(worker_t *w) {
  void *real;
  /* Failures are logged by lazy_get and returned again by each call. */
  ACTOR_IGNORE(lazy_get((lazy_t *)w->docker, make_docker, "Docker engine", &real));
  ACTOR_IGNORE(lazy_get((lazy_t *)w->mongo, make_mongo, "execution store", &real));
}
