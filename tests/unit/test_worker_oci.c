/* config.json of an OCI execution (oci_config in services/worker/ext/
 * oci_config.c, docs/oci.md "The bundle"): Docker's default isolation
 * (namespaces, capabilities, no new privileges, seccomp, masked paths),
 * the limits, mounts and user of the ContainerCreate body, the image's
 * command and environment, and what a privileged actor gets instead. User
 * names are resolved in a temporary root filesystem's /etc/passwd. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "actor/errors.h"
#include "oci.h"
#include "test.h"

static char rootfs[] = "/tmp/abaco-oci-test-XXXXXX";

static void make_rootfs(void) {
  if (mkdtemp(rootfs) == NULL)
    abort();
  char path[256];
  snprintf(path, sizeof(path), "%s/etc", rootfs);
  mkdir(path, 0755);
  snprintf(path, sizeof(path), "%s/etc/passwd", rootfs);
  FILE *f = fopen(path, "w");
  fputs("root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321::/home/app:/bin/sh\n", f);
  fclose(f);
  snprintf(path, sizeof(path), "%s/etc/group", rootfs);
  f = fopen(path, "w");
  fputs("root:x:0:\nstaff:x:50:\n", f);
  fclose(f);
}

static void drop_rootfs(void) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", rootfs);
  if (system(cmd) != 0)
    fprintf(stderr, "could not remove %s\n", rootfs);
}

static json_t *config_of(const char *spec_text, const char *image_text, const char **why) {
  json_t *spec = test_json(spec_text), *img = test_json(image_text);
  oci_config_in_t in = {.spec = spec,
                        .image_cfg = img,
                        .rootfs = rootfs,
                        .merged = "/b/rootfs",
                        .id = "abaco-e1",
                        .hostname = "0123456789ab",
                        .netns = "/run/netns/abaco-oci-100",
                        .etc_dir = "/b/etc",
                        .docker_sock = "/var/run/docker.sock"};
  json_t *c = oci_config(&in, why);
  json_decref(spec);
  json_decref(img);
  return c;
}

static bool has_str(const json_t *arr, const char *s) {
  size_t i;
  const json_t *v;
  json_array_foreach(arr, i, v) if (json_is_string(v) && strcmp(json_string_value(v), s) == 0) return true;
  return false;
}

static bool has_mount(const json_t *c, const char *src, const char *dst) {
  size_t i;
  const json_t *m;
  json_array_foreach(json_object_get(c, "mounts"), i, m) {
    if (strcmp(json_string_value(json_object_get(m, "source")), src) == 0 &&
        strcmp(json_string_value(json_object_get(m, "destination")), dst) == 0)
      return true;
  }
  return false;
}

static const char *IMAGE = "{\"Entrypoint\": [\"/echo\"], \"Cmd\": [\"a\"], "
                           "\"Env\": [\"PATH=/x\", \"MSG=image\"], \"WorkingDir\": \"/w\"}";

static void test_docker_defaults(void) {
  make_rootfs();
  const char *why = NULL;
  json_t *c = config_of("{\"Env\": [\"MSG=hi\"], \"User\": \"1000:1001\", \"Labels\": "
                        "{\"abaco.execution\": \"e1\"}, \"HostConfig\": {\"Memory\": 268435456, "
                        "\"NanoCpus\": 500000000, \"Privileged\": false, \"Binds\": "
                        "[\"/s/e1.sock:/_abaco_results.sock\"]}}",
                        IMAGE, &why);
  ASSERT_TRUE(c != NULL);
  const json_t *p = json_object_get(c, "process");
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "user"), "uid")), 1000);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(p, "user"), "gid")), 1001);
  ASSERT_TRUE(json_is_true(json_object_get(p, "noNewPrivileges")));
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(p, "args"), 0)), "/echo");
  ASSERT_EQ_STR(json_string_value(json_array_get(json_object_get(p, "args"), 1)), "a");
  ASSERT_EQ_STR(json_string_value(json_object_get(p, "cwd")), "/w");
  const json_t *env = json_object_get(p, "env");
  ASSERT_TRUE(has_str(env, "MSG=hi") && !has_str(env, "MSG=image"));
  ASSERT_TRUE(has_str(env, "PATH=/x") && has_str(env, "HOSTNAME=0123456789ab"));
  const json_t *caps = json_object_get(json_object_get(p, "capabilities"), "bounding");
  ASSERT_EQ_INT(json_array_size(caps), 14);
  ASSERT_TRUE(has_str(caps, "CAP_NET_RAW") && !has_str(caps, "CAP_SYS_ADMIN"));
  const json_t *lx = json_object_get(c, "linux");
  ASSERT_EQ_INT(json_array_size(json_object_get(lx, "namespaces")), 5);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(json_object_get(lx, "namespaces"), 4), "path")),
                "/run/netns/abaco-oci-100");
  const json_t *res = json_object_get(lx, "resources");
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "memory"), "limit")),
                268435456);
  ASSERT_EQ_INT(json_integer_value(json_object_get(json_object_get(res, "cpu"), "quota")), 50000);
  ASSERT_EQ_STR(json_string_value(json_object_get(lx, "cgroupsPath")), "/abaco-oci/abaco-e1");
  ASSERT_TRUE(json_object_get(lx, "seccomp") != NULL);
  ASSERT_TRUE(has_str(json_object_get(lx, "maskedPaths"), "/proc/kcore"));
  ASSERT_TRUE(has_mount(c, "/s/e1.sock", "/_abaco_results.sock"));
  ASSERT_TRUE(has_mount(c, "/b/etc/resolv.conf", "/etc/resolv.conf"));
  ASSERT_TRUE(!has_mount(c, "/var/run/docker.sock", "/var/run/docker.sock"));
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "annotations"), "abaco.execution")), "e1");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "root"), "path")), "/b/rootfs");
  json_decref(c);
  drop_rootfs();
}

static void test_user_names_and_image_user(void) {
  make_rootfs();
  const char *why = NULL;
  json_t *c = config_of("{\"User\": \"app:staff\"}", IMAGE, &why);
  ASSERT_TRUE(c != NULL);
  const json_t *u = json_object_get(json_object_get(c, "process"), "user");
  ASSERT_EQ_INT(json_integer_value(json_object_get(u, "uid")), 1234);
  ASSERT_EQ_INT(json_integer_value(json_object_get(u, "gid")), 50);
  json_decref(c);
  /* No user in the body: the image's, its group from /etc/passwd. */
  c = config_of("{}", "{\"Cmd\": [\"/x\"], \"User\": \"app\"}", &why);
  u = json_object_get(json_object_get(c, "process"), "user");
  ASSERT_EQ_INT(json_integer_value(json_object_get(u, "uid")), 1234);
  ASSERT_EQ_INT(json_integer_value(json_object_get(u, "gid")), 4321);
  json_decref(c);
  c = config_of("{\"User\": \"nobody-here\"}", IMAGE, &why);
  ASSERT_TRUE(c == NULL && why != NULL && strstr(why, "unable to find user") != NULL);
  c = config_of("{}", "{}", &why);
  ASSERT_TRUE(c == NULL && why != NULL && strcmp(why, "no command specified") == 0);
  drop_rootfs();
}

