/* Which worker processes are alive on this host (process backend: the
 * spawner runs `worker -c <conf> -- <db_id> <wid>`). A worker is alive when
 * the pid on its record is a process whose command line holds its worker
 * id -- a recycled pid or a zombie (empty command line) does not count --
 * or, when the record has no pid yet, when a /proc scan finds a worker
 * process with its id. The health agent must therefore share the pid
 * namespace of the spawner it watches (same machine, or `pid: host` /
 * `pid: service:spawner` when both run in containers). */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/errors.h"
#include "health.h"

#define CMDLINE_MAX 8192

bool health_cmdline_has(const char *cmdline, size_t len, const char *s) {
  size_t slen = strlen(s);
  for (size_t i = 0; i < len;) {
    const char *arg = cmdline + i;
    size_t alen = strnlen(arg, len - i);
    if (alen == slen && memcmp(arg, s, slen) == 0)
      return true;
    i += alen + 1;
  }
  return false;
}

bool health_cmdline_worker(const char *cmdline, size_t len, char *wid, size_t widlen) {
  /* Find "--", then expect exactly two arguments after it. */
  const char *after[3] = {NULL, NULL, NULL};
  size_t lens[3] = {0, 0, 0};
  int nafter = -1; /* -1: no "--" yet */
  for (size_t i = 0; i < len;) {
    const char *arg = cmdline + i;
    size_t alen = strnlen(arg, len - i);
    if (nafter < 0) {
      if (alen == 2 && arg[0] == '-' && arg[1] == '-')
        nafter = 0;
    } else if (nafter < 3) {
      after[nafter] = arg;
      lens[nafter] = alen;
      nafter++;
    } else {
      return false;
    }
    i += alen + 1;
  }
  if (nafter != 2 || lens[0] == 0 || lens[1] == 0 || lens[1] >= widlen)
    return false;
  memcpy(wid, after[1], lens[1]);
  wid[lens[1]] = '\0';
  return true;
}

/* Reads /proc/<pid>/cmdline; returns its length (0 when gone or a zombie). */
static size_t read_cmdline(long pid, char *buf, size_t cap) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return 0;
  size_t n = fread(buf, 1, cap - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n;
}

static int by_wid(const void *a, const void *b) {
  return strcmp(((const struct health_proc_s *)a)->wid, ((const struct health_proc_s *)b)->wid);
}

int health_procs_scan(health_procs_t *p) {
  p->n = 0;
  DIR *d = opendir("/proc");
  if (d == NULL)
    return ACTOR_EIO;
  char buf[CMDLINE_MAX];
  int rc = 0;
  struct dirent *e;
  while (rc == 0 && (e = readdir(d)) != NULL) {
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    long pid = strtol(e->d_name, NULL, 10);
    size_t n = read_cmdline(pid, buf, sizeof(buf));
    char wid[64];
    if (n == 0 || !health_cmdline_worker(buf, n, wid, sizeof(wid)))
      continue;
    if (p->n == p->cap) {
      size_t cap = p->cap ? p->cap * 2 : 64;
      struct health_proc_s *v = realloc(p->v, cap * sizeof(*v));
      if (v == NULL) {
        rc = ACTOR_ENOMEM;
        break;
      }
      p->v = v;
      p->cap = cap;
    }
    snprintf(p->v[p->n].wid, sizeof(p->v[p->n].wid), "%s", wid);
    p->v[p->n].pid = (int)pid;
    p->n++;
  }
  closedir(d);
  if (p->n > 1)
    qsort(p->v, p->n, sizeof(*p->v), by_wid);
  return rc;
}

int health_procs_find(const health_procs_t *p, const char *wid, long long record_pid) {
  if (record_pid > 0) {
    char buf[CMDLINE_MAX];
    size_t n = read_cmdline((long)record_pid, buf, sizeof(buf));
    if (n > 0 && health_cmdline_has(buf, n, wid))
      return (int)record_pid;
  }
  struct health_proc_s key;
  if (snprintf(key.wid, sizeof(key.wid), "%s", wid) >= (int)sizeof(key.wid) || p->n == 0)
    return 0;
  const struct health_proc_s *hit = bsearch(&key, p->v, p->n, sizeof(*p->v), by_wid);
  if (hit == NULL)
    return 0;
  /* The scan is from the start of the tick: check it is still there. */
  char buf[CMDLINE_MAX];
  size_t n = read_cmdline(hit->pid, buf, sizeof(buf));
  return n > 0 && health_cmdline_has(buf, n, wid) ? hit->pid : 0;
}

void health_procs_free(health_procs_t *p) {
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}
