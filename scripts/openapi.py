#!/usr/bin/env python3
"""Writes docs/openapi.json, the OpenAPI 3 description of every route the api
serves (services/api/src/router.c), from the tables below.

    python3 scripts/openapi.py           # (re)write docs/openapi.json
    python3 scripts/openapi.py --check   # exit 1 when docs/openapi.json is stale

The api embeds docs/openapi.json at build time and serves it at
GET /docs/openapi.json. tests/functional/test_openapi.py checks that the
committed file is what this script writes, that it is a valid OpenAPI 3.0
document, that its paths are exactly the router's, and that a few routes
answer as documented. docs/api.md and docs/cloud.md are the prose.
Standard library only.
"""
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "openapi.json")
VERSION = "dev"  # [general] TAG of the stock abaco.conf; the envelope's `version`


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def obj(props, required=None, extra=None, **kw):
    s = {"type": "object", "properties": props}
    if required:
        s["required"] = required
    if extra is not None:
        s["additionalProperties"] = extra
    s.update(kw)
    return s


S = {"type": "string"}
I = {"type": "integer"}
B = {"type": "boolean"}
N = {"type": "number"}
TIME = {"type": "string", "description": "ISO-8601 UTC with milliseconds and a Z, or \"None\" when not set",
        "example": "2026-11-22T14:45:41.591Z"}
ANY = {"description": "any JSON value"}


def arr(items):
    return {"type": "array", "items": items}


def s(desc, **kw):
    d = {"type": "string", "description": desc}
    d.update(kw)
    return d


LEVEL = {"type": "string", "enum": ["NONE", "READ", "EXECUTE", "UPDATE"]}

