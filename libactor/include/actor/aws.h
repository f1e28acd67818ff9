/* An AWS Query-API client for EC2 (Version 2016-11-15), CloudFormation
 * (Version 2010-05-15) and Elastic Load Balancing classic (Version
 * 2012-06-01) on libcurl: requests are signed by libcurl itself
 * (CURLOPT_AWS_SIGV4, "aws:amz:<region>:<service>"), parameters go in a
 * form-encoded POST body (libcurl 7.88 mis-canonicalises query strings),
 * answers are read with libxml2 (XML_PARSE_NONET, elements matched on local
 * names: moto namespaces EC2 errors, real EC2 does not).
 *
 * Calls are blocking and thread safe (each call uses its own curl handle;
 * the token buckets are guarded), meant to run on libuv's thread pool.
 *
 * Errors. Every call returns 0, or ACTOR_EAWS with `res` telling why:
 *   AWS_THROTTLE   RequestLimitExceeded, Throttling, ThrottlingException,
 *                  HTTP 429/503: retried inside the call with exponential
 *                  back-off and full jitter (retry_base_ms .. retry_cap_ms,
 *                  at most max_retries); returned only once retries are spent.
 *   AWS_TRANSIENT  other 5xx, InternalError, ServiceUnavailable, connection
 *                  failures and timeouts: retried the same way.
 *   AWS_CAPACITY   InsufficientInstanceCapacity, InstanceLimitExceeded,
 *                  InsufficientFreeAddressesInSubnet: not retried; report it.
 *   AWS_AUTH       AuthFailure, UnauthorizedOperation, InvalidClientTokenId,
 *                  SignatureDoesNotMatch, AccessDenied, ExpiredToken, HTTP 401/403.
 *   AWS_NOTFOUND   InvalidInstanceID.NotFound, InvalidVolume.NotFound,
 *                  LoadBalancerNotFound, AccessPointNotFound, a
 *                  ValidationError "Stack ... does not exist".
 *   AWS_PERMANENT  everything else (Invalid*, ValidationError, ...): fail fast.
 * res->code and res->message are AWS's own words; res->request_id is the
 * RequestId of the (last) answer. A secret never appears in res, in a log
 * line, or in anything this module returns.
 *
 * Describe* calls take a token from a per-client bucket first
 * (describe_rate per second, describe_burst deep), waiting when empty, so a
 * reconciler cannot itself cause throttling.
 *
 * The parsers at the end do no I/O: they turn stored XML into JSON and are
 * unit-tested on files (tests/unit/fixtures/aws/). */
#ifndef ACTOR_AWS_H
#define ACTOR_AWS_H

#include "actor/errors.h"

#include <jansson.h>
#include <stddef.h>

#include "actor/config.h"

typedef struct aws_s aws_t;

typedef struct {
  const char *endpoint;      /* "" or NULL: https://<service>.<region>.amazonaws.com;
                                else one base URL for every service (moto, a proxy) */
  const char *region;        /* "us-east-1" */
  const char *access_key;    /* never logged */
  const char *secret_key;    /* never logged */
  const char *session_token; /* may be NULL/"" */
  int max_retries;           /* retries after the first attempt (default 5) */
  long retry_base_ms;        /* first back-off (default 200) */
  long retry_cap_ms;         /* longest back-off (default 20000) */
  double describe_rate;      /* Describe* calls per second (default 5) */
  double describe_burst;     /* bucket depth (default 20) */
  long timeout_ms;           /* whole request (default 30000) */
} aws_opts_t;

/* [cloud] endpoint, region, access_key_id, secret_access_key, session_token
 * (each credential falls back to AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 * AWS_SESSION_TOKEN, and AWS_REGION/AWS_DEFAULT_REGION for the region),
 * max_retries, retry_base_ms, retry_cap_ms, describe_rate, describe_burst,
 * timeout_ms. Strings are borrowed from cfg/the environment. A bad value is
 * ACTOR_ECONFIG, logged naming the key. Missing credentials are not an
 * error here (calls then fail with AWS_AUTH). */
ACTOR_MUST_CHECK int aws_opts_from_config(const actor_config_t *cfg, aws_opts_t *o);
/* True when o names both an access key and a secret key. */
bool aws_opts_have_credentials(const aws_opts_t *o);
ACTOR_MUST_CHECK int aws_new(const aws_opts_t *o, aws_t **out);
void aws_free(aws_t *a);

