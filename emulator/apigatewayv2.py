"""apigatewayv2 (HTTP APIs): UpdateStage and GetAuthorizers, which moto lacks; UpdateRoute that
can clear a route's scopes; and AWS's rules moto skips: a route key or stage name is unique in its
API (409 ConflictException), and deleting what does not exist is a 404 NotFoundException."""
from datetime import datetime

from moto.apigatewayv2.models import apigatewayv2_backends

from .core import PASS, AWSError, Registry, RestJSON, json_response

API = r"/v2/apis/(?P<api>[^/]+)"
PROTOCOL = RestJSON()
# UpdateStage's members (camelCase on the wire) and the Stage attribute each one sets.
STAGE_MEMBERS = {"accessLogSettings": "access_log_settings", "autoDeploy": "auto_deploy",
                 "clientCertificateId": "client_certificate_id", "defaultRouteSettings": "default_route_settings",
                 "deploymentId": "deployment_id", "description": "description", "routeSettings": "route_settings",
                 "stageVariables": "stage_variables"}


def api_of(call):
    return apigatewayv2_backends[call.account][call.region].get_api(call.params["api"])  # 404 if missing


def conflict(message):
    return AWSError("ConflictException", message, 409)


def register(reg: Registry):
    def rest(method, path, action, **kw):
        return reg.rest(PROTOCOL, method, API + path, action, **kw)

    @rest("PATCH", r"/stages/(?P<stage>[^/]+)", "UpdateStage")
    def update_stage(call):
        stage = api_of(call).get_stage(call.params["stage"])
        body = call.json()
        for member, attribute in STAGE_MEMBERS.items():
            if member in body:
                setattr(stage, attribute, body[member])
        stage.updated = datetime.now()
        answer = stage.to_json()
        if getattr(stage, "deployment_id", None):
            answer["deploymentId"] = stage.deployment_id
        return json_response(answer)

    @rest("GET", r"/authorizers", "GetAuthorizers")
    def get_authorizers(call):
        items = [a.to_json() for a in api_of(call).authorizers.values()]
        token, limit = call.query_value("nextToken"), call.query_value("maxResults")
        start = 0
        if token is not None:
            if not token.isdigit() or int(token) > len(items):
                raise AWSError("BadRequestException", "Invalid nextToken", 400)
            start = int(token)
        if limit is not None:
            if not limit.isdigit() or not 1 <= int(limit) <= 500:
                raise AWSError("BadRequestException", "maxResults must be between 1 and 500", 400)
            end = start + int(limit)
        else:
            end = len(items)
        answer = {"items": items[start:end]}
        if end < len(items):
            answer["nextToken"] = str(end)
        return json_response(answer)

    @rest("POST", r"/routes", "CreateRoute", check_only=True)
    def create_route(call):
        key = call.json().get("routeKey")
        if any(r.route_key == key for r in api_of(call).routes.values()):
            raise conflict(f"Route with key {key} already exists for this API")
        return PASS

    @rest("PATCH", r"/routes/(?P<route>[^/]+)", "UpdateRoute")
    def update_route(call):
        api = api_of(call)
        route = api.get_route(call.params["route"])
        body = call.json()
        key = body.get("routeKey")
        if key and any(r.route_key == key and r is not route for r in api.routes.values()):
            raise conflict(f"Route with key {key} already exists for this API")
        api.update_route(route.route_id, api_key_required=body.get("apiKeyRequired"),
                         authorization_scopes=body.get("authorizationScopes"),
                         authorization_type=body.get("authorizationType"), authorizer_id=body.get("authorizerId"),
                         model_selection_expression=body.get("modelSelectionExpression"),
                         operation_name=body.get("operationName"), request_models=body.get("requestModels"),
                         request_parameters=body.get("requestParameters"), route_key=key,
                         route_response_selection_expression=body.get("routeResponseSelectionExpression"),
                         target=body.get("target"))
        # moto ignores an empty list; AWS clears the route's scopes with it.
        if body.get("authorizationScopes") == []:
            route.authorization_scopes = []
        return json_response(route.to_json())

    @rest("POST", r"/stages", "CreateStage", check_only=True)
    def create_stage(call):
        name = call.json().get("stageName")
        if name in api_of(call).stages:
            raise conflict(f"Stage {name} already exists")
        return PASS

    # Deletes: AWS answers 404 for what is not there; moto answers 204 (passes on once found).
    @rest("DELETE", r"", "DeleteApi", check_only=True)
    def delete_api(call):
        api_of(call)
        return PASS

    @rest("DELETE", r"/routes/(?P<route>[^/]+)", "DeleteRoute", check_only=True)
    def delete_route(call):
        api_of(call).get_route(call.params["route"])
        return PASS

    @rest("DELETE", r"/stages/(?P<stage>[^/]+)", "DeleteStage", check_only=True)
    def delete_stage(call):
        api_of(call).get_stage(call.params["stage"])
        return PASS

    @rest("DELETE", r"/integrations/(?P<integration>[^/]+)", "DeleteIntegration", check_only=True)
    def delete_integration(call):
        api_of(call).get_integration(call.params["integration"])
        return PASS

    @rest("DELETE", r"/authorizers/(?P<authorizer>[^/]+)", "DeleteAuthorizer", check_only=True)
    def delete_authorizer(call):
        api_of(call).get_authorizer(call.params["authorizer"])
        return PASS