SCHEMAS = {
    "Envelope": obj({
        "status": {"type": "string", "enum": ["success", "error"]},
        "message": s("what happened, in words"),
        "result": {"description": "the answer's data; null for an error and for some actions", "nullable": True},
        "version": s("[general] TAG of the api", example=VERSION),
    }, ["status", "message", "result", "version"],
        description="Every JSON answer, success or error. With [web] case = camel every key of "
                    "`result` is camelCase (except inside user data: default_environment, state, "
                    "final_state, msg, _links, messages)."),
    "Error": {"allOf": [ref("Envelope"), obj({
        "status": {"type": "string", "enum": ["error"]},
        "result": {"nullable": True, "enum": [None]},
    })], "example": {"status": "error", "message": "Actor with identifier 'nope' not found",
                     "result": None, "version": VERSION}},
    "Links": obj({"self": S, "owner": S}, extra=S,
                 description="Absolute URLs in Abaco's public layout (`<scheme>://<Host>/actors/v2/...`, "
                             "`/profiles/v2/<owner>`), plus one related collection "
                             "(`executions`, `logs`, `actor`)."),
    "ActorInput": obj({
        "image": s("a Docker image reference that is present on the hosts (docs/limits.md)",
                   example="abaco/samples-echo"),
        "name": S, "description": S,
        "stateless": {"type": "boolean", "default": True},
        "token": {"type": "boolean", "description": "default [web] default_token"},
        "link": s("an actor id or alias that receives this actor's events"),
        "webhook": s("a URL that receives this actor's events"),
        "hints": arr(S),
        "default_environment": obj({}, extra=S),
        "privileged": {"type": "boolean", "default": False},
        "max_workers": I, "mem_limit": s("e.g. 512m, 1g"), "max_cpus": s("nano-CPUs, an integer"),
        "use_container_uid": B, "queue": {"type": "string", "default": "default"},
        "log_ex": I, "cron_schedule": s("<YYYY-MM-DD HH | now> + <n> <unit>"), "cron_on": B,
        "mounts": arr(obj({"host_path": S, "container_path": S, "mode": S})),
        "force": {"type": "boolean", "description": "PUT only: replace the workers even with the same image"},
    }, ["image"], description="Also accepted form-encoded or multipart; camelCase names too with [web] case = camel."),
    "Actor": obj({
        "id": S, "name": S, "description": S, "image": S, "owner": S,
        "status": {"type": "string", "enum": ["SUBMITTED", "READY", "ERROR", "SHUTTING_DOWN"]},
        "status_message": S, "stateless": B, "token": B, "link": S, "webhook": S,
        "hints": arr(S), "default_environment": obj({}, extra=S), "privileged": B,
        "max_workers": {"nullable": True}, "mem_limit": {"nullable": True}, "max_cpus": {"nullable": True},
        "use_container_uid": B, "queue": S, "log_ex": {"nullable": True}, "state": ANY,
        "create_time": TIME, "last_update_time": TIME, "revision": I, "type": S,
        "gid": {"nullable": True}, "uid": {"nullable": True}, "tasdir": {"nullable": True},
        "cron_schedule": {"nullable": True}, "cron_on": B, "cron_next_ex": {"nullable": True},
        "mounts": arr(ANY), "_links": ref("Links"),
    }, example={"id": "4DQwE6jkr7Kk5", "name": "hello", "image": "abaco/samples-echo",
                "owner": "anonymous", "status": "SUBMITTED", "stateless": True, "revision": 1,
                "create_time": "2026-11-22T14:45:41.591Z",
                "_links": {"self": "http://127.0.0.1:8000/actors/v2/4DQwE6jkr7Kk5",
                           "owner": "http://127.0.0.1:8000/profiles/v2/anonymous",
                           "executions": "http://127.0.0.1:8000/actors/v2/4DQwE6jkr7Kk5/executions"}}),
    "Execution": obj({
        "id": S, "actor_id": S, "status": {"type": "string", "enum": ["SUBMITTED", "RUNNING", "COMPLETE", "ERROR"]},
        "executor": S, "worker_id": {"nullable": True}, "message_received_time": TIME,
        "start_time": TIME, "finish_time": TIME, "runtime": I, "cpu": I, "io": I,
        "exit_code": {"nullable": True}, "final_state": {"nullable": True}, "_links": ref("Links"),
    }),
    "ExecutionSummary": obj({"id": S, "status": S, "start_time": TIME, "finish_time": TIME,
                             "message_received_time": TIME}),
    "ExecutionsList": obj({"actor_id": S, "owner": S, "executions": arr(ref("ExecutionSummary")),
                           "total_executions": I, "total_cpu": I, "total_io": I, "total_runtime": I,
                           "_links": ref("Links")}),
    "MessageSent": obj({"execution_id": S, "msg": {"description": "the message as sent; \"binary - omitted\" for binary ones"},
                        "_links": ref("Links")}),
    "Worker": obj({k: S for k in ["id", "status", "image", "location", "cid", "tenant", "ch_name",
                                  "host_id", "host_ip"]} | {
        "create_time": TIME, "last_execution_time": TIME, "last_health_check_time": TIME},
        description="`cid` is `process:<pid>@<host_id>` with the default process backend."),
    "PermissionInput": obj({"user": s("a user name, or ABACO_WORLD for everyone in the tenant"),
                            "level": LEVEL}, ["user", "level"]),
    "Permissions": obj({}, extra=LEVEL, example={"anonymous": "UPDATE", "ABACO_WORLD": "READ"}),
    "NonceInput": obj({"level": {"type": "string", "enum": ["READ", "EXECUTE", "UPDATE"], "default": "EXECUTE"},
                       "max_uses": {"type": "integer", "description": "-1: unlimited", "default": -1},
                       "description": S}),
    "Nonce": obj({"id": S, "owner": S, "roles": {"description": "the creator's roles"}, "level": LEVEL,
                  "max_uses": I, "current_uses": I, "remaining_uses": I, "actor_id": S,
                  "alias": s("alias nonces only"), "api_server": S, "create_time": TIME,
                  "last_use_time": TIME, "description": S, "_links": ref("Links")}),
    "AliasInput": obj({"alias": s("letters, digits, - . _ ~; at most 128"), "actor_id": S}, ["alias", "actor_id"]),
    "Alias": obj({"alias": S, "actor_id": S, "owner": S, "_links": ref("Links")}),
    "ConfigInput": obj({"name": S, "value": ANY, "is_secret": B,
                        "actors": s("comma-separated actor ids or aliases")}, ["name", "value", "actors"]),
    "Config": obj({"name": S, "value": {"description": "the value; a secret's is never returned in clear"},
                   "is_secret": B, "actors": S, "owner": S, "_links": ref("Links")}),
    "Utilization": obj({"currentActors": I, "totalActors": I, "workers": I, "commandQueue": I}),
    "SearchResult": obj({"_metadata": obj({"total_count": I, "records_skipped": I, "record_limit": I,
                                           "count_returned": I}),
                         "search": arr(obj({}, extra=True))}),
    "State": obj({"state": ANY}),
    "Logs": obj({"logs": S, "_links": ref("Links")}),
    "DeadLetter": obj({}, extra=True, description="an event that could not be delivered: the event, its kind, target and error"),
    # cloud (docs/cloud.md)
    "SwConfigInput": obj({
        "name": s("[A-Za-z0-9_.-]{1,64}"), "description": S, "image_id": s("ami-..."),
        "template": s("a CloudFormation template, JSON or YAML text"),
        "user_data": s("the user-data script with {{{token}}} placeholders"),
        "volume": {"nullable": True, **obj({"device": S, "size": I, "kms_key_id": S})},
        "instance_types": arr(S), "link": S, "webhook": S,
    }, ["name", "image_id", "template", "instance_types"]),
    "SwConfig": obj({"name": S, "description": S, "image_id": S, "template": S, "user_data": S,
                     "volume": {"nullable": True}, "instance_types": arr(S), "link": S, "webhook": S,
                     "owner": S, "created": TIME, "updated": TIME}),
    "Group": obj({"name": S, "key_name": S, "iam_instance_profile": S, "security_group_ids": arr(S),
                  "subnet_id": S, "availability_zone": S, "members": arr(S)}, ["name"]),
    "Param": obj({"name": S, "value": S}),
    "InstanceType": obj({"instance_type": S, "price_per_hour": {"type": "number", "nullable": True},
                         "vcpus": {"type": "number", "nullable": True},
                         "memory_gib": {"type": "number", "nullable": True}}),
    "LaunchInput": obj({"config": S, "instance_type": S, "name": S,
                        "count": {"type": "integer", "minimum": 1, "default": 1, "description": "at most [cloud] max_count"},
                        "group": S, "link": S, "webhook": S}, ["config", "instance_type"]),
    "Instance": obj({
        "id": S, "owner": S, "name": S, "config": S, "group": {"nullable": True}, "instance_type": S,
        "tag": S, "state": s("launching, pending, running, stopping, stopped, shutting-down, terminated or failed"),
        "desired_state": S, "observed_state": {"nullable": True},
        "stack_name": {"nullable": True}, "stack_id": {"nullable": True}, "stack_status": {"nullable": True},
        "ec2_instance_id": {"nullable": True}, "volume_id": {"nullable": True},
        "private_ip": {"nullable": True}, "public_ip": {"nullable": True},
        "launch_time": {"nullable": True}, "availability_zone": {"nullable": True},
        "progress": {"nullable": True}, "error": {"nullable": True}, "backend_status": arr(obj({}, extra=True)),
        "created": TIME, "updated": TIME, "cost": {"nullable": True}, "adopted": B,
        "running_seconds": N, "link": {"nullable": True}, "webhook": {"nullable": True},
        "display_name": {"nullable": True, "description": "the DNS plugin's name for it "
                         "(docs/cloud.md \"DNS plugin\"); null without one"},
    }, description="docs/cloud.md \"Instance\" lists every field; progress_token is never returned."),
    "Audit": obj({"tenant": S, "instance_id": S, "ec2_instance_id": {"nullable": True}, "who": S,
                  "action": S, "time": TIME, "outcome": S, "code": {"nullable": True},
                  "message": S, "request_id": {"nullable": True}}),
    "ProgressInput": obj({"message": S, "percent": {"type": "number", "minimum": 0, "maximum": 100}}, ["message"]),
    "ProgressResult": obj({"id": S, "state": S, "progress": obj({"message": S, "percent": I, "time": TIME}),
                           "ignored": B}),
    # clusters (docs/clusters.md)
    "ClusterInput": obj({"name": S, "config": s("a software configuration of the tenant"),
                         "instance_type": s("one its configuration allows (default: its first)"),
                         "min_nodes": {"type": "integer", "minimum": 0, "default": 0},
                         "max_nodes": {"type": "integer", "minimum": 0, "default": 1},
                         "scale_in_delay": {"type": "number", "default": 5,
                                            "description": "minutes a scale-in waits after a scale-out"},
                         "load_balancer": {"type": "string", "nullable": True,
                                           "description": "an ELB (classic) name"}},
                        ["name", "config"]),
    "Node": obj({"id": S, "kind": s("managed (an instance) or adopted (a host by address)"),
                 "instance_id": S, "address": S, "added": TIME, "run": S,
                 "state": s("the instance's state (managed nodes)")}),
    "NodeInput": obj({"address": s("a host to adopt"), "instance_id": s("an instance of the tenant")}),
    "Sample": obj({"t": s("milliseconds since the epoch", type="integer"), "v": N}),
    "CounterInput": obj({"name": S, "threshold": N, "comparison": {"type": "string", "enum": [">", ">=", "<", "<="]},
                         "history": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100,
                                     "description": "samples kept"},
                         "source": obj({"kind": {"type": "string", "enum": ["metric", "node", "actor"]},
                                        "series": s("metric: a /metrics series name"),
                                        "labels": obj({}, extra=S, description="metric: labels the series must have"),
                                        "actor": s("actor: an actor id or alias"),
                                        "schedule": s("actor: seconds between runs", type="integer"),
                                        "message": s("actor: the message sent")}, ["kind"])},
                        ["name", "threshold", "comparison", "source"]),
    "Counter": obj({"id": S, "name": S, "threshold": N, "comparison": S, "history": I,
                    "source": obj({}, extra=True), "created": TIME,
                    "token": s("node counters: the token of POST .../samples"),
                    "last_samples": arr(ref("Sample"))}),
    "SampleInput": obj({"value": N}, ["value"]),
    "SampleResult": obj({"counter": S, "value": N, "time": TIME}),
    "Action": obj({"type": {"type": "string", "enum": ["deploy_node", "remove_node", "run_actor", "notify"]},
                   "actor": s("run_actor: an actor id or alias"), "message": ANY,
                   "email": obj({"to": arr(S), "subject": S, "body": S}, ["to", "subject"]),
                   "webhook": s("notify: an http(s) URL (docs/notify.md)")}, ["type"], extra=True),
    "TriggerInput": obj({"name": S, "counters": arr(S),
                         "timing": {"type": "number", "description": "minutes the counters must hold"},
                         "samples": {"type": "integer", "description": "N: the newest N samples decide"},
                         "required": {"type": "integer", "description": "M of N (default N)"},
                         "cooldown": {"type": "number", "default": 5, "description": "minutes after a firing"},
                         "actions": arr({"oneOf": [S, ref("Action")]})}, ["name", "actions"]),
    "TriggerState": obj({"armed": B, "cooling_down": B, "holding_since": {"nullable": True},
                         "cooling_down_until": {"nullable": True}, "last_fired": {"nullable": True},
                         "last_run": {"nullable": True}, "last_outcome": {"nullable": True},
                         "last_error": {"nullable": True}, "blocked": {"nullable": True},
                         "evaluated": {"nullable": True}}),
    "Trigger": obj({"id": S, "name": S, "counters": arr(S), "timing": N, "samples": {"nullable": True},
                    "required": {"nullable": True}, "cooldown": N, "actions": arr(ref("Action")),
                    "created": TIME, "state": ref("TriggerState")}),
    "Run": obj({"id": S, "cluster": S, "trigger": S, "trigger_name": S, "manual": B, "who": S,
                "status": s("pending, running, succeeded or failed"), "created": TIME, "created_ms": I,
                "started": {"nullable": True}, "finished": {"nullable": True}, "duration_ms": I,
                "error": {"nullable": True},
                "inputs": obj({"counters": arr(obj({}, extra=True)), "reason": S, "nodes": I}),
                "actions": arr(obj({"type": S, "status": s("pending, done or failed"), "error": S,
                                    "instance_id": S, "started": TIME, "finished": TIME,
                                    "duration_ms": I}, extra=True))}),
    "Cluster": obj({"id": S, "tenant": S, "owner": S, "tag": S, "name": S, "config": S, "instance_type": S,
                    "min_nodes": I, "max_nodes": I, "scale_in_delay": N,
                    "load_balancer": {"nullable": True}, "created": TIME, "updated": TIME,
                    "last_scale_out": {"nullable": True},
                    "nodes": arr(ref("Node")), "counters": arr(ref("Counter")),
                    "triggers": arr(ref("Trigger")), "runs": arr(ref("Run"))},
                   description="GET /clusters lists them without nodes, counters, triggers and runs."),
}


