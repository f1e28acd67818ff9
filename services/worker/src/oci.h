/* The OCI runtime path ([workers] runtime = oci, docs/oci.md): each
 * execution runs as a fresh runc container of the actor image's root
 * filesystem, unpacked once per image id from the local Docker engine
 * (oci_image.c), with a per-execution bundle: an overlay writable layer,
 * a network namespace on the platform's bridge, config.json
 * (oci_config.c), stdout and stderr into one log file, accounting from
 * its cgroup (oci.c). Private to the worker. */
#ifndef WORKER_OCI_H
#define WORKER_OCI_H

#include <dirent.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "actor/config.h"

/* Host-wide state of the OCI path (leases, runc's state directory). */
#define OCI_RUN_DIR "/run/abaco-oci"
#define OCI_RUNC_ROOT OCI_RUN_DIR "/runc"
#define OCI_LEASE_DIR OCI_RUN_DIR "/ip"
/* The platform's bridge network (made through the engine, so its NAT and
 * forwarding rules are the engine's own) and the cgroup parent. */
#define OCI_NETWORK "abaco-oci"
#define OCI_BRIDGE "abaco-oci0"
#define OCI_CGROUP_PARENT "abaco-oci"

typedef struct {
  char *dir;     /* [workers] oci_dir, absolute (malloc'd) */
  char *subnet;  /* [workers] oci_subnet (malloc'd) */
  char runc[64], tar[64];
  /* The actor's image, resolved by the first execution (a new revision is
   * a new worker, so it is resolved again). */
  char *image_id;   /* sha256:... */
  json_t *image_cfg; /* the image's Config (Env, Entrypoint, Cmd, WorkingDir, User) */
  char *rootfs;     /* <dir>/images/<hex>/rootfs */
  int use_fd;       /* <dir>/images/<hex>.use, locked shared (oci_image.c) */
  bool use_held;
  /* The network, once known. */
  bool net_ready;
  bool swept; /* bundles of dead workers looked for (oci.c, once) */
  char bridge[32];
  uint32_t net, gateway; /* host byte order */
  int prefix;
  /* Clean-ups running after their execution was recorded (oci_clean.c's
   * late_cleanup threads; __atomic). worker_oci_free waits for them. */
  int pending;
} worker_oci_t;

/* One execution's bundle and process. */
typedef struct {
  char *bundle;    /* <dir>/run/<id> */
  char *merged;    /* bundle/rootfs (the overlay) */
  bool mounted;
  char netns[64];  /* "" when none */
  char lease[64];  /* lease file name ("" when none) */
  uint32_t addr;
  pid_t runc_pid;  /* 0: not running */
  int pidfd;
  int log_fd;
  int lock_fd; /* <bundle>/lock, held (flock) until the bundle is gone */
  bool created; /* runc state exists (delete it) */
  int64_t started_ms, finished_ms;
  int status; /* runc's wait status */
  void *late; /* what worker__oci_cleanup left for worker__oci_release */
} oci_exec_t;

/* Reads [workers] oci_dir and oci_subnet and finds runc and tar.
 * ACTOR_ECONFIG (logged, naming the key or the missing program). */
int worker_oci_config(const actor_config_t *cfg, worker_oci_t *o);
void worker_oci_free(worker_oci_t *o);

/* Runs argv (absolute path) with stdin from in_fd (-1: /dev/null) and
 * stdout+stderr into out_fd (-1: captured into err, at most errlen-1
 * bytes); waits for it. Returns its wait status, or -1 when it could not
 * be started (err says why). */
int oci_run_cmd(char *const argv[], int in_fd, int out_fd, char *err, size_t errlen);
/* Starts argv without waiting: stdin from in_fd, stdout and stderr into
 * out_fd (-1: /dev/null for either). 0 or -1. */
int oci_spawn(char *const argv[], int in_fd, int out_fd, pid_t *pid);
/* rm -rf (no symlink followed). */
void oci_rmtree(const char *path);
/* Opens <root>/<sub> (its path left in dir, PATH_MAX bytes) for reading;
 * NULL if the path is too long or it cannot be opened. */
DIR *oci_opendir(const char *root, const char *sub, char *dir);

/* oci_net.c: the network namespace /run/netns/<netns> with a veth pair,
 * host_if on the bridge, eth0 inside with addr/prefix and the default
 * route via gateway (addresses in host byte order), by rtnetlink from the
 * calling thread. 0, or -1 with err set (what failed). */
typedef struct {
  const char *netns, *host_if, *bridge;
  uint32_t addr, gateway;
  int prefix;
} oci_net_t;
int oci_net_make(const oci_net_t *n, char *err, size_t errlen);
/* Unmounts and removes /run/netns/<name> (its veth pair goes with it). */
void oci_netns_del(const char *name);

/* oci_image.c: the actor image's id, Config and unpacked root filesystem
 * (exported from the engine once per image id, shared read-only).
 * ACTOR_ENOTFOUND / ACTOR_EDOCKER: the image's fault (err says). */
struct dkr_s;
int oci_image_ready(struct dkr_s *d, worker_oci_t *o, const char *image, char **err);

/* oci_config.c: the runtime spec (config.json) of one execution from the
 * ContainerCreate body the Docker path would send (spec.c) and the
 * image's Config. NULL with *why set (the actor's fault: an unknown user,
 * no command) or for memory (*why NULL). No I/O but reading the rootfs's
 * /etc/passwd and /etc/group. */
typedef struct {
  const json_t *spec;      /* ContainerCreate body */
  const json_t *image_cfg; /* the image's Config */
  const char *rootfs;      /* for user names */
  const char *merged;      /* root.path */
  const char *id;          /* container id (cgroup name) */
  const char *hostname;
  const char *netns;       /* /run/netns/<name>, NULL: none */
  const char *etc_dir;     /* holds resolv.conf, hosts, hostname */
  const char *docker_sock; /* bound for a privileged actor */
} oci_config_in_t;
json_t *oci_config(const oci_config_in_t *in, const char **why);

#endif
