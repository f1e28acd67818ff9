/* The OCI runtime path's stages (docs/oci.md): what exec_container.c,
 * exec_wait.c, exec_collect.c and quit.c do through the engine, done with
 * runc on a bundle of the worker's own making (thread pool; the loop
 * thread never waits for any of it).
 *
 *   create   the image's rootfs (oci_image.c); the bundle: an overlay of
 *            rootfs + a writable layer, resolv.conf/hosts/hostname, a
 *            network namespace with a veth on the platform's bridge and an
 *            address leased from the host's lease directory, config.json
 *   start    `runc run --keep` with stdin /dev/null and stdout+stderr into
 *            the bundle's log file (no console)
 *   wait     a pidfd on runc: its exit is the container's (runc exits with
 *            the container's status); force_quit and max_run_time `runc
 *            kill` it; a runc that exits before the container existed (no
 *            pid file) is a start failure, its message the reason
 *   collect  logs from the file; cpu and io from the container's cgroup,
 *            still there after the exit (--keep), so short runs are counted
 *   clean up `runc delete --force`, unmount, delete the netns, give the
 *            address back, remove the bundle
 *
 * Failure rules are the Docker path's: the actor's image missing or
 * unusable and a container that would not start set start_failed; the
 * host's own trouble (files, mounts, ip, runc missing) returns ACTOR_EIO
 * (requeued). */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/json.h"
#include "actor/log.h"
#include "actor/timefmt.h"
#include "exec.h"
#include "oci_int.h"

extern char **environ;

#define KILL_WAIT_MS 30000
#define TICK_MS 50

/* ---- processes and files ---- */

int oci_spawn(char *const argv[], int in_fd, int out_fd, pid_t *pid) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  if (posix_spawn_file_actions_init(&fa) != 0)
    return -1;
  if (posix_spawnattr_init(&at) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return -1;
  }
  sigset_t none, dfl;
  sigemptyset(&none);
  sigemptyset(&dfl);
  sigaddset(&dfl, SIGPIPE);
  sigaddset(&dfl, SIGTERM);
  sigaddset(&dfl, SIGINT);
  sigaddset(&dfl, SIGCHLD);
  int rc = posix_spawnattr_setsigmask(&at, &none) || posix_spawnattr_setsigdefault(&at, &dfl) ||
           posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  if (rc == 0)
    rc = in_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, in_fd, 0)
                    : posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (rc == 0)
    rc = out_fd >= 0 ? posix_spawn_file_actions_adddup2(&fa, out_fd, 1)
                     : posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  if (rc == 0)
    rc = posix_spawn_file_actions_adddup2(&fa, 1, 2);
  if (rc == 0)
    rc = posix_spawn(pid, argv[0], &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return rc == 0 ? 0 : -1;
}

int oci_run_cmd(char *const argv[], int in_fd, int out_fd, char *err, size_t errlen) {
  int pfd[2] = {-1, -1};
  if (out_fd < 0 && pipe2(pfd, O_CLOEXEC) != 0) {
    snprintf(err, errlen, "pipe: %s", strerror(errno));
    return -1;
  }
  pid_t pid = 0;
  if (oci_spawn(argv, in_fd, out_fd >= 0 ? out_fd : pfd[1], &pid) != 0) {
    snprintf(err, errlen, "cannot run %s", argv[0]);
    if (pfd[0] >= 0) {
      close(pfd[0]);
      close(pfd[1]);
    }
    return -1;
  }
  if (pfd[1] >= 0) {
    close(pfd[1]);
    size_t n = 0;
    char buf[512];
    ssize_t r;
    while ((r = read(pfd[0], buf, sizeof(buf))) != 0) {
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        break;
      for (ssize_t i = 0; i < r && errlen > 0 && n < errlen - 1; i++)
        err[n++] = buf[i];
    }
    if (errlen > 0) {
      while (n > 0 && (err[n - 1] == '\n' || err[n - 1] == '\r'))
        n--;
      err[n] = '\0';
    }
    close(pfd[0]);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR)
      return -1;
  }
  return status;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st;
  (void)f;
  if (flag == FTW_DP)
    rmdir(p);
  else
    unlink(p);
  return 0;
}