def envelope(result_schema, message, example_result=None):
    schema = {"allOf": [ref("Envelope"), obj({"status": {"type": "string", "enum": ["success"]},
                                              "result": result_schema})]}
    ex = {"status": "success", "message": message, "result": example_result, "version": VERSION}
    return {"application/json": {"schema": schema, "example": ex}}


ERRORS = {
    400: ("BadRequest", "a missing or bad field (the message names it), or the caller lacks a role or "
                        "permission (`Not authorized -- ...`: denials are 400, as in Abaco)"),
    401: ("Unauthorized", "no credentials, or a JWT, Bearer token or nonce that is not valid (the message says what)"),
    403: ("Forbidden", "a wrong or missing progress token"),
    404: ("NotFound", "the named object does not exist in the caller's tenant"),
    405: ("NotAllowed", "no such route, or a method the route does not have"),
    409: ("Conflict", "the instance is not in a state the action needs"),
    413: ("TooLarge", "a request body over [web] max_body_size (docs/limits.md)"),
    503: ("Unavailable", "a store or channel could not be reached; try again"),
}
RESPONSES = {name: {"description": desc, "content": {"application/json": {
    "schema": ref("Error"), "example": {"status": "error", "message": desc, "result": None, "version": VERSION}}}}
    for _, (name, desc) in ERRORS.items()}


