/* Unit tests for actor/config.h: INI parsing (via inih), lookups,
 * `<section>_<option>` environment overrides, typed getters and the error
 * they log naming `[section] key` and the bad value, file loading; and
 * what Abaco's own files need: `key: value`, `#` comments, capitalised
 * booleans, -1 for unlimited, lists with blanks, per-tenant keys, and one
 * warning per key no service uses. Errors are captured by pointing the
 * log at a temporary directory. */
#include "actor/config.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "test.h"

#include <unistd.h>

static char tmpdir[] = "/tmp/test_config_XXXXXX";
static char logpath[256];

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return strdup("");
  char *buf = calloc(1, 1 << 16);
  size_t n = fread(buf, 1, (1 << 16) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* True when the log written so far contains `needle`; truncates it after. */
static int log_has(const char *needle) {
  char *s = read_file(logpath);
  int found = strstr(s, needle) != NULL;
  if (!found)
    fprintf(stderr, "  log lacks \"%s\"; log is:\n%s", needle, s);
  free(s);
  FILE *f = fopen(logpath, "w");
  if (f)
    fclose(f);
  return found;
}

static const char *conf_text =
    "; comment line\n"
    "# another comment\n"
    "[general]\n"
    "TAG = 1.8.0\n"
    "[web]\n"
    "port = 5000\n"
    "access_control = jwt\n"
    "accept_nonce = True\n"
    "show_traceback = no\n"
    "case = Camel\n"
    "max_content_length = 1.5\n"
    "bad_int = 12abc\n"
    "bad_bool = maybe\n"
    "bad_double = 1.2.3\n"
    "empty =\n"
    "[Spawner]\n"
    "host_queues = default,special\n"
    "max_workers_per_host = -3\n"
    "multi = first\n"
    "  second\n"
    "dup = one\n"
    "other = x\n"
    "dup = two\n";

static void test_parse_and_get(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(conf_text, &cfg), 0);
  ASSERT_TRUE(cfg != NULL);
  ASSERT_EQ_STR(actor_config_get(cfg, "general", "TAG", NULL), "1.8.0");
  /* configparser semantics: names compare case-insensitively */
  ASSERT_EQ_STR(actor_config_get(cfg, "general", "tag", NULL), "1.8.0");
  ASSERT_EQ_STR(actor_config_get(cfg, "spawner", "host_queues", NULL), "default,special");
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "empty", "def"), "");
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "nope", "def"), "def");
  ASSERT_TRUE(actor_config_get(cfg, "nosection", "port", NULL) == NULL);
  ASSERT_EQ_STR(actor_config_get(cfg, "spawner", "multi", NULL), "first\nsecond");
  ASSERT_EQ_STR(actor_config_get(cfg, "spawner", "dup", NULL), "two");

  long l = 0;
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 1, &l), 0);
  ASSERT_EQ_INT(l, 5000);
  ASSERT_EQ_INT(actor_config_get_int(cfg, "spawner", "max_workers_per_host", 1, &l), 0);
  ASSERT_EQ_INT(l, -3);
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "missing", 77, &l), 0);
  ASSERT_EQ_INT(l, 77);

  bool b = false;
  ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "accept_nonce", false, &b), 0);
  ASSERT_EQ_INT(b, 1);
  ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "show_traceback", true, &b), 0);
  ASSERT_EQ_INT(b, 0);
  ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "missing", true, &b), 0);
  ASSERT_EQ_INT(b, 1);

  double d = 0;
  ASSERT_EQ_INT(actor_config_get_double(cfg, "web", "max_content_length", 0, &d), 0);
  ASSERT_TRUE(d == 1.5);

  static const char *const cases[] = {"snake", "camel", NULL};
  const char *e = NULL;
  ASSERT_EQ_INT(actor_config_get_enum(cfg, "web", "case", "snake", cases, &e), 0);
  ASSERT_TRUE(e == cases[1]); /* the canonical spelling, not "Camel" */
  ASSERT_EQ_INT(actor_config_get_enum(cfg, "web", "missing", "snake", cases, &e), 0);
  ASSERT_EQ_STR(e, "snake");
  actor_config_free(cfg);
}