void oci_rmtree(const char *path) {
  nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

DIR *oci_opendir(const char *root, const char *sub, char *dir) {
  if ((size_t)snprintf(dir, PATH_MAX, "%s/%s", root, sub) >= PATH_MAX)
    return NULL;
  return opendir(dir);
}

int oci_write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return -1;
  size_t n = strlen(text), done = 0;
  while (done < n) {
    ssize_t w = write(fd, text + done, n - done);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      close(fd);
      return -1;
    }
    done += (size_t)w;
  }
  return close(fd);
}

/* ---- the network ---- */

static int parse_v4(const char *s, uint32_t *out, int *prefix) {
  unsigned a, b, c, d;
  int p = 32, n = 0;
  if (sscanf(s, "%u.%u.%u.%u%n", &a, &b, &c, &d, &n) != 4 || a > 255 || b > 255 || c > 255 ||
      d > 255)
    return -1;
  if (s[n] == '/' && sscanf(s + n + 1, "%d", &p) != 1)
    return -1;
  *out = (a << 24) | (b << 16) | (c << 8) | d;
  if (prefix)
    *prefix = p;
  return 0;
}

static void v4_text(uint32_t a, char *out, size_t len) {
  snprintf(out, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

/* The platform's bridge network, made through the engine the first time
 * (its NAT and forwarding rules are then the engine's): the engine's own
 * allocations stay in the first /24 (IPRange), the workers lease above. */
static int net_ready(worker_t *w, char **err) {
  worker_oci_t *o = &w->oci;
  if (o->net_ready)
    return 0;
  json_t *info = NULL;
  int rc = dkr_network_inspect(w->docker, OCI_NETWORK, &info, err);
  if (rc == ACTOR_ENOTFOUND) {
    uint32_t net = 0;
    int p = 0;
    char range[32], gw[32], sub[32];
    if (parse_v4(o->subnet, &net, &p) != 0)
      return ACTOR_ECONFIG;
    net &= p ? ~0u << (32 - p) : 0;
    v4_text(net, sub, sizeof(sub));
    snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "/%d", p);
    v4_text(net, range, sizeof(range));
    strcat(range, "/24");
    v4_text(net + 1, gw, sizeof(gw));
    json_t *body = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}, s:{s:[{s:s, s:s, s:s}]}}", "Name",
                             OCI_NETWORK, "Driver", "bridge", "Options",
                             "com.docker.network.bridge.name", OCI_BRIDGE, "Labels",
                             "abaco.oci", "1", "IPAM", "Config", "Subnet", sub, "IPRange", range,
                             "Gateway", gw);
    free(*err);
    *err = NULL;
    rc = body ? dkr_network_create(w->docker, body, err) : ACTOR_ENOMEM;
    json_decref(body);
    if (rc != 0 && rc != ACTOR_EDOCKER) /* EDOCKER: another worker made it meanwhile */
      return rc;
    free(*err);
    *err = NULL;
    rc = dkr_network_inspect(w->docker, OCI_NETWORK, &info, err);
  }
  if (rc != 0)
    return rc;
  const json_t *c0 = json_array_get(json_object_get(json_object_get(info, "IPAM"), "Config"), 0);
  const char *sub = actor_json_str(c0, "Subnet", ""), *gw = actor_json_str(c0, "Gateway", "");
  const char *br = actor_json_str(json_object_get(info, "Options"),
                                  "com.docker.network.bridge.name", NULL);
  if (parse_v4(sub, &o->net, &o->prefix) != 0 || parse_v4(gw, &o->gateway, NULL) != 0 ||
      o->prefix > 23) {
    json_decref(info);
    free(*err);
    *err = strdup("the abaco-oci network has no usable IPv4 subnet (/23 or larger)");
    return ACTOR_EIO;
  }
  if (br)
    snprintf(o->bridge, sizeof(o->bridge), "%s", br);
  else
    snprintf(o->bridge, sizeof(o->bridge), "br-%.12s", actor_json_str(info, "Id", ""));
  json_decref(info);
  o->net_ready = true;
  return 0;
}

/* An address of the subnet above its first /24, leased by a file named
 * after it (O_EXCL: one holder host-wide). */