def errs(*codes):
    return {str(c): {"$ref": "#/components/responses/" + ERRORS[c][0]} for c in codes}


def body(schema_name, required=True, form=True):
    content = {"application/json": {"schema": ref(schema_name)}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": ref(schema_name)}
        content["multipart/form-data"] = {"schema": ref(schema_name)}
    return {"required": required, "content": content}


def param(name, desc, where="path", schema=None, required=None):
    return {"name": name, "in": where, "required": where == "path" if required is None else required,
            "description": desc, "schema": schema or S}


P = {
    "actor_id": param("actor_id", "an actor id or one of its aliases"),
    "execution_id": param("execution_id", "an execution id"),
    "worker_id": param("worker_id", "a worker id"),
    "nonce_id": param("nonce_id", "a nonce id (`<TENANT>_<hashid>`)"),
    "alias": param("alias", "an alias"),
    "name": param("name", "a name"),
    "instance_id": param("instance_id", "the platform's instance id, or the EC2 instance id"),
    "cluster_id": param("cluster_id", "a cluster id"),
    "node_id": param("node_id", "a node id (a managed node's is its instance id)"),
    "counter_id": param("counter_id", "a counter id"),
    "trigger_id": param("trigger_id", "a trigger id"),
    "run_id": param("run_id", "a run id"),
}

OPS = {}  # (METHOD, path) -> operation


def op(method, path, summary, tag, ok, codes=(400,), req=None, params=(), ok_status=200,
       security=True, description=None, op_id=None, more=None):
    o = {"summary": summary, "tags": [tag]}
    if description:
        o["description"] = description
    pnames = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
    ps = [P[n] for n in pnames if n in P] + list(params)
    assert all(n in P or any(p["name"] == n for p in params) for n in pnames), path
    if ps:
        o["parameters"] = ps
    if req:
        o["requestBody"] = req
    resp = {str(ok_status): ok}
    resp.update(more or {})
    codes = set(codes)
    if security:
        codes.add(401)
    if any(n in P for n in pnames):  # a named object that may not exist
        codes.add(404)
    if req or method in ("POST", "PUT"):
        codes.add(413)
    codes.add(503) if security else None
    resp.update(errs(*sorted(codes)))
    o["responses"] = resp
    if not security:
        o["security"] = []
    o["operationId"] = op_id or (method.lower() + "_" + "".join(
        c if c.isalnum() else "_" for c in path.strip("/")).strip("_").replace("__", "_"))
    OPS[(method, path)] = o


def ok(result_schema, message, example=None, description="success"):
    return {"description": description, "content": envelope(result_schema, message, example)}


NULL = {"nullable": True, "enum": [None]}


def permissions_and_nonces(base, noun, one, create_summary, one_summary, delete_summary):
    """The permissions and nonces routes that an actor and an alias both have."""
    for m in ("GET", "POST"):
        op(m, f"{base}/permissions",
           f"The {noun}'s permissions" if m == "GET" else f"Grant a permission on the {noun}",
           "permissions",
           ok(ref("Permissions"),
              "Permissions retrieved successfully." if m == "GET" else "Permission added successfully."),
           req=body("PermissionInput") if m == "POST" else None)
    op("GET", f"{base}/nonces", f"The {noun}'s nonces", "nonces",
       ok(arr(ref("Nonce")), f"{one} nonces retrieved successfully."))
    op("POST", f"{base}/nonces", create_summary, "nonces",
       ok(ref("Nonce"), f"{one} nonce created successfully."), req=body("NonceInput", required=False))
    op("GET", f"{base}/nonces/{{nonce_id}}", one_summary, "nonces",
       ok(ref("Nonce"), f"{one} nonce retrieved successfully."))
    op("DELETE", f"{base}/nonces/{{nonce_id}}", delete_summary, "nonces",
       ok(NULL, f"{one} nonce deleted successfully."))

# ---- the routes (router.c's table, in its order) ----
op("GET", "/metrics", "Prometheus metrics", "platform",
   {"description": "Prometheus text format 0.0.4 (docs/operations.md lists the series)",
    "content": {"text/plain": {"schema": S}}}, codes=(), security=False)
op("GET", "/docs/openapi.json", "This document", "platform",
   {"description": "the OpenAPI 3 document", "content": {"application/json": {"schema": {"type": "object"}}}},
   codes=(), security=False)
op("GET", "/actors", "List the actors the caller can read", "actors",
   ok(arr(ref("Actor")), "Actors retrieved successfully.", [SCHEMAS["Actor"]["example"]]))
op("GET", "/actors/admin/events/dead-letter", "Events that could not be delivered (admins)", "admin",
   ok(arr(ref("DeadLetter")), "Dead-lettered events retrieved successfully."))
op("POST", "/actors", "Register an actor", "actors",
   ok(ref("Actor"), "Actor created successfully.", SCHEMAS["Actor"]["example"]), req=body("ActorInput"),
   description="The owner gets UPDATE; [workers] init_count workers are requested. Privileged fields "
               "(privileged, max_workers, max_cpus, mem_limit, queue) need Internal/abaco-privileged.")
op("GET", "/actors/aliases", "List aliases", "aliases", ok(arr(ref("Alias")), "Aliases retrieved successfully."))
op("POST", "/actors/aliases", "Create an alias (UPDATE on the actor)", "aliases",
   ok(ref("Alias"), "Actor alias created successfully."), req=body("AliasInput"))
op("GET", "/actors/aliases/{alias}", "One alias", "aliases", ok(ref("Alias"), "Alias retrieved successfully."))
op("PUT", "/actors/aliases/{alias}", "Point an alias at another actor", "aliases",
   ok(ref("Alias"), "Actor alias updated successfully."), req=body("AliasInput"))
op("DELETE", "/actors/aliases/{alias}", "Delete an alias", "aliases", ok(NULL, "Alias hello deleted successfully."))
permissions_and_nonces("/actors/aliases/{alias}", "alias", "Alias", "Create an alias nonce", "One alias nonce", "Delete an alias nonce")
op("GET", "/actors/configs", "List actor configs", "configs", ok(arr(ref("Config")), "Configs retrieved successfully."))
op("POST", "/actors/configs", "Create an actor config", "configs",
   ok(ref("Config"), "Config created successfully."), req=body("ConfigInput"),
   description="A secret value needs [web] encryption_key; it is stored encrypted. The listed actors' "
               "containers see every config in `_actor_configs`.")
op("GET", "/actors/configs/{name}", "One actor config", "configs", ok(ref("Config"), "Config retrieved successfully."))
op("PUT", "/actors/configs/{name}", "Replace an actor config", "configs",
   ok(ref("Config"), "Config updated successfully."), req=body("ConfigInput"))
op("DELETE", "/actors/configs/{name}", "Delete an actor config", "configs", ok(NULL, "Config deleted successfully."))
for m in ("GET", "POST"):
    op(m, "/actors/configs/{name}/permissions",
       "The config's permissions" if m == "GET" else "Grant a permission on the config", "permissions",
       ok(ref("Permissions"), "Permissions retrieved successfully." if m == "GET" else "Permission added successfully."),
       req=body("PermissionInput") if m == "POST" else None)
op("GET", "/actors/search/{type}", "Search actors, workers, executions or logs", "search",
   ok(ref("SearchResult"), "Search completed successfully."),
   params=[param("type", "what to search", schema={"type": "string", "enum": ["actors", "workers", "executions", "logs"]}),
           param("search", "substring of any text field", "query"),
           param("exactsearch", "exact value of any text field", "query"),
           param("skip", "records to skip", "query", {"type": "integer", "minimum": 0}),
           param("limit", "at most this many (default 100)", "query", {"type": "integer", "minimum": 0})],
   description="Also `<field>=<v>` and `<field>.<op>=<v>` with op one of eq neq gt gte lt lte in nin like "
               "nlike between; dotted fields reach into objects. Sees only actors on which the caller's "
               "own user name has a permission (docs/api.md).")
op("GET", "/actors/admin", "Every actor of the tenant (admins)", "admin",
   ok(arr(ref("Actor")), "Actors retrieved successfully."))
op("GET", "/actors/admin/workers", "Every worker of the tenant (admins)", "admin",
   ok(arr(obj({}, extra=True)), "Workers retrieved successfully."))
op("GET", "/actors/admin/executions", "Execution totals of the tenant (admins)", "admin",
   ok(obj({}, extra=True), "Executions retrieved successfully."))
op("GET", "/actors/utilization", "Platform utilization", "admin",
   ok(ref("Utilization"), "Utilization retrieved successfully.",
      {"currentActors": 1, "totalActors": 1, "workers": 1, "commandQueue": 0}))
op("GET", "/actors/{actor_id}", "One actor", "actors",
   ok(ref("Actor"), "Actor retrieved successfully.", SCHEMAS["Actor"]["example"]))
op("PUT", "/actors/{actor_id}", "Update an actor (image required)", "actors",
   ok(ref("Actor"), "Actor updated successfully."), req=body("ActorInput"),
   description="A new image or `force` bumps revision, sets SUBMITTED and replaces the workers.")
op("DELETE", "/actors/{actor_id}", "Delete an actor", "actors", ok(NULL, "Actor deleted successfully."),
   description="Stops its workers and deletes its mailbox, logs, permissions, nonces and aliases.")
op("GET", "/actors/{actor_id}/state", "A stateful actor's state", "state",
   ok(ref("State"), "Actor state retrieved successfully."), description="404 for a stateless actor.")
op("POST", "/actors/{actor_id}/state", "Replace a stateful actor's state", "state",
   ok(ref("Actor"), "State updated."),
   req={"required": True, "content": {"application/json": {"schema": ANY}}},
   description="The body (any JSON value) becomes the state. 404 for a stateless actor.")
op("GET", "/actors/{actor_id}/messages", "Messages waiting in the mailbox", "messages",
   ok(obj({"messages": I, "_links": ref("Links")}), "The number of messages in the actor's mailbox."))
op("POST", "/actors/{actor_id}/messages", "Send a message", "messages",
   ok(ref("MessageSent"), "The request was successful"),
   req={"required": True, "content": {
       "application/json": {"schema": {"description": "`{\"message\": \"...\"}` is a text message; any other JSON value is the message"}},
       "application/x-www-form-urlencoded": {"schema": obj({"message": S}, ["message"])},
       "multipart/form-data": {"schema": obj({"message": S}, ["message"])},
       "application/octet-stream": {"schema": {
           "type": "string", "format": "binary",
           "description": "a binary message; needs Content-Length; at most [web] max_content_length bytes (400 over it)"}}}},
   params=[param("_abaco_synchronous", "wait for the execution and answer its raw result (or logs) without the envelope",
                 "query", B, False)],
   description="Query parameters other than message, x-nonce and `_abaco_*` become environment variables "
               "of the execution. Needs EXECUTE.")
op("DELETE", "/actors/{actor_id}/messages", "Purge the mailbox", "messages", ok(NULL, "Actor mailbox purged."))
op("GET", "/actors/{actor_id}/executions", "The actor's executions and totals", "executions",
   ok(ref("ExecutionsList"), "Actor executions retrieved successfully."))
op("POST", "/actors/{actor_id}/executions", "Add an accounting record", "executions",
   ok(ref("Actor"), "Actor execution added successfully."),
   req=body("ExecutionInput"))
SCHEMAS["ExecutionInput"] = obj({"runtime": I, "cpu": I, "io": I}, ["runtime", "cpu", "io"])
op("GET", "/actors/{actor_id}/executions/{execution_id}", "One execution", "executions",
   ok(ref("Execution"), "Actor execution retrieved successfully."))
op("DELETE", "/actors/{actor_id}/executions/{execution_id}", "Force-quit a running execution", "executions",
   ok(NULL, "Issued force quit command for execution 6RpjKw4yKoqp4."), description="400 when the execution is not RUNNING.")
op("GET", "/actors/{actor_id}/executions/{execution_id}/logs", "An execution's logs", "executions",
   ok(ref("Logs"), "Logs retrieved successfully."))
op("GET", "/actors/{actor_id}/executions/{execution_id}/results", "The next result of an execution", "executions",
   {"description": "the next result datagram, raw (empty when there is none)",
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}})
op("GET", "/actors/{actor_id}/workers", "The actor's workers", "workers",
   ok(arr(ref("Worker")), "Workers retrieved successfully."))
