/* Token replacement in user data (cloud_render_tokens) and the
 * [cloud_tokens] section: replacement, the precedence of sources, an
 * unknown token named, no recursion, text that only looks like a token,
 * and the 16 KiB limit. No server. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "actor/cloud.h"
#include "actor/config.h"
#include "actor/errors.h"
#include "test.h"

static int render(const char *text, const json_t *const *src, char **out, char *missing) {
  return cloud_render_tokens(text, src, out, missing, missing ? 64 : 0);
}

static void test_replacement(void) {
  json_t *a = json_pack("{s:s, s:s, s:s, s:i}", "progress_url", "http://h:8000", "instance_id",
                        "abc", "x.y-z_1", "dotted", "n", 42);
  const json_t *src[] = {a, NULL};
  char *out = NULL;
  ASSERT_EQ_INT(render("curl {{{progress_url}}}/instances/{{{instance_id}}}/progress "
                       "{{{x.y-z_1}}}{{{instance_id}}} n={{{n}}}",
                       src, &out, NULL),
                0);
  ASSERT_EQ_STR(out, "curl http://h:8000/instances/abc/progress dottedabc n=42");
  free(out);
  ASSERT_EQ_INT(render("", src, &out, NULL), 0); /* empty in, empty out */
  ASSERT_EQ_STR(out, "");
  free(out);
  ASSERT_EQ_INT(render("no tokens at all\n", src, &out, NULL), 0);
  ASSERT_EQ_STR(out, "no tokens at all\n");
  free(out);
  json_decref(a);
}

static void test_precedence(void) {
  json_t *platform = json_pack("{s:s}", "tenant", "T1");
  json_t *params = json_pack("{s:s, s:s}", "tenant", "from-params", "proxy", "p.params");
  json_t *conf = json_pack("{s:s, s:s, s:s}", "tenant", "from-conf", "proxy", "p.conf", "only",
                           "conf");
  const json_t *src[] = {platform, params, conf, NULL};
  char *out = NULL;
  ASSERT_EQ_INT(render("{{{tenant}}} {{{proxy}}} {{{only}}}", src, &out, NULL), 0);
  ASSERT_EQ_STR(out, "T1 p.params conf");
  free(out);
  /* a null in an earlier source is no value: the next source answers */
  json_t *nul = json_pack("{s:n}", "proxy");
  const json_t *src2[] = {nul, conf, NULL};
  ASSERT_EQ_INT(render("{{{proxy}}}", src2, &out, NULL), 0);
  ASSERT_EQ_STR(out, "p.conf");
  free(out);
  json_decref(nul);
  json_decref(platform);
  json_decref(params);
  json_decref(conf);
}

static void test_unknown_named(void) {
  json_t *a = json_pack("{s:s}", "known", "v");
  const json_t *src[] = {a, NULL};
  char *out = (char *)"untouched";
  char missing[64] = "x";
  ASSERT_EQ_INT(render("{{{known}}} {{{db_password}}} {{{other}}}", src, &out, missing),
                ACTOR_ENOTFOUND);
  ASSERT_EQ_STR(missing, "db_password"); /* the first one missing */
  ASSERT_TRUE(out == NULL);
  /* no sources at all */
  ASSERT_EQ_INT(render("{{{known}}}", NULL, &out, missing), ACTOR_ENOTFOUND);
  ASSERT_EQ_STR(missing, "known");
  /* missing truncated to its buffer, NUL-terminated */
  char small[4];
  ASSERT_EQ_INT(cloud_render_tokens("{{{abcdefgh}}}", src, &out, small, sizeof(small)),
                ACTOR_ENOTFOUND);
  ASSERT_EQ_STR(small, "abc");
  json_decref(a);
}

