/* Tests of the AWS client (actor/aws.h) making real calls.
 *
 * Against moto server at MOTO_URL (unset: those tests are skipped; set and
 * unreachable: they fail): a stack with an instance and a volume is made,
 * described, its instance found by tag, stopped, started, rebooted and
 * terminated, the stack deleted; CreateStack again with the same name and
 * token gives the same stack; missing stacks and instances are AWS_NOTFOUND.
 *
 * Against a tiny HTTP server of the test's own (a thread answering canned
 * answers on a loopback port): the retry loop (throttled and transient
 * answers retried, permanent ones not, attempts and throttled counted),
 * connection failures, the Describe* token bucket, and what goes on the
 * wire (form body, signature, session token header, never the secret). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "actor/aws.h"
#include "moto_test_client.h"
#include "test.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"

/* ---- moto ---- */

static char run_id[48];

static void make_run_id(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  snprintf(run_id, sizeof run_id, "t%ld%ld", (long)getpid(), (long)(ts.tv_nsec % 100000));
}

/* A client for MOTO_URL, checked to answer (NULL, said why, when not). */
static aws_t *moto_client(void) {
  aws_t *a = moto_test_client(SECRET);
  if (a == NULL)
    return NULL;
  const char *url = test_server_env("MOTO_URL");
  json_t *out = NULL;
  aws_result_t res;
  int rc = aws_cfn_describe_stack(a, "abaco-test-no-such-stack", &out, &res);
  json_decref(out);
  if (rc != ACTOR_EAWS || res.cls != AWS_NOTFOUND) {
    fprintf(stderr, "FAIL: no moto server at %s (set MOTO_URL): %s %s: %s\n", url,
            aws_class_name(res.cls), res.code, res.message);
    aws_free(a);
    return NULL;
  }
  return a;
}

static const char *TEMPLATE =
    "{\"Parameters\": {\"ImageId\": {\"Type\": \"String\"},"
    "  \"InstanceType\": {\"Type\": \"String\", \"Default\": \"t2.micro\"},"
    "  \"KeyName\": {\"Type\": \"String\", \"Default\": \"none\"}},"
    " \"Resources\": {"
    "  \"Inst\": {\"Type\": \"AWS::EC2::Instance\", \"Properties\": {"
    "    \"ImageId\": {\"Ref\": \"ImageId\"}, \"InstanceType\": {\"Ref\": \"InstanceType\"},"
    "    \"AvailabilityZone\": \"us-east-1a\","
    "    \"Tags\": [{\"Key\": \"Name\", \"Value\": \"moto-test\"}]}},"
    "  \"Vol\": {\"Type\": \"AWS::EC2::Volume\", \"Properties\": {"
    "    \"Size\": 4, \"AvailabilityZone\": \"us-east-1a\"}},"
    "  \"Att\": {\"Type\": \"AWS::EC2::VolumeAttachment\", \"Properties\": {"
    "    \"InstanceId\": {\"Ref\": \"Inst\"}, \"VolumeId\": {\"Ref\": \"Vol\"},"
    "    \"Device\": \"/dev/sdf\"}}},"
    " \"Outputs\": {\"InstanceId\": {\"Value\": {\"Ref\": \"Inst\"}}}}";

/* The EC2 state of one instance (static buffer). */
static const char *instance_state(aws_t *a, const char *id) {
  static char state[32];
  json_t *ids = json_pack("[s]", id), *out = NULL;
  aws_result_t res;
  int rc = aws_ec2_describe_instances(a, NULL, NULL, ids, &out, &res);
  json_decref(ids);
  if (rc != 0)
    fprintf(stderr, "DescribeInstances %s: %s %s\n", id, res.code, res.message);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  snprintf(state, sizeof state, "%s",
           json_string_value(json_object_get(json_array_get(out, 0), "state")));
  json_decref(out);
  return state;
}

static int is_one_of(const char *s, const char *a, const char *b) {
  return strcmp(s, a) == 0 || strcmp(s, b) == 0;
}