op("POST", "/actors/{actor_id}/workers", "Make sure at least num workers exist (admins)", "workers",
   ok(NULL, "Scheduled 1 new worker(s) to start. Previously, there were 0 workers."),
   req=body("WorkersInput", required=False),
   params=[param("num", "as the body's num", "query", I, False)])
SCHEMAS["WorkersInput"] = obj({"num": {"type": "integer", "minimum": 0, "maximum": 100, "default": 1}})
op("GET", "/actors/{actor_id}/workers/{worker_id}", "One worker", "workers",
   ok(ref("Worker"), "Worker retrieved successfully."))
op("DELETE", "/actors/{actor_id}/workers/{worker_id}", "Stop a worker", "workers",
   ok(NULL, "Worker scheduled to be stopped."))
permissions_and_nonces("/actors/{actor_id}", "actor", "Actor", "Create a nonce", "One nonce", "Delete a nonce")
# cloud instances (docs/cloud.md "REST routes")
op("GET", "/instances/configs", "Software configurations", "swconfigs",
   ok(arr(ref("SwConfig")), "Configurations retrieved successfully."))
op("POST", "/instances/configs", "Create a software configuration", "swconfigs",
   ok(ref("SwConfig"), "Configuration created successfully."), req=body("SwConfigInput", form=False))