static void test_no_recursion(void) {
  json_t *a = json_pack("{s:s, s:s}", "a", "{{{b}}}", "b", "B");
  const json_t *src[] = {a, NULL};
  char *out = NULL;
  ASSERT_EQ_INT(render("[{{{a}}}] [{{{b}}}]", src, &out, NULL), 0);
  ASSERT_EQ_STR(out, "[{{{b}}}] [B]");
  free(out);
  /* a value that names itself cannot loop */
  json_t *self = json_pack("{s:s}", "s", "{{{s}}}{{{s}}}");
  const json_t *src2[] = {self, NULL};
  ASSERT_EQ_INT(render("{{{s}}}", src2, &out, NULL), 0);
  ASSERT_EQ_STR(out, "{{{s}}}{{{s}}}");
  free(out);
  /* a value made of the halves of a token does not join its neighbours */
  json_t *half = json_pack("{s:s, s:s}", "open", "{{", "b", "B");
  const json_t *src3[] = {half, NULL};
  ASSERT_EQ_INT(render("{{{open}}}{b}}}", src3, &out, NULL), 0);
  ASSERT_EQ_STR(out, "{{{b}}}");
  free(out);
  json_decref(a);
  json_decref(self);
  json_decref(half);
}

static void test_not_tokens_left_alone(void) {
  json_t *a = json_pack("{s:s}", "x", "X");
  const json_t *src[] = {a, NULL};
  char *out = NULL;
  const char *cases[][2] = {
      {"unterminated {{{x and more", "unterminated {{{x and more"},
      {"{{{x}} two braces", "{{{x}} two braces"},
      {"{{x}} mustache", "{{x}} mustache"},
      {"{{{bad name}}}", "{{{bad name}}}"},
      {"{{{}}} empty", "{{{}}} empty"},
      {"{{{{x}}}}", "{X}"}, /* the first brace is text, then a token */
      {"${x} and {x}", "${x} and {x}"},
      {"trailing {{{", "trailing {{{"},
      {"{{{x}}}", "X"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    ASSERT_EQ_INT(render(cases[i][0], src, &out, NULL), 0);
    ASSERT_EQ_STR(out, cases[i][1]);
    free(out);
  }
  json_decref(a);
}

static void test_size_limit(void) {
  char *big = malloc(CLOUD_USER_DATA_MAX + 2);
  ASSERT_TRUE(big != NULL);
  memset(big, 'a', CLOUD_USER_DATA_MAX);
  big[CLOUD_USER_DATA_MAX] = '\0';
  char *out = NULL;
  /* exactly the limit is fine */
  ASSERT_EQ_INT(render(big, NULL, &out, NULL), 0);
  ASSERT_EQ_INT(strlen(out), CLOUD_USER_DATA_MAX);
  free(out);
  big[CLOUD_USER_DATA_MAX] = 'a';
  big[CLOUD_USER_DATA_MAX + 1] = '\0';
  ASSERT_EQ_INT(render(big, NULL, &out, NULL), ACTOR_ETOOBIG);
  ASSERT_TRUE(out == NULL);
  /* a small text that grows past the limit once rendered */
  memset(big, 'v', 9000);
  big[9000] = '\0';
  json_t *a = json_pack("{s:s}", "v", big);
  const json_t *src[] = {a, NULL};
  ASSERT_EQ_INT(render("{{{v}}}", src, &out, NULL), 0);
  free(out);
  ASSERT_EQ_INT(render("{{{v}}}{{{v}}}", src, &out, NULL), ACTOR_ETOOBIG);
  ASSERT_TRUE(out == NULL);
  json_decref(a);
  free(big);
}

static void test_config_tokens(void) {
  actor_config_t *cfg = NULL;
  ASSERT_EQ_INT(actor_config_parse("[cloud_tokens]\nproxy_host = proxy.example.org\n"
                                   "ldap.url = ldap://l\n[cloud]\ntag = X\n",
                                   &cfg),
                0);
  json_t *t = cloud_config_tokens(cfg);
  ASSERT_TRUE(t != NULL);
  ASSERT_EQ_STR(json_string_value(json_object_get(t, "proxy_host")), "proxy.example.org");
  ASSERT_EQ_STR(json_string_value(json_object_get(t, "ldap.url")), "ldap://l");
  ASSERT_TRUE(json_object_get(t, "tag") == NULL);
  json_decref(t);
  actor_config_free(cfg);
}

int main(void) {
  RUN_TEST(test_replacement);
  RUN_TEST(test_precedence);
  RUN_TEST(test_unknown_named);
  RUN_TEST(test_no_recursion);
  RUN_TEST(test_not_tokens_left_alone);
  RUN_TEST(test_size_limit);
  RUN_TEST(test_config_tokens);
  TEST_EXIT();
}