static void test_stack_lifecycle(void) {
  aws_t *a = moto_client();
  ASSERT_TRUE(a != NULL);
  make_run_id();
  char stack[96], tag[64], token[64];
  snprintf(stack, sizeof stack, "abaco-test-%s", run_id);
  snprintf(tag, sizeof tag, "TEST-%s", run_id);
  snprintf(token, sizeof token, "tok-%s", run_id);
  json_t *params = json_pack("{s:s, s:s}", "ImageId", "ami-03cf127a", "KeyName", "");
  json_t *tags = json_pack("{s:s, s:s, s:s}", "LaunchedBy", tag, "AbacoId", run_id, "Owner",
                           "testuser");
  aws_stack_req_t req = {.stack_name = stack,
                         .template_body = TEMPLATE,
                         .parameters = params,
                         .tags = tags,
                         .client_request_token = token};
  aws_result_t res;
  char *stack_id = NULL, *again = NULL;
  int rc = aws_cfn_create_stack(a, &req, &stack_id, &res);
  if (rc != 0)
    fprintf(stderr, "CreateStack: %s %s\n", res.code, res.message);
  ASSERT_EQ_INT(rc, 0);
  ASSERT_TRUE(strstr(stack_id, stack) != NULL);
  ASSERT_EQ_INT(res.attempts, 1);
  ASSERT_TRUE(res.request_id[0] != '\0');

  /* a redelivered launch: the same stack, not a second one */
  ASSERT_EQ_INT(aws_cfn_create_stack(a, &req, &again, &res), 0);
  ASSERT_EQ_STR(again, stack_id);
  free(again);

  json_t *st = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack(a, stack, &st, &res), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(st, "stack_id")), stack_id);
  ASSERT_EQ_STR(json_string_value(json_object_get(st, "stack_name")), stack);
  ASSERT_EQ_STR(json_string_value(json_object_get(st, "status")), "CREATE_COMPLETE");
  const char *out_id =
      json_string_value(json_object_get(json_object_get(st, "outputs"), "InstanceId"));
  ASSERT_TRUE(out_id != NULL && strncmp(out_id, "i-", 2) == 0);

  json_t *rs = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack_resources(a, stack, &rs, &res), 0);
  char iid[64] = "", vid[64] = "";
  size_t i;
  json_t *r;
  json_array_foreach(rs, i, r) {
    const char *type = json_string_value(json_object_get(r, "type"));
    const char *pid = json_string_value(json_object_get(r, "physical_id"));
    if (type && pid && strcmp(type, "AWS::EC2::Instance") == 0)
      snprintf(iid, sizeof iid, "%s", pid);
    if (type && pid && strcmp(type, "AWS::EC2::Volume") == 0)
      snprintf(vid, sizeof vid, "%s", pid);
  }
  json_decref(rs);
  ASSERT_EQ_STR(iid, out_id);
  ASSERT_TRUE(strncmp(vid, "vol-", 4) == 0);
  json_decref(st);

  json_t *ev = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack_events(a, stack, &ev, &res), 0);
  ASSERT_TRUE(json_array_size(ev) >= 1);
  ASSERT_TRUE(json_string_value(json_object_get(json_array_get(ev, 0), "event_id")) != NULL);
  json_decref(ev);

  /* the instance, found by its tag, carries the stack's tags */
  json_t *list = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, "LaunchedBy", tag, NULL, &list, &res), 0);
  ASSERT_EQ_INT(json_array_size(list), 1);
  json_t *inst = json_array_get(list, 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(inst, "instance_id")), iid);
  ASSERT_EQ_STR(json_string_value(json_object_get(inst, "image_id")), "ami-03cf127a");
  ASSERT_EQ_STR(json_string_value(json_object_get(inst, "instance_type")), "t2.micro");
  ASSERT_EQ_STR(json_string_value(json_object_get(inst, "availability_zone")), "us-east-1a");
  ASSERT_TRUE(json_string_value(json_object_get(inst, "private_ip")) != NULL);
  json_t *itags = json_object_get(inst, "tags");
  ASSERT_EQ_STR(json_string_value(json_object_get(itags, "LaunchedBy")), tag);
  ASSERT_EQ_STR(json_string_value(json_object_get(itags, "AbacoId")), run_id);
  ASSERT_EQ_STR(json_string_value(json_object_get(itags, "Name")), "moto-test");
  ASSERT_TRUE(is_one_of(json_string_value(json_object_get(inst, "state")), "pending", "running"));
  json_decref(list);
  /* another tag sees nothing */
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, "LaunchedBy", "NOBODY-xyz", NULL, &list, &res), 0);
  ASSERT_EQ_INT(json_array_size(list), 0);
  json_decref(list);

  json_t *vids = json_pack("[s]", vid), *vols = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_volumes(a, vids, &vols, &res), 0);
  json_decref(vids);
  ASSERT_EQ_INT(json_array_size(vols), 1);
  json_t *vol = json_array_get(vols, 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(vol, "volume_id")), vid);
  ASSERT_EQ_INT(json_integer_value(json_object_get(vol, "size")), 4);
  json_decref(vols);
  /* through the volume-id filter a volume that does not exist is just absent */
  vids = json_pack("[s, s]", vid, "vol-0123456789abcdef0");
  ASSERT_EQ_INT(aws_ec2_volumes_present(a, vids, &vols, &res), 0);
  json_decref(vids);
  ASSERT_EQ_INT(json_array_size(vols), 1);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(vols, 0), "volume_id")), vid);
  json_decref(vols);
  vids = json_array();
  ASSERT_EQ_INT(aws_ec2_volumes_present(a, vids, &vols, &res), 0);
  ASSERT_EQ_INT(json_array_size(vols), 0);
  json_decref(vids);
  json_decref(vols);

  ASSERT_EQ_INT(aws_ec2_instance_action(a, "StopInstances", iid, &res), 0);
  ASSERT_TRUE(is_one_of(instance_state(a, iid), "stopping", "stopped"));
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "StartInstances", iid, &res), 0);
  ASSERT_TRUE(is_one_of(instance_state(a, iid), "pending", "running"));
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "RebootInstances", iid, &res), 0);
  ASSERT_TRUE(is_one_of(instance_state(a, iid), "pending", "running"));
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "TerminateInstances", iid, &res), 0);
  ASSERT_TRUE(is_one_of(instance_state(a, iid), "shutting-down", "terminated"));
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "ExplodeInstances", iid, &res), ACTOR_EINVAL);

  ASSERT_EQ_INT(aws_cfn_delete_stack(a, stack, token, &res), 0);
  ASSERT_EQ_INT(aws_cfn_delete_stack(a, stack, token, &res), 0); /* deleted: fine */
  st = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack(a, stack, &st, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "notfound");
  ASSERT_TRUE(st == NULL);

  free(stack_id);
  json_decref(params);
  json_decref(tags);
  aws_free(a);
}