op("GET", "/instances/configs/{name}", "One software configuration", "swconfigs",
   ok(ref("SwConfig"), "Configuration retrieved successfully."))
op("PUT", "/instances/configs/{name}", "Replace a software configuration (owner, admin)", "swconfigs",
   ok(ref("SwConfig"), "Configuration updated successfully."), req=body("SwConfigInput", form=False))
op("DELETE", "/instances/configs/{name}", "Delete a software configuration (owner, admin)", "swconfigs",
   ok(NULL, "Configuration deleted successfully."))
op("GET", "/instances/groups", "Launch groups", "groups", ok(arr(ref("Group")), "Groups retrieved successfully."))
op("POST", "/instances/groups", "Create a launch group (admins)", "groups",
   ok(ref("Group"), "Group created successfully."), req=body("Group", form=False))
op("GET", "/instances/groups/{name}", "One launch group", "groups", ok(ref("Group"), "Group retrieved successfully."))
op("PUT", "/instances/groups/{name}", "Replace a launch group (admins)", "groups",
   ok(ref("Group"), "Group updated successfully."), req=body("Group", form=False))
op("DELETE", "/instances/groups/{name}", "Delete a launch group (admins)", "groups", ok(NULL, "Group deleted successfully."))
op("GET", "/instances/params", "The tenant's token values", "params", ok(arr(ref("Param")), "Params retrieved successfully."))
op("POST", "/instances/params", "Set token values (admins)", "params", ok(arr(ref("Param")), "Params retrieved successfully."),
   req={"required": True, "content": {"application/json": {"schema": obj({}, extra=S),
                                                             "example": {"site": "example.org"}}}},
   description="Names [A-Za-z0-9_.-]{1,64}, values strings; at most 64 at once and 256 per tenant, else 400 and nothing is set.")
