/* The actor image's root filesystem for the OCI path
 * (docs/oci.md "The image cache"): <oci_dir>/images/<image id>/rootfs, unpacked once from
 * the local engine (a container of the image is created, never started,
 * exported as a tar stream into `tar -x`, and removed) and then shared
 * read-only by every execution of that image (the overlay's lower layer).
 * Keyed by the image id, so a rebuilt tag or an actor update that names
 * another image gets a fresh copy; workers unpacking the same image
 * concurrently take turns through a lock file, and an unpacking that did
 * not finish (a crash) leaves only a .tmp directory that the next one
 * removes.
 *
 * Pruning: a worker holds <image id>.use locked (shared) from the moment
 * its rootfs is ready to its exit. A worker that has just made its image
 * ready removes the rootfs of every other image that no worker holds and
 * that the engine no longer has under a tag (the actor's image was
 * rebuilt or removed: a new revision's) or at all. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/docker.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "exec.h"
#include "oci.h"

static void set_err(char **err, const char *fmt, const char *a, const char *b) {
  if (err == NULL)
    return;
  free(*err);
  if (asprintf(err, fmt, a, b) < 0)
    *err = NULL;
}

/* Exports image into dir (which must not exist yet). */
static int unpack(dkr_t *d, worker_oci_t *o, const char *image_id, const char *dir, char **err) {
  json_t *spec = json_pack("{s:s, s:[s], s:{s:s}}", "Image", image_id, "Entrypoint",
                           "/abaco-oci-export", "Labels", "abaco.oci-export", "1");
  char *cid = NULL;
  int rc = spec ? dkr_container_create(d, NULL, spec, &cid, err) : ACTOR_ENOMEM;
  json_decref(spec);
  if (rc != 0)
    return rc;
  worker__mkdirs(dir, 0755);
  int pfd[2];
  if (pipe2(pfd, O_CLOEXEC) != 0) {
    rc = ACTOR_EIO;
    goto out;
  }
  char *argv[] = {o->tar, "-x", "-f", "-", "-C", (char *)dir, "--numeric-owner", NULL};
  /* tar reads the pipe on its own; this thread feeds it. */
  pid_t pid = 0;
  int spawn_rc = oci_spawn(argv, pfd[0], -1, &pid);
  close(pfd[0]);
  if (spawn_rc != 0) {
    close(pfd[1]);
    set_err(err, "cannot run %s%s", o->tar, "");
    rc = ACTOR_EIO;
    goto out;
  }
  rc = dkr_container_export(d, cid, pfd[1], err);
  close(pfd[1]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
    ;
  if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    set_err(err, "unpacking the image %s failed (tar)%s", image_id, "");
    rc = ACTOR_EIO;
  }
out:;
  char *rerr = NULL;
  if (dkr_container_remove(d, cid, &rerr) != 0)
    LOG_WARN("worker", "could not remove export container %s: %s", cid, rerr ? rerr : "?");
  free(rerr);
  free(cid);
  return rc;
}

/* <dir>/images/<hex>, given its lock file held: removed when no worker
 * uses it and the engine has it under no tag. */
