/* config.json of one OCI execution (docs/oci.md "The bundle"), built from
 * the ContainerCreate body the Docker path sends (spec.c: Env, User,
 * Labels, HostConfig Memory/NanoCpus/Binds/Privileged) and the image's
 * Config, with Docker's defaults: namespaces pid, mount, ipc, uts and
 * network; the default capability set; no new privileges; a seccomp
 * deny-list; Docker's masked and read-only /proc and /sys paths; /dev,
 * /dev/pts, /dev/shm (64 MiB), /dev/mqueue, /sys read-only. A privileged
 * actor gets every capability, no seccomp and no masked paths, as
 * --privileged does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actor/json.h"
#include "oci.h"

static const char *const DEFAULT_CAPS[] = {
    "CAP_CHOWN",  "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",     "CAP_MKNOD",
    "CAP_NET_RAW", "CAP_SETGID",      "CAP_SETUID",           "CAP_SETFCAP",    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE", NULL};

static const char *const ALL_CAPS[] = {
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE", NULL};

static const char *const MASKED[] = {
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap", NULL};
static const char *const READONLY[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger", NULL};

/* Calls Docker's default profile refuses (it allows a list; this denies
 * the calls outside it that matter: kernel modules, keyrings, mounts and
 * namespaces, clocks, bpf/perf, io_uring, swap, reboot, raw I/O ports). */
static const char *const SECCOMP_DENY[] = {
    "acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",
    "delete_module", "finit_module", "fsconfig", "fsmount", "fsopen", "fspick",
    "get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter", "io_uring_register",
    "io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load", "kexec_load", "keyctl",
    "lookup_dcookie", "mbind", "mount", "mount_setattr", "move_mount", "move_pages",
    "name_to_handle_at", "nfsservctl", "open_by_handle_at", "open_tree", "perf_event_open",
    "pivot_root", "query_module", "quotactl", "quotactl_fd", "reboot", "request_key",
    "set_mempolicy", "setns", "settimeofday", "stime", "swapoff", "swapon", "syslog",
    "sysfs", "_sysctl", "umount", "umount2", "unshare", "uselib", "userfaultfd", "ustat",
    "vm86", "vm86old", "fanotify_init", "vhangup", NULL};
/* clone flags for new namespaces (CLONE_NEWNS .. CLONE_NEWNET, CLONE_NEWCGROUP). */
static const unsigned long CLONE_NS_FLAGS[] = {0x00020000, 0x04000000, 0x08000000,
                                               0x10000000, 0x20000000, 0x40000000,
                                               0x02000000, 0};

static json_t *str_array(const char *const *v) {
  json_t *a = json_array();
  for (; a && *v; v++)
    json_array_append_new(a, json_string(*v));
  return a;
}

static json_t *seccomp(void) {
  json_t *calls = json_array();
  json_t *deny = str_array(SECCOMP_DENY);
  json_array_append_new(calls, json_pack("{s:o, s:s, s:i}", "names", deny, "action",
                                         "SCMP_ACT_ERRNO", "errnoRet", 1));
  /* glibc falls back to clone when clone3 is ENOSYS; clone's flags can
   * then be checked (clone3 passes them in memory). */
  json_array_append_new(calls, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action",
                                         "SCMP_ACT_ERRNO", "errnoRet", 38));
  for (int i = 0; CLONE_NS_FLAGS[i]; i++)
    json_array_append_new(
        calls, json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", "clone",
                         "action", "SCMP_ACT_ERRNO", "errnoRet", 1, "args", "index", 0, "value",
                         (json_int_t)CLONE_NS_FLAGS[i], "valueTwo",
                         (json_int_t)CLONE_NS_FLAGS[i], "op", "SCMP_CMP_MASKED_EQ"));
  return json_pack("{s:s, s:[s,s,s], s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures",
                   "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "syscalls", calls);
}

/* A line of an /etc/passwd or /etc/group file of the image whose first
 * field is name (or whose third field is the number name, when by_id):
 * fields 3 and 4 (passwd: uid, gid; group: gid). */
static bool etc_lookup(const char *rootfs, const char *file, const char *name, bool by_id,
                       long *f3, long *f4) {
  char path[4096];
  snprintf(path, sizeof(path), "%s/etc/%s", rootfs, file);
  FILE *f = fopen(path, "re");
  if (f == NULL)
    return false;
  char line[1024];
  bool found = false;
  while (!found && fgets(line, sizeof(line), f)) {
    char *save = NULL, *fields[4] = {0};
    char *tok = strtok_r(line, ":\n", &save);
    for (int i = 0; i < 4 && tok; i++) {
      fields[i] = tok;
      if (i < 3)
        tok = strtok_r(NULL, ":\n", &save);
    }
    if (fields[0] == NULL || fields[2] == NULL)
      continue;
    if (by_id ? strcmp(fields[2], name) == 0 : strcmp(fields[0], name) == 0) {
      *f3 = strtol(fields[2], NULL, 10);
      *f4 = fields[3] ? strtol(fields[3], NULL, 10) : 0;
      found = true;
    }
  }
  fclose(f);
  return found;
}