typedef enum {
  AWS_OK = 0,
  AWS_THROTTLE,
  AWS_TRANSIENT,
  AWS_CAPACITY,
  AWS_AUTH,
  AWS_NOTFOUND,
  AWS_PERMANENT,
} aws_class_t;

typedef struct {
  aws_class_t cls;
  int http_status;   /* of the last attempt; 0: no answer */
  char code[96];     /* AWS's error code, or "ConnectionError"/"Timeout" */
  char message[512]; /* AWS's message (truncated) */
  char request_id[96];
  int attempts;      /* HTTP attempts made */
  int throttled;     /* of which throttled */
} aws_result_t;

/* "throttle", "transient", "capacity", "auth", "notfound", "permanent", "ok". */
const char *aws_class_name(aws_class_t c);

/* Observes every call's outcome, once per call (not per attempt), for
 * metrics: op is the Action ("CreateStack"). Set once before any call. */
typedef void (*aws_observer_fn)(void *data, const char *op, const aws_result_t *res);
void aws_set_observer(aws_t *a, aws_observer_fn fn, void *data);

/* ---- EC2 ----
 * An instance is {instance_id, state ("pending", "running", "stopping",
 * "stopped", "shutting-down", "terminated"), instance_type, image_id,
 * launch_time, private_ip, public_ip, availability_zone, key_name,
 * tags: {Key: Value}, volumes: [volume ids of its block devices]}; absent
 * values are JSON null. */

/* DescribeInstances, every page (MaxResults 1000, NextToken), filtered by
 * tag:<tag_key> = tag_value (tag_key NULL: no tag filter) and, when ids is
 * a non-empty array of strings, by those InstanceIds. *out: array. */
ACTOR_MUST_CHECK
int aws_ec2_describe_instances(aws_t *a, const char *tag_key, const char *tag_value,
                               const json_t *ids, json_t **out, aws_result_t *res);
/* action: "StartInstances", "StopInstances", "RebootInstances",
 * "TerminateInstances", on one instance. */
ACTOR_MUST_CHECK
int aws_ec2_instance_action(aws_t *a, const char *action, const char *instance_id,
                            aws_result_t *res);
/* DescribeVolumes of the given ids: *out array of {volume_id, state, size,
 * kms_key_id, attachments: [{instance_id, device, state}]}. */
ACTOR_MUST_CHECK
int aws_ec2_describe_volumes(aws_t *a, const json_t *ids, json_t **out, aws_result_t *res);
/* The same through the volume-id filter: volumes that no longer exist are
 * simply absent from *out (no AWS_NOTFOUND); an empty ids is an empty
 * *out, without a call. For the reconciler (at most 200 ids a call). */
ACTOR_MUST_CHECK
int aws_ec2_volumes_present(aws_t *a, const json_t *ids, json_t **out, aws_result_t *res);

/* RunInstances of one image. The instances come back as in
 * aws_ec2_describe_instances (state "pending" at first). */
typedef struct {
  const char *image_id;          /* required */
  const char *instance_type;     /* required */
  int min_count, max_count;      /* 1 <= min_count <= max_count */
  const char *key_name;          /* NULL/"": none */
  const char *user_data;         /* raw bytes (base64-encoded here); NULL: none */
  size_t user_data_len;
  const char *availability_zone; /* Placement.AvailabilityZone; NULL/"": AWS's choice */
  const char *root_device;       /* with root_volume_gib > 0: the device mapped */
  int root_volume_gib;           /* > 0: an EBS volume of that size on root_device,
                                    DeleteOnTermination=true; 0: the image's own */
  const json_t *tags;            /* {Key: Value} on the instances and their volumes */
  const char *client_token;      /* idempotency: same token, same reservation */
} aws_run_req_t;

/* *out: array of instances (malloc'd JSON). */
ACTOR_MUST_CHECK
int aws_ec2_run_instances(aws_t *a, const aws_run_req_t *req, json_t **out, aws_result_t *res);
/* DescribeImages of one image: *out {image_id, name, state, architecture,
 * root_device_name, root_device_type}; an unknown id is AWS's own error
 * (InvalidAMIID.NotFound / .Malformed). */
