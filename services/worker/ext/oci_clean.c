/* The OCI runtime's clean-up (docs/oci.md): what is left of an execution
 * once it ended (the container deleted, the overlay unmounted, the network
 * namespace and the address lease given back, the bundle removed), done by
 * worker__oci_release on a thread of its own after the record; and the
 * sweep of bundles whose worker died before its clean-up. The stages are
 * in oci.c. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/log.h"
#include "actor/timefmt.h"
#include "exec.h"
#include "oci_int.h"

/* What is left of an execution once it ended and its figures were read:
 * removed by late_cleanup, after the record. */
typedef struct {
  worker_t *w;
  char *cid, *bundle, *merged;
  bool created, mounted, keep_bundle;
  char netns[64], lease[64];
  int lock_fd; /* the bundle's lock, closed last; -1: none */
} oci_late_t;

static void late_cleanup(oci_late_t *l) {
  worker_t *w = l->w;
  char err[512];
  int64_t t0 = actor_time_mono_ms();
  if (l->created && l->cid) {
    char *argv[] = {w->oci.runc, "--root", OCI_RUNC_ROOT, "delete", "--force", l->cid, NULL};
    int st = oci_run_cmd(argv, -1, -1, err, sizeof(err));
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0) && strstr(err, "does not exist") == NULL)
      LOG_WARN("worker", "runc delete %s: %s", l->cid, err);
  }
  if (l->mounted && umount2(l->merged, MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    LOG_WARN("worker", "umount %s: %s", l->merged, strerror(errno));
  if (l->netns[0])
    oci_netns_del(l->netns);
  if (l->lease[0]) {
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", OCI_LEASE_DIR, l->lease);
    unlink(path);
  }
  if (l->bundle && !l->keep_bundle)
    oci_rmtree(l->bundle);
  else if (l->bundle) { /* leave_containers: oci_sweep() leaves it alone */
    char kept[PATH_MAX];
    snprintf(kept, sizeof(kept), "%s/kept", l->bundle);
    if (oci_write_file(kept, "") != 0)
      LOG_WARN("worker", "cannot write %s: %s", kept, strerror(errno));
  }
  if (l->lock_fd >= 0)
    close(l->lock_fd);
  LOG_DEBUG("worker", "%s: cleaned up in %lld ms (after the record)", l->cid ? l->cid : "-",
            (long long)(actor_time_mono_ms() - t0));
  free(l->cid);
  free(l->bundle);
  free(l->merged);
  free(l);
}

/* Bundles whose worker died (SIGKILL, a crash) before their clean-up: the
 * worker holds <bundle>/lock from the bundle's creation to its removal, so
 * a lock that can be taken is an orphan's. Each is cleaned up as the
 * worker would have (its container killed first). A bundle without a lock
 * file is one being made (left alone) unless older than a minute; one
 * marked "kept" is leave_containers'. Once per worker, at its first
 * execution. */
void oci_sweep(worker_t *w) {
  char dir[PATH_MAX];
  DIR *dp = oci_opendir(w->oci.dir, "run", dir);
  if (dp == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(dp)) != NULL) {
    if (strncmp(de->d_name, "abaco-", 6) != 0)
      continue;
    char b[PATH_MAX], p[PATH_MAX + 16];
    if ((size_t)snprintf(b, sizeof(b), "%s/%s", dir, de->d_name) >= sizeof(b))
      continue;
    snprintf(p, sizeof(p), "%s/kept", b);
    if (access(p, F_OK) == 0)
      continue;
    snprintf(p, sizeof(p), "%s/lock", b);
    int fd = open(p, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (fd < 0 && !(errno == ENOENT && stat(b, &st) == 0 &&
                    actor_time_now_ms() / 1000 - (int64_t)st.st_mtime > 60))
      continue;
    if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) { /* its worker is alive */
      close(fd);
      continue;
    }
    oci_late_t *l = calloc(1, sizeof(*l));
    if (l == NULL) {
      if (fd >= 0)
        close(fd);
      break;
    }
    l->w = w;
    l->cid = strdup(de->d_name);
    l->bundle = strdup(b);
    snprintf(p, sizeof(p), "%s/rootfs", b);
    l->merged = strdup(p);
    l->created = l->mounted = true;
    l->lock_fd = fd;
    snprintf(p, sizeof(p), "%s/net", b);
    FILE *f = fopen(p, "re");
    if (f) {
      if (fscanf(f, "%63s %63s", l->netns, l->lease) < 1)
        l->netns[0] = l->lease[0] = '\0';
      fclose(f);
    }
    if (l->cid == NULL || l->bundle == NULL || l->merged == NULL) {
      late_cleanup(l); /* frees; does what it can */
      break;
    }
    LOG_INFO("worker", "removing OCI execution %s: its worker died before cleaning it up",
             l->cid);
    oci_runc_kill(w, l->cid);
    late_cleanup(l);
  }
  closedir(dp);
}