static bool numeric(const char *s, long *out) {
  char *end = NULL;
  if (*s == '\0')
    return false;
  long v = strtol(s, &end, 10);
  if (*end != '\0' || v < 0)
    return false;
  *out = v;
  return true;
}

/* "user[:group]" (names or numbers) as Docker resolves it against the
 * image's files. */
static const char *resolve_user(const char *rootfs, const char *spec, long *uid, long *gid) {
  char user[256], *group = NULL;
  snprintf(user, sizeof(user), "%s", spec ? spec : "");
  if ((group = strchr(user, ':')) != NULL)
    *group++ = '\0';
  long u = 0, g = 0, dummy = 0;
  if (user[0] == '\0') {
    u = 0;
    g = 0;
  } else if (numeric(user, &u)) {
    if (!etc_lookup(rootfs, "passwd", user, true, &dummy, &g))
      g = 0;
  } else if (!etc_lookup(rootfs, "passwd", user, false, &u, &g)) {
    return "unable to find user in the image's /etc/passwd";
  }
  if (group && *group && !numeric(group, &g) &&
      !etc_lookup(rootfs, "group", group, false, &g, &dummy))
    return "unable to find group in the image's /etc/group";
  *uid = u;
  *gid = g;
  return NULL;
}

static bool env_has(const json_t *env, const char *key) {
  size_t klen = strlen(key), i;
  const json_t *v;
  json_array_foreach(env, i, v) {
    const char *s = json_string_value(v);
    if (s && strncmp(s, key, klen) == 0 && s[klen] == '=')
      return true;
  }
  return false;
}

/* The image's Env overridden by the body's, key by key; HOSTNAME and a
 * default PATH as Docker adds them. */