static void test_moto_errors(void) {
  aws_t *a = moto_client();
  ASSERT_TRUE(a != NULL);
  aws_result_t res;
  json_t *out = NULL;
  ASSERT_EQ_INT(aws_cfn_describe_stack(a, "abaco-test-missing", &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "notfound");
  ASSERT_EQ_STR(res.code, "ValidationError");
  ASSERT_EQ_STR(res.message, "Stack with id abaco-test-missing does not exist");
  ASSERT_EQ_INT(res.http_status, 400);
  ASSERT_EQ_INT(res.attempts, 1); /* not retried */
  ASSERT_TRUE(res.request_id[0] != '\0');

  ASSERT_EQ_INT(aws_cfn_describe_stack_resources(a, "abaco-test-missing", &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "notfound");

  ASSERT_EQ_INT(aws_ec2_instance_action(a, "StopInstances", "i-00000000000000000", &res),
                ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "notfound");
  ASSERT_EQ_STR(res.code, "InvalidInstanceID.NotFound");
  ASSERT_TRUE(strstr(res.message, "i-00000000000000000") != NULL);

  json_t *ids = json_pack("[s]", "i-00000000000000000");
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, NULL, NULL, ids, &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(res.code, "InvalidInstanceID.NotFound");
  ASSERT_TRUE(out == NULL);
  json_decref(ids);

  ids = json_pack("[s]", "vol-00000000");
  ASSERT_EQ_INT(aws_ec2_describe_volumes(a, ids, &out, &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "notfound");
  ASSERT_EQ_STR(res.code, "InvalidVolume.NotFound");
  json_decref(ids);

  /* a template CloudFormation rejects: permanent, AWS's words */
  aws_stack_req_t req = {.stack_name = "abaco-test-bad-template",
                         .template_body = "{\"Parameters\": {\"P\": {\"Type\": \"String\"}},"
                                          " \"Resources\": {}}"};
  char *id = NULL;
  ASSERT_EQ_INT(aws_cfn_create_stack(a, &req, &id, &res), ACTOR_EAWS);
  ASSERT_TRUE(id == NULL);
  ASSERT_EQ_STR(aws_class_name(res.cls), "permanent");
  ASSERT_EQ_STR(res.code, "ValidationError");
  ASSERT_EQ_STR(res.message, "Missing parameter P");
  ASSERT_EQ_INT(res.attempts, 1);
  aws_free(a);
}

/* ---- a canned HTTP server ---- */

typedef struct {
  int status;
  const char *body;
} canned_t;

typedef struct {
  int fd;
  int port;
  const canned_t *answers;
  int n_answers; /* the last repeats */
  atomic_int served;
  char last_request[16384];
  int secret_seen;
  pthread_t thread;
} canned_srv_t;

static const char *THROTTLE_XML =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
    "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error>"
    "</Errors><RequestID>req-throttled</RequestID></Response>";
static const char *INTERNAL_XML =
    "<Response><Errors><Error><Code>InternalError</Code><Message>An internal error has "
    "occurred</Message></Error></Errors><RequestID>req-internal</RequestID></Response>";
static const char *INVALID_XML =
    "<Response><Errors><Error><Code>InvalidParameterValue</Code><Message>bad "
    "value</Message></Error></Errors><RequestID>req-invalid</RequestID></Response>";
static const char *STACKS_XML =
    "<DescribeStacksResponse xmlns=\"http://cloudformation.amazonaws.com/doc/2010-05-15/\">"
    "<DescribeStacksResult><Stacks><member><StackId>arn:aws:cloudformation:us-east-1:1:stack/"
    "s/1</StackId><StackName>s</StackName><StackStatus>CREATE_COMPLETE</StackStatus>"
    "</member></Stacks></DescribeStacksResult><ResponseMetadata><RequestId>req-ok</RequestId>"
    "</ResponseMetadata></DescribeStacksResponse>";

static void *canned_main(void *arg) {
  canned_srv_t *s = arg;
  for (;;) {
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      return NULL;
    char req[16384];
    size_t len = 0;
    ssize_t n;
    /* headers, then Content-Length bytes of body */
    while (len < sizeof req - 1 && (n = read(c, req + len, sizeof req - 1 - len)) > 0) {
      len += (size_t)n;
      req[len] = '\0';
      char *end = strstr(req, "\r\n\r\n");
      if (!end)
        continue;
      char *cl = strcasestr(req, "\r\ncontent-length:");
      size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
      if (len >= (size_t)(end + 4 - req) + want)
        break;
    }
    req[len] = '\0';
    memcpy(s->last_request, req, len + 1);
    if (strstr(req, SECRET) != NULL)
      s->secret_seen = 1;
    int k = s->served++;
    const canned_t *a = &s->answers[k < s->n_answers ? k : s->n_answers - 1];
    char head[256];
    int hn = snprintf(head, sizeof head,
                      "HTTP/1.1 %d X\r\nContent-Type: text/xml\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n\r\n",
                      a->status, strlen(a->body));
    ACTOR_IGNORE(write(c, head, (size_t)hn)); /* the client's outcome is what is checked */
    ACTOR_IGNORE(write(c, a->body, strlen(a->body)));
    close(c);
  }
}

static void canned_start(canned_srv_t *s, const canned_t *answers, int n) {
  memset(s, 0, sizeof *s);
  s->answers = answers;
  s->n_answers = n;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_TRUE(s->fd >= 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  ASSERT_EQ_INT(bind(s->fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ_INT(listen(s->fd, 16), 0);
  socklen_t sl = sizeof sa;
  ASSERT_EQ_INT(getsockname(s->fd, (struct sockaddr *)&sa, &sl), 0);
  s->port = ntohs(sa.sin_port);
  ASSERT_EQ_INT(pthread_create(&s->thread, NULL, canned_main, s), 0);
}

static void canned_stop(canned_srv_t *s) {
  shutdown(s->fd, SHUT_RDWR);
  close(s->fd);
  pthread_join(s->thread, NULL);
}

static aws_t *canned_client(const canned_srv_t *s, int max_retries, double rate, double burst) {
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/", s->port);
  aws_opts_t o = {.endpoint = url,
                  .region = "eu-west-2",
                  .access_key = "AKIDEXAMPLE",
                  .secret_key = SECRET,
                  .session_token = "SESSIONTOKEN123",
                  .max_retries = max_retries,
                  .retry_base_ms = 20,
                  .retry_cap_ms = 40,
                  .describe_rate = rate,
                  .describe_burst = burst,
                  .timeout_ms = 5000};
  aws_t *a = NULL;
  ASSERT_EQ_INT(aws_new(&o, &a), 0);
  return a;
}

typedef struct {
  int calls;
  char op[64];
  aws_result_t last;
} observed_t;

static void observe(void *data, const char *op, const aws_result_t *res) {
  observed_t *o = data;
  o->calls++;
  snprintf(o->op, sizeof o->op, "%s", op);
  o->last = *res;
}

static void test_retry_throttled(void) {
  canned_t answers[] = {{503, THROTTLE_XML}, {503, THROTTLE_XML}, {200, STACKS_XML}};
  canned_srv_t s;
  canned_start(&s, answers, 3);
  aws_t *a = canned_client(&s, 5, 1000, 1000);
  observed_t obs = {0};
  aws_set_observer(a, observe, &obs);
  json_t *st = NULL;
  aws_result_t res;
  ASSERT_EQ_INT(aws_cfn_describe_stack(a, "s", &st, &res), 0);
  ASSERT_EQ_STR(json_string_value(json_object_get(st, "status")), "CREATE_COMPLETE");
  json_decref(st);
  ASSERT_EQ_INT(res.attempts, 3);
  ASSERT_EQ_INT(res.throttled, 2);
  ASSERT_EQ_STR(aws_class_name(res.cls), "ok");
  ASSERT_EQ_INT(res.http_status, 200);
  ASSERT_EQ_STR(res.request_id, "req-ok");
  ASSERT_EQ_INT(obs.calls, 1); /* once per call, not per attempt */
  ASSERT_EQ_STR(obs.op, "DescribeStacks");
  ASSERT_EQ_INT(obs.last.attempts, 3);

  /* what went on the wire: a signed form POST; the secret never */
  const char *r = s.last_request;
  ASSERT_TRUE(strncmp(r, "POST / HTTP/1.1\r\n", 17) == 0);
  ASSERT_TRUE(strcasestr(r, "\r\nContent-Type: application/x-www-form-urlencoded") != NULL);
  ASSERT_TRUE(strcasestr(r, "\r\nX-Amz-Security-Token: SESSIONTOKEN123\r\n") != NULL);
  ASSERT_TRUE(strstr(r, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") != NULL);
  ASSERT_TRUE(strstr(r, "/eu-west-2/cloudformation/aws4_request") != NULL);
  ASSERT_TRUE(strstr(r, "x-amz-security-token") != NULL); /* among the signed headers */
  ASSERT_TRUE(strstr(r, "\r\n\r\nAction=DescribeStacks&Version=2010-05-15&StackName=s") != NULL);
  ASSERT_EQ_INT(s.secret_seen, 0);
  ASSERT_TRUE(strstr(res.message, SECRET) == NULL && strstr(res.code, SECRET) == NULL);
  aws_free(a);
  canned_stop(&s);
}

static void test_retry_gives_up(void) {
  canned_t throttled[] = {{503, THROTTLE_XML}};
  canned_srv_t s;
  canned_start(&s, throttled, 1);
  aws_t *a = canned_client(&s, 2, 1000, 1000);
  aws_result_t res;
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "StopInstances", "i-1", &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "throttle");
  ASSERT_EQ_STR(res.code, "RequestLimitExceeded");
  ASSERT_EQ_STR(res.request_id, "req-throttled");
  ASSERT_EQ_INT(res.attempts, 3); /* the first and 2 retries */
  ASSERT_EQ_INT(res.throttled, 3);
  ASSERT_EQ_INT(s.served, 3);
  ASSERT_TRUE(strstr(s.last_request, "Action=StopInstances&Version=2016-11-15&InstanceId.1=i-1") !=
              NULL);
  ASSERT_TRUE(strstr(s.last_request, "/eu-west-2/ec2/aws4_request") != NULL);
  aws_free(a);
  canned_stop(&s);

  /* transient (500 InternalError, then a bare 502) is retried too */
  canned_t transient[] = {{500, INTERNAL_XML}, {502, "<html>bad gateway</html>"}};
  canned_start(&s, transient, 2);
  a = canned_client(&s, 1, 1000, 1000);
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "StartInstances", "i-1", &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "transient");
  ASSERT_EQ_STR(res.code, "HTTP502");
  ASSERT_EQ_INT(res.http_status, 502);
  ASSERT_EQ_INT(res.attempts, 2);
  ASSERT_EQ_INT(res.throttled, 0);
  aws_free(a);
  canned_stop(&s);

  /* permanent: one attempt */
  canned_t invalid[] = {{400, INVALID_XML}};
  canned_start(&s, invalid, 1);
  a = canned_client(&s, 5, 1000, 1000);
  ASSERT_EQ_INT(aws_ec2_instance_action(a, "RebootInstances", "i-1", &res), ACTOR_EAWS);
  ASSERT_EQ_STR(aws_class_name(res.cls), "permanent");
  ASSERT_EQ_STR(res.code, "InvalidParameterValue");
  ASSERT_EQ_STR(res.message, "bad value");
  ASSERT_EQ_INT(res.attempts, 1);
  ASSERT_EQ_INT(s.served, 1);
  aws_free(a);
  canned_stop(&s);
}

static void test_connection_refused(void) {
  /* a port nobody listens on: bind one, note it, close it */
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t sl = sizeof sa;
  ASSERT_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
  ASSERT_EQ_INT(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd);
  char url[64];
  snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
  aws_opts_t o = {.endpoint = url, .region = "us-east-1", .access_key = "AKID",
                  .secret_key = SECRET, .max_retries = 2, .retry_base_ms = 10,
                  .retry_cap_ms = 20, .timeout_ms = 2000};
  aws_t *a = NULL;
  ASSERT_EQ_INT(aws_new(&o, &a), 0);
  aws_result_t res;
  json_t *out = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_volumes(a, NULL, &out, &res), ACTOR_EAWS);
  ASSERT_TRUE(out == NULL);
  ASSERT_EQ_STR(aws_class_name(res.cls), "transient");
  ASSERT_EQ_STR(res.code, "ConnectionError");
  ASSERT_EQ_INT(res.http_status, 0);
  ASSERT_EQ_INT(res.attempts, 3);
  ASSERT_TRUE(strstr(res.message, SECRET) == NULL);
  aws_free(a);
}

static const char *PAGE1_XML =
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<requestId>p1</requestId><reservationSet><item><instancesSet><item>"
    "<instanceId>i-aaa</instanceId><instanceState><name>running</name></instanceState>"
    "</item></instancesSet></item></reservationSet><nextToken>tok+/=1</nextToken>"
    "</DescribeInstancesResponse>";
static const char *PAGE2_XML =
    "<DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\">"
    "<requestId>p2</requestId><reservationSet><item><instancesSet><item>"
    "<instanceId>i-bbb</instanceId><instanceState><name>stopped</name></instanceState>"
    "</item></instancesSet></item></reservationSet></DescribeInstancesResponse>";

/* Every page is read; NextToken goes back escaped, with the same filter. */
static void test_pagination(void) {
  canned_t pages[] = {{200, PAGE1_XML}, {200, PAGE2_XML}};
  canned_srv_t s;
  canned_start(&s, pages, 2);
  aws_t *a = canned_client(&s, 0, 1000, 1000);
  observed_t obs = {0};
  aws_set_observer(a, observe, &obs);
  aws_result_t res;
  json_t *out = NULL;
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, "LaunchedBy", "AB CO", NULL, &out, &res), 0);
  ASSERT_EQ_INT(json_array_size(out), 2);
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 0), "instance_id")),
                "i-aaa");
  ASSERT_EQ_STR(json_string_value(json_object_get(json_array_get(out, 1), "state")), "stopped");
  json_decref(out);
  ASSERT_EQ_INT(s.served, 2);
  ASSERT_EQ_INT(obs.calls, 2);
  ASSERT_EQ_STR(res.request_id, "p2");
  ASSERT_TRUE(strstr(s.last_request,
                     "\r\n\r\nAction=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3A"
                     "LaunchedBy&Filter.1.Value.1=AB%20CO&MaxResults=1000&NextToken=tok%2B%2F%3D1") !=
              NULL);
  aws_free(a);
  canned_stop(&s);

  /* with ids: InstanceId.N and no MaxResults */
  canned_start(&s, pages + 1, 1);
  a = canned_client(&s, 0, 1000, 1000);
  json_t *ids = json_pack("[s,s]", "i-bbb", "i-ccc");
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, NULL, NULL, ids, &out, &res), 0);
  ASSERT_EQ_INT(json_array_size(out), 1);
  ASSERT_TRUE(strstr(s.last_request, "&InstanceId.1=i-bbb&InstanceId.2=i-ccc") != NULL);
  ASSERT_TRUE(strstr(s.last_request, "MaxResults") == NULL);
  json_decref(out);
  json_decref(ids);
  /* a bad id list is refused before any call */
  ids = json_pack("[i]", 5);
  ASSERT_EQ_INT(aws_ec2_describe_instances(a, NULL, NULL, ids, &out, &res), ACTOR_EINVAL);
  json_decref(ids);
  ASSERT_EQ_INT(s.served, 1);
  aws_free(a);
  canned_stop(&s);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Describe* calls wait for the bucket; other calls do not take from it. */
