"""Software configurations, launch groups, token params and instance types
(docs/cloud.md "REST routes"): CRUD with the checks of every field (a 400
naming it), who may write what (the owner or an admin a configuration;
admins groups and params), tenancy, and the pricing file's types."""
import pytest

from authkit import ADMIN, MISSING_ROLE, unique
from authkit import admin, api, other, owner  # noqa: F401 (fixtures)
from instancekit import YAML_TEMPLATE, config_body, error, status
from instancekit import config  # noqa: F401 (a fixture)

USER_PREFIX = "swc"


def test_config_crud(owner, admin):
    body = config_body(volume={"device": "/dev/sdf", "size": 20})
    rec = owner.ok("POST", "/instances/configs", json=body)
    name = body["name"]
    try:
        for k in ("name", "description", "image_id", "template", "user_data", "instance_types"):
            assert rec[k] == body[k], k
        assert rec["volume"] == {"device": "/dev/sdf", "size": 20, "kms_key_id": None}
        assert rec["owner"] == owner.name and rec["created"] and rec["updated"]
        assert owner.ok("GET", f"/instances/configs/{name}") == rec
        assert name in [c["name"] for c in owner.ok("GET", "/instances/configs")]
        # a YAML template with CloudFormation's short tags is accepted
        upd = owner.ok("PUT", f"/instances/configs/{name}",
                       json=config_body(name=name, template=YAML_TEMPLATE,
                                        instance_types=["t3.medium"]))
        assert upd["template"] == YAML_TEMPLATE and upd["instance_types"] == ["t3.medium"]
        assert upd["owner"] == owner.name and upd["created"] == rec["created"]
        error(owner.post("/instances/configs", json=body), 400,
              f"Configuration {name} already exists.")
        owner.ok("DELETE", f"/instances/configs/{name}")
        error(owner.get(f"/instances/configs/{name}"), 404, f"Configuration {name} not found.")
    finally:
        admin.delete(f"/instances/configs/{name}")


@pytest.mark.parametrize("over,message", [
    ({"name": None}, "name is required."),
    ({"name": "bad name!"}, "Invalid name: a configuration name has 1 to 64 letters, digits and "
                            "the characters _ . -"),
    ({"name": "x" * 65}, "Invalid name: a configuration name has 1 to 64 letters, digits and "
                         "the characters _ . -"),
    ({"image_id": None}, "image_id is required."),
    ({"image_id": "not-an-ami"}, "Invalid image_id: 'not-an-ami' is not an AMI id (ami-...)."),
    ({"template": None}, "template is required."),
    ({"template": "x" * 51201}, "Invalid template: at most 51200 bytes."),
    ({"instance_types": []}, "instance_types is required: the instance types users may launch."),
    ({"instance_types": ["t2.micro", "z9.enormous"]},
     "Invalid instance_types: z9.enormous is not in the pricing file."),
    ({"instance_types": [""]},
     "Invalid instance_types: each entry must be a non-empty string of at most 63 bytes."),
    ({"volume": {"size": 5}}, "Invalid volume: device is required (e.g. /dev/sdf)."),
    ({"volume": {"device": "/dev/sdf", "size": 0}},
     "Invalid size: the value must be an integer of at least 1."),
    ({"user_data": "x" * 16385}, "Invalid user_data: at most 16384 bytes."),
])
def test_config_field_errors(owner, over, message):
    body = config_body(**over)
    body = {k: v for k, v in body.items() if v is not None or k == "volume"}
    error(owner.post("/instances/configs", json=body), 400, message)


@pytest.mark.parametrize("template", ["key: [unclosed", "[1, 2, 3]", "just text", "{\"a\": "])
def test_template_neither_json_nor_yaml(owner, template):
    msg = error(owner.post("/instances/configs", json=config_body(template=template)), 400)
    assert msg.startswith("template is neither JSON nor YAML: "), msg
    assert len(msg) > len("template is neither JSON nor YAML: "), msg


def test_config_owner_or_admin_writes(config, owner, other, admin):
    name = config["name"]
    assert other.ok("GET", f"/instances/configs/{name}")["name"] == name  # any user reads
    denied = f"Not authorized -- only the owner or an admin may change configuration {name}."
    error(other.request("PUT", f"/instances/configs/{name}", json=config_body(name=name)), 400,
          denied)
    error(other.delete(f"/instances/configs/{name}"), 400, denied)
    upd = admin.ok("PUT", f"/instances/configs/{name}",
                   json=config_body(name=name, description="by the admin"))
    assert upd["description"] == "by the admin" and upd["owner"] == owner.name
    admin.ok("DELETE", f"/instances/configs/{name}")