static void test_privileged(void) {
  make_rootfs();
  const char *why = NULL;
  json_t *c = config_of("{\"HostConfig\": {\"Privileged\": true, \"Binds\": "
                        "[\"/var/run/docker.sock:/var/run/docker.sock\"]}}",
                        IMAGE, &why);
  ASSERT_TRUE(c != NULL);
  const json_t *p = json_object_get(c, "process");
  ASSERT_TRUE(has_str(json_object_get(json_object_get(p, "capabilities"), "bounding"), "CAP_SYS_ADMIN"));
  ASSERT_TRUE(!json_is_true(json_object_get(p, "noNewPrivileges")));
  ASSERT_TRUE(json_object_get(json_object_get(c, "linux"), "seccomp") == NULL);
  ASSERT_TRUE(has_mount(c, "/var/run/docker.sock", "/var/run/docker.sock"));
  ASSERT_EQ_STR(json_string_value(json_object_get(json_object_get(c, "annotations"), "abaco.privileged")), "true");
  json_decref(c);
  drop_rootfs();
}

/* oci_net.c against the kernel: a bridge of the test's own (aocitest0,
 * 10.251.0.1/24), one namespace with its veth pair; what `ip` reports of
 * it inside, a ping of the gateway, and the clean-up. Needs root. */