static void test_bad_values_logged(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(conf_text, &cfg), 0);
  long l = 5;
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "bad_int", 9, &l), ACTOR_ECONFIG);
  ASSERT_EQ_INT(l, 9);
  ASSERT_TRUE(log_has("[web] bad_int: bad value '12abc'"));
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "empty", 9, &l), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[web] empty: bad value ''"));
  bool b;
  ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "bad_bool", false, &b), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[web] bad_bool: bad value 'maybe'"));
  double d;
  ASSERT_EQ_INT(actor_config_get_double(cfg, "web", "bad_double", 0, &d), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[web] bad_double: bad value '1.2.3'"));
  static const char *const modes[] = {"jwt", "none", NULL};
  static const char *const cases[] = {"snake", "camel", NULL};
  const char *e;
  ASSERT_EQ_INT(actor_config_get_enum(cfg, "web", "access_control", "jwt", modes, &e), 0);
  ASSERT_EQ_INT(actor_config_get_enum(cfg, "web", "port", "snake", cases, &e), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[web] port: bad value '5000': expected one of snake|camel"));
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 0, NULL), ACTOR_EINVAL);
  actor_config_free(cfg);
}

static void test_env_overrides(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(conf_text, &cfg), 0);
  long l = 0;
  setenv("WEB_PORT", "6000", 1);
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 0, &l), 0);
  ASSERT_EQ_INT(l, 6000);
  setenv("web_port", " 7000 ", 1); /* exact case first; blanks trimmed */
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 0, &l), 0);
  ASSERT_EQ_INT(l, 7000);
  setenv("web_port", "seven", 1);
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 0, &l), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("(from environment variable web_port)"));
  unsetenv("web_port");
  unsetenv("WEB_PORT");
  ASSERT_EQ_INT(actor_config_get_int(cfg, "web", "port", 0, &l), 0);
  ASSERT_EQ_INT(l, 5000);

  /* A key absent from the file, and a NULL config. */
  setenv("rabbit_uri", "amqp://h:5672", 1);
  ASSERT_EQ_STR(actor_config_get(cfg, "rabbit", "uri", NULL), "amqp://h:5672");
  ASSERT_EQ_STR(actor_config_get(NULL, "rabbit", "uri", NULL), "amqp://h:5672");
  ASSERT_EQ_STR(actor_config_get(NULL, "rabbit", "other", "d"), "d");
  unsetenv("rabbit_uri");
  ASSERT_TRUE(actor_config_get(cfg, "rabbit", "uri", NULL) == NULL);
  /* Empty but set still overrides (like os.environ lookups in Abaco). */
  setenv("general_TAG", "", 1);
  ASSERT_EQ_STR(actor_config_get(cfg, "general", "TAG", NULL), "");
  unsetenv("general_TAG");
  actor_config_free(cfg);
}

struct seen {
  char text[512];
};

static void collect(const char *key, const char *value, void *ud) {
  struct seen *s = ud;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof(s->text) - n, "%s=%s;", key, value);
}

static void test_each(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[logs]\nlevel = INFO\nlevel.api = DEBUG\n"
                                   "[web]\nlevel.x = 1\n[logs]\nfiles = split\n",
                                   &cfg),
                0);
  struct seen s = {""};
  setenv("LOGS_LEVEL.API", "ERROR", 1);
  setenv("logs_level.store", "WARNING", 1);
  actor_config_each(cfg, "logs", collect, &s);
  ASSERT_EQ_STR(s.text, "level=INFO;level.api=ERROR;files=split;level.store=WARNING;");
  unsetenv("LOGS_LEVEL.API");
  unsetenv("logs_level.store");
  s.text[0] = '\0';
  actor_config_each(cfg, "web", collect, &s);
  ASSERT_EQ_STR(s.text, "level.x=1;");
  /* Upper-case variables too (what actor_config_get also reads), each key
   * once, the exact-case one first; a key of the file only once. */
  setenv("WEB_DEV_STAGING_APIM_PUBLIC_KEY", "u", 1);
  setenv("web_both", "exact", 1);
  setenv("WEB_BOTH", "upper", 1);
  setenv("WEB_LEVEL.X", "2", 1);
  setenv("WEB_mixed", "no", 1);
  s.text[0] = '\0';
  actor_config_each(cfg, "web", collect, &s);
  ASSERT_EQ_STR(s.text, "level.x=2;both=exact;DEV_STAGING_APIM_PUBLIC_KEY=u;");
  unsetenv("WEB_DEV_STAGING_APIM_PUBLIC_KEY");
  unsetenv("web_both");
  unsetenv("WEB_BOTH");
  unsetenv("WEB_LEVEL.X");
  unsetenv("WEB_mixed");
  actor_config_free(cfg);
}