def test_config_tenancy(api, config):
    foreign = api.client(unique("swcforeign"), (ADMIN,), tenant="SWCOTHER")
    name = config["name"]
    error(foreign.get(f"/instances/configs/{name}"), 404, f"Configuration {name} not found.")
    assert name not in [c["name"] for c in foreign.ok("GET", "/instances/configs")]
    error(foreign.delete(f"/instances/configs/{name}"), 404)


def test_groups_admin_only(owner, admin):
    name = unique("grp-")
    body = {"name": name, "key_name": "mykey", "iam_instance_profile": "prof",
            "security_group_ids": ["sg-1", "sg-2"], "subnet_id": "subnet-1",
            "availability_zone": "us-east-1a", "members": [owner.name]}
    error(owner.post("/instances/groups", json=body), 400, MISSING_ROLE)
    g = admin.ok("POST", "/instances/groups", json=body)
    try:
        assert {k: g[k] for k in body} == body
        assert owner.ok("GET", f"/instances/groups/{name}") == g
        assert name in [x["name"] for x in owner.ok("GET", "/instances/groups")]
        error(admin.post("/instances/groups", json=body), 400, f"Group {name} already exists.")
        error(owner.request("PUT", f"/instances/groups/{name}", json=body), 400, MISSING_ROLE)
        error(owner.delete(f"/instances/groups/{name}"), 400, MISSING_ROLE)
        upd = admin.ok("PUT", f"/instances/groups/{name}", json={"subnet_id": "subnet-2"})
        assert upd["subnet_id"] == "subnet-2" and upd["members"] == []
        error(admin.post("/instances/groups", json={"name": "bad/name"}), 400)
        error(admin.post("/instances/groups", json={"name": name + "x", "members": "nope"}), 400)
        admin.ok("DELETE", f"/instances/groups/{name}")
        error(owner.get(f"/instances/groups/{name}"), 404, f"Group {name} not found.")
    finally:
        admin.delete(f"/instances/groups/{name}")


def test_params_admin_only(owner, admin):
    key = "swcParam" + unique("")  # the names keep their case
    error(owner.post("/instances/params", json={key: "v"}), 400, MISSING_ROLE)
    got = admin.ok("POST", "/instances/params", json={key: "value 1"})
    try:
        assert {"name": key, "value": "value 1"} in got
        assert {"name": key, "value": "value 1"} in owner.ok("GET", "/instances/params")
        error(admin.post("/instances/params", json={"bad name": "v"}), 400)
        error(admin.post("/instances/params", json={key: 5}), 400,
              f"Invalid value of param {key}: a string of at most 4096 bytes.")
        error(admin.post("/instances/params", json={}), 400)
        error(owner.delete(f"/instances/params/{key}"), 400, MISSING_ROLE)
        admin.ok("DELETE", f"/instances/params/{key}")
        assert key not in [p["name"] for p in owner.ok("GET", "/instances/params")]
    finally:
        admin.delete(f"/instances/params/{key}")


def test_types(owner, config):
    types = owner.ok("GET", "/instances/types")
    by = {t["instance_type"]: t for t in types}
    assert by["t2.micro"] == {"instance_type": "t2.micro", "price_per_hour": 0.0116, "vcpus": 1.0,
                              "memory_gib": 1.0}
    assert set(by) >= {"t2.micro", "m5.large", "t3.medium"}
    allowed = {t["instance_type"] for t in owner.ok("GET", "/instances/types?allowed=true")}
    assert {"t2.micro", "m5.large"} <= allowed <= set(by)


def test_camel_case(client):
    """The stack's own api (access_control none) answers in [web] case;
    the fields of a configuration follow it both ways."""
    from conftest import ApiProcess
    p = ApiProcess(web_case="camel")
    try:
        c = p.client()
        body = config_body()
        camel = {"name": body["name"], "imageId": body["image_id"], "template": body["template"],
                 "userData": body["user_data"], "instanceTypes": body["instance_types"]}
        rec = c.ok("POST", "/instances/configs", json=camel)
        assert rec["imageId"] == body["image_id"] and rec["instanceTypes"] == body["instance_types"]
        assert "image_id" not in rec
        c.ok("DELETE", f"/instances/configs/{body['name']}")
    finally:
        p.stop()
