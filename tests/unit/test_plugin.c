/* The plugin loader (actor/plugin.h) on the test plugins of
 * tests/unit/plugins/fake.c (each way a plugin can be wrong stops the
 * load, and the error names the file and the key), the shipped header
 * auth plugin, the Route 53 plugin against moto's Route 53 (MOTO_URL) and
 * cloud_dns_sync against Redis (REDIS_URL). */
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actor/aws.h"
#include "actor/cloud.h"
#include "actor/cloud_dns.h"
#include "actor/config.h"
#include "actor/json.h"
#include "actor/plugin.h"
#include "moto_test_client.h"
#include "redis_test_store.h"
#include "test.h"

static char *read_all(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return strdup("");
  char *buf = calloc(1, 65536);
  size_t n = buf ? fread(buf, 1, 65535, f) : 0;
  (void)n;
  fclose(f);
  return buf;
}

static char errpath[256];
static int saved_fd = -1;

/* stderr (where the log goes) into a file until captured() */
static void capture(void) {
  snprintf(errpath, sizeof(errpath), "/tmp/test_plugin_err_%ld.txt", (long)getpid());
  fflush(stderr);
  saved_fd = dup(2);
  FILE *f = fopen(errpath, "w");
  ASSERT_TRUE(f != NULL);
  dup2(fileno(f), 2);
  fclose(f);
}

static char *captured(void) {
  fflush(stderr);
  dup2(saved_fd, 2);
  close(saved_fd);
  char *s = read_all(errpath);
  unlink(errpath);
  return s;
}

static actor_config_t *conf(const char *text) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(text, &cfg), 0);
  return cfg;
}

/* A config loading FAKE_PLUGIN_DIR's fake_dns.so, which logs its calls in
 * log (/tmp/test_plugin_<what>_<pid>.txt, removed first). */
static actor_config_t *fake_dns_conf(const char *what, char *log, size_t loglen) {
  char ini[512];
  snprintf(log, loglen, "/tmp/test_plugin_%s_%ld.txt", what, (long)getpid());
  unlink(log);
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\ndns = fake_dns.so\nfake_log = %s\n",
           FAKE_PLUGIN_DIR, log);
  return conf(ini);
}

/* Loading `file` of FAKE_PLUGIN_DIR as `kind` fails with ACTOR_ECONFIG and
 * a message holding the file, the key and `why`. */
static void load_fails(const char *file, actor_plugin_kind_t kind, const char *why) {
  char ini[512];
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\n%s = %s\nfake_setting = xyz\n",
           FAKE_PLUGIN_DIR, actor_plugin_kind_name(kind), file);
  actor_config_t *cfg = conf(ini);
  actor_plugin_t *p = (actor_plugin_t *)1;
  capture();
  int rc = actor_plugin_load(cfg, kind, NULL, &p);
  char *err = captured();
  fprintf(stderr, "  log: %s", err);
  ASSERT_EQ_INT(rc, ACTOR_ECONFIG);
  ASSERT_TRUE(p == NULL);
  char key[32];
  snprintf(key, sizeof(key), "[plugins] %s", actor_plugin_kind_name(kind));
  ASSERT_TRUE(strstr(err, key) != NULL);
  ASSERT_TRUE(strstr(err, file) != NULL);
  ASSERT_TRUE(strstr(err, why) != NULL);
  free(err);
  actor_config_free(cfg);
}

static void test_load_dns(void) {
  char log[256];
  actor_config_t *cfg = fake_dns_conf("calls", log, sizeof(log));
  actor_plugin_t *p = NULL;
  capture();
  int rc = actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, NULL, &p);
  char *err = captured();
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(p != NULL);
  ASSERT_TRUE(strstr(err, "fake plugin up") != NULL); /* host->log */
  ASSERT_EQ_STR(actor_plugin_name(p), "fake");
  ASSERT_TRUE(strstr(actor_plugin_file(p), "fake_dns.so") != NULL);
  const actor_dns_ops_t *ops = actor_plugin_ops(p);
  actor_plugin_err_t e;
  memset(&e, 0, sizeof(e));
  ASSERT_EQ_INT(ops->create_entry(actor_plugin_state(p), "a.fake.test", "10.0.0.1", &e), 0);
  ASSERT_EQ_INT(ops->create_entry(actor_plugin_state(p), "a.fake.test", "10.9.9.9", &e), -1);
  ASSERT_EQ_STR(e.code, "FakeRefused");
  char *calls = read_all(log);
  ASSERT_EQ_STR(calls, "create a.fake.test 10.0.0.1\n");
  free(calls);
  free(err);
  unlink(log);
  actor_plugin_unload(p);
  actor_config_free(cfg);
}

