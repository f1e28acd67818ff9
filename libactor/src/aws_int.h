/* Private to the AWS client (aws_http.c, aws_xml.c, aws_ec2.c, aws_cfn.c,
 * aws_elb.c):
 * the client object, the form-encoded parameter list, the one signed call
 * with retries, and the XML helpers the typed parsers share. */
#ifndef ACTOR_AWS_INT_H
#define ACTOR_AWS_INT_H

#include <libxml/tree.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "actor/aws.h"
#include "actor/json.h"

#define AWS__EC2_VERSION "2016-11-15"
#define AWS__CFN_VERSION "2010-05-15"
#define AWS__ELB_VERSION "2012-06-01"
/* Biggest answer read: a DescribeInstances page of 1000 instances is a
 * few MB. */
#define AWS__MAX_BODY (32u * 1024u * 1024u)
/* Most DescribeInstances pages followed (1000 instances each). */
#define AWS__MAX_PAGES 1000

typedef enum { AWS__SVC_EC2, AWS__SVC_CFN, AWS__SVC_ELB, AWS__SVC_N } aws__svc_t;

struct aws_s {
  char *url[AWS__SVC_N];   /* per aws__svc_t */
  char *sigv4[AWS__SVC_N]; /* "aws:amz:<region>:<service>" */
  char *endpoint;   /* [cloud] endpoint, or NULL (AWS) */
  char *access_key; /* never logged */
  char *secret_key; /* never logged; wiped on free */
  char *token_hdr;  /* "X-Amz-Security-Token: ..." or NULL; wiped on free */
  int max_retries;
  long retry_base_ms, retry_cap_ms, timeout_ms;
  double rate, burst;
  aws_observer_fn observer;
  void *observer_data;
  pthread_mutex_t mu; /* guards what follows */
  double tokens;
  double refilled; /* monotonic seconds of the last refill */
  uint64_t rng;
};

/* A form body under construction: "Action=..&Version=..&k=v..". */
typedef struct {
  actor_buf_t b;
} aws__params_t;

/* Appends &key=value, both escaped. Returns 0 or ACTOR_ENOMEM. */
int aws__param(aws__params_t *p, const char *key, const char *value);
/* The same with a printf-formed key ("InstanceId.%zu"). */
int aws__paramf(aws__params_t *p, const char *value, const char *keyfmt, ...)
    __attribute__((format(printf, 3, 4)));
/* <prefix>.1 .. <prefix>.N = each string of arr ("InstanceId",
 * "Subnets.member"); NULL or JSON null: nothing; anything but an array of
 * non-empty strings: ACTOR_EINVAL. *count (may be NULL): how many. */
int aws__param_list(aws__params_t *p, const char *prefix, const json_t *arr, size_t *count);
/* <list>.N.<kname> = key, <list>.N.<vname> = value for an object of
 * strings ("Tags.member", "Key", "Value"); NULL or JSON null: nothing; an
 * empty key or a value that is not a string: ACTOR_EINVAL. */
int aws__param_pairs(aws__params_t *p, const char *list, const char *kname, const char *vname,
                     const json_t *obj);
void aws__params_free(aws__params_t *p);

/* One Action of a service: signs, posts, retries throttled and transient
 * answers, fills res (always), calls the observer once. On 0, *body is the
 * 2xx answer (caller frees body->p). Returns 0, ACTOR_EAWS, or
 * ACTOR_ENOMEM. */
int aws__call(aws_t *a, aws__svc_t svc, const char *action, const aws__params_t *params,
              actor_buf_t *body, aws_result_t *res);

/* One page of a paginated Action: base's parameters, and token_name =
 * token when token is set (the previous page's NextToken or NextMarker);
 * the rest as aws__call. */
int aws__call_page(aws_t *a, aws__svc_t svc, const char *action, const aws__params_t *base,
                   const char *token_name, const char *token, actor_buf_t *body,
                   aws_result_t *res);

/* res, else local (a caller that does not want the result), cleared. */
static inline aws_result_t *aws__res(aws_result_t *res, aws_result_t *local) {
  aws_result_t *r = res ? res : local;
  memset(r, 0, sizeof *r);
  return r;
}

/* Marks res as a failure of our own reading of a 2xx answer. */
int aws__malformed(aws_result_t *res, const char *action);

/* ---- XML helpers (aws_xml.c) ---- */
/* Parses with XML_PARSE_NONET | XML_PARSE_NOBLANKS and no error output;
 * NULL when it is not XML. Free with xmlFreeDoc. */
xmlDocPtr aws__xml_read(const char *xml, size_t len);
/* The first element child of n with this local name (any namespace). */
xmlNodePtr aws__xml_child(xmlNodePtr n, const char *name);
/* The following element sibling of n with the same local name. */
xmlNodePtr aws__xml_next(xmlNodePtr n);
/* The text of the child `name` of n as a JSON string; null when absent or
 * empty. New reference (never NULL unless out of memory). */
json_t *aws__xml_json(xmlNodePtr n, const char *name);

#endif
