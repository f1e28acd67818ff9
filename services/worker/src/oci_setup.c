/* [workers] runtime = oci: its settings, read at the worker's start (the
 * rest of the OCI path, ext/oci*.c, is in
 * worker-ext.so, loaded at the first message, so an idle worker maps none
 * of it). */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/errors.h"
#include "actor/log.h"
#include "oci.h"

static bool find_prog(const char *name, char *out, size_t len) {
  static const char *const DIRS[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin",
                                     "/usr/local/sbin", "/usr/local/bin", NULL};
  for (int i = 0; DIRS[i]; i++) {
    snprintf(out, len, "%s/%s", DIRS[i], name);
    if (access(out, X_OK) == 0)
      return true;
  }
  return false;
}

int worker_oci_config(const actor_config_t *cfg, worker_oci_t *o) {
  memset(o, 0, sizeof(*o));
  const char *dir = actor_config_get(cfg, "workers", "oci_dir", "var/oci");
  char cwd[PATH_MAX];
  if (dir[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
    o->dir = strdup(dir);
  else if (asprintf(&o->dir, "%s/%s", cwd, dir) < 0)
    o->dir = NULL;
  o->subnet = strdup(actor_config_get(cfg, "workers", "oci_subnet", "10.213.0.0/16"));
  if (o->dir == NULL || o->subnet == NULL)
    return ACTOR_ENOMEM;
  unsigned a, b, c, d;
  int p = 0;
  if (sscanf(o->subnet, "%u.%u.%u.%u/%d", &a, &b, &c, &d, &p) != 5 || a > 255 || b > 255 ||
      c > 255 || d > 255 || p < 8 || p > 23) {
    LOG_ERROR("config", "[workers] oci_subnet: bad value '%s': expected an IPv4 network "
                        "a.b.c.d/N with N from 8 to 23", o->subnet);
    return ACTOR_ECONFIG;
  }
  static const struct {
    const char *name;
    size_t off;
  } PROGS[] = {{"runc", offsetof(worker_oci_t, runc)},
               {"tar", offsetof(worker_oci_t, tar)}};
  for (size_t i = 0; i < sizeof(PROGS) / sizeof(PROGS[0]); i++) {
    if (!find_prog(PROGS[i].name, (char *)o + PROGS[i].off, 64)) {
      LOG_ERROR("config", "[workers] runtime = oci: %s is not installed (scripts/deps.sh)",
                PROGS[i].name);
      return ACTOR_ECONFIG;
    }
  }
  if (geteuid() != 0) {
    LOG_ERROR("config", "[workers] runtime = oci: the worker must run as root (runc, mounts, "
                        "network namespaces)");
    return ACTOR_ECONFIG;
  }
  return 0;
}

void worker_oci_free(worker_oci_t *o) {
  /* Late clean-ups still running (oci_clean.c): up to 30 s, then left. */
  for (int i = 0; i < 3000 && __atomic_load_n(&o->pending, __ATOMIC_ACQUIRE) > 0; i++)
    usleep(10000);
  if (__atomic_load_n(&o->pending, __ATOMIC_ACQUIRE) > 0)
    LOG_WARN("worker", "%d execution clean-ups still running at exit",
             __atomic_load_n(&o->pending, __ATOMIC_ACQUIRE));
  free(o->dir);
  free(o->subnet);
  free(o->image_id);
  free(o->rootfs);
  if (o->use_held)
    close(o->use_fd); /* the image may be pruned from now on */
  json_decref(o->image_cfg);
  memset(o, 0, sizeof(*o));
}

