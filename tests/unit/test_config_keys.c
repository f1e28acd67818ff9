/* Unit tests for the table of keys the platform knows (config_keys.c)
 * against what the sources and the files say: every key a service reads
 * with a literal section and key (actor_config_get*(cfg, "web", "port",
 * ...)) is in the table as used, the project's own abaco.conf draws no
 * warning, and the fixtures that reproduce Abaco's abaco.conf and
 * local-dev.conf draw exactly the warnings for the settings we do not use.
 * Reads the sources under ABACO_SOURCE_DIR. */
#include "actor/config.h"
#include "test.h"

#include <ctype.h>
#include <glob.h>

static const char *source_dir(void) {
  const char *d = getenv("ABACO_SOURCE_DIR");
  return d && *d ? d : ".";
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
  if (buf != NULL) {
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
  }
  fclose(f);
  return buf;
}

/* The i-th top-level argument of the call whose '(' is at p, when it is a
 * plain string literal: copied into out. */
static bool literal_arg(const char *p, int i, char *out, size_t len) {
  int depth = 0, arg = 0;
  for (p++; *p; p++) {
    if (*p == '(')
      depth++;
    else if (*p == ')' && depth-- == 0)
      return false;
    else if (*p == ',' && depth == 0)
      arg++;
    else if (arg == i && depth == 0 && !isspace((unsigned char)*p)) {
      if (*p != '"')
        return false;
      const char *end = strchr(p + 1, '"');
      if (end == NULL || (size_t)(end - p - 1) >= len)
        return false;
      memcpy(out, p + 1, (size_t)(end - p - 1));
      out[end - p - 1] = '\0';
      end++;
      while (isspace((unsigned char)*end))
        end++;
      return *end == ',' || *end == ')';
    }
  }
  return false;
}

/* Reads of a section and key, by function: where the key argument is. */
static const struct {
  const char *fn;
  int key_arg;
} READERS[] = {{"actor_config_get(", 2},        {"actor_config_get_int(", 2},
               {"actor_config_get_bool(", 2},   {"actor_config_get_double(", 2},
               {"actor_config_get_enum(", 2},   {"actor_config_get_limit(", 2},
               {"actor_config_get_size(", 2},   {"actor_config_get_tenant(", 3},
               {"actor_config_get_tenant_int(", 3}, {"actor_config_get_tenant_bool(", 3},
               {"actor_config_tenant_key(", 3}, {"actor_config_each_tenant(", 2}};

static int check_file(const char *path) {
  char *text = slurp(path);
  int checked = 0;
  if (text == NULL)
    return 0;
  for (size_t r = 0; r < sizeof(READERS) / sizeof(READERS[0]); r++) {
    for (const char *p = text; (p = strstr(p, READERS[r].fn)) != NULL; p++) {
      char section[64], key[128];
      const char *paren = p + strlen(READERS[r].fn) - 1;
      if (!literal_arg(paren, 1, section, sizeof(section)) ||
          !literal_arg(paren, READERS[r].key_arg, key, sizeof(key)))
        continue;
      checked++;
      if (actor_config_key_kind(section, key, NULL) != ACTOR_KEY_USED)
        fprintf(stderr, "  %s reads [%s] %s, which config_keys.c does not list as used\n", path,
                section, key);
      ASSERT_EQ_INT(actor_config_key_kind(section, key, NULL), ACTOR_KEY_USED);
    }
  }
  free(text);
  return checked;
}

static void test_sources_read_known_keys(void) {
  static const char *const GLOBS[] = {"libactor/src/*.c", "services/*/src/*.c",
                                      "channels/src/*.c"};
  int checked = 0;
  for (size_t g = 0; g < sizeof(GLOBS) / sizeof(GLOBS[0]); g++) {
    char pattern[512];
    snprintf(pattern, sizeof(pattern), "%s/%s", source_dir(), GLOBS[g]);
    glob_t gl;
    if (glob(pattern, 0, NULL, &gl) != 0)
      continue;
    for (size_t i = 0; i < gl.gl_pathc; i++)
      checked += check_file(gl.gl_pathv[i]);
    globfree(&gl);
  }
  /* The sources read some eighty keys with literal names: the scan must
   * have found them, or it checks nothing. */
  ASSERT_TRUE(checked > 60);
}

typedef struct {
  char names[2048];
  int used, unused;
} tally_t;

static void tally(const char *section, const char *key, const char *value, void *ud) {
  (void)value;
  tally_t *t = ud;
  actor_config_key_kind_t k = actor_config_key_kind(section, key, NULL);
  if (k == ACTOR_KEY_USED || k == ACTOR_KEY_TENANT) {
    t->used++;
    return;
  }
  t->unused++;
  size_t n = strlen(t->names);
  snprintf(t->names + n, sizeof(t->names) - n, "[%s] %s;", section, key);
}

static tally_t tally_file(const char *rel) {
  char path[512];
  tally_t t = {"", 0, 0};
  snprintf(path, sizeof(path), "%s/%s", source_dir(), rel);
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_load(path, &cfg), 0);
  actor_config_each_entry(cfg, tally, &t);
  actor_config_free(cfg);
  return t;
}

static void test_project_conf_all_known(void) {
  tally_t t = tally_file("abaco.conf");
  ASSERT_EQ_STR(t.names, "");
  ASSERT_TRUE(t.used > 60);
}

/* Abaco's own files, as the fixtures reproduce them: what is reported. */
static void test_abaco_files(void) {
  tally_t t = tally_file("tests/functional/fixtures/abaco-shipped.conf");
  ASSERT_EQ_STR(t.names, "[workers] global_mounts;[workers] use_tas_uid;");
  t = tally_file("tests/functional/fixtures/abaco-local-dev.conf");
  ASSERT_EQ_STR(t.names,
                "[workers] auto_remove;[workers] designsafe_global_mounts;"
                "[workers] dev-develop_global_mounts;[workers] use_tas_uid;"
                "[workers] sd2e_use_tas_uid;[web] all_queues;");
}

int main(void) {
  RUN_TEST(test_sources_read_known_keys);
  RUN_TEST(test_project_conf_all_known);
  RUN_TEST(test_abaco_files);
  TEST_EXIT();
}