static void test_load_file(void) {
  char path[300];
  snprintf(path, sizeof(path), "%s/abaco.conf", tmpdir);
  FILE *f = fopen(path, "w");
  fprintf(f, "[web]\napim_public_key = ");
  for (int i = 0; i < 2000; i++) /* longer than inih's default 200 */
    fputc('A' + i % 26, f);
  fprintf(f, "\nport = 5001\n");
  fclose(f);

  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_load(path, &cfg), 0);
  const char *key = actor_config_get(cfg, "web", "apim_public_key", "");
  ASSERT_EQ_INT(strlen(key), 2000);
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "port", NULL), "5001");
  actor_config_free(cfg);

  setenv("ABACO_CONF", path, 1);
  cfg = NULL;
  ASSERT_EQ_INT(actor_config_load(NULL, &cfg), 0);
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "port", NULL), "5001");
  actor_config_free(cfg);
  unsetenv("ABACO_CONF");

  f = fopen(path, "w");
  fprintf(f, "[web]\nport = 1\nthis line has no equals sign\n");
  fclose(f);
  cfg = (actor_config_t *)1;
  ASSERT_EQ_INT(actor_config_load(path, &cfg), ACTOR_EPARSE);
  ASSERT_TRUE(cfg == NULL);
  char want[320];
  snprintf(want, sizeof(want), "%s:3: syntax error", path);
  ASSERT_TRUE(log_has(want));

  ASSERT_EQ_INT(actor_config_parse("[unterminated\n", &cfg), ACTOR_EPARSE);
  ASSERT_TRUE(log_has("<string>:1: syntax error"));

  snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
  ASSERT_EQ_INT(actor_config_load(path, &cfg), ACTOR_ENOTFOUND);
  ASSERT_TRUE(log_has("missing.conf"));
  snprintf(path, sizeof(path), "%s/abaco.conf", tmpdir);
  unlink(path);
}

/* Abaco's files use `key: value`, `#` comments, capitalised booleans,
 * lists with blanks after commas and values that start with ':' or hold
 * "//"; configparser reads them, and so must we. */
static const char *abaco_text = "[general]\n"
                                "TAG: :dev\n"
                                "\n"
                                "[logs]\n"
                                "# global configs for all of abaco\n"
                                "level = DEBUG\n"
                                "level.spawner = DEBUG\n"
                                "[docker]\n"
                                "dd: unix://var/run/docker.sock\n"
                                "[spawner]\n"
                                "host_queues: default, special\n"
                                "; a comment the INI way\n"
                                "# abaco_conf_host_path: /path/to/abaco.conf\n"
                                "[workers]\n"
                                "max_run_time: -1\n"
                                "# mem_limit = 1g\n"
                                "max_cpus = 1000000000\n"
                                "generate_clients: False\n"
                                "auto_remove: true\n"
                                "leave_containers: False\n"
                                "[web]\n"
                                "accept_nonce: True\n"
                                "case: camel\n"
                                "tenant_name: dev_staging\n"
                                "apim_public_key: MIGfMA0G+/=\n";

static void test_colon_syntax(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(abaco_text, &cfg), 0);
  ASSERT_EQ_STR(actor_config_get(cfg, "general", "TAG", NULL), ":dev");
  ASSERT_EQ_STR(actor_config_get(cfg, "docker", "dd", NULL), "unix://var/run/docker.sock");
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "tenant_name", NULL), "dev_staging");
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "apim_public_key", NULL), "MIGfMA0G+/=");
  ASSERT_EQ_STR(actor_config_get(cfg, "logs", "level.spawner", NULL), "DEBUG");
  long l = 0;
  ASSERT_EQ_INT(actor_config_get_int(cfg, "workers", "max_cpus", 0, &l), 0);
  ASSERT_EQ_INT(l, 1000000000);
  static const char *const cases[] = {"snake", "camel", NULL};
  const char *e = NULL;
  ASSERT_EQ_INT(actor_config_get_enum(cfg, "web", "case", "snake", cases, &e), 0);
  ASSERT_EQ_STR(e, "camel");
  actor_config_free(cfg);
}