static void test_unset_is_none(void) {
  actor_config_t *cfg = conf("[plugins]\ndir = /nowhere\n");
  actor_plugin_t *p = (actor_plugin_t *)1;
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, NULL, &p), 0);
  ASSERT_TRUE(p == NULL);
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_AUTH, NULL, &p), 0);
  ASSERT_TRUE(p == NULL);
  actor_config_free(cfg);
}

static void test_missing_file(void) { load_fails("nothere.so", ACTOR_PLUGIN_DNS, "cannot load"); }
static void test_no_symbol(void) { load_fails("fake_nosym.so", ACTOR_PLUGIN_DNS, "no symbol abaco_plugin"); }
static void test_bad_abi(void) { load_fails("fake_badabi.so", ACTOR_PLUGIN_DNS, "plugin ABI 99"); }
static void test_wrong_kind(void) {
  load_fails("fake_auth.so", ACTOR_PLUGIN_DNS, "is of kind auth, not dns");
}
static void test_init_fails(void) {
  /* the plugin's own reason, which read its setting through the host */
  load_fails("fake_initfail.so", ACTOR_PLUGIN_DNS, "failed to initialise: FakeInit: fake_setting is xyz");
}
static void test_path_refused(void) {
  load_fails("../x/fake_dns.so", ACTOR_PLUGIN_DNS, "a file name in [plugins] dir");
}

/* ---- the header auth plugin ---- */

typedef struct {
  const char *names[4], *values[4];
} hdrs_t;

static const char *hdr(void *req, const char *name) {
  hdrs_t *h = req;
  for (int i = 0; i < 4 && h->names[i]; i++)
    if (strcasecmp(h->names[i], name) == 0)
      return h->values[i];
  return NULL;
}

static actor_plugin_t *load_header(const char *extra) {
  char ini[512];
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\nauth = header.so\n%s", SHIPPED_PLUGIN_DIR,
           extra);
  actor_config_t *cfg = conf(ini);
  actor_plugin_t *p = NULL;
  int rc = actor_plugin_load(cfg, ACTOR_PLUGIN_AUTH, NULL, &p);
  actor_config_free(cfg); /* the plugin copied what it read */
  return rc == 0 ? p : NULL;
}

static int identify(actor_plugin_t *p, hdrs_t *h, char *user, char *groups,
                    actor_plugin_err_t *e) {
  const actor_auth_ops_t *ops = actor_plugin_ops(p);
  actor_auth_request_t req = {hdr, h};
  memset(e, 0, sizeof(*e));
  return ops->identify(actor_plugin_state(p), &req, user, 256, groups, 64, e);
}