op("DELETE", "/instances/params/{name}", "Unset a token value (admins)", "params", ok(NULL, "Param deleted successfully."))
op("GET", "/instances/types", "Instance types with their hourly price", "instances",
   ok(arr(ref("InstanceType")), "Instance types retrieved successfully."),
   params=[param("allowed", "true: only the types some configuration allows", "query", B, False)])
for m in ("GET", "POST"):
    op(m, "/instances/progress/{instance_id}/{report}", "Report install progress (MLiy's form)", "progress",
       ok(ref("ProgressResult"), "Progress recorded."), codes=(400, 403), security=False,
       params=[param("report", "`<message>(<percent>)`: underscores read as spaces; the last (...) holds the percent"),
               param("token", "the instance's progress token", "query", S, True),
               param("tenant", "the instance's tenant, when known", "query", S, False)],
       description="No user credentials: the instance's progress token is the credential (403 when wrong).")
op("GET", "/instances", "Instances (own; admins: all of the tenant)", "instances",
   ok(arr(ref("Instance")), "Instances retrieved successfully."),
   params=[param(k, "only instances with this " + k, "query", S, False) for k in ("state", "owner", "config")])
op("POST", "/instances", "Launch instances", "instances",
   {"description": "accepted: the new instances, state launching",
    "content": envelope(arr(ref("Instance")), "Instances are being launched.")},
   ok_status=201, req=body("LaunchInput", form=False))
op("GET", "/instances/{instance_id}", "One instance (owner, admin)", "instances",
   ok(ref("Instance"), "Instance retrieved successfully."))
op("DELETE", "/instances/{instance_id}", "Terminate (when needed) and remove an instance", "instances",
   ok(NULL, "Instance deleted.", description="a terminated or failed instance's record is removed"),
   codes=(400, 409),
   more={"202": {"description": "terminating: the record goes once the instance is terminated",
                 "content": envelope(ref("Instance"),
                                     "Instance is being terminated; its record goes once it is.")}})
for action, needs in (("start", "stopped"), ("stop", "running"), ("restart", "running"),
                      ("terminate", "any state but terminated or shutting-down")):
    op("POST", "/instances/{instance_id}/" + action, action.capitalize() + " an instance (owner, admin)", "instances",
       {"description": "accepted: the instance as recorded; the launcher enacts it",
        "content": envelope(ref("Instance"), "Instance " + action + " requested.")},
       ok_status=202, codes=(400, 409), description="Needs " + needs + ", else 409.")
op("GET", "/instances/{instance_id}/audit", "The instance's audit documents, newest first", "instances",
   ok(arr(ref("Audit")), "Audit retrieved successfully."))
op("POST", "/instances/{instance_id}/progress", "Report install progress", "progress",
   ok(ref("ProgressResult"), "Progress recorded."), codes=(400, 403), security=False,
   req={"required": True, "content": {"application/json": {"schema": ref("ProgressInput")}}},
   params=[param("X-Progress-Token", "the instance's progress token (or ?token=)", "header", S, False),
           param("token", "the instance's progress token", "query", S, False),
           param("tenant", "the instance's tenant, when known", "query", S, False)],
   description="No user credentials: the instance's progress token is the credential (403 when wrong). "
               "A report after a terminal state is ignored (200, ignored: true).")

# clusters (docs/clusters.md)
op("GET", "/clusters", "Clusters (own; admins: all of the tenant)", "clusters",
   ok(arr(ref("Cluster")), "Clusters retrieved successfully."))
op("POST", "/clusters", "Create a cluster", "clusters",
   {"description": "created", "content": envelope(ref("Cluster"), "Cluster created.")},
   ok_status=201, req=body("ClusterInput", form=False))
op("GET", "/clusters/{cluster_id}", "One cluster: nodes, counters with their last samples, triggers with "
   "their state, the last runs (owner, admin)", "clusters", ok(ref("Cluster"), "Cluster retrieved successfully."))
