/* Unit tests for actor/log.h: level parsing, global and per-module levels
 * from [logs], the macro not evaluating arguments below the level, the text
 * line format on stderr, JSON lines in split files, bad settings refused
 * (keeping the previous ones), long messages, and many threads writing
 * whole lines while another re-initialises. */
#include "actor/config.h"
#include "actor/errors.h"
#include "actor/log.h"
#include "test.h"

#include <jansson.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/test_log_XXXXXX";

static char *read_file(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  size_t got = fread(buf, 1, (size_t)n, f);
  buf[got] = '\0';
  fclose(f);
  return buf;
}

static int init_with(const char *text, const char *service) {
  actor_config_t *cfg = NULL;
  int rc = actor_config_parse(text, &cfg);
  if (rc == 0)
    rc = actor_log_init(cfg, service);
  actor_config_free(cfg);
  return rc;
}

static void path_of(char *out, size_t len, const char *name) {
  snprintf(out, len, "%s/%s", tmpdir, name);
}

static int count_lines(const char *s) {
  int n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

static void test_parse_level(void) {
  int l = 0;
  ASSERT_EQ_INT(actor_log_parse_level("DEBUG", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_DEBUG);
  ASSERT_EQ_INT(actor_log_parse_level("info", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_INFO);
  ASSERT_EQ_INT(actor_log_parse_level("Warning", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_WARNING);
  ASSERT_EQ_INT(actor_log_parse_level("warn", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_WARNING);
  ASSERT_EQ_INT(actor_log_parse_level(" ERROR ", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_ERROR);
  ASSERT_EQ_INT(actor_log_parse_level("critical", &l), 0);
  ASSERT_EQ_INT(l, ACTOR_LOG_CRITICAL);
  ASSERT_EQ_INT(actor_log_parse_level("verbose", &l), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_log_parse_level("", &l), ACTOR_EINVAL);
  ASSERT_EQ_INT(actor_log_parse_level("INFOX", &l), ACTOR_EINVAL);
}

static int evaluated;
static int side_effect(void) { return ++evaluated; }

static void test_levels(void) {
  ASSERT_EQ_INT(actor_log_level(NULL), ACTOR_LOG_INFO); /* before any init */
  ASSERT_EQ_INT(init_with("[logs]\nlevel = WARNING\nlevel.store = DEBUG\nlevel.api = error\n",
                          "svc"),
                0);
  ASSERT_EQ_INT(actor_log_level(NULL), ACTOR_LOG_WARNING);
  ASSERT_EQ_INT(actor_log_level("worker"), ACTOR_LOG_WARNING);
  ASSERT_EQ_INT(actor_log_level("store"), ACTOR_LOG_DEBUG);
  ASSERT_EQ_INT(actor_log_level("api"), ACTOR_LOG_ERROR);

  evaluated = 0;
  LOG_DEBUG("worker", "never formatted %d", side_effect());
  LOG_INFO("worker", "never formatted %d", side_effect());
  LOG_WARN("api", "never formatted %d", side_effect());
  ASSERT_EQ_INT(evaluated, 0);

  /* The environment overrides the file ([logs] level -> LOGS_LEVEL). */
  setenv("LOGS_LEVEL", "error", 1);
  ASSERT_EQ_INT(init_with("[logs]\nlevel = DEBUG\n", "svc"), 0);
  ASSERT_EQ_INT(actor_log_level("x"), ACTOR_LOG_ERROR);
  unsetenv("LOGS_LEVEL");
  ASSERT_EQ_INT(actor_log_init(NULL, "svc"), 0);
  ASSERT_EQ_INT(actor_log_level("x"), ACTOR_LOG_INFO);
}

/* Runs fn with stderr sent to a file and returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
  char path[256];
  path_of(path, sizeof(path), "stderr.txt");
  fflush(stderr);
  int saved = dup(2);
  FILE *f = fopen(path, "w");
  dup2(fileno(f), 2);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  fclose(f);
  char *s = read_file(path);
  unlink(path);
  return s;
}

static void log_some_text(void) {
  LOG_INFO("spawner", "hello %d", 42);
  LOG_DEBUG("spawner", "hidden");
  actor_log(ACTOR_LOG_ERROR, NULL, "no module\n");
  actor_log(ACTOR_LOG_DEBUG, "spawner", "direct call below the level");
}

static void test_text_stderr(void) {
  ASSERT_EQ_INT(init_with("[logs]\nlevel = INFO\n", "api"), 0);
  char *out = capture_stderr(log_some_text);
  regex_t re;
  ASSERT_EQ_INT(regcomp(&re,
                        "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                        "INFO api\\[spawner\\]: hello 42\n"
                        "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
                        "ERROR api: no module\n$",
                        REG_EXTENDED),
                0);
  int match = regexec(&re, out, 0, NULL, 0) == 0;
  if (!match)
    fprintf(stderr, "  got: %s", out);
  ASSERT_TRUE(match);
  regfree(&re);
  free(out);
}

static void test_bad_settings(void) {
  char text[512], path[300];
  path_of(path, sizeof(path), "keep.log");
  snprintf(text, sizeof(text), "[logs]\ndirectory = %s\nlevel = DEBUG\n", tmpdir);
  ASSERT_EQ_INT(init_with(text, "keep"), 0);
  ASSERT_EQ_INT(init_with("[logs]\nlevel = LOUD\n", "x"), ACTOR_ECONFIG);
  ASSERT_EQ_INT(init_with("[logs]\nlevel.api = LOUD\n", "x"), ACTOR_ECONFIG);
  ASSERT_EQ_INT(init_with("[logs]\nfiles = some\n", "x"), ACTOR_ECONFIG);
  ASSERT_EQ_INT(init_with("[logs]\nformat = xml\n", "x"), ACTOR_ECONFIG);
  ASSERT_EQ_INT(init_with("[logs]\ndirectory = /nonexistent/dir/for/logs\n", "x"),
                ACTOR_ECONFIG);
  /* Each refusal was logged, naming the key, through the settings that
   * were kept (DEBUG into keep.log). */
  char *s = read_file(path);
  ASSERT_TRUE(strstr(s, "[logs] level: bad value 'LOUD'") != NULL);
  ASSERT_TRUE(strstr(s, "[logs] level.api: bad value 'LOUD'") != NULL);
  ASSERT_TRUE(strstr(s, "[logs] files: bad value 'some'") != NULL);
  ASSERT_TRUE(strstr(s, "[logs] format: bad value 'xml'") != NULL);
  ASSERT_TRUE(strstr(s, "[logs] directory: cannot open a log file in "
                        "'/nonexistent/dir/for/logs'") != NULL);
  ASSERT_TRUE(strstr(s, " ERROR keep[log]: ") != NULL);
  free(s);
  ASSERT_EQ_INT(actor_log_level(NULL), ACTOR_LOG_DEBUG);
  actor_log_shutdown();
  unlink(path);
}

static void test_json_split(void) {
  char text[512], path[300];
  snprintf(text, sizeof(text), "[logs]\ndirectory = %s\nfiles = split\nformat = JSON\n", tmpdir);
  ASSERT_EQ_INT(init_with(text, "worker"), 0);
  LOG_INFO("store", "saved \"%s\"\tok", "x");
  LOG_ERROR("docker", "bad byte \xff and caf\xc3\xa9");
  LOG_WARN(NULL, "plain");
  LOG_INFO("store", "second");
  actor_log_shutdown();

  path_of(path, sizeof(path), "worker.store.log");
  char *s = read_file(path);
  ASSERT_EQ_INT(count_lines(s), 2);
  json_error_t err;
  json_t *j = json_loads(s, JSON_DISABLE_EOF_CHECK, &err);
  ASSERT_TRUE(j != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "level")), "INFO");
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "service")), "worker");
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "module")), "store");
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "msg")), "saved \"x\"\tok");
  ASSERT_EQ_INT(strlen(json_string_value(json_object_get(j, "time"))), 24);
  json_decref(j);
  free(s);
  unlink(path);

  path_of(path, sizeof(path), "worker.docker.log");
  s = read_file(path);
  j = json_loads(s, 0, &err);
  ASSERT_TRUE(j != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "msg")),
                "bad byte \xef\xbf\xbd and caf\xc3\xa9");
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "level")), "ERROR");
  json_decref(j);
  free(s);
  unlink(path);

  path_of(path, sizeof(path), "worker.log");
  s = read_file(path);
  j = json_loads(s, 0, &err);
  ASSERT_TRUE(j != NULL);
  ASSERT_TRUE(json_is_null(json_object_get(j, "module")));
  ASSERT_EQ_STR(json_string_value(json_object_get(j, "msg")), "plain");
  json_decref(j);
  free(s);
  unlink(path);
}