static void test_header_plugin(void) {
  actor_plugin_t *p = load_header("");
  ASSERT_TRUE(p != NULL);
  char user[256], groups[64];
  actor_plugin_err_t e;
  hdrs_t none = {{NULL}, {NULL}};
  ASSERT_EQ_INT(identify(p, &none, user, groups, &e), ACTOR_AUTH_NONE);
  ASSERT_TRUE(strstr(e.message, "X-Remote-User") != NULL);
  hdrs_t h = {{"x-remote-user", "X-Remote-Groups"}, {" CORP\\jdoe@CORP.ORG ", " admins, ,users ,"}};
  ASSERT_EQ_INT(identify(p, &h, user, groups, &e), ACTOR_AUTH_OK);
  ASSERT_EQ_STR(user, "jdoe");
  ASSERT_EQ_STR(groups, "admins,users");
  hdrs_t bad = {{"X-Remote-User"}, {"j doe"}};
  ASSERT_EQ_INT(identify(p, &bad, user, groups, &e), ACTOR_AUTH_FAIL);
  ASSERT_EQ_STR(e.code, "BadUser");
  char big[200];
  memset(big, 'g', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  hdrs_t toolong = {{"X-Remote-User", "X-Remote-Groups"}, {"jdoe", big}};
  ASSERT_EQ_INT(identify(p, &toolong, user, groups, &e), ACTOR_AUTH_FAIL);
  ASSERT_EQ_STR(e.code, "BadGroups");
  actor_plugin_unload(p);
  /* configured names */
  p = load_header("header_user = REMOTE_USER\nheader_groups = X-Groups\n");
  ASSERT_TRUE(p != NULL);
  hdrs_t mliy = {{"REMOTE_USER", "X-Groups"}, {"alice", "g1"}};
  ASSERT_EQ_INT(identify(p, &mliy, user, groups, &e), ACTOR_AUTH_OK);
  ASSERT_EQ_STR(user, "alice");
  ASSERT_EQ_STR(groups, "g1");
  actor_plugin_unload(p);
  /* a bad header name stops the load */
  capture();
  p = load_header("header_user = X Remote\n");
  char *err = captured();
  ASSERT_TRUE(p == NULL);
  ASSERT_TRUE(strstr(err, "header_user") != NULL);
  ASSERT_TRUE(strstr(err, "header.so") != NULL);
  free(err);
}

/* ---- Route 53 ---- */

static void test_route53_settings(void) {
  static const char *const bad[] = {
      "route53_domain = x.test\n",                                   /* no zone */
      "route53_zone_id = Z1\n",                                      /* no domain */
      "route53_zone_id = Z1\nroute53_domain = x.test\nroute53_ttl = -1\n",
      "route53_zone_id = Z/1\nroute53_domain = x.test\n", NULL};
  static const char *const keys[] = {"route53_zone_id", "route53_domain", "route53_ttl",
                                     "route53_zone_id"};
  for (int i = 0; bad[i]; i++) {
    char ini[512];
    snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\ndns = route53.so\n%s", SHIPPED_PLUGIN_DIR,
             bad[i]);
    actor_config_t *cfg = conf(ini);
    actor_plugin_t *p = NULL;
    capture();
    int rc = actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, NULL, &p);
    char *err = captured();
    ASSERT_EQ_INT(rc, ACTOR_ECONFIG);
    if (strstr(err, keys[i]) == NULL)
      fprintf(stderr, "  case %d: %s", i, err);
    ASSERT_TRUE(strstr(err, keys[i]) != NULL);
    free(err);
    actor_config_free(cfg);
  }
}

static void test_route53_display_name(void) {
  char ini[512];
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\ndns = route53.so\nroute53_zone_id = "
           "/hostedzone/Z123\nroute53_domain = Abaco.Example.ORG.\n", SHIPPED_PLUGIN_DIR);
  actor_config_t *cfg = conf(ini);
  actor_plugin_t *p = NULL;
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, NULL, &p), 0);
  const actor_dns_ops_t *ops = actor_plugin_ops(p);
  actor_plugin_err_t e;
  char name[256];
  actor_dns_instance_t inst = {.id = "xY7", .name = "My Box #1!", .ec2_instance_id = "i-0abc"};
  ASSERT_EQ_INT(ops->display_name(actor_plugin_state(p), &inst, name, sizeof(name), &e), 0);
  ASSERT_EQ_STR(name, "my-box-1-i-0abc.abaco.example.org");
  inst.name = "";
  inst.ec2_instance_id = NULL;
  ASSERT_EQ_INT(ops->display_name(actor_plugin_state(p), &inst, name, sizeof(name), &e), 0);
  ASSERT_EQ_STR(name, "xy7.abaco.example.org");
  inst.name = "a-very-long-name-that-goes-on-and-on-and-on-well-past-sixty-three-characters";
  inst.ec2_instance_id = "i-0123456789abcdef0";
  ASSERT_EQ_INT(ops->display_name(actor_plugin_state(p), &inst, name, sizeof(name), &e), 0);
  ASSERT_TRUE(strchr(name, '.') - name <= 63);
  ASSERT_TRUE(strstr(name, "-i-0123456789abcdef0.abaco.example.org") != NULL);
  /* no AWS client in this host: a clear error, not a crash */
  ASSERT_EQ_INT(ops->create_entry(actor_plugin_state(p), name, "10.0.0.1", &e), -1);
  ASSERT_EQ_STR(e.code, "NoAwsClient");
  actor_plugin_unload(p);
  actor_config_free(cfg);
}

static aws_t *moto(void) {
  aws_t *a = moto_test_client("testing");
  ASSERT_TRUE(a != NULL);
  return a;
}