static void *late_main(void *arg) {
  oci_late_t *l = arg;
  worker_oci_t *o = &l->w->oci;
  late_cleanup(l);
  __atomic_sub_fetch(&o->pending, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* The execution's end: runc reaped (killed first when a stage failed
 * after the start), its descriptors closed; the rest is handed to
 * worker__oci_release (e->late), or done here when memory is short. */
void worker__oci_cleanup(worker_exec_t *x) {
  worker_t *w = x->w;
  oci_exec_t *e = &x->oci;
  if (e->runc_pid > 0) { /* a stage failed after the start: end it */
    if (x->cid)
      oci_runc_kill(w, x->cid);
    oci_reap(e, 0);
  }
  if (e->pidfd >= 0)
    close(e->pidfd);
  e->pidfd = -1;
  if (e->log_fd >= 0)
    close(e->log_fd);
  e->log_fd = -1;
  oci_late_t *l = calloc(1, sizeof(*l));
  if (l == NULL) { /* the rest is left to the next worker's oci_sweep() */
    if (e->lock_fd >= 0)
      close(e->lock_fd);
    e->lock_fd = -1;
    return;
  }
  l->w = w;
  l->cid = x->cid ? strdup(x->cid) : NULL;
  l->bundle = e->bundle;
  l->merged = e->merged;
  l->created = e->created;
  l->mounted = e->mounted;
  l->keep_bundle = w->leave_containers && x->stopped;
  l->lock_fd = e->lock_fd;
  e->lock_fd = -1;
  memcpy(l->netns, e->netns, sizeof(l->netns));
  memcpy(l->lease, e->lease, sizeof(l->lease));
  e->bundle = e->merged = NULL;
  e->created = e->mounted = false;
  e->netns[0] = e->lease[0] = '\0';
  if (x->cid && l->cid == NULL) {
    LOG_WARN("worker", "execution %s: out of memory: cleaning up now", x->in->eid);
    free(l->cid);
    l->cid = x->cid;
    x->cid = NULL;
    late_cleanup(l);
    return;
  }
  e->late = l;
}

#define LATE_MAX 64 /* late clean-ups at once; beyond, done in place */

void worker__oci_release(worker_exec_t *x) {
  oci_late_t *l = x->oci.late;
  x->oci.late = NULL;
  if (l == NULL)
    return;
  worker_oci_t *o = &l->w->oci;
  if (__atomic_add_fetch(&o->pending, 1, __ATOMIC_ACQ_REL) <= LATE_MAX) {
    pthread_attr_t at;
    pthread_t t;
    if (pthread_attr_init(&at) == 0) {
      bool ok = pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0 &&
                pthread_attr_setstacksize(&at, 256 * 1024) == 0 &&
                pthread_create(&t, &at, late_main, l) == 0;
      pthread_attr_destroy(&at);
      if (ok)
        return;
    }
  }
  late_cleanup(l);
  __atomic_sub_fetch(&o->pending, 1, __ATOMIC_RELEASE);
}