static void prune_one(dkr_t *d, const char *base, const char *hex) {
  char use[PATH_MAX];
  if ((size_t)snprintf(use, sizeof(use), "%s.use", base) >= sizeof(use))
    return;
  int ufd = open(use, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (ufd < 0)
    return;
  if (flock(ufd, LOCK_EX | LOCK_NB) != 0) { /* a worker uses it */
    close(ufd);
    return;
  }
  char ref[96], *err = NULL;
  snprintf(ref, sizeof(ref), "sha256:%s", hex);
  json_t *info = NULL;
  int rc = dkr_image_inspect(d, ref, &info, &err);
  const char *why = NULL;
  if (rc == ACTOR_ENOTFOUND)
    why = "no longer in the engine";
  else if (rc == 0 && json_array_size(json_object_get(info, "RepoTags")) == 0)
    why = "no longer tagged in the engine";
  if (why) {
    LOG_INFO("worker", "image cache: removing %s (%s)", base, why);
    oci_rmtree(base);
  }
  json_decref(info);
  free(err);
  close(ufd);
}

static void prune(dkr_t *d, const worker_oci_t *o, const char *keep_hex) {
  char dir[PATH_MAX];
  DIR *dp = oci_opendir(o->dir, "images", dir);
  if (dp == NULL)
    return;
  struct dirent *de;
  while ((de = readdir(dp)) != NULL) {
    const char *hex = de->d_name;
    if (hex[0] == '.' || strchr(hex, '.') != NULL || strcmp(hex, keep_hex) == 0 ||
        strlen(hex) != 64)
      continue;
    char base[PATH_MAX], lock[PATH_MAX + 8];
    if ((size_t)snprintf(base, sizeof(base), "%s/%s", dir, hex) >= sizeof(base))
      continue;
    snprintf(lock, sizeof(lock), "%s.lock", base);
    int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lfd < 0)
      continue;
    if (flock(lfd, LOCK_EX | LOCK_NB) == 0) /* no one unpacking or taking it */
      prune_one(d, base, hex);
    close(lfd);
  }
  closedir(dp);
}

int oci_image_ready(dkr_t *d, worker_oci_t *o, const char *image, char **err) {
  if (o->rootfs)
    return 0;
  json_t *info = NULL;
  int rc = dkr_image_inspect(d, image, &info, err);
  if (rc != 0)
    return rc;
  const char *id = json_string_value(json_object_get(info, "Id"));
  json_t *cfg = json_object_get(info, "Config");
  if (id == NULL || strlen(id) < 8) {
    json_decref(info);
    set_err(err, "image %s: the engine gave no id%s", image, "");
    return ACTOR_EPROTO;
  }
  const char *hex = strchr(id, ':') ? strchr(id, ':') + 1 : id;
  char *base = NULL, *root = NULL, *tmp = NULL, *lock = NULL;
  if (asprintf(&base, "%s/images/%s", o->dir, hex) < 0 ||
      asprintf(&root, "%s/rootfs", base) < 0 || asprintf(&tmp, "%s/rootfs.tmp", base) < 0 ||
      asprintf(&lock, "%s.lock", base) < 0) {
    rc = ACTOR_ENOMEM;
    goto out;
  }
  worker__mkdirs(base, 0755);
  int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
    LOG_WARN("worker", "image cache lock %s: %s", lock, strerror(errno));
    if (lfd >= 0)
      close(lfd);
    rc = ACTOR_EIO;
    goto out;
  }
  struct stat st;
  if (stat(root, &st) != 0) {
    LOG_INFO("worker", "unpacking image %s (%.19s) into %s", image, id, root);
    oci_rmtree(tmp);
    rc = unpack(d, o, id, tmp, err);
    if (rc == 0 && rename(tmp, root) != 0) {
      rc = ACTOR_EIO;
      set_err(err, "cannot move %s into place: %s", tmp, strerror(errno));
    }
    if (rc != 0)
      oci_rmtree(tmp);
  }
  if (rc == 0) {
    /* held (shared) until this worker exits: see prune */
    char use[PATH_MAX];
    snprintf(use, sizeof(use), "%s.use", base);
    int ufd = open(use, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ufd >= 0 && flock(ufd, LOCK_SH) == 0) {
      o->use_fd = ufd;
      o->use_held = true;
    } else {
      LOG_WARN("worker", "image cache %s: %s", use, strerror(errno));
      if (ufd >= 0)
        close(ufd);
      rc = ACTOR_EIO;
    }
  }
  close(lfd); /* releases the lock */
  if (rc == 0)
    prune(d, o, hex);
  if (rc == 0) {
    o->image_id = strdup(id);
    o->image_cfg = json_is_object(cfg) ? json_incref(cfg) : json_object();
    o->rootfs = root;
    root = NULL;
    if (o->image_id == NULL)
      rc = ACTOR_ENOMEM;
  }
out:
  json_decref(info);
  free(base);
  free(root);
  free(tmp);
  free(lock);
  return rc;
}