static void test_comments(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(abaco_text, &cfg), 0);
  /* Commented-out settings are not set. */
  ASSERT_TRUE(actor_config_get(cfg, "workers", "mem_limit", NULL) == NULL);
  ASSERT_TRUE(actor_config_get(cfg, "spawner", "abaco_conf_host_path", NULL) == NULL);
  ASSERT_TRUE(actor_config_get(cfg, "logs", "# global configs for all of abaco", NULL) == NULL);
  actor_config_free(cfg);
  /* Comment lines may be indented; a `#` inside a value is part of it. */
  ASSERT_EQ_INT(actor_config_parse("[web]\n  # indented\n  ; too\nkey: a#b\n", &cfg), 0);
  ASSERT_EQ_STR(actor_config_get(cfg, "web", "key", NULL), "a#b");
  actor_config_free(cfg);
}

static void test_capitalised_booleans(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(abaco_text, &cfg), 0);
  static const struct {
    const char *section, *key;
    bool want;
  } CASES[] = {{"workers", "generate_clients", false},
               {"workers", "auto_remove", true},
               {"workers", "leave_containers", false},
               {"web", "accept_nonce", true}};
  for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
    bool b = !CASES[i].want;
    ASSERT_EQ_INT(actor_config_get_bool(cfg, CASES[i].section, CASES[i].key, !CASES[i].want, &b),
                  0);
    ASSERT_EQ_INT(b, CASES[i].want);
  }
  static const char *const YES[] = {"True", "true", "TRUE", "yes", "On", "1"};
  static const char *const NO[] = {"False", "false", "FALSE", "no", "Off", "0"};
  for (size_t i = 0; i < sizeof(YES) / sizeof(YES[0]); i++) {
    bool b = false;
    setenv("web_show_traceback", YES[i], 1);
    ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "show_traceback", false, &b), 0);
    ASSERT_EQ_INT(b, 1);
    setenv("web_show_traceback", NO[i], 1);
    ASSERT_EQ_INT(actor_config_get_bool(cfg, "web", "show_traceback", true, &b), 0);
    ASSERT_EQ_INT(b, 0);
  }
  unsetenv("web_show_traceback");
  actor_config_free(cfg);
}

/* -1 is Abaco's "unlimited" for max_run_time, mem_limit and max_cpus. */
static void test_minus_one_is_unlimited(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[workers]\nmax_run_time: -1\nmax_cpus = -1\nmem_limit = -1\n"
                                   "zero = 0\nfive = 5\nbad = -2\nsize1 = 512m\nsize2 = 2GB\n"
                                   "size3 = 1.5g\nsize4 = 1024\nbadsize = lots\nempty =\n",
                                   &cfg),
                0);
  long l = 7;
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "max_run_time", 9, &l), 0);
  ASSERT_EQ_INT(l, 0);
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "max_cpus", 9, &l), 0);
  ASSERT_EQ_INT(l, 0);
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "zero", 9, &l), 0);
  ASSERT_EQ_INT(l, 0);
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "five", 9, &l), 0);
  ASSERT_EQ_INT(l, 5);
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "missing", 9, &l), 0);
  ASSERT_EQ_INT(l, 9);
  ASSERT_EQ_INT(actor_config_get_limit(cfg, "workers", "bad", 9, &l), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[workers] bad: bad value '-2': expected an integer >= -1"));

  long long n = 7;
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "mem_limit", 5, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "empty", 5, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "zero", 5, &n), 0);
  ASSERT_EQ_INT(n, 0);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "missing", 5, &n), 0);
  ASSERT_EQ_INT(n, 5);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "size1", 5, &n), 0);
  ASSERT_EQ_INT(n, 512LL << 20);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "size2", 5, &n), 0);
  ASSERT_EQ_INT(n, 2LL << 30);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "size3", 5, &n), 0);
  ASSERT_EQ_INT(n, 3LL << 29);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "size4", 5, &n), 0);
  ASSERT_EQ_INT(n, 1024);
  ASSERT_EQ_INT(actor_config_get_size(cfg, "workers", "badsize", 5, &n), ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[workers] badsize: bad value 'lots': expected a size"));
  actor_config_free(cfg);
}