ACTOR_MUST_CHECK
int aws_ec2_describe_image(aws_t *a, const char *image_id, json_t **out, aws_result_t *res);
/* DescribeKeyPairs of one key pair: *out {key_name, key_fingerprint, key_pair_id};
 * an unknown name is AWS's InvalidKeyPair.NotFound. */
ACTOR_MUST_CHECK
int aws_ec2_describe_key_pair(aws_t *a, const char *key_name, json_t **out, aws_result_t *res);

/* ---- CloudFormation ---- */
typedef struct {
  const char *stack_name;
  const char *template_body;   /* JSON or YAML text */
  const json_t *parameters;    /* {ParameterKey: value string}; empty values are sent */
  const json_t *tags;          /* {Key: Value} */
  const char *client_request_token; /* idempotency: same token, one stack */
} aws_stack_req_t;

/* CreateStack; *stack_id malloc'd. An AlreadyExistsException for a stack
 * of the same name is looked up and its id returned (a redelivered launch
 * never makes a second stack). */
ACTOR_MUST_CHECK
int aws_cfn_create_stack(aws_t *a, const aws_stack_req_t *req, char **stack_id, aws_result_t *res);
/* DescribeStacks of one stack: *out {stack_id, stack_name, status,
 * status_reason, outputs: {key: value}}; AWS_NOTFOUND when it does not exist. */
ACTOR_MUST_CHECK
int aws_cfn_describe_stack(aws_t *a, const char *stack, json_t **out, aws_result_t *res);
/* DescribeStackResources: *out array of {logical_id, physical_id, type,
 * status, status_reason}. */
ACTOR_MUST_CHECK
int aws_cfn_describe_stack_resources(aws_t *a, const char *stack, json_t **out,
                                     aws_result_t *res);
/* DescribeStackEvents (first page, newest first): *out array of
 * {event_id, logical_id, physical_id, type, status, status_reason, timestamp}. */
ACTOR_MUST_CHECK
int aws_cfn_describe_stack_events(aws_t *a, const char *stack, json_t **out, aws_result_t *res);
/* DeleteStack (asynchronous on AWS's side; deleting a deleted stack is fine). */
ACTOR_MUST_CHECK
int aws_cfn_delete_stack(aws_t *a, const char *stack, const char *client_request_token,
                         aws_result_t *res);

/* ---- Elastic Load Balancing (classic) ----
 * A load balancer is {name, dns_name, scheme, created_time, zones: [..],
 * subnets: [..], security_groups: [..], instances: [instance ids],
 * listeners: [{protocol, port, instance_protocol, instance_port}]}. */
typedef struct {
  const char *name;             /* required: 1-32 of [A-Za-z0-9-] */
  const json_t *listeners;      /* [{protocol, port, instance_protocol, instance_port}];
                                   NULL or empty: HTTP 80 -> HTTP 80 */
  const json_t *zones;          /* availability zones (strings), or */
  const json_t *subnets;        /* subnet ids (one of the two is required by AWS) */
  const json_t *security_groups; /* group ids; NULL: none */
  const char *scheme;           /* NULL: internet-facing; "internal" */
  const json_t *tags;           /* {Key: Value} */
} aws_elb_req_t;

/* CreateLoadBalancer; *dns_name malloc'd (may be NULL). Creating one that
 * exists with the same listeners is AWS's no-op (its DNS name again). */
ACTOR_MUST_CHECK
int aws_elb_create(aws_t *a, const aws_elb_req_t *req, char **dns_name, aws_result_t *res);
/* DescribeLoadBalancers of these names (array of strings; NULL or empty:
 * all, every page): *out array. A missing name is AWS_NOTFOUND. */
ACTOR_MUST_CHECK
int aws_elb_describe(aws_t *a, const json_t *names, json_t **out, aws_result_t *res);
/* DeleteLoadBalancer (deleting one that does not exist succeeds, as on AWS). */
ACTOR_MUST_CHECK int aws_elb_delete(aws_t *a, const char *name, aws_result_t *res);
/* RegisterInstancesWithLoadBalancer / DeregisterInstancesFromLoadBalancer
 * of instance ids (non-empty array of strings); *now (may be NULL): the
 * instance ids registered afterwards, as AWS answers. */
ACTOR_MUST_CHECK
int aws_elb_register(aws_t *a, const char *name, const json_t *instance_ids, json_t **now,
                     aws_result_t *res);