/* The value of the first <tag> in xml (into out). */
static const char *xml_text(const char *xml, const char *tag, char *out, size_t len) {
  char open[64];
  snprintf(open, sizeof(open), "<%s>", tag);
  const char *b = strstr(xml, open);
  out[0] = '\0';
  if (b == NULL)
    return NULL;
  b += strlen(open);
  const char *e = strchr(b, '<');
  snprintf(out, len, "%.*s", (int)(e ? e - b : 0), b);
  return out;
}

static void test_route53_moto(void) {
  aws_t *a = moto();
  char domain[64], body[512], path[192], zone[128];
  snprintf(domain, sizeof(domain), "u%ld.abaco.test", (long)getpid());
  snprintf(body, sizeof(body),
           "<CreateHostedZoneRequest xmlns=\"https://route53.amazonaws.com/doc/2013-04-01/\">"
           "<Name>%s.</Name><CallerReference>%s</CallerReference></CreateHostedZoneRequest>",
           domain, domain);
  char *ans = NULL;
  aws_result_t res;
  int rc = aws_rest(a, "route53", "POST", "/2013-04-01/hostedzone", body, &ans, NULL, &res);
  if (rc != 0)
    fprintf(stderr, "  CreateHostedZone: %s %s (HTTP %d)\n", res.code, res.message,
            res.http_status);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(xml_text(ans, "Id", zone, sizeof(zone)) != NULL);
  free(ans);
  char ini[512];
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\ndns = route53.so\nroute53_zone_id = %s\n"
           "route53_domain = %s\nroute53_ttl = 42\n", SHIPPED_PLUGIN_DIR, zone, domain);
  actor_config_t *cfg = conf(ini);
  actor_plugin_t *p = NULL;
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, a, &p), 0);
  const actor_dns_ops_t *ops = actor_plugin_ops(p);
  actor_plugin_err_t e;
  memset(&e, 0, sizeof(e));
  char name[200];
  snprintf(name, sizeof(name), "box-i-1.%s", domain);
  rc = ops->create_entry(actor_plugin_state(p), name, "203.0.113.7", &e);
  if (rc != 0)
    fprintf(stderr, "  UPSERT: %s %s\n", e.code, e.message);
  ASSERT_EQ_INT(rc, 0);
  /* again (an upsert), with another address */
  ASSERT_EQ_INT(ops->create_entry(actor_plugin_state(p), name, "203.0.113.8", &e), 0);
  snprintf(path, sizeof(path), "/2013-04-01%s/rrset", strncmp(zone, "/hostedzone/", 12) == 0
                                                         ? zone : "/hostedzone/x");
  ASSERT_EQ_INT(aws_rest(a, "route53", "GET", path, NULL, &ans, NULL, &res), 0);
  char want[256];
  snprintf(want, sizeof(want), "<Name>%s.</Name>", name);
  if (strstr(ans, want) == NULL)
    fprintf(stderr, "  rrsets: %s\n", ans);
  ASSERT_TRUE(strstr(ans, want) != NULL);
  ASSERT_TRUE(strstr(ans, "<Value>203.0.113.8</Value>") != NULL);
  ASSERT_TRUE(strstr(ans, "<Value>203.0.113.7</Value>") == NULL);
  ASSERT_TRUE(strstr(ans, "<TTL>42</TTL>") != NULL);
  free(ans);
  ASSERT_EQ_INT(ops->delete_entry(actor_plugin_state(p), name, "203.0.113.8", &e), 0);
  ASSERT_EQ_INT(aws_rest(a, "route53", "GET", path, NULL, &ans, NULL, &res), 0);
  ASSERT_TRUE(strstr(ans, want) == NULL);
  free(ans);
  /* deleting it again is no error */
  rc = ops->delete_entry(actor_plugin_state(p), name, "203.0.113.8", &e);
  if (rc != 0)
    fprintf(stderr, "  second DELETE: %s %s\n", e.code, e.message);
  ASSERT_EQ_INT(rc, 0);
  /* a zone that does not exist: AWS's code comes back */
  actor_plugin_unload(p);
  actor_config_free(cfg);
  snprintf(ini, sizeof(ini), "[plugins]\ndir = %s\ndns = route53.so\nroute53_zone_id = "
           "ZNOSUCHZONE\nroute53_domain = %s\n", SHIPPED_PLUGIN_DIR, domain);
  cfg = conf(ini);
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, a, &p), 0);
  ops = actor_plugin_ops(p);
  ASSERT_EQ_INT(ops->create_entry(actor_plugin_state(p), name, "203.0.113.7", &e), -1);
  fprintf(stderr, "  unknown zone: %s %s\n", e.code, e.message);
  ASSERT_TRUE(e.code[0] != '\0');
  actor_plugin_unload(p);
  actor_config_free(cfg);
  snprintf(path, sizeof(path), "/2013-04-01%s", zone);
  ACTOR_IGNORE(aws_rest(a, "route53", "DELETE", path, NULL, &ans, NULL, &res));
  free(ans);
  aws_free(a);
}