static void test_token_bucket(void) {
  canned_t ok[] = {{200, STACKS_XML}};
  canned_srv_t s;
  canned_start(&s, ok, 1);
  aws_t *a = canned_client(&s, 0, 10, 2); /* 10/s, 2 deep */
  aws_result_t res;
  double t0 = now_s();
  for (int i = 0; i < 7; i++) {
    json_t *st = NULL;
    ASSERT_EQ_INT(aws_cfn_describe_stack(a, "s", &st, &res), 0);
    json_decref(st);
  }
  double took = now_s() - t0;
  /* 2 at once, then 5 at 100 ms each */
  ASSERT_TRUE(took >= 0.45);
  ASSERT_TRUE(took < 3.0);
  /* a non-Describe call does not wait */
  t0 = now_s();
  for (int i = 0; i < 5; i++)
    ACTOR_IGNORE(aws_cfn_delete_stack(a, "s", NULL, &res)); /* answered by STACKS_XML: fine */
  ASSERT_TRUE(now_s() - t0 < 0.3);
  aws_free(a);
  canned_stop(&s);
}

int main(void) {
  RUN_TEST(test_retry_throttled);
  RUN_TEST(test_retry_gives_up);
  RUN_TEST(test_connection_refused);
  RUN_TEST(test_token_bucket);
  RUN_TEST(test_pagination);
  RUN_TEST(test_moto_errors);
  RUN_TEST(test_stack_lifecycle);
  TEST_EXIT();
}
