/* The CloudFormation operations of the AWS client (actor/aws.h):
 * CreateStack (idempotent: an existing stack of the name is taken as the
 * one asked for), DescribeStacks of one stack, DescribeStackResources,
 * DescribeStackEvents, DeleteStack. */
#include <stdlib.h>
#include <string.h>

#include "aws_int.h"

/* One-stack Action with StackName (and maybe ClientRequestToken). */
static int aws__stack_call(aws_t *a, const char *action, const char *stack, const char *token,
                           actor_buf_t *body, aws_result_t *res) {
  if (!stack || !*stack)
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  int rc = aws__param(&p, "StackName", stack);
  if (rc == 0 && token && *token)
    rc = aws__param(&p, "ClientRequestToken", token);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_CFN, action, &p, body, res);
  aws__params_free(&p);
  return rc;
}

/* One-stack Describe* whose answer goes through parse. */
static int aws__stack_describe(aws_t *a, const char *action, const char *stack,
                               int (*parse)(const char *, size_t, json_t **), json_t **out,
                               aws_result_t *res) {
  *out = NULL;
  actor_buf_t body = {0};
  int rc = aws__stack_call(a, action, stack, NULL, &body, res);
  if (rc == 0 && (rc = parse(body.p, body.len, out)) == ACTOR_EPARSE)
    rc = aws__malformed(res, action);
  free(body.p);
  return rc;
}

int aws_cfn_describe_stack(aws_t *a, const char *stack, json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  int rc = aws__stack_describe(a, "DescribeStacks", stack, aws_parse_describe_stacks, out, res);
  if (rc == 0 && json_is_null(*out)) {
    *out = NULL; /* json_null() needs no decref */
    res->cls = AWS_NOTFOUND;
    snprintf(res->code, sizeof res->code, "ValidationError");
    snprintf(res->message, sizeof res->message, "Stack %s does not exist", stack);
    rc = ACTOR_EAWS;
  }
  return rc;
}

int aws_cfn_create_stack(aws_t *a, const aws_stack_req_t *req, char **stack_id,
                         aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  *stack_id = NULL;
  if (!req->stack_name || !*req->stack_name || !req->template_body || !*req->template_body)
    return ACTOR_EINVAL;
  aws__params_t p = {{0}};
  actor_buf_t body = {0};
  int rc = aws__param(&p, "StackName", req->stack_name);
  if (rc == 0)
    rc = aws__param(&p, "TemplateBody", req->template_body);
  if (rc == 0)
    rc = aws__param_pairs(&p, "Parameters.member", "ParameterKey", "ParameterValue",
                          req->parameters);
  if (rc == 0)
    rc = aws__param_pairs(&p, "Tags.member", "Key", "Value", req->tags);
  if (rc == 0 && req->client_request_token && *req->client_request_token)
    rc = aws__param(&p, "ClientRequestToken", req->client_request_token);
  if (rc == 0)
    rc = aws__call(a, AWS__SVC_CFN, "CreateStack", &p, &body, res);
  aws__params_free(&p);
  if (rc == 0) {
    if ((rc = aws_parse_create_stack(body.p, body.len, stack_id)) == ACTOR_EPARSE)
      rc = aws__malformed(res, "CreateStack");
  } else if (rc == ACTOR_EAWS && strcmp(res->code, "AlreadyExistsException") == 0) {
    /* a redelivered launch: the stack of this name is the one it made */
    json_t *st = NULL;
    rc = aws_cfn_describe_stack(a, req->stack_name, &st, res);
    const char *id = json_string_value(json_object_get(st, "stack_id"));
    if (rc == 0)
      rc = !id ? aws__malformed(res, "DescribeStacks")
                : (*stack_id = strdup(id)) ? 0 : ACTOR_ENOMEM;
    json_decref(st);
  }
  free(body.p);
  return rc;
}

int aws_cfn_describe_stack_resources(aws_t *a, const char *stack, json_t **out,
                                     aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  return aws__stack_describe(a, "DescribeStackResources", stack, aws_parse_stack_resources, out,
                             res);
}

int aws_cfn_describe_stack_events(aws_t *a, const char *stack, json_t **out, aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  return aws__stack_describe(a, "DescribeStackEvents", stack, aws_parse_stack_events, out, res);
}

int aws_cfn_delete_stack(aws_t *a, const char *stack, const char *client_request_token,
                         aws_result_t *res) {
  aws_result_t local;
  res = aws__res(res, &local);
  actor_buf_t body = {0};
  int rc = aws__stack_call(a, "DeleteStack", stack, client_request_token, &body, res);
  free(body.p);
  if (rc == ACTOR_EAWS && res->cls == AWS_NOTFOUND) {
    res->cls = AWS_OK; /* already gone: what was asked */
    rc = 0;
  }
  return rc;
}