static int sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *sh_out(const char *cmd) {
  FILE *f = popen(cmd, "r");
  if (f == NULL)
    return NULL;
  static char buf[4096];
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  pclose(f);
  return buf;
}

static void test_netns(void) {
  if (geteuid() != 0)
    TEST_SKIP("needs root (network namespaces)");
  if (access("/usr/sbin/ip", X_OK) != 0 && access("/sbin/ip", X_OK) != 0)
    TEST_SKIP("needs ip (iproute2) to look at the result");
  ACTOR_IGNORE(sh("ip link del aocitest0 2>/dev/null; ip netns del aocitest-ns 2>/dev/null"));
  ASSERT_EQ_INT(sh("ip link add aocitest0 type bridge && ip addr add 10.251.0.1/24 dev "
                   "aocitest0 && ip link set aocitest0 up"), 0);
  oci_net_t n = {.netns = "aocitest-ns", .host_if = "aocitesth", .bridge = "aocitest0",
                 .addr = (10u << 24) | (251u << 16) | 7, .gateway = (10u << 24) | (251u << 16) | 1,
                 .prefix = 24};
  char err[256] = "";
  int rc = oci_net_make(&n, err, sizeof(err));
  if (rc != 0)
    fprintf(stderr, "oci_net_make: %s\n", err);
  ASSERT_EQ_INT(rc, 0);
  /* a second one of the same name is refused (O_EXCL), saying where */
  ASSERT_TRUE(oci_net_make(&n, err, sizeof(err)) != 0 && strstr(err, "aocitest-ns") != NULL);
  const char *out = sh_out("ip -n aocitest-ns -o addr show dev eth0");
  ASSERT_TRUE(out != NULL && strstr(out, "inet 10.251.0.7/24") != NULL);
  out = sh_out("ip -n aocitest-ns route show default");
  ASSERT_TRUE(out != NULL && strstr(out, "default via 10.251.0.1 dev eth0") != NULL);
  out = sh_out("ip -n aocitest-ns -o link show lo");
  ASSERT_TRUE(out != NULL && strstr(out, "UP") != NULL);
  out = sh_out("ip -o link show aocitesth");
  ASSERT_TRUE(out != NULL && strstr(out, "master aocitest0") != NULL && strstr(out, "UP") != NULL);
  /* this thread is back in its own namespace */
  out = sh_out("ip -o link show aocitest0");
  ASSERT_TRUE(out != NULL && strstr(out, "aocitest0") != NULL);
  /* the gateway answers from inside: a TCP connect to a closed port of it
   * is refused (a reset came back), not timed out */
  ASSERT_EQ_INT(sh("ip netns exec aocitest-ns python3 -c 'import socket,sys\n"
                   "s=socket.socket(); s.settimeout(3)\n"
                   "try: s.connect((\"10.251.0.1\", 9))\n"
                   "except ConnectionRefusedError: sys.exit(0)\n"
                   "except OSError: sys.exit(3)\n"
                   "sys.exit(0)'"), 0);
  oci_netns_del("aocitest-ns");
  ASSERT_TRUE(access("/run/netns/aocitest-ns", F_OK) != 0);
  /* the veth pair went with the namespace (asynchronously) */
  int gone = 0;
  for (int i = 0; i < 50 && !gone; i++) {
    gone = sh("ip link show aocitesth >/dev/null 2>&1") != 0;
    if (!gone)
      usleep(20000);
  }
  ASSERT_TRUE(gone);
  ASSERT_EQ_INT(sh("ip link del aocitest0"), 0);
}

int main(void) {
  RUN_TEST(test_docker_defaults);
  RUN_TEST(test_user_names_and_image_user);
  RUN_TEST(test_privileged);
  RUN_TEST(test_netns);
  TEST_EXIT();
}