static void test_parse_bytes(void) {
  ASSERT_EQ_INT(actor_parse_bytes("1024"), 1024);
  ASSERT_EQ_INT(actor_parse_bytes("1024b"), 1024);
  ASSERT_EQ_INT(actor_parse_bytes("2k"), 2048);
  ASSERT_EQ_INT(actor_parse_bytes("512m"), 512LL << 20);
  ASSERT_EQ_INT(actor_parse_bytes("2g"), 2LL << 30);
  ASSERT_EQ_INT(actor_parse_bytes("1GB"), 1LL << 30);
  ASSERT_EQ_INT(actor_parse_bytes("1.5g"), 3LL << 29);
  ASSERT_EQ_INT(actor_parse_bytes("0"), 0);
  static const char *const BAD[] = {"", "lots", "2x", "2gig", "-1m", "-1", " 5m", "2bb",
                                    "inf", "0x10", "99999999999g"};
  for (size_t i = 0; i < sizeof(BAD) / sizeof(BAD[0]); i++)
    ASSERT_EQ_INT(actor_parse_bytes(BAD[i]), -1);
  ASSERT_EQ_INT(actor_parse_bytes(NULL), -1);
}

/* A list is one value; services split it on commas and blanks. */
static void test_list_with_blanks(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse(abaco_text, &cfg), 0);
  ASSERT_EQ_STR(actor_config_get(cfg, "spawner", "host_queues", NULL), "default, special");
  actor_config_free(cfg);
}

/* How many times needle occurs in the log so far (the log is kept). */
static int log_count(const char *needle) {
  char *s = read_file(logpath);
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
    n++;
  free(s);
  return n;
}

/* Keys no service uses are warned about once each, by section and name;
 * keys some service uses (even another one) are not. */
static void test_unused_keys_warned_once(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[web]\nall_queues: default, special\ncase: snake\n"
                                   "default_token: false\nDEV-STAGING_default_token: true\n"
                                   "sd2e_log_ex: 10800\nDEV_log_ex_limit: 30000\n"
                                   "frobnicate = 1\n"
                                   "[workers]\nuse_tas_uid: False\nsd2e_use_tas_uid: True\n"
                                   "designsafe_actor_uid: 458981\n"
                                   "designsafe_global_mounts: /corral:/mydata:rw\n"
                                   "global_mounts: /data1:/_abaco_data1:ro\n"
                                   "auto_remove: true\n"
                                   "[docker]\ndockerhub_username_1 = u\ndd: unix:///x.sock\n"
                                   "[logs]\nlevel.spawner = DEBUG\nfile.spawner = /x\n"
                                   "[health]\ninterval = 5\n[nosuch]\nkey = 1\n",
                                   &cfg),
                0);
  log_has(""); /* empty the log */
  ASSERT_EQ_INT(actor_config_warn_unused(cfg), 10);
  static const char *const WARNED[] = {
      "[web] all_queues: one of Abaco's settings that this platform does not use; ignored",
      "[web] frobnicate: unknown key; ignored",
      "[workers] use_tas_uid: one of Abaco's",
      "[workers] sd2e_use_tas_uid: Abaco's use_tas_uid for tenant sd2e, which this platform "
      "does not use; ignored",
      "[workers] designsafe_global_mounts: Abaco's global_mounts for tenant designsafe",
      "[workers] global_mounts: one of Abaco's",
      "[workers] auto_remove: one of Abaco's",
      "[docker] dockerhub_username_1: one of Abaco's",
      "[logs] file.spawner: one of Abaco's",
      "[nosuch] key: unknown key"};
  for (size_t i = 0; i < sizeof(WARNED) / sizeof(WARNED[0]); i++) {
    if (log_count(WARNED[i]) != 1)
      fprintf(stderr, "  warned %d times: %s\n", log_count(WARNED[i]), WARNED[i]);
    ASSERT_EQ_INT(log_count(WARNED[i]), 1);
  }
  /* Read by some service, per tenant or not: no warning. */
  static const char *const QUIET[] = {"] case:", "] default_token:", "DEV-STAGING_default_token",
                                      "sd2e_log_ex", "DEV_log_ex_limit", "designsafe_actor_uid",
                                      "] dd:", "level.spawner", "] interval:"};
  for (size_t i = 0; i < sizeof(QUIET) / sizeof(QUIET[0]); i++)
    ASSERT_EQ_INT(log_count(QUIET[i]), 0);
  ASSERT_EQ_INT(log_count("WARNING"), 10);
  log_has("");
  actor_config_free(cfg);
}