op("PUT", "/clusters/{cluster_id}", "Change a cluster's fields (owner, admin)", "clusters",
   ok(ref("Cluster"), "Cluster updated."), req=body("ClusterInput", form=False))
op("DELETE", "/clusters/{cluster_id}", "Delete a cluster (its nodes keep running)", "clusters",
   ok(NULL, "Cluster deleted; its nodes are left running."))
op("POST", "/clusters/{cluster_id}/nodes", "Adopt a host by address, or add an instance", "clusters",
   {"description": "added", "content": envelope(ref("Node"), "Node added.")}, ok_status=201,
   req=body("NodeInput", form=False))
op("DELETE", "/clusters/{cluster_id}/nodes/{node_id}", "Forget a node (an instance keeps running)", "clusters",
   ok(NULL, "Node removed from the cluster."))
op("POST", "/clusters/{cluster_id}/counters", "Add a counter", "clusters",
   {"description": "created (a node counter's token is in it)", "content": envelope(ref("Counter"), "Counter created.")},
   ok_status=201, req=body("CounterInput", form=False))
op("GET", "/clusters/{cluster_id}/counters/{counter_id}", "One counter with its samples", "clusters",
   ok(ref("Counter"), "Counter retrieved successfully."))
op("DELETE", "/clusters/{cluster_id}/counters/{counter_id}", "Delete a counter and its samples", "clusters",
   ok(NULL, "Counter deleted."))
op("POST", "/clusters/{cluster_id}/counters/{counter_id}/samples", "A node reports a value", "clusters",
   ok(ref("SampleResult"), "Sample recorded."), codes=(400, 403), security=False,
   req={"required": True, "content": {"application/json": {"schema": ref("SampleInput")}}},
   params=[param("X-Counter-Token", "the counter's token (or ?token=)", "header", S, False),
           param("token", "the counter's token", "query", S, False)],
   description="No user credentials: the counter's token is the credential (403 when wrong).")
op("POST", "/clusters/{cluster_id}/triggers", "Add a trigger", "clusters",
   {"description": "created", "content": envelope(ref("Trigger"), "Trigger created.")}, ok_status=201,
   req=body("TriggerInput", form=False))
op("DELETE", "/clusters/{cluster_id}/triggers/{trigger_id}", "Delete a trigger", "clusters",
   ok(NULL, "Trigger deleted."))
op("POST", "/clusters/{cluster_id}/triggers/{trigger_id}/fire", "Run a trigger's actions now", "clusters",
   {"description": "accepted: the run, pending; the updater runs it at its next tick",
    "content": envelope(ref("Run"), "Trigger fired: the updater runs its actions.")}, ok_status=202)
op("GET", "/clusters/{cluster_id}/runs/{run_id}", "One run of a trigger's actions", "clusters",
   ok(ref("Run"), "Run retrieved successfully."))


def document():
    paths = {}
    for (method, path), o in OPS.items():
        paths.setdefault(path, {})[method.lower()] = o
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "abaco-c",
            "version": VERSION,
            "description": (
                "Abaco v2 \"Actors as a Service\" REST API as abaco-c serves it, plus its cloud "
                "instance and cluster routes. Prose: docs/api.md, docs/cloud.md, docs/clusters.md, docs/auth.md, docs/limits.md.\n\n"
                "Every JSON answer is the envelope `{status, message, result, version}`; success is "
                "200 (a launch 201, an instance action 202), errors carry `status: \"error\"` and a "
                "message naming the problem. Any route answers `OPTIONS` (CORS preflight, no "
                "credentials) and 405 for a method it does not have; an unknown path is 405 too. "
                "A trailing `/` is ignored. `_links` use Abaco's public layout (`/actors/v2/...`), "
                "the path a gateway in front of the api exposes; the api itself serves `/actors/...`.\n\n"
                "With `[web] case = camel` the api takes camelCase field names and answers with "
                "camelCase keys (`execution_id` becomes `executionId`); this document shows snake_case."),
        },
        "servers": [{"url": "http://127.0.0.1:8000", "description": "make up"}],
        "security": [{"jwtAssertion": []}, {"bearer": []}, {"nonce": []}, {"tenantHeader": []}],
        "tags": [{"name": t} for t in dict.fromkeys(o["tags"][0] for o in OPS.values())],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "jwtAssertion": {"type": "apiKey", "in": "header", "name": "X-Jwt-Assertion-DEV-DEVELOP",
                                 "description": "[web] access_control = jwt: a WSO2 assertion, header "
                                                "X-Jwt-Assertion-<TENANT> (docs/auth.md)"},
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                           "description": "a JWT (APIM or clientg's) naming its tenant in its `tenant` claim"},
                "nonce": {"type": "apiKey", "in": "query", "name": "x-nonce",
                          "description": "a nonce id, with [web] accept_nonce = true"},
                "tenantHeader": {"type": "apiKey", "in": "header", "name": "tenant",
                                 "description": "[web] access_control = none: no credentials; the "
                                                "optional `tenant` header picks the tenant"},
            },
            "schemas": SCHEMAS,
            "responses": RESPONSES,
        },
    }


def render():
    return json.dumps(document(), indent=1, sort_keys=False) + "\n"


def main():
    text = render()
    if sys.argv[1:] == ["--check"]:
        with open(OUT, encoding="utf-8") as f:
            if f.read() != text:
                print("docs/openapi.json is stale: run python3 scripts/openapi.py", file=sys.stderr)
                return 1
        return 0
    with open(OUT, "w", encoding="utf-8") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