static json_t *environment(const json_t *image_env, const json_t *env, const char *hostname) {
  json_t *out = json_array();
  size_t i;
  const json_t *v;
  json_array_foreach(image_env, i, v) {
    const char *s = json_string_value(v), *eq = s ? strchr(s, '=') : NULL;
    if (eq == NULL)
      continue;
    char key[256];
    snprintf(key, sizeof(key), "%.*s", (int)(eq - s), s);
    if (!env_has(env, key))
      json_array_append_new(out, json_string(s));
  }
  json_array_foreach(env, i, v) {
    if (json_is_string(v))
      json_array_append(out, (json_t *)v);
  }
  if (!env_has(out, "PATH"))
    json_array_append_new(
        out, json_string("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  if (!env_has(out, "HOSTNAME"))
    json_array_append_new(out, json_sprintf("HOSTNAME=%s", hostname));
  return out;
}

static json_t *mount(const char *dst, const char *type, const char *src, const char *opts) {
  json_t *o = json_array();
  char *save = NULL, buf[256];
  snprintf(buf, sizeof(buf), "%s", opts);
  for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
    json_array_append_new(o, json_string(t));
  return json_pack("{s:s, s:s, s:s, s:o}", "destination", dst, "type", type, "source", src,
                   "options", o);
}

static json_t *bind(const char *src, const char *dst, bool ro) {
  return json_pack("{s:s, s:s, s:s, s:[s,s,s]}", "destination", dst, "type", "bind", "source",
                   src, "options", "rbind", "rprivate", ro ? "ro" : "rw");
}

json_t *oci_config(const oci_config_in_t *in, const char **why) {
  *why = NULL;
  const json_t *spec = in->spec, *img = in->image_cfg;
  const json_t *host = json_object_get(spec, "HostConfig");
  bool privileged = json_is_true(json_object_get(host, "Privileged"));

  /* The command: the image's Entrypoint and Cmd. */
  json_t *args = json_array();
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(img, "Entrypoint"), i, v) json_array_append(args, (json_t *)v);
  json_array_foreach(json_object_get(img, "Cmd"), i, v) json_array_append(args, (json_t *)v);
  if (json_array_size(args) == 0) {
    json_decref(args);
    *why = "no command specified";
    return NULL;
  }
  /* The user: the body's (the actor's or [workers] actor_uid), else the image's. */
  const char *user = json_string_value(json_object_get(spec, "User"));
  if (user == NULL || *user == '\0')
    user = actor_json_str(img, "User", "");
  long uid = 0, gid = 0;
  if ((*why = resolve_user(in->rootfs, user, &uid, &gid)) != NULL) {
    json_decref(args);
    return NULL;
  }
  const char *cwd = actor_json_str(img, "WorkingDir", "");
  json_t *env = environment(json_object_get(img, "Env"), json_object_get(spec, "Env"),
                            in->hostname);
  json_t *caps = str_array(privileged ? ALL_CAPS : DEFAULT_CAPS);
  json_t *process = json_pack(
      "{s:b, s:{s:I, s:I}, s:o, s:o, s:s, s:{s:O, s:O, s:O, s:[], s:[]}, s:b}",
      "terminal", 0, "user", "uid", (json_int_t)uid, "gid", (json_int_t)gid, "args", args, "env",
      env, "cwd", *cwd ? cwd : "/", "capabilities", "bounding", caps, "effective", caps,
      "permitted", caps, "inheritable", "ambient", "noNewPrivileges", !privileged);
  json_decref(caps);

  /* Mounts: Docker's defaults, its /etc files, then the body's Binds. */
  char path[4096];
  json_t *mounts = json_array();
  json_array_append_new(mounts, mount("/proc", "proc", "proc", "nosuid,noexec,nodev"));
  json_array_append_new(mounts, mount("/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k"));
  json_array_append_new(mounts, mount("/dev/pts", "devpts", "devpts",
                                      "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5"));
  json_array_append_new(mounts, mount("/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=67108864"));
  json_array_append_new(mounts, mount("/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev"));
  json_array_append_new(mounts, mount("/sys", "sysfs", "sysfs",
                                      privileged ? "nosuid,noexec,nodev,rw" : "nosuid,noexec,nodev,ro"));
  json_array_append_new(mounts, mount("/sys/fs/cgroup", "cgroup", "cgroup",
                                      "nosuid,noexec,nodev,relatime,ro"));
  static const char *const ETC[] = {"resolv.conf", "hosts", "hostname", NULL};
  for (int k = 0; ETC[k]; k++) {
    char dst[64];
    snprintf(path, sizeof(path), "%s/%s", in->etc_dir, ETC[k]);
    snprintf(dst, sizeof(dst), "/etc/%s", ETC[k]);
    json_array_append_new(mounts, bind(path, dst, false));
  }
  json_array_foreach(json_object_get(host, "Binds"), i, v) {
    const char *b = json_string_value(v), *colon = b ? strchr(b, ':') : NULL;
    if (colon == NULL)
      continue;
    snprintf(path, sizeof(path), "%.*s", (int)(colon - b), b);
    json_array_append_new(mounts, bind(path, colon + 1, false));
  }

  /* Namespaces, cgroup and limits. */
  json_t *ns = json_pack("[{s:s}, {s:s}, {s:s}, {s:s}]", "type", "pid", "type", "ipc", "type",
                         "uts", "type", "mount");
  if (in->netns)
    json_array_append_new(ns, json_pack("{s:s, s:s}", "type", "network", "path", in->netns));
  else
    json_array_append_new(ns, json_pack("{s:s}", "type", "network"));
  json_t *res = json_pack("{s:[{s:b, s:s}]}", "devices", "allow", privileged, "access", "rwm");
  json_int_t mem = json_integer_value(json_object_get(host, "Memory"));
  if (mem > 0)
    json_object_set_new(res, "memory", json_pack("{s:I}", "limit", mem));
  json_int_t nano = json_integer_value(json_object_get(host, "NanoCpus"));
  if (nano > 0)
    json_object_set_new(res, "cpu", json_pack("{s:I, s:I}", "period", (json_int_t)100000,
                                              "quota", nano * 100000 / 1000000000));
  char cgroup[256];
  snprintf(cgroup, sizeof(cgroup), "/%s/%s", OCI_CGROUP_PARENT, in->id);
  json_t *linux_ = json_pack("{s:o, s:s, s:o}", "namespaces", ns, "cgroupsPath", cgroup,
                             "resources", res);
  if (!privileged) {
    json_object_set_new(linux_, "maskedPaths", str_array(MASKED));
    json_object_set_new(linux_, "readonlyPaths", str_array(READONLY));
    json_object_set_new(linux_, "seccomp", seccomp());
  }
  json_t *labels = json_deep_copy(json_object_get(spec, "Labels"));
  if (labels == NULL)
    labels = json_object();
  json_object_set_new(labels, "abaco.privileged", json_string(privileged ? "true" : "false"));
  json_t *out = json_pack("{s:s, s:o, s:{s:s, s:b}, s:s, s:o, s:o, s:o}", "ociVersion", "1.0.2",
                          "process", process, "root", "path", in->merged, "readonly", 0,
                          "hostname", in->hostname, "mounts", mounts, "linux", linux_,
                          "annotations", labels);
  return out;
}