static void test_key_kinds(void) {
  const char *setting = NULL;
  ASSERT_EQ_INT(actor_config_key_kind("web", "CASE", NULL), ACTOR_KEY_USED);
  ASSERT_EQ_INT(actor_config_key_kind("Web", "all_queues", NULL), ACTOR_KEY_ABACO);
  ASSERT_EQ_INT(actor_config_key_kind("web", "dev_staging_log_ex", &setting), ACTOR_KEY_TENANT);
  ASSERT_EQ_STR(setting, "log_ex"); /* a tenant with '_' in its name */
  ASSERT_EQ_INT(actor_config_key_kind("web", "DEV_log_ex_limit", &setting), ACTOR_KEY_TENANT);
  ASSERT_EQ_STR(setting, "log_ex_limit");
  ASSERT_EQ_INT(actor_config_key_kind("web", "dev-develop_apim_public_key", NULL),
                ACTOR_KEY_TENANT);
  ASSERT_EQ_INT(actor_config_key_kind("workers", "DEV-STAGING_generate_clients", NULL),
                ACTOR_KEY_TENANT);
  ASSERT_EQ_INT(actor_config_key_kind("workers", "designsafe_actor_homedir", NULL),
                ACTOR_KEY_ABACO_TENANT);
  ASSERT_EQ_INT(actor_config_key_kind("web", "_log_ex", NULL), ACTOR_KEY_UNKNOWN);
  ASSERT_EQ_INT(actor_config_key_kind("web", "sd2e_case", NULL), ACTOR_KEY_UNKNOWN);
  ASSERT_EQ_INT(actor_config_key_kind("docker", "dockerhub_password_12", NULL), ACTOR_KEY_ABACO);
  ASSERT_EQ_INT(actor_config_key_kind("docker", "dockerhub_password_x", NULL),
                ACTOR_KEY_UNKNOWN);
  ASSERT_EQ_INT(actor_config_key_kind(NULL, "x", NULL), ACTOR_KEY_UNKNOWN);
}

struct tenants_seen {
  char text[256];
};

static void collect_tenant(const char *tenant, const char *name, const char *value, void *ud) {
  struct tenants_seen *s = ud;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof(s->text) - n, "%s|%s=%s;", tenant, name, value);
}

/* Abaco's <tenant>_<key>: the tenant's value wins, in any case. */
static void test_tenant_keys(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[web]\nlog_ex: 43200\nsd2e_log_ex: 10800\n"
                                   "dev_staging_log_ex: 600\nlog_ex_limit: 86400\n"
                                   "default_token: false\nDEV-STAGING_default_token: true\n"
                                   "sd2e_default_token: maybe\n"
                                   "[workers]\nactor_uid: 1000\ndesignsafe_actor_uid: 458981\n",
                                   &cfg),
                0);
  long l = 0;
  ASSERT_EQ_INT(actor_config_get_tenant_int(cfg, "web", "SD2E", "log_ex", 1, &l), 0);
  ASSERT_EQ_INT(l, 10800);
  ASSERT_EQ_INT(actor_config_get_tenant_int(cfg, "web", "DEV_STAGING", "log_ex", 1, &l), 0);
  ASSERT_EQ_INT(l, 600);
  ASSERT_EQ_INT(actor_config_get_tenant_int(cfg, "web", "TACC", "log_ex", 1, &l), 0);
  ASSERT_EQ_INT(l, 43200);
  ASSERT_EQ_INT(actor_config_get_tenant_int(cfg, "web", NULL, "log_ex", 1, &l), 0);
  ASSERT_EQ_INT(l, 43200);
  bool b = false;
  ASSERT_EQ_INT(actor_config_get_tenant_bool(cfg, "web", "dev-staging", "default_token", false,
                                             &b),
                0);
  ASSERT_EQ_INT(b, 1);
  ASSERT_EQ_INT(actor_config_get_tenant_bool(cfg, "web", "TACC", "default_token", true, &b), 0);
  ASSERT_EQ_INT(b, 0);
  /* A bad tenant value names the tenant's key. */
  ASSERT_EQ_INT(actor_config_get_tenant_bool(cfg, "web", "SD2E", "default_token", false, &b),
                ACTOR_ECONFIG);
  ASSERT_TRUE(log_has("[web] sd2e_default_token: bad value 'maybe'"));
  ASSERT_EQ_STR(actor_config_get_tenant(cfg, "workers", "DESIGNSAFE", "actor_uid", ""), "458981");
  ASSERT_EQ_STR(actor_config_get_tenant(cfg, "workers", "SD2E", "actor_uid", ""), "1000");
  char buf[64];
  ASSERT_EQ_STR(actor_config_tenant_key(cfg, "web", "Sd2e", "log_ex", buf, sizeof(buf)),
                "sd2e_log_ex"); /* as the file spells it */
  ASSERT_EQ_STR(actor_config_tenant_key(cfg, "web", "TACC", "log_ex", buf, sizeof(buf)),
                "log_ex");
  /* Every tenant's key, from the file and the environment, for start-up checks. */
  struct tenants_seen s = {""};
  setenv("web_tacc_log_ex", "60", 1);
  actor_config_each_tenant(cfg, "web", "log_ex", collect_tenant, &s);
  unsetenv("web_tacc_log_ex");
  ASSERT_EQ_STR(s.text, "sd2e|sd2e_log_ex=10800;dev_staging|dev_staging_log_ex=600;"
                        "tacc|tacc_log_ex=60;");
  actor_config_free(cfg);
}