ACTOR_MUST_CHECK
int aws_elb_deregister(aws_t *a, const char *name, const json_t *instance_ids, json_t **now,
                       aws_result_t *res);
/* DescribeLoadBalancerAttributes: *drain_s the connection draining
 * timeout in seconds, 0 when draining is off (AWS's default for a load
 * balancer made by the API). A missing name is AWS_NOTFOUND. */
ACTOR_MUST_CHECK
int aws_elb_draining(aws_t *a, const char *name, int *drain_s, aws_result_t *res);

/* ---- REST-XML services (Route 53) ----
 * One signed request to a global service's REST API (signed for
 * us-east-1): `method` (GET, POST, DELETE) `path` (with its query) on
 * https://<service>.amazonaws.com, or on the client's endpoint when it has
 * one; body an XML text or NULL. Throttled and transient answers are
 * retried as for the Query calls. 0 on a 2xx: *answer (malloc'd,
 * NUL-terminated) and *len (may be NULL); else ACTOR_EAWS with res. The
 * observer sees op "<service>:<method>". */
ACTOR_MUST_CHECK
int aws_rest(aws_t *a, const char *service, const char *method, const char *path,
             const char *body, char **answer, size_t *len, aws_result_t *res);

/* ---- parsers (no I/O) ----
 * Each returns 0 or ACTOR_EPARSE (not XML, or not the expected answer). */
/* An error answer (<Response><Errors><Error> or <ErrorResponse><Error>),
 * with the HTTP status: fills res->cls, code, message, request_id. */
ACTOR_MUST_CHECK
int aws_parse_error(const char *xml, size_t len, int http_status, aws_result_t *res);
/* Classifies an error code and HTTP status (used by aws_parse_error). */
aws_class_t aws_classify(const char *code, int http_status, const char *message);
/* The RequestId of any answer ("" when none): fills res->request_id. */
void aws_parse_request_id(const char *xml, size_t len, aws_result_t *res);
/* DescribeInstancesResponse: appends the page's instances to `into`;
 * *next_token malloc'd or NULL at the last page. */
ACTOR_MUST_CHECK
int aws_parse_describe_instances(const char *xml, size_t len, json_t *into, char **next_token);
ACTOR_MUST_CHECK int aws_parse_describe_volumes(const char *xml, size_t len, json_t **out);
/* RunInstancesResponse: *out array of instances. */
ACTOR_MUST_CHECK int aws_parse_run_instances(const char *xml, size_t len, json_t **out);
/* DescribeImagesResponse / DescribeKeyPairsResponse: *out array. */
ACTOR_MUST_CHECK int aws_parse_describe_images(const char *xml, size_t len, json_t **out);
ACTOR_MUST_CHECK int aws_parse_describe_key_pairs(const char *xml, size_t len, json_t **out);
/* DescribeLoadBalancersResponse: *out array; *next_marker malloc'd or NULL. */
ACTOR_MUST_CHECK
int aws_parse_elb_describe(const char *xml, size_t len, json_t **out, char **next_marker);
/* Register/DeregisterInstances...Response: *out array of instance ids. */
ACTOR_MUST_CHECK int aws_parse_elb_instances(const char *xml, size_t len, json_t **out);
/* DescribeLoadBalancerAttributesResponse: *drain_s the ConnectionDraining
 * Timeout when Enabled is true, else 0. */
ACTOR_MUST_CHECK int aws_parse_elb_draining(const char *xml, size_t len, int *drain_s);
/* CreateStackResponse: *stack_id malloc'd. */
ACTOR_MUST_CHECK int aws_parse_create_stack(const char *xml, size_t len, char **stack_id);
ACTOR_MUST_CHECK int aws_parse_describe_stacks(const char *xml, size_t len, json_t **out);
ACTOR_MUST_CHECK int aws_parse_stack_resources(const char *xml, size_t len, json_t **out);
ACTOR_MUST_CHECK int aws_parse_stack_events(const char *xml, size_t len, json_t **out);

/* The back-off before retry n (1-based): full jitter in
 * [0, min(cap, base * 2^(n-1))], from `rnd` in [0, 1). */
long aws_backoff_ms(long base_ms, long cap_ms, int n, double rnd);

#endif
