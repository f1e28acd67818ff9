/* clientg's parts that need no server: request parsing and every refusal
 * (secret missing, wrong, empty on both sides; bad JSON, commands, ids),
 * the configuration checks, the platform key (generated on first load with
 * mode 0600, the same key on the next load, bad files refused) and the
 * tokens it signs, verified with actor_jwt_verify. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "actor/errors.h"
#include "clientg.h"
#include "test.h"

static const char *SECRET = "s3cret";
static char err[160];
static clientg_req_t req;

static int parse(const char *body) {
  return clientg_request_parse(body, strlen(body), SECRET, &req, err, sizeof(err));
}

static void test_parse_ok(void) {
  ASSERT_EQ_INT(parse("{\"command\":\"new\",\"tenant\":\"dev-Develop\",\"actor_id\":"
                      "\"DEV-DEVELOP_abc\",\"worker_id\":\"w1_x\",\"owner\":\"jdoe\","
                      "\"secret\":\"s3cret\"}"),
                0);
  ASSERT_EQ_STR(err, "");
  ASSERT_EQ_INT(req.cmd, CLIENTG_NEW);
  ASSERT_EQ_STR(req.tenant, "DEV-DEVELOP");
  ASSERT_EQ_STR(req.actor_id, "DEV-DEVELOP_abc");
  ASSERT_EQ_STR(req.worker_id, "w1_x");
  ASSERT_EQ_STR(req.owner, "jdoe");
  /* Abaco's own tenant name holds '_' (tenant_name: dev_staging) */
  ASSERT_EQ_INT(parse("{\"command\":\"new\",\"tenant\":\"dev_staging\",\"actor_id\":"
                      "\"DEV_STAGING_abc\",\"worker_id\":\"w1\",\"owner\":\"jdoe\","
                      "\"secret\":\"s3cret\"}"),
                0);
  ASSERT_EQ_STR(req.tenant, "DEV_STAGING");
  /* delete needs neither owner nor actor id */
  ASSERT_EQ_INT(parse("{\"command\":\"delete\",\"tenant\":\"T\",\"worker_id\":\"w\","
                      "\"secret\":\"s3cret\"}"),
                0);
  ASSERT_EQ_INT(req.cmd, CLIENTG_DELETE);
  ASSERT_EQ_STR(req.owner, "");
}

static void test_secret(void) {
  ASSERT_EQ_INT(parse("{\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\"}"), ACTOR_EAUTH);
  ASSERT_EQ_STR(err, "missing secret");
  ASSERT_EQ_INT(parse("{\"command\":\"new\",\"tenant\":\"tx\",\"worker_id\":\"w9\","
                      "\"secret\":\"s3cre\"}"),
                ACTOR_EAUTH);
  ASSERT_EQ_STR(err, "bad secret");
  /* the ids it claims are kept for the log */
  ASSERT_EQ_STR(req.tenant, "tx");
  ASSERT_EQ_STR(req.worker_id, "w9");
  ASSERT_EQ_INT(parse("{\"secret\":\"s3cret \",\"tenant\":\"a\\nb\",\"worker_id\":\"w\\r\"}"),
                ACTOR_EAUTH);
  ASSERT_EQ_STR(req.tenant, ""); /* not well formed: not logged */
  ASSERT_EQ_STR(req.worker_id, "");
  ASSERT_EQ_INT(parse("{\"secret\":42}"), ACTOR_EAUTH);
  ASSERT_EQ_INT(parse("{\"secret\":null}"), ACTOR_EAUTH);
  ASSERT_EQ_INT(parse("{\"secret\":\"\"}"), ACTOR_EAUTH);
  /* An empty configured secret matches nothing, not even "". */
  const char *b = "{\"command\":\"delete\",\"tenant\":\"T\",\"worker_id\":\"w\",\"secret\":\"\"}";
  ASSERT_EQ_INT(clientg_request_parse(b, strlen(b), "", &req, err, sizeof(err)), ACTOR_EAUTH);
  ASSERT_EQ_INT(clientg_request_parse(b, strlen(b), NULL, &req, err, sizeof(err)), ACTOR_EAUTH);
  /* The secret never shows in the message. */
  ASSERT_TRUE(strstr(err, SECRET) == NULL);
}