/* ---- cloud_dns_sync ---- */

static void test_dns_sync(void) {
  store_redis_t *store = redis_test_store();
  ASSERT_TRUE(store != NULL);
  char log[256], tenant[64], id[64];
  actor_config_t *cfg = fake_dns_conf("sync", log, sizeof(log));
  actor_plugin_t *p = NULL;
  ASSERT_EQ_INT(actor_plugin_load(cfg, ACTOR_PLUGIN_DNS, NULL, &p), 0);
  snprintf(tenant, sizeof(tenant), "TPL%ld", (long)getpid());
  snprintf(id, sizeof(id), "i%ld", (long)getpid());
  json_t *rec = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "tenant", tenant, "tag",
                          "TPLUG", "state", "pending", "owner", "u");
  ASSERT_EQ_INT(cloud_instance_create(store, rec), 0);
  /* no address yet: nothing */
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  ASSERT_TRUE(json_object_get(rec, "dns_name") == NULL);
  /* private address only: that one */
  json_object_set_new(rec, "private_ip", json_string("10.0.0.5"));
  json_object_set_new(rec, "state", json_string("running"));
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  /* the public one wins; the same address twice makes one call */
  json_object_set_new(rec, "public_ip", json_string("198.51.100.1"));
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  json_t *got = NULL;
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, id, &got), 0);
  char want[128];
  snprintf(want, sizeof(want), "%s.fake.test", id);
  ASSERT_EQ_STR(actor_json_str(got, "display_name", ""), want);
  ASSERT_EQ_STR(actor_json_str(got, "dns_name", ""), want);
  ASSERT_EQ_STR(actor_json_str(got, "dns_ip", ""), "198.51.100.1");
  json_decref(got);
  /* a failing create: recorded in backend_status, the name still shown */
  json_object_set_new(rec, "public_ip", json_string("10.9.9.9"));
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), ACTOR_EAWS);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, id, &got), 0);
  json_t *bs = json_array_get(json_object_get(got, "backend_status"), 0);
  ASSERT_EQ_STR(actor_json_str(bs, "op", ""), "dns:create");
  ASSERT_EQ_STR(actor_json_str(bs, "code", ""), "FakeRefused");
  ASSERT_EQ_STR(actor_json_str(got, "dns_ip", ""), "198.51.100.1");
  json_decref(got);
  /* terminated: deleted once */
  json_object_set_new(rec, "state", json_string("terminated"));
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  ASSERT_EQ_INT(cloud_dns_sync(p, store, rec), 0);
  ASSERT_EQ_INT(cloud_instance_get(store, tenant, id, &got), 0);
  ASSERT_TRUE(json_is_null(json_object_get(got, "dns_name")));
  ASSERT_EQ_STR(actor_json_str(got, "display_name", ""), want);
  json_decref(got);
  char *calls = read_all(log);
  char expect[512];
  snprintf(expect, sizeof(expect), "create %s 10.0.0.5\ncreate %s 198.51.100.1\ndelete %s "
           "198.51.100.1\n", want, want, want);
  ASSERT_EQ_STR(calls, expect);
  free(calls);
  unlink(log);
  ASSERT_EQ_INT(cloud_instance_delete(store, tenant, id), 0);
  json_decref(rec);
  actor_plugin_unload(p);
  actor_config_free(cfg);
  store_redis_free(store);
}

int main(void) {
  RUN_TEST(test_load_dns);
  RUN_TEST(test_unset_is_none);
  RUN_TEST(test_missing_file);
  RUN_TEST(test_no_symbol);
  RUN_TEST(test_bad_abi);
  RUN_TEST(test_wrong_kind);
  RUN_TEST(test_init_fails);
  RUN_TEST(test_path_refused);
  RUN_TEST(test_header_plugin);
  RUN_TEST(test_route53_settings);
  RUN_TEST(test_route53_display_name);
  RUN_TEST(test_route53_moto);
  RUN_TEST(test_dns_sync);
  TEST_EXIT();
}
