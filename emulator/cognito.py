"""cognito-idp: the resource-server and tagging calls moto lacks, UpdateUserPoolClient with
AWS's reset semantics, and AWS's rules for pool deletion, domains and app-client scopes."""
from moto.cognitoidp.models import CognitoResourceServer, cognitoidp_backends

from .core import PASS, AWSError, Registry, json_response

TARGET = "AWSCognitoIdentityProviderService"
CONTENT_TYPE = "application/x-amz-json-1.1"
# Scopes every pool has without a resource server.
STANDARD_SCOPES = {"phone", "email", "openid", "profile", "aws.cognito.signin.user.admin"}
# What CreateUserPoolClient gives an attribute that is not sent (moto's defaults, which are AWS's).
CLIENT_DEFAULTS = {"AllowedOAuthFlowsUserPoolClient": False, "AuthSessionValidity": 3,
                   "EnablePropagateAdditionalUserContextData": False, "EnableTokenRevocation": True,
                   "RefreshTokenValidity": 30}


def backend(call):
    return cognitoidp_backends[call.account][call.region]


def ok(value=None):
    return json_response(value or {}, content_type=CONTENT_TYPE)


def required(body, name):
    value = body.get(name)
    if value in (None, ""):
        raise AWSError("InvalidParameterException",
                       f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null")
    return value


def pool_of(call, body):
    return backend(call).describe_user_pool(required(body, "UserPoolId"))  # ResourceNotFoundException if missing


def resource_server(pool, identifier):
    server = pool.resource_servers.get(identifier)
    if server is None:
        raise AWSError("ResourceNotFoundException", f"Resource server {identifier} does not exist.")
    return server


def pool_by_arn(call, arn):
    """The user pool an ARN names (in the ARN's own account and region)."""
    parts = (arn or "").split(":")
    if len(parts) != 6 or parts[2] != "cognito-idp" or not parts[5].startswith("userpool/"):
        raise AWSError("InvalidParameterException", f"Invalid ARN: {arn}")
    regional = dict.get(dict.get(cognitoidp_backends, parts[4]) or {}, parts[3])
    pool = regional.user_pools.get(parts[5][len("userpool/"):]) if regional else None
    if pool is None or pool.arn != arn:
        raise AWSError("ResourceNotFoundException", f"Resource {arn} does not exist.")
    return pool


def check_scopes(pool, scopes):
    """AWS refuses an app client naming a scope no resource server of the pool defines."""
    defined = {f"{rs.identifier}/{s.get('ScopeName')}" for rs in pool.resource_servers.values() for s in rs.scopes or []}
    for scope in scopes or []:
        if scope not in STANDARD_SCOPES and scope not in defined:
            raise AWSError("ScopeDoesNotExistException", f"Invalid scope requested: {scope}")


def register(reg: Registry):
    op = lambda name, **kw: reg.json_op(TARGET, name, **kw)  # noqa: E731

    @op("DeleteResourceServer")
    def delete_resource_server(call):
        body = call.json()
        pool = pool_of(call, body)
        identifier = required(body, "Identifier")
        resource_server(pool, identifier)
        del pool.resource_servers[identifier]
        return ok()

    @op("UpdateResourceServer")
    def update_resource_server(call):
        body = call.json()
        pool = pool_of(call, body)
        identifier = required(body, "Identifier")
        name = required(body, "Name")
        resource_server(pool, identifier)
        # An update replaces the server: scopes not sent are gone, as on AWS.
        updated = CognitoResourceServer(pool.id, identifier, name, body.get("Scopes") or [])
        pool.resource_servers[identifier] = updated
        return ok({"ResourceServer": updated.to_json()})

    # Tags live in the pool's UserPoolTags, so DescribeUserPool and these agree.
    @op("ListTagsForResource")
    def list_tags(call):
        pool = pool_by_arn(call, required(call.json(), "ResourceArn"))
        return ok({"Tags": dict(pool.extended_config.get("UserPoolTags") or {})})

    @op("TagResource")
    def tag_resource(call):
        body = call.json()
        pool = pool_by_arn(call, required(body, "ResourceArn"))
        tags = dict(pool.extended_config.get("UserPoolTags") or {})
        tags.update(body.get("Tags") or {})
        pool.extended_config["UserPoolTags"] = tags
        return ok()

    @op("UntagResource")
    def untag_resource(call):
        body = call.json()
        pool = pool_by_arn(call, required(body, "ResourceArn"))
        tags = {k: v for k, v in (pool.extended_config.get("UserPoolTags") or {}).items() if k not in (body.get("TagKeys") or [])}
        pool.extended_config["UserPoolTags"] = tags
        return ok()

    @op("DeleteUserPool", check_only=True)
    def delete_user_pool(call):
        pool = pool_of(call, call.json())
        if pool.domain is not None:
            raise AWSError("InvalidParameterException",
                           "User pool cannot be deleted. It has a domain configured that should be deleted first.")
        return PASS

    @op("CreateUserPoolDomain", check_only=True)
    def create_user_pool_domain(call):
        body = call.json()
        pool = pool_of(call, body)
        domain = required(body, "Domain")
        # Prefixes are unique in the region across every account.
        for accounts in list(cognitoidp_backends.values()):
            regional = dict.get(accounts, call.region)
            taken = regional.user_pool_domains.get(domain) if regional else None
            if taken is not None and taken.user_pool_id != pool.id:
                raise AWSError("InvalidParameterException", "Domain already associated with another user pool.")
        if pool.domain is not None:
            raise AWSError("InvalidParameterException", "User pool already has a domain configured.")
        return PASS

    @op("CreateUserPoolClient", check_only=True)
    def create_user_pool_client(call):
        body = call.json()
        check_scopes(pool_of(call, body), body.get("AllowedOAuthScopes"))
        return PASS

    @op("UpdateUserPoolClient")
    def update_user_pool_client(call):
        body = call.json()
        pool = pool_of(call, body)
        client = backend(call).describe_user_pool_client(pool.id, required(body, "ClientId"))
        check_scopes(pool, body.get("AllowedOAuthScopes"))
        # AWS resets every attribute the update does not send (the name stays).
        config = dict(CLIENT_DEFAULTS)
        config["ClientName"] = client.extended_config.get("ClientName")
        config.update({k: v for k, v in body.items() if k not in ("UserPoolId", "ClientId")})
        client.extended_config = config
        return ok({"UserPoolClient": client.to_json(extended=True)})