static void test_bad_requests(void) {
  struct {
    const char *body, *msg;
  } cases[] = {
      {"", "not a JSON object"},
      {"nonsense", "not a JSON object"},
      {"[\"secret\",\"s3cret\"]", "not a JSON object"},
      {"\"s3cret\"", "not a JSON object"},
      {"{\"secret\":\"s3cret\"}", "command must be"},
      {"{\"secret\":\"s3cret\",\"command\":\"NEW\"}", "command must be"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"worker_id\":\"w\",\"owner\":\"o\","
       "\"actor_id\":\"a\"}",
       "missing tenant"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"owner\":\"o\","
       "\"actor_id\":\"a\"}",
       "missing worker_id"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"actor_id\":\"a\"}",
       "missing owner"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"owner\":\"o\"}",
       "missing actor_id"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"owner\":\"\",\"actor_id\":\"a\"}",
       "missing owner"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T/1\",\"worker_id\":\"w\","
       "\"owner\":\"o\",\"actor_id\":\"a\"}",
       "tenant holds"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"../w\","
       "\"owner\":\"o\",\"actor_id\":\"a\"}",
       "worker_id holds"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"owner\":\"root@OTHER\",\"actor_id\":\"a\"}",
       "owner holds"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"owner\":\"a,Internal/abaco-admin\",\"actor_id\":\"a\"}",
       "owner holds"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":\"w\","
       "\"owner\":\"x\\ny\",\"actor_id\":\"a\"}",
       "owner holds"},
      {"{\"secret\":\"s3cret\",\"command\":\"new\",\"tenant\":\"T\",\"worker_id\":7,"
       "\"owner\":\"o\",\"actor_id\":\"a\"}",
       "worker_id is not a string"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = parse(cases[i].body);
    if (rc != ACTOR_EINVAL || strstr(err, cases[i].msg) == NULL)
      fprintf(stderr, "  case %zu: rc %d err '%s'\n", i, rc, err);
    ASSERT_EQ_INT(rc, ACTOR_EINVAL);
    ASSERT_TRUE(strstr(err, cases[i].msg) != NULL);
  }
  /* Too long: one id, and the whole body. */
  char body[CLIENTG_MAX_BODY + 256];
  int n = snprintf(body, sizeof(body),
                   "{\"secret\":\"s3cret\",\"command\":\"delete\",\"tenant\":\"T\","
                   "\"worker_id\":\"");
  memset(body + n, 'w', 200);
  strcpy(body + n + 200, "\"}");
  ASSERT_EQ_INT(parse(body), ACTOR_EINVAL);
  ASSERT_TRUE(strstr(err, "worker_id is too long") != NULL);
  memset(body + n, 'w', CLIENTG_MAX_BODY);
  strcpy(body + n + CLIENTG_MAX_BODY, "\"}");
  ASSERT_EQ_INT(parse(body), ACTOR_EINVAL);
  /* A NUL inside the body. */
  const char nul[] = "{\"secret\":\"s3cret\",\"command\":\"delete\",\"tenant\":\"T\0\"}";
  ASSERT_EQ_INT(clientg_request_parse(nul, sizeof(nul) - 1, SECRET, &req, err, sizeof(err)),
                ACTOR_EINVAL);
}

static void test_conf(void) {
  actor_config_t *cfg = NULL;
  clientg_conf_t c;
  ASSERT_EQ_INT(actor_config_parse("[clientg]\nsecret = x\n", &cfg), 0);
  ASSERT_EQ_INT(clientg_conf_load(cfg, &c), 0);
  ASSERT_EQ_STR(c.queue, "clients");
  ASSERT_EQ_STR(c.secret, "x");
  ASSERT_EQ_STR(c.key_file, CLIENTG_DEFAULT_KEY_FILE);
  ASSERT_EQ_INT(c.token_ttl, 3600);
  ASSERT_EQ_STR(c.user_role, "Internal/abaco-user");
  actor_config_free(cfg);
  ASSERT_EQ_INT(actor_config_parse("[clientg]\ntoken_ttl = 10\n", &cfg), 0);
  ASSERT_EQ_INT(clientg_conf_load(cfg, &c), ACTOR_ECONFIG);
  actor_config_free(cfg);
  ASSERT_EQ_INT(actor_config_parse("[clientg]\ntoken_ttl = soon\n", &cfg), 0);
  ASSERT_EQ_INT(clientg_conf_load(cfg, &c), ACTOR_ECONFIG);
  actor_config_free(cfg);
  ASSERT_EQ_INT(actor_config_parse("[web]\nuser_role = a,b\n", &cfg), 0);
  ASSERT_EQ_INT(clientg_conf_load(cfg, &c), ACTOR_ECONFIG);
  actor_config_free(cfg);
}

static char dir[64];

static void test_key_and_token(void) {
  char path[256];
  snprintf(path, sizeof(path), "%s/sub/dir/key.pem", dir);
  clientg_key_t k, k2;
  bool gen = false;
  ASSERT_EQ_INT(clientg_key_load(path, &k, &gen), 0);
  ASSERT_TRUE(gen);
  struct stat st;
  ASSERT_EQ_INT(stat(path, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0600);
  char sub[256];
  snprintf(sub, sizeof(sub), "%s/sub/dir", dir);
  ASSERT_EQ_INT(stat(sub, &st), 0);
  ASSERT_EQ_INT(st.st_mode & 0777, 0700);
  ASSERT_EQ_INT(clientg_key_load(path, &k2, &gen), 0);
  ASSERT_TRUE(!gen);
  ASSERT_EQ_STR(k.kid, k2.kid);
  ASSERT_TRUE(strncmp(k.kid, ACTOR_PLATFORM_KID_PREFIX, strlen(ACTOR_PLATFORM_KID_PREFIX)) == 0);
  clientg_key_free(&k2);

  clientg_req_t r = {.cmd = CLIENTG_NEW,
                     .tenant = "DEV-DEVELOP",
                     .actor_id = "DEV-DEVELOP_a1",
                     .worker_id = "wid42",
                     .owner = "jdoe"};
  int64_t now = (int64_t)time(NULL);
  char *tok = NULL;
  ASSERT_EQ_INT(clientg_token_issue(&k, &r, "Internal/abaco-user", 120, now, &tok), 0);
  ASSERT_TRUE(tok != NULL);
  char kid[ACTOR_AUTH_KID_MAX];
  ASSERT_EQ_INT(actor_jwt_peek_kid(tok, kid, sizeof(kid)), 0);
  ASSERT_EQ_STR(kid, k.kid);
  actor_identity_t id;
  char reason[ACTOR_AUTH_REASON_MAX];
  ASSERT_EQ_INT(
      actor_jwt_verify(NULL, k.pub, tok, "dev-develop", NULL, now, &id, reason, sizeof(reason)), 0);
  ASSERT_EQ_STR(id.username, "jdoe");
  ASSERT_EQ_STR(id.tenant, "DEV-DEVELOP");
  ASSERT_EQ_STR(id.roles, "Internal/abaco-user");
  ASSERT_EQ_STR(id.jti, "wid42");
  ASSERT_EQ_INT(id.exp, now + 120);
  /* Bearer-style: the tenant comes from the claim. */
  ASSERT_EQ_INT(actor_jwt_verify(NULL, k.pub, tok, NULL, "OTHER", now, &id, reason, sizeof(reason)),
                0);
  ASSERT_EQ_STR(id.tenant, "DEV-DEVELOP");
  /* Never in another tenant, never after exp. */
  ASSERT_EQ_INT(actor_jwt_verify(NULL, k.pub, tok, "OTHER", NULL, now, &id, reason, sizeof(reason)),
                ACTOR_EAUTH);
  ASSERT_EQ_INT(
      actor_jwt_verify(NULL, k.pub, tok, NULL, NULL, now + 120, &id, reason, sizeof(reason)),
      ACTOR_EAUTH);
  free(tok);
  clientg_key_free(&k);
  unlink(path);

  /* Bad key files: garbage, a public key, a 1024-bit key, a directory. */
  FILE *f = fopen(path, "w");
  fputs("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", f);
  fclose(f);
  ASSERT_EQ_INT(clientg_key_load(path, &k, NULL), ACTOR_ECONFIG);
  EVP_PKEY *small = EVP_RSA_gen(1024);
  f = fopen(path, "w");
  PEM_write_PrivateKey(f, small, NULL, NULL, 0, NULL, NULL);
  fclose(f);
  ASSERT_EQ_INT(clientg_key_load(path, &k, NULL), ACTOR_ECONFIG);
  f = fopen(path, "w");
  PEM_write_PUBKEY(f, small);
  fclose(f);
  ASSERT_EQ_INT(clientg_key_load(path, &k, NULL), ACTOR_ECONFIG);
  EVP_PKEY_free(small);
  unlink(path);
  ASSERT_EQ_INT(clientg_key_load(sub, &k, NULL), ACTOR_ECONFIG);
  rmdir(sub);
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  rmdir(sub);
}

int main(void) {
  snprintf(dir, sizeof(dir), "/tmp/test_clientg_req.XXXXXX");
  if (mkdtemp(dir) == NULL)
    return 1;
  RUN_TEST(test_parse_ok);
  RUN_TEST(test_secret);
  RUN_TEST(test_bad_requests);
  RUN_TEST(test_conf);
  RUN_TEST(test_key_and_token);
  rmdir(dir);
  TEST_EXIT();
}
