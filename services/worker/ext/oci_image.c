/* The actor image's root filesystem for the OCI path (docs/oci.md "The
 * image cache"): <oci_dir>/images/<image id>/rootfs, unpacked once from
 * the local engine (a container of the image is created, never started,
 * exported as a tar stream into `tar -x`, and removed) and then shared
 * read-only by every execution of that image (the overlay's lower layer).
 * Keyed by the image id, so a rebuilt tag or an actor update that names
 * another image gets a fresh copy; workers unpacking the same image
 * concurrently take turns through a lock file, and an unpacking that did
 * not finish (a crash) leaves only a .tmp directory that the next one
 * removes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/docker.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "oci.h"

static void mkdirs(const char *path) {
  char *p = strdup(path);
  if (p == NULL)
    return;
  for (char *s = p + 1; *s; s++) {
    if (*s == '/') {
      *s = '\0';
      mkdir(p, 0755);
      *s = '/';
    }
  }
  mkdir(p, 0755);
  free(p);
}

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
  mkdirs(dir);
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
  mkdirs(base);
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
  close(lfd); /* releases the lock */
  if (rc == 0) {
    o->image_id = strdup(id);
    o->image_cfg = json_incref(json_is_object(cfg) ? cfg : json_object());
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