#define THREADS 4
#define LINES 2000
static atomic_int stop_reinit;
static char combined_conf[512];

static void *writer(void *arg) {
  char module[16];
  snprintf(module, sizeof(module), "t%d", (int)(size_t)arg);
  for (int i = 0; i < LINES; i++)
    LOG_INFO(module, "line %d %0300d end", i, 0);
  return NULL;
}

static void *reinit(void *arg) {
  while (!stop_reinit)
    init_with(combined_conf, "multi");
  return arg;
}

static void test_threads(void) {
  char path[300];
  snprintf(combined_conf, sizeof(combined_conf), "[logs]\ndirectory = %s\nfiles = combined\n",
           tmpdir);
  ASSERT_EQ_INT(init_with(combined_conf, "multi"), 0);
  pthread_t th[THREADS], re;
  stop_reinit = 0;
  pthread_create(&re, NULL, reinit, NULL);
  for (size_t i = 0; i < THREADS; i++)
    pthread_create(&th[i], NULL, writer, (void *)i);
  for (size_t i = 0; i < THREADS; i++)
    pthread_join(th[i], NULL);
  stop_reinit = 1;
  pthread_join(re, NULL);
  actor_log_shutdown();

  path_of(path, sizeof(path), "multi.log");
  char *s = read_file(path);
  ASSERT_EQ_INT(count_lines(s), THREADS * LINES);
  regex_t rx;
  regcomp(&rx, "^[0-9T:.Z-]{24} INFO multi\\[t[0-9]\\]: line [0-9]+ 0{300} end$",
          REG_EXTENDED | REG_NOSUB);
  int bad = 0;
  for (char *line = strtok(s, "\n"); line != NULL; line = strtok(NULL, "\n"))
    if (regexec(&rx, line, 0, NULL, 0) != 0)
      bad++;
  ASSERT_EQ_INT(bad, 0);
  regfree(&rx);
  free(s);
  unlink(path);
}

static void test_long_message(void) {
  char text[512], path[300];
  snprintf(text, sizeof(text), "[logs]\ndirectory = %s\n", tmpdir);
  ASSERT_EQ_INT(init_with(text, "long"), 0);
  char *big = malloc(10001);
  memset(big, 'q', 10000);
  big[10000] = '\0';
  LOG_WARN("m", "<%s>", big);
  actor_log_shutdown();
  path_of(path, sizeof(path), "long.log");
  char *s = read_file(path);
  char *open = strchr(s, '<'), *close = strchr(s, '>');
  ASSERT_TRUE(open != NULL && close != NULL && close - open == 10001);
  ASSERT_TRUE(strstr(s, " WARNING long[m]: <") != NULL);
  free(s);
  free(big);
  unlink(path);
}

int main(void) {
  if (mkdtemp(tmpdir) == NULL)
    return 1;
  RUN_TEST(test_parse_level);
  RUN_TEST(test_levels);
  RUN_TEST(test_text_stderr);
  RUN_TEST(test_bad_settings);
  RUN_TEST(test_json_split);
  RUN_TEST(test_threads);
  RUN_TEST(test_long_message);
  actor_log_shutdown();
  rmdir(tmpdir);
  TEST_EXIT();
}