/* Range getters: in range as the plain getter; out of range or bad is
 * ACTOR_ECONFIG with the default; unset is the default. */
static void test_ranges(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[cloud]\nn = 7\nbig = 70\nbad = x\nr = 2.5\n", &cfg), 0);
  long n = 0;
  double d = 0;
  ASSERT_EQ_INT(actor_config_get_int_range(cfg, "cloud", "n", 1, 0, 10, &n), 0);
  ASSERT_EQ_INT(n, 7);
  ASSERT_EQ_INT(actor_config_get_int_range(cfg, "cloud", "big", 1, 0, 10, &n), ACTOR_ECONFIG);
  ASSERT_EQ_INT(n, 1);
  ASSERT_EQ_INT(actor_config_get_int_range(cfg, "cloud", "bad", 3, 0, 10, &n), ACTOR_ECONFIG);
  ASSERT_EQ_INT(n, 3);
  ASSERT_EQ_INT(actor_config_get_int_range(cfg, "cloud", "unset", 4, 0, 10, &n), 0);
  ASSERT_EQ_INT(n, 4);
  ASSERT_EQ_INT(actor_config_get_double_range(cfg, "cloud", "r", 1, 0, 3, &d), 0);
  ASSERT_TRUE(d == 2.5);
  ASSERT_EQ_INT(actor_config_get_double_range(cfg, "cloud", "r", 1, 0, 2, &d), ACTOR_ECONFIG);
  ASSERT_TRUE(d == 1);
  actor_config_free(cfg);
}

int main(void) {
  if (mkdtemp(tmpdir) == NULL)
    return 1;
  char text[400];
  snprintf(text, sizeof(text), "[logs]\ndirectory = %s\nfiles = combined\n", tmpdir);
  snprintf(logpath, sizeof(logpath), "%s/test.log", tmpdir);
  actor_config_t *logcfg = NULL;
  if (actor_config_parse(text, &logcfg) != 0 || actor_log_init(logcfg, "test") != 0)
    return 1;
  actor_config_free(logcfg);

  RUN_TEST(test_parse_and_get);
  RUN_TEST(test_bad_values_logged);
  RUN_TEST(test_env_overrides);
  RUN_TEST(test_each);
  RUN_TEST(test_load_file);
  RUN_TEST(test_colon_syntax);
  RUN_TEST(test_comments);
  RUN_TEST(test_capitalised_booleans);
  RUN_TEST(test_minus_one_is_unlimited);
  RUN_TEST(test_parse_bytes);
  RUN_TEST(test_list_with_blanks);
  RUN_TEST(test_unused_keys_warned_once);
  RUN_TEST(test_key_kinds);
  RUN_TEST(test_tenant_keys);
  RUN_TEST(test_ranges);

  actor_log_shutdown();
  unlink(logpath);
  rmdir(tmpdir);
  TEST_EXIT();
}
