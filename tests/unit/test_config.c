/* Unit tests for actor/config.h: INI parsing (via inih), lookups,
 * `<section>_<option>` environment overrides, typed getters and the error
 * they log naming `[section] key` and the bad value, file loading. Errors
 * are captured by pointing the log at a temporary directory. */
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

  actor_log_shutdown();
  unlink(logpath);
  rmdir(tmpdir);
  TEST_EXIT();
}