static int lease(worker_t *w, oci_exec_t *e, const char *eid) {
  worker_oci_t *o = &w->oci;
  uint32_t size = 1u << (32 - o->prefix), first = 256, last = size - 2;
  uint32_t span = last - first + 1, seed = 0;
  if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
    seed = (uint32_t)getpid() ^ (uint32_t)actor_time_mono_ms();
  worker__mkdirs(OCI_LEASE_DIR, 0755);
  for (uint32_t i = 0; i < span; i++) {
    uint32_t addr = o->net + first + (seed + i) % span;
    if ((addr & 255) == 0 || (addr & 255) == 255 || addr == o->gateway)
      continue;
    char name[32], path[128];
    v4_text(addr, name, sizeof(name));
    snprintf(path, sizeof(path), "%s/%s", OCI_LEASE_DIR, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
      continue;
    if (write(fd, eid, strlen(eid)) < 0)
      LOG_DEBUG("worker", "lease %s: %s", name, strerror(errno));
    close(fd);
    snprintf(e->lease, sizeof(e->lease), "%s", name);
    e->addr = addr;
    return 0;
  }
  return ACTOR_EIO;
}

static int net_setup(worker_t *w, oci_exec_t *e, const char *eid, const char *hostname,
                     const char *etc) {
  worker_oci_t *o = &w->oci;
  if (lease(w, e, eid) != 0)
    return ACTOR_EIO;
  char addr[32], host_if[16], file[PATH_MAX], err[512];
  v4_text(e->addr, addr, sizeof(addr));
  uint32_t off = e->addr - o->net;
  snprintf(host_if, sizeof(host_if), "aoh%x", off);
  snprintf(e->netns, sizeof(e->netns), "abaco-oci-%x", off);
  /* for oci_sweep(), should this worker die before its clean-up */
  char names[160];
  snprintf(names, sizeof(names), "%s %s\n", e->netns, e->lease);
  snprintf(file, sizeof(file), "%s/net", e->bundle);
  if (oci_write_file(file, names) != 0) {
    LOG_WARN("worker", "execution %s: cannot write %s: %s", eid, file, strerror(errno));
    return ACTOR_EIO;
  }
  oci_net_t net = {.netns = e->netns, .host_if = host_if, .bridge = o->bridge,
                   .addr = e->addr, .gateway = o->gateway, .prefix = o->prefix};
  if (oci_net_make(&net, err, sizeof(err)) != 0) {
    LOG_WARN("worker", "execution %s: network %s: %s", eid, e->netns, err);
    return ACTOR_EIO;
  }
  /* /etc files: the host's resolvers (not loopback ones, as Docker does). */
  char resolv[4096] = "", line[512];
  FILE *f = fopen("/etc/resolv.conf", "re");
  bool ns = false;
  while (f && fgets(line, sizeof(line), f)) {
    if (strncmp(line, "nameserver", 10) == 0) {
      if (strstr(line, " 127.") || strstr(line, " ::1"))
        continue;
      ns = true;
    }
    if (strlen(resolv) + strlen(line) < sizeof(resolv) - 64)
      strcat(resolv, line);
  }
  if (f)
    fclose(f);
  if (!ns)
    strcat(resolv, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
  char hosts[512], hn[80];
  snprintf(hosts, sizeof(hosts),
           "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s\n", addr,
           hostname);
  snprintf(hn, sizeof(hn), "%s\n", hostname);
  static const char *const NAMES[] = {"resolv.conf", "hosts", "hostname"};
  const char *texts[] = {resolv, hosts, hn};
  for (int i = 0; i < 3; i++) {
    snprintf(file, sizeof(file), "%s/%s", etc, NAMES[i]);
    if (oci_write_file(file, texts[i]) != 0)
      return ACTOR_EIO;
  }
  return 0;
}

/* ---- stages ---- */

static char *bundle_path(const oci_exec_t *e, const char *name) {
  char *p = NULL;
  if (asprintf(&p, "%s/%s", e->bundle, name) < 0)
    return NULL;
  return p;
}

int worker__oci_create(worker_exec_t *x) {
  worker_t *w = x->w;
  oci_exec_t *e = &x->oci;
  const char *eid = x->in->eid;
  const char *image = actor_json_str(x->in->actor, "image", "");
  int64_t t0 = actor_time_mono_ms();
  int rc = oci_image_ready(w->docker, &w->oci, image, &x->err);
  if (rc != 0) {
    if (worker__platform_fault(rc) || rc == ACTOR_EIO || rc == ACTOR_ENOMEM)
      return rc;
    x->start_failed = true;
    snprintf(x->why, x->whylen, "could not create the container: %s",
             x->err ? x->err : actor_strerror(rc));
    return 0;
  }
  rc = net_ready(w, &x->err);
  if (rc != 0)
    return worker__platform_fault(rc) ? rc : ACTOR_EIO;
  /* One id (and bundle) per attempt: a redelivered message may run while
   * an earlier attempt of a worker that died still does. */
  uint32_t attempt = 0;
  if (getrandom(&attempt, sizeof(attempt), 0) != sizeof(attempt))
    attempt = (uint32_t)actor_time_mono_ms();
  if (asprintf(&x->cid, "abaco-%s-%08x", eid, attempt) < 0) {
    x->cid = NULL;
    return ACTOR_ENOMEM;
  }
  if (asprintf(&e->bundle, "%s/run/%s", w->oci.dir, x->cid) < 0) {
    e->bundle = NULL;
    return ACTOR_ENOMEM;
  }
  if (!w->oci.swept) {
    w->oci.swept = true;
    oci_sweep(w);
  }
  worker__mkdirs(e->bundle, 0711);
  char *lockp = bundle_path(e, "lock");
  e->lock_fd = lockp ? open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600) : -1;
  free(lockp);
  if (e->lock_fd < 0 || flock(e->lock_fd, LOCK_EX) != 0) {
    LOG_WARN("worker", "execution %s: bundle lock: %s", eid, strerror(errno));
    return ACTOR_EIO;
  }
  char *upper = bundle_path(e, "upper"), *work = bundle_path(e, "work"),
       *etc = bundle_path(e, "etc"), *opts = NULL;
  e->merged = bundle_path(e, "rootfs");
  rc = ACTOR_ENOMEM;
  if (!upper || !work || !etc || !e->merged)
    goto out;
  worker__mkdirs(upper, 0755);
  worker__mkdirs(work, 0700);
  worker__mkdirs(etc, 0755);
  worker__mkdirs(e->merged, 0755);
  if (asprintf(&opts, "lowerdir=%s,upperdir=%s,workdir=%s", w->oci.rootfs, upper, work) < 0) {
    opts = NULL;
    goto out;
  }
  int64_t t1 = actor_time_mono_ms();
  if (mount("overlay", e->merged, "overlay", 0, opts) != 0) {
    LOG_WARN("worker", "execution %s: overlay mount on %s: %s", eid, e->merged, strerror(errno));
    rc = ACTOR_EIO;
    goto out;
  }
  e->mounted = true;
  unsigned char rnd[6];
  char hostname[16];
  if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
    memset(rnd, 0x5a, sizeof(rnd));
  for (int i = 0; i < 6; i++)
    snprintf(hostname + 2 * i, 3, "%02x", rnd[i]);
  int64_t t2 = actor_time_mono_ms();
  rc = net_setup(w, e, eid, hostname, etc);
  if (rc != 0)
    goto out;
  char netns[128];
  snprintf(netns, sizeof(netns), "/run/netns/%s", e->netns);
  const char *why = NULL;
  oci_config_in_t cin = {.spec = x->spec,
                         .image_cfg = w->oci.image_cfg,
                         .rootfs = w->oci.rootfs,
                         .merged = e->merged,
                         .id = x->cid,
                         .hostname = hostname,
                         .netns = netns,
                         .etc_dir = etc,
                         .docker_sock = w->docker_sock};
  int64_t t3 = actor_time_mono_ms();
  json_t *config = oci_config(&cin, &why);
  if (config == NULL) {
    if (why == NULL)
      goto out; /* memory */
    x->start_failed = true;
    snprintf(x->why, x->whylen, "could not create the container: %s", why);
    rc = 0;
    goto out;
  }
  char *cfgpath = bundle_path(e, "config.json");
  rc = cfgpath && json_dump_file(config, cfgpath, JSON_COMPACT) == 0 ? 0 : ACTOR_EIO;
  free(cfgpath);
  json_decref(config);
  if (rc == 0) {
    worker__set_running(w, eid, x->cid);
    LOG_DEBUG("worker", "execution %s: oci create %lld ms: image+bundle %lld, overlay %lld, "
              "network %lld, config.json %lld", eid, (long long)(actor_time_mono_ms() - t0),
              (long long)(t1 - t0), (long long)(t2 - t1), (long long)(t3 - t2),
              (long long)(actor_time_mono_ms() - t3));
  }
out:
  free(upper);
  free(work);
  free(etc);
  free(opts);
  return rc;
}

int worker__oci_start(worker_exec_t *x) {
  worker_t *w = x->w;
  oci_exec_t *e = &x->oci;
  char *logp = bundle_path(e, "log"), *pidp = bundle_path(e, "pid");
  int rc = ACTOR_ENOMEM;
  if (!logp || !pidp)
    goto out;
  e->log_fd = open(logp, O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
  if (e->log_fd < 0) {
    rc = ACTOR_EIO;
    goto out;
  }
  char *argv[] = {w->oci.runc, "--root", OCI_RUNC_ROOT, "run", "--keep", "--pid-file", pidp,
                  "--bundle", e->bundle, x->cid, NULL};
  worker__mkdirs(OCI_RUNC_ROOT, 0700);
  e->started_ms = actor_time_now_ms();
  if (oci_spawn(argv, -1, e->log_fd, &e->runc_pid) != 0) {
    LOG_WARN("worker", "execution %s: cannot run %s", x->in->eid, w->oci.runc);
    e->runc_pid = 0;
    rc = ACTOR_EIO;
    goto out;
  }
  e->created = true;
  e->pidfd = (int)syscall(SYS_pidfd_open, e->runc_pid, 0);
  rc = 0;
  if (x->fifo && worker_fifo_start(x->fifo, x->in->binary, x->in->binary_len) != 0)
    rc = ACTOR_ENOMEM; /* the wait stage still reaps runc: see worker__oci_cleanup */
out:
  free(logp);
  free(pidp);
  return rc;
}

int oci_runc_kill(worker_t *w, const char *cid) {
  char err[256] = "";
  char *argv[] = {w->oci.runc, "--root", OCI_RUNC_ROOT, "kill", (char *)cid, "KILL", NULL};
  int st = oci_run_cmd(argv, -1, -1, err, sizeof(err));
  if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
    LOG_DEBUG("worker", "runc kill %s: %s", cid, err);
    return -1;
  }
  return 0;
}

static bool quit_asked(worker_t *w) {
  uv_mutex_lock(&w->lock);
  bool q = w->quit_pending;
  uv_mutex_unlock(&w->lock);
  return q;
}

void oci_reap(oci_exec_t *e, int flags) {
  int st = 0;
  pid_t r;
  while ((r = waitpid(e->runc_pid, &st, flags)) < 0 && errno == EINTR)
    ;
  if (r == e->runc_pid || (r < 0 && errno == ECHILD)) {
    e->status = r == e->runc_pid ? st : 0;
    e->runc_pid = 0;
    e->finished_ms = actor_time_now_ms();
  }
}

void worker__oci_wait(worker_exec_t *x) {
  worker_t *w = x->w;
  oci_exec_t *e = &x->oci;
  worker_waiter_t *wt = &x->wt;
  int64_t killed_at = 0, deadline = 0;
  /* max_run_time counts from the container's start (runc writes the pid
   * file then), as the Docker path's wait starts after the start call. */
  char *pidp = wt->max_run_ms > 0 ? bundle_path(e, "pid") : NULL;
  while (e->runc_pid > 0) {
    if (e->pidfd >= 0) {
      struct pollfd p = {.fd = e->pidfd, .events = POLLIN};
      if (poll(&p, 1, TICK_MS) > 0)
        oci_reap(e, 0);
    } else {
      oci_reap(e, WNOHANG);
      if (e->runc_pid > 0)
        usleep(TICK_MS * 1000);
    }
    if (e->runc_pid == 0)
      break;
    int64_t now = actor_time_mono_ms();
    if (pidp && deadline == 0 && access(pidp, F_OK) == 0)
      deadline = now + wt->max_run_ms;
    if (killed_at == 0) {
      bool quit = quit_asked(w), late = deadline > 0 && now >= deadline;
      if ((quit || late) && oci_runc_kill(w, x->cid) == 0) {
        killed_at = now;
        if (late && !quit) {
          wt->timed_out = true;
          LOG_INFO("worker", "execution %s ran past max_run_time (%lds): killing it",
                   x->in->eid, wt->max_run_ms / 1000);
        } else {
          LOG_INFO("worker", "force quit execution %s (container %s)", x->in->eid, x->cid);
        }
      }
    } else if (now - killed_at > KILL_WAIT_MS) {
      wt->rc = ACTOR_ETIMEDOUT;
      wt->err = strdup("the container did not stop after runc kill");
      break;
    }
  }
  free(pidp);
  if (e->runc_pid == 0) {
    LOG_DEBUG("worker", "execution %s: runc run %lld ms", x->in->eid,
              (long long)(e->finished_ms - e->started_ms));
    int st = e->status;
    wt->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : WIFSIGNALED(st) ? 128 + WTERMSIG(st) : -1;
    wt->rc = 0;
  }
}

/* After the wait: runc exited without ever making the container (no pid
 * file): the reason is what it wrote (the log file's tail). */
bool worker__oci_never_started(worker_exec_t *x) {
  char *pidp = bundle_path(&x->oci, "pid");
  bool started = pidp && access(pidp, F_OK) == 0;
  free(pidp);
  if (started || x->wt.rc != 0)
    return false;
  char buf[1024] = "";
  ssize_t n = x->oci.log_fd >= 0 ? pread(x->oci.log_fd, buf, sizeof(buf) - 1, 0) : -1;
  buf[n > 0 ? n : 0] = '\0';
  size_t len = strlen(buf);
  while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
    buf[--len] = '\0';
  /* runc logs `time=... level=error msg="runc run failed: ..."`: the msg. */
  char *msg = strstr(buf, "msg=\""), *o = buf;
  if (msg) {
    for (char *p = msg + 5; *p && *p != '\n'; p++) {
      if (*p == '\\' && p[1]) {
        *o++ = *++p;
        continue;
      }
      if (*p == '"')
        break;
      *o++ = *p;
    }
    *o = '\0';
    len = strlen(buf);
  }
  x->start_failed = true;
  snprintf(x->why, x->whylen, "could not start the container: %s",
           len ? buf : "runc exited before the container started");
  return true;
}

static int64_t read_i64(const char *path) {
  char buf[64];
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return strtoll(buf, NULL, 10);
}

void worker__oci_sample(worker_exec_t *x) {
  if (x->cid == NULL)
    return;
  char path[512];
  snprintf(path, sizeof(path), "/sys/fs/cgroup/cpuacct/%s/%s/cpuacct.usage", OCI_CGROUP_PARENT,
           x->cid);
  int64_t cpu = read_i64(path);
  if (cpu > x->cpu)
    x->cpu = cpu;
  snprintf(path, sizeof(path), "/sys/fs/cgroup/blkio/%s/%s/blkio.throttle.io_service_bytes",
           OCI_CGROUP_PARENT, x->cid);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return;
  char line[256], dev[64], op[32];
  long long v, io = 0;
  while (fgets(line, sizeof(line), f)) {
    if (sscanf(line, "%63s %31s %lld", dev, op, &v) == 3 &&
        (strcmp(op, "Read") == 0 || strcmp(op, "Write") == 0))
      io += v;
  }
  fclose(f);
  if (io > x->io)
    x->io = io;
}

int worker__oci_logs(worker_exec_t *x, size_t max, char **out, size_t *len, int *truncated) {
  *out = NULL;
  *len = 0;
  *truncated = 0;
  int fd = x->oci.log_fd;
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0)
    return ACTOR_EIO;
  size_t size = (size_t)st.st_size, want = max > 0 && size > max ? max : size;
  char *buf = malloc(want + 1);
  if (buf == NULL)
    return ACTOR_ENOMEM;
  size_t got = 0;
  while (got < want) {
    ssize_t n = pread(fd, buf + got, want - got, (off_t)got);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    got += (size_t)n;
  }
  buf[got] = '\0';
  *out = buf;
  *len = got;
  *truncated = max > 0 && size > max;
  return 0;
}

json_t *worker__oci_state(worker_exec_t *x) {
  char started[ACTOR_TIME_MAX], finished[ACTOR_TIME_MAX], path[512];
  actor_time_format(x->oci.started_ms, started);
  actor_time_format(x->oci.finished_ms ? x->oci.finished_ms : actor_time_now_ms(), finished);
  snprintf(path, sizeof(path), "/sys/fs/cgroup/memory/%s/%s/memory.oom_control",
           OCI_CGROUP_PARENT, x->cid);
  bool oom = false;
  FILE *f = fopen(path, "re");
  char line[128];
  long long n = 0;
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "oom_kill %lld", &n) == 1 && n > 0)
      oom = true;
  if (f)
    fclose(f);
  return json_pack("{s:s, s:b, s:b, s:b, s:b, s:b, s:i, s:I, s:s, s:s, s:s, s:s}", "Status",
                   "exited", "Running", 0, "Paused", 0, "Restarting", 0, "OOMKilled", oom,
                   "Dead", 0, "Pid", 0, "ExitCode", (json_int_t)x->wt.exit_code, "Error", "",
                   "StartedAt", started, "FinishedAt", finished, "Runtime", "oci");
}
