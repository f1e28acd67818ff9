/* The AWS client's parsers (actor/aws.h): EC2 and CloudFormation answers,
 * as XML text, into JSON; error answers into an aws_result_t with their
 * class. No I/O. Elements are matched on their local names only, so the
 * namespaced answers of moto and the un-namespaced errors of real EC2 read
 * the same; only the expected paths are read (an instance's own
 * privateIpAddress, not its network interfaces'). */
#include <libxml/parser.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_int.h"

/* ---- helpers ---- */

static pthread_once_t aws__xml_once = PTHREAD_ONCE_INIT;
static void aws__xml_init(void) { xmlInitParser(); }

xmlDocPtr aws__xml_read(const char *xml, size_t len) {
  if (!xml || len == 0 || len > INT_MAX)
    return NULL;
  /* AWS answers never carry a document type: one that does is refused
   * before libxml2 sees its entities (no expansion, no external loads) */
  if (memmem(xml, len, "<!DOCTYPE", 9) || memmem(xml, len, "<!ENTITY", 8))
    return NULL;
  pthread_once(&aws__xml_once, aws__xml_init);
  return xmlReadMemory(xml, (int)len, "aws.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR |
                           XML_PARSE_NOWARNING);
}

static int aws__is(xmlNodePtr n, const char *name) {
  return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

xmlNodePtr aws__xml_child(xmlNodePtr n, const char *name) {
  for (xmlNodePtr c = n ? n->children : NULL; c; c = c->next)
    if (aws__is(c, name))
      return c;
  return NULL;
}

xmlNodePtr aws__xml_next(xmlNodePtr n) {
  for (xmlNodePtr c = n ? n->next : NULL; c; c = c->next)
    if (aws__is(c, (const char *)n->name))
      return c;
  return NULL;
}

/* child(child(n, a), b) ... for a NULL-terminated path. */
static xmlNodePtr aws__xml_path(xmlNodePtr n, const char *const *path) {
  for (; n && *path; path++)
    n = aws__xml_child(n, *path);
  return n;
}
#define AWS__PATH(n, ...) aws__xml_path((n), (const char *const[]){__VA_ARGS__, NULL})

/* The first element in document order whose local name is `name` in any
 * case ("RequestId", "requestId", "RequestID"). */
static xmlNodePtr aws__xml_find_ci(xmlNodePtr n, const char *name) {
  for (; n; n = n->next) {
    if (n->type != XML_ELEMENT_NODE)
      continue;
    if (strcasecmp((const char *)n->name, name) == 0)
      return n;
    xmlNodePtr f = aws__xml_find_ci(n->children, name);
    if (f)
      return f;
  }
  return NULL;
}

/* Copies the text of n into buf (truncating); "" for NULL. */
static void aws__xml_copy(xmlNodePtr n, char *buf, size_t len) {
  buf[0] = '\0';
  xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
  if (t) {
    snprintf(buf, len, "%s", (const char *)t);
    xmlFree(t);
  }
}

/* The text of the child `name` of n (xmlFree it); NULL when absent. */
static xmlChar *aws__child_text(xmlNodePtr n, const char *name) {
  xmlNodePtr c = aws__xml_child(n, name);
  return c ? xmlNodeGetContent(c) : NULL;
}

json_t *aws__xml_json(xmlNodePtr n, const char *name) {
  xmlChar *t = aws__child_text(n, name);
  json_t *v = t && *t ? json_string((const char *)t) : json_null();
  xmlFree(t);
  return v;
}

/* obj[key] = the text of the child `name` of n (null when absent). */
static int aws__set_text(json_t *obj, const char *key, xmlNodePtr n, const char *name) {
  json_t *v = aws__xml_json(n, name);
  return v && json_object_set_new(obj, key, v) == 0 ? 0 : ACTOR_ENOMEM;
}

/* The document's root when its local name is `root`, else NULL. */
static xmlNodePtr aws__root(xmlDocPtr doc, const char *root) {
  xmlNodePtr r = doc ? xmlDocGetRootElement(doc) : NULL;
  return aws__is(r, root) ? r : NULL;
}

typedef json_t *(*aws__item_fn)(xmlNodePtr item, const void *arg);

/* A JSON array of item(n, arg) for every element n at to_items (a
 * NULL-terminated path) under the list at to_list under the root
 * `root_name`: ACTOR_EPARSE when the root or the list is not there; no
 * items is an empty array. */
static int aws__parse_list(const char *xml, size_t len, const char *root_name,
                           const char *const *to_list, const char *const *to_items,
                           aws__item_fn item, const void *arg, json_t **out) {
  *out = NULL;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr l = aws__xml_path(aws__root(doc, root_name), to_list);
  int rc = ACTOR_EPARSE;
  json_t *arr = NULL;
  if (!l)
    goto out;
  rc = ACTOR_ENOMEM;
  if (!(arr = json_array()))
    goto out;
  for (xmlNodePtr n = aws__xml_path(l, to_items); n; n = aws__xml_next(n)) {
    json_t *o = item(n, arg);
    if (!o || json_array_append_new(arr, o) != 0)
      goto out;
  }
  *out = arr;
  arr = NULL;
  rc = 0;
out:
  json_decref(arr);
  xmlFreeDoc(doc);
  return rc;
}
#define AWS__LIST(...) ((const char *const[]){__VA_ARGS__, NULL})
static const char *const aws__here[] = {NULL}; /* the empty path: n itself */

/* ---- errors ---- */

static int aws__in(const char *code, const char *const *list) {
  for (; *list; list++)
    if (strcmp(code, *list) == 0)
      return 1;
  return 0;
}

static int aws__suffix(const char *s, const char *suf) {
  size_t n = strlen(s), m = strlen(suf);
  return n >= m && strcmp(s + n - m, suf) == 0;
}

aws_class_t aws_classify(const char *code, int http_status, const char *message) {
  static const char *const throttle[] = {"RequestLimitExceeded", "Throttling",
                                         "ThrottlingException", "ThrottledException",
                                         "RequestThrottled", "RequestThrottledException",
                                         "TooManyRequestsException", "SlowDown", NULL};
  static const char *const transient[] = {"InternalError", "InternalFailure",
                                          "ServiceUnavailable", "Unavailable",
                                          "ServiceUnavailableException", "ConnectionError",
                                          "Timeout", "RequestTimeout", "RequestTimeoutException",
                                          NULL};
  static const char *const capacity[] = {"InsufficientInstanceCapacity", "InstanceLimitExceeded",
                                         "InsufficientFreeAddressesInSubnet",
                                         "InsufficientHostCapacity", "VcpuLimitExceeded", NULL};
  static const char *const auth[] = {"AuthFailure", "UnauthorizedOperation",
                                     "InvalidClientTokenId", "SignatureDoesNotMatch",
                                     "AccessDenied", "AccessDeniedException", "ExpiredToken",
                                     "ExpiredTokenException", "MissingAuthenticationToken",
                                     "IncompleteSignature", "InvalidAccessKeyId",
                                     "MissingCredentials", "UnrecognizedClientException", NULL};
  static const char *const notfound[] = {"InvalidInstanceID.NotFound", "InvalidVolume.NotFound",
                                         "LoadBalancerNotFound", "AccessPointNotFound", NULL};
  if (code && *code) {
    if (aws__in(code, throttle))
      return AWS_THROTTLE;
    if (aws__in(code, transient))
      return AWS_TRANSIENT;
    if (aws__in(code, capacity))
      return AWS_CAPACITY;
    if (aws__in(code, auth))
      return AWS_AUTH;
    if (aws__in(code, notfound))
      return AWS_NOTFOUND;
    if (strcmp(code, "ValidationError") == 0 && message && strncmp(message, "Stack ", 6) == 0 &&
        aws__suffix(message, "does not exist"))
      return AWS_NOTFOUND;
  }
  if (http_status == 429 || http_status == 503)
    return AWS_THROTTLE;
  if (http_status >= 500 || (http_status == 0 && !(code && *code)))
    return AWS_TRANSIENT;
  if (http_status == 401 || http_status == 403)
    return AWS_AUTH;
  return AWS_PERMANENT;
}

int aws_parse_error(const char *xml, size_t len, int http_status, aws_result_t *res) {
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL, err = NULL;
  if (aws__is(root, "Response"))
    err = AWS__PATH(root, "Errors", "Error");
  else if (aws__is(root, "ErrorResponse"))
    err = aws__xml_child(root, "Error");
  xmlNodePtr code = aws__xml_child(err, "Code");
  if (!code) {
    xmlFreeDoc(doc);
    return ACTOR_EPARSE;
  }
  aws__xml_copy(code, res->code, sizeof res->code);
  aws__xml_copy(aws__xml_child(err, "Message"), res->message, sizeof res->message);
  aws__xml_copy(aws__xml_find_ci(root, "RequestId"), res->request_id, sizeof res->request_id);
  res->http_status = http_status;
  res->cls = aws_classify(res->code, http_status, res->message);
  if (res->cls == AWS_OK)
    res->cls = AWS_PERMANENT;
  xmlFreeDoc(doc);
  return 0;
}

void aws_parse_request_id(const char *xml, size_t len, aws_result_t *res) {
  res->request_id[0] = '\0';
  xmlDocPtr doc = aws__xml_read(xml, len);
  if (doc)
    aws__xml_copy(aws__xml_find_ci(xmlDocGetRootElement(doc), "RequestId"), res->request_id,
                  sizeof res->request_id);
  xmlFreeDoc(doc);
}

/* ---- EC2 ---- */

static json_t *aws__instance(xmlNodePtr it) {
  json_t *o = json_object(), *tags = json_object(), *vols = json_array();
  if (!o || !tags || !vols)
    goto fail;
  if (json_object_set_new(o, "instance_id", aws__xml_json(it, "instanceId")) != 0 ||
      json_object_set_new(o, "state", aws__xml_json(aws__xml_child(it, "instanceState"), "name")) ||
      aws__set_text(o, "instance_type", it, "instanceType") ||
      aws__set_text(o, "image_id", it, "imageId") ||
      aws__set_text(o, "launch_time", it, "launchTime") ||
      aws__set_text(o, "private_ip", it, "privateIpAddress") ||
      aws__set_text(o, "public_ip", it, "ipAddress") ||
      json_object_set_new(o, "availability_zone",
                          aws__xml_json(aws__xml_child(it, "placement"), "availabilityZone")) ||
      aws__set_text(o, "key_name", it, "keyName"))
    goto fail;
  for (xmlNodePtr t = AWS__PATH(it, "tagSet", "item"); t; t = aws__xml_next(t)) {
    xmlChar *key = aws__child_text(t, "key"), *val = aws__child_text(t, "value");
    int bad = key && *key && json_object_set_new(tags, (const char *)key,
                                                 json_string(val ? (const char *)val : "")) != 0;
    xmlFree(key);
    xmlFree(val);
    if (bad)
      goto fail;
  }
  for (xmlNodePtr b = AWS__PATH(it, "blockDeviceMapping", "item"); b; b = aws__xml_next(b)) {
    json_t *v = aws__xml_json(aws__xml_child(b, "ebs"), "volumeId");
    if (!v || (json_is_string(v) ? json_array_append_new(vols, v) : (json_decref(v), 0)) != 0)
      goto fail;
  }
  if (json_object_set_new(o, "tags", tags) != 0) {
    tags = NULL;
    goto fail;
  }
  tags = NULL;
  if (json_object_set_new(o, "volumes", vols) != 0) {
    vols = NULL;
    goto fail;
  }
  return o;
fail:
  json_decref(o);
  json_decref(tags);
  json_decref(vols);
  return NULL;
}

int aws_parse_describe_instances(const char *xml, size_t len, json_t *into, char **next_token) {
  *next_token = NULL;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr root = aws__root(doc, "DescribeInstancesResponse");
  int rc = ACTOR_EPARSE;
  if (!root || !json_is_array(into))
    goto out;
  rc = ACTOR_ENOMEM;
  for (xmlNodePtr r = AWS__PATH(root, "reservationSet", "item"); r; r = aws__xml_next(r))
    for (xmlNodePtr it = AWS__PATH(r, "instancesSet", "item"); it; it = aws__xml_next(it)) {
      json_t *inst = aws__instance(it);
      if (!inst || json_array_append_new(into, inst) != 0)
        goto out;
    }
  xmlChar *t = aws__child_text(root, "nextToken");
  if (t && *t && !(*next_token = strdup((const char *)t))) {
    xmlFree(t);
    goto out;
  }
  xmlFree(t);
  rc = 0;
out:
  xmlFreeDoc(doc);
  return rc;
}

static json_t *aws__volume(xmlNodePtr it, const void *arg) {
  (void)arg;
  json_t *o = json_object(), *att = json_array();
  if (!o || !att)
    goto fail;
  json_t *size = json_null();
  xmlChar *st = aws__child_text(it, "size");
  if (st && *st) {
    char *end;
    long long n = strtoll((const char *)st, &end, 10);
    if (*end == '\0' && n >= 0) {
      json_decref(size);
      size = json_integer(n);
    }
  }
  xmlFree(st);
  /* set_new takes size even when it fails */
  if (json_object_set_new(o, "size", size) != 0 ||
      json_object_set_new(o, "volume_id", aws__xml_json(it, "volumeId")) != 0 ||
      aws__set_text(o, "state", it, "status") || aws__set_text(o, "kms_key_id", it, "kmsKeyId"))
    goto fail;
  for (xmlNodePtr a = AWS__PATH(it, "attachmentSet", "item"); a; a = aws__xml_next(a)) {
    json_t *x = json_object();
    if (!x || json_array_append_new(att, x) != 0 ||
        aws__set_text(x, "instance_id", a, "instanceId") ||
        aws__set_text(x, "device", a, "device") || aws__set_text(x, "state", a, "status"))
      goto fail;
  }
  if (json_object_set_new(o, "attachments", att) != 0) {
    att = NULL;
    goto fail;
  }
  return o;
fail:
  json_decref(o);
  json_decref(att);
  return NULL;
}

int aws_parse_describe_volumes(const char *xml, size_t len, json_t **out) {
  return aws__parse_list(xml, len, "DescribeVolumesResponse", aws__here,
                         AWS__LIST("volumeSet", "item"), aws__volume, NULL, out);
}

static json_t *aws__instance_item(xmlNodePtr it, const void *arg) {
  (void)arg;
  return aws__instance(it);
}

int aws_parse_run_instances(const char *xml, size_t len, json_t **out) {
  return aws__parse_list(xml, len, "RunInstancesResponse", aws__here,
                         AWS__LIST("instancesSet", "item"), aws__instance_item, NULL, out);
}

typedef struct {
  const char *key, *element;
} aws__field_t;

/* An object of the given fields (a {NULL, NULL}-ended table) of member m. */
static json_t *aws__fields(xmlNodePtr m, const void *arg) {
  json_t *o = json_object();
  for (const aws__field_t *f = arg; o && f->key; f++)
    if (aws__set_text(o, f->key, m, f->element) != 0) {
      json_decref(o);
      o = NULL;
    }
  return o;
}

int aws_parse_describe_images(const char *xml, size_t len, json_t **out) {
  static const aws__field_t f[] = {{"image_id", "imageId"},
                                   {"name", "name"},
                                   {"state", "imageState"},
                                   {"architecture", "architecture"},
                                   {"root_device_name", "rootDeviceName"},
                                   {"root_device_type", "rootDeviceType"},
                                   {NULL, NULL}};
  return aws__parse_list(xml, len, "DescribeImagesResponse", aws__here,
                         AWS__LIST("imagesSet", "item"), aws__fields, f, out);
}

int aws_parse_describe_key_pairs(const char *xml, size_t len, json_t **out) {
  static const aws__field_t f[] = {{"key_name", "keyName"},
                                   {"key_fingerprint", "keyFingerprint"},
                                   {"key_pair_id", "keyPairId"},
                                   {NULL, NULL}};
  return aws__parse_list(xml, len, "DescribeKeyPairsResponse", aws__here,
                         AWS__LIST("keySet", "item"), aws__fields, f, out);
}

/* ---- Elastic Load Balancing (classic) ---- */

/* The texts of the children of list (each a `member`) as a JSON array;
 * with child_name, the text of that child of each member. */
static json_t *aws__texts(xmlNodePtr list, const char *child_name) {
  json_t *arr = json_array();
  for (xmlNodePtr m = aws__xml_child(list, "member"); arr && m; m = aws__xml_next(m)) {
    xmlNodePtr n = child_name ? aws__xml_child(m, child_name) : m;
    xmlChar *t = n ? xmlNodeGetContent(n) : NULL;
    if (t && *t && json_array_append_new(arr, json_string((const char *)t)) != 0) {
      json_decref(arr);
      arr = NULL;
    }
    xmlFree(t);
  }
  return arr;
}

/* The integer text of the child `name` of n as JSON (null when absent or
 * not a number). */
static json_t *aws__xml_int(xmlNodePtr n, const char *name) {
  xmlChar *t = aws__child_text(n, name);
  json_t *v = NULL;
  if (t && *t) {
    char *end;
    long long x = strtoll((const char *)t, &end, 10);
    if (*end == '\0')
      v = json_integer(x);
  }
  xmlFree(t);
  return v ? v : json_null();
}

static json_t *aws__load_balancer(xmlNodePtr m, const void *arg) {
  (void)arg;
  json_t *o = json_object(), *ls = json_array();
  if (!o || !ls)
    goto fail;
  if (aws__set_text(o, "name", m, "LoadBalancerName") || aws__set_text(o, "dns_name", m, "DNSName") ||
      aws__set_text(o, "scheme", m, "Scheme") || aws__set_text(o, "created_time", m, "CreatedTime") ||
      json_object_set_new(o, "zones", aws__texts(aws__xml_child(m, "AvailabilityZones"), NULL)) ||
      json_object_set_new(o, "subnets", aws__texts(aws__xml_child(m, "Subnets"), NULL)) ||
      json_object_set_new(o, "security_groups",
                          aws__texts(aws__xml_child(m, "SecurityGroups"), NULL)) ||
      json_object_set_new(o, "instances",
                          aws__texts(aws__xml_child(m, "Instances"), "InstanceId")))
    goto fail;
  for (xmlNodePtr d = AWS__PATH(m, "ListenerDescriptions", "member"); d; d = aws__xml_next(d)) {
    xmlNodePtr l = aws__xml_child(d, "Listener");
    json_t *x = json_object();
    if (!x || json_array_append_new(ls, x) != 0 || aws__set_text(x, "protocol", l, "Protocol") ||
        json_object_set_new(x, "port", aws__xml_int(l, "LoadBalancerPort")) ||
        aws__set_text(x, "instance_protocol", l, "InstanceProtocol") ||
        json_object_set_new(x, "instance_port", aws__xml_int(l, "InstancePort")))
      goto fail;
  }
  if (json_object_set_new(o, "listeners", ls) != 0) {
    ls = NULL;
    goto fail;
  }
  return o;
fail:
  json_decref(o);
  json_decref(ls);
  return NULL;
}

int aws_parse_elb_describe(const char *xml, size_t len, json_t **out, char **next_marker) {
  *next_marker = NULL;
  int rc = aws__parse_list(xml, len, "DescribeLoadBalancersResponse",
                           AWS__LIST("DescribeLoadBalancersResult", "LoadBalancerDescriptions"),
                           AWS__LIST("member"), aws__load_balancer, NULL, out);
  if (rc != 0)
    return rc;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr mk = AWS__PATH(aws__root(doc, "DescribeLoadBalancersResponse"),
                            "DescribeLoadBalancersResult", "NextMarker");
  xmlChar *t = mk ? xmlNodeGetContent(mk) : NULL;
  if (t && *t && !(*next_marker = strdup((const char *)t)))
    rc = ACTOR_ENOMEM;
  xmlFree(t);
  xmlFreeDoc(doc);
  if (rc != 0) {
    json_decref(*out);
    *out = NULL;
  }
  return rc;
}

/* Register/Deregister answers: <Action>Result/Instances/member/InstanceId. */
int aws_parse_elb_instances(const char *xml, size_t len, json_t **out) {
  *out = NULL;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
  int rc = ACTOR_EPARSE;
  if (root && (aws__is(root, "RegisterInstancesWithLoadBalancerResponse") ||
               aws__is(root, "DeregisterInstancesFromLoadBalancerResponse"))) {
    xmlNodePtr result = NULL;
    for (xmlNodePtr c = root->children; c && !result; c = c->next)
      if (c->type == XML_ELEMENT_NODE && aws__suffix((const char *)c->name, "Result"))
        result = c;
    if (result) {
      *out = aws__texts(aws__xml_child(result, "Instances"), "InstanceId");
      rc = *out ? 0 : ACTOR_ENOMEM;
    }
  }
  xmlFreeDoc(doc);
  return rc;
}

int aws_parse_elb_draining(const char *xml, size_t len, int *drain_s) {
  *drain_s = 0;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr attrs = AWS__PATH(aws__root(doc, "DescribeLoadBalancerAttributesResponse"),
                               "DescribeLoadBalancerAttributesResult", "LoadBalancerAttributes");
  int rc = attrs ? 0 : ACTOR_EPARSE;
  xmlNodePtr cd = attrs ? aws__xml_child(attrs, "ConnectionDraining") : NULL;
  xmlChar *on = cd ? aws__child_text(cd, "Enabled") : NULL;
  if (on && strcmp((const char *)on, "true") == 0) {
    json_t *t = aws__xml_int(cd, "Timeout");
    if (json_is_integer(t) && json_integer_value(t) >= 0 && json_integer_value(t) <= 3600)
      *drain_s = (int)json_integer_value(t);
    else
      rc = ACTOR_EPARSE;
    json_decref(t);
  }
  xmlFree(on);
  xmlFreeDoc(doc);
  return rc;
}

/* ---- CloudFormation ---- */

int aws_parse_create_stack(const char *xml, size_t len, char **stack_id) {
  *stack_id = NULL;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr id = AWS__PATH(aws__root(doc, "CreateStackResponse"), "CreateStackResult", "StackId");
  xmlChar *t = id ? xmlNodeGetContent(id) : NULL;
  int rc = ACTOR_EPARSE;
  if (t && *t)
    rc = (*stack_id = strdup((const char *)t)) ? 0 : ACTOR_ENOMEM;
  xmlFree(t);
  xmlFreeDoc(doc);
  return rc;
}

/* The first stack of the answer: {stack_id, stack_name, status,
 * status_reason, outputs}; JSON null when the list is empty. */
int aws_parse_describe_stacks(const char *xml, size_t len, json_t **out) {
  *out = NULL;
  xmlDocPtr doc = aws__xml_read(xml, len);
  xmlNodePtr root = aws__root(doc, "DescribeStacksResponse");
  xmlNodePtr stacks = AWS__PATH(root, "DescribeStacksResult", "Stacks");
  int rc = ACTOR_EPARSE;
  json_t *o = NULL, *outputs = NULL;
  if (!stacks)
    goto out;
  xmlNodePtr m = aws__xml_child(stacks, "member");
  rc = ACTOR_ENOMEM;
  if (!m) {
    if ((*out = json_null()))
      rc = 0;
    goto out;
  }
  if (!(o = json_object()) || !(outputs = json_object()) ||
      aws__set_text(o, "stack_id", m, "StackId") || aws__set_text(o, "stack_name", m, "StackName") ||
      aws__set_text(o, "status", m, "StackStatus") ||
      aws__set_text(o, "status_reason", m, "StackStatusReason"))
    goto out;
  for (xmlNodePtr p = AWS__PATH(m, "Outputs", "member"); p; p = aws__xml_next(p)) {
    xmlChar *key = aws__child_text(p, "OutputKey");
    json_t *v = aws__xml_json(p, "OutputValue");
    int bad = !v || (key && *key && json_object_set(outputs, (const char *)key, v) != 0);
    json_decref(v);
    xmlFree(key);
    if (bad)
      goto out;
  }
  if (json_object_set(o, "outputs", outputs) != 0)
    goto out;
  *out = o;
  o = NULL;
  rc = 0;
out:
  json_decref(o);
  json_decref(outputs);
  xmlFreeDoc(doc);
  return rc;
}

/* A list of members under root/result/list, each turned into an object of
 * the given fields. */
static int aws__parse_members(const char *xml, size_t len, const char *root_name,
                              const char *result, const char *list, const aws__field_t *fields,
                              json_t **out) {
  return aws__parse_list(xml, len, root_name, AWS__LIST(result, list), AWS__LIST("member"),
                         aws__fields, fields, out);
}

int aws_parse_stack_resources(const char *xml, size_t len, json_t **out) {
  static const aws__field_t f[] = {{"logical_id", "LogicalResourceId"},
                                   {"physical_id", "PhysicalResourceId"},
                                   {"type", "ResourceType"},
                                   {"status", "ResourceStatus"},
                                   {"status_reason", "ResourceStatusReason"},
                                   {NULL, NULL}};
  return aws__parse_members(xml, len, "DescribeStackResourcesResponse",
                            "DescribeStackResourcesResult", "StackResources", f, out);
}

int aws_parse_stack_events(const char *xml, size_t len, json_t **out) {
  static const aws__field_t f[] = {{"event_id", "EventId"},
                                   {"logical_id", "LogicalResourceId"},
                                   {"physical_id", "PhysicalResourceId"},
                                   {"type", "ResourceType"},
                                   {"status", "ResourceStatus"},
                                   {"status_reason", "ResourceStatusReason"},
                                   {"timestamp", "Timestamp"},
                                   {NULL, NULL}};
  return aws__parse_members(xml, len, "DescribeStackEventsResponse", "DescribeStackEventsResult",
                            "StackEvents", f, out);
}
