# Generates openapi.json (go generate ./internal/httpapi). Edit this, not the JSON;
# TestOpenAPIMatchesRoutes and TestOpenAPISchemasMatchWireTypes hold the result
# equal to the route table and the sdk/admin wire types.
import json
def ref(n): return {"$ref": "#/components/schemas/"+n}
def arr(x): return {"type":"array","items":x}
S={"type":"string"}; I={"type":"integer"}; T={"type":"string","format":"date-time"}
def nullable(x): return {"oneOf":[x,{"type":"null"}]}
schemas={
 "Error":{"type":"object","required":["error"],"properties":{"error":S,"error_description":S,"problems":arr(S)},
   "description":"RFC 6749 §5.2 error shape, with the list of validation problems when there are several."},
 "TenantSettings":{"type":"object","properties":{"access_token_ttl":{**I,"description":"default access-token lifetime in seconds for the tenant's clients; 0 = server default"},
   "rate_limits":{**ref("RateLimits"),"description":"gateway budgets of the tenant's credentials (clients, API keys, users) that set none of their own"},
   "hand_out":{**ref("HandOut"),"description":"what the tenant's administrators may give their clients in the console; only the admin API (the operator) changes it"},
   "allow_http_redirects":{"type":"boolean","description":"permit http:// redirect URIs (never localhost); each registration is logged"},
   "allow_local_redirects":{"type":"boolean","description":"permit localhost, loopback and private-address redirect URIs (development)"},
   "session_lifetime":{**I,"minimum":0,"description":"seconds a user authorization (refresh family) lasts however often it is refreshed, 3600 to 31536000; 0 = the server's --refresh-family-lifetime (30 days)"},
   "refresh_grace":{**I,"minimum":0,"maximum":60,"description":"seconds after a refresh in which the client may retry it with the same token and get the same pair (a lost response); 0 = the server's --refresh-grace (off by default)"},
   "one_active_integration":{"type":"boolean","description":"allow one client with the authorization_code grant (an API configuration) in the tenant; creating a second, or adding the grant to another client, fails with 409 until the first is deleted"},
   "pat_max_active":{**I,"minimum":0,"maximum":1000,"description":"live personal access tokens per user; 0 = 10. One more fails with 409 naming the limit"},
   "pat_forbid_never":{"type":"boolean","description":"refuse personal access tokens that never expire"},
   "pat_max_lifetime":{**I,"minimum":0,"description":"seconds a personal access token may live at most, one day to ten years; 0 = no cap (a cap also forbids never)"},
   "api_session_lifetime":{**I,"minimum":0,"description":"seconds an API-key session (POST /auth/login) lasts however often it is refreshed, 300 to 31536000; 0 = 24 hours"},
   "refresh_skew":{**I,"minimum":0,"maximum":86400,"description":"seconds before its access token expires that an API-key session may refresh; earlier is refresh_too_early; 0 = 30"},
   "api_key_logins_per_hour":{**I,"minimum":0,"maximum":100000,"description":"logins one API key may make per hour; more get 429 and a security event; 0 = 20"},
   "user_auth_mode":{"type":"string","enum":["pat","oauth"],"description":"how the tenant's users call the API: personal access tokens (pat, the default) or access tokens from the tenant's identity provider (oauth, which needs idp.issuer, idp.audiences and idp.claim_namespace). Only one works at a time; switching keeps the other's credentials, which work again on switching back"},
   "idp":ref("IdPSettings"),
   "webhook_url":{"type":"string","description":"https URL that receives the tenant's notifications (see docs/webhooks.md); empty for none"}}},
 "IdPSettings":{"type":"object","description":"the tenant's own OAuth 2.0 / OpenID Connect provider, whose access tokens stand for its users in oauth mode. Discovery and JWKS are fetched from the issuer (https only; private addresses only if the operator allows)",
   "properties":{"issuer":{**S,"description":"issuer URL; tokens' iss must equal it"},
     "audiences":{**arr(S),"maxItems":20,"description":"a token's aud must contain one of these"},
     "claim_namespace":{**S,"description":"prefix of the custom claims, e.g. https://example.com: <ns>/email names the user by login; <ns>/tenant, if present, must equal the tenant name exactly"},
     "require_tenant_claim":{"type":"boolean","description":"refuse tokens without <ns>/tenant"}}},
 "Webhook":{"type":"object","required":["url","signing_secret"],"properties":{"url":{**S,"description":"empty: no webhook"},
   "signing_secret":{**S,"description":"whsec_…: the key of the webhook-signature HMAC (see docs/webhooks.md); derived from the master key, the same on every replica"}}},
 "WebhookDelivery":{"type":"object","required":["id","type","status","attempts","delivered_at","last_error"],"properties":{"id":{**S,"description":"the webhook-id header of the delivery"},"type":S,
   "status":{"type":"string","enum":["pending","delivered","abandoned"]},"attempts":I,"delivered_at":nullable(T),"last_error":{**S,"description":"why the last attempt failed; empty if none did"}}},
 "IdPTest":{"type":"object","required":["ok","issuer","jwks_uri","key_ids","algs","error"],"description":"what a test of the identity provider's configuration found",
   "properties":{"ok":{"type":"boolean"},"issuer":S,"jwks_uri":S,"key_ids":{**arr(S),"description":"kids of the public signing keys the JWKS publishes"},
     "algs":{**arr(S),"description":"signing algorithms the provider announces"},"error":{**S,"description":"why discovery or the key fetch failed; empty when ok"}}},
 "HandOut":{"type":"object","properties":{"scopes":{**arr(S),"maxItems":200,"description":"scopes a client made in the console may have (openid, profile, email and gatehouse:tokens are always allowed, and not listed)"},
   "audiences":{**arr(S),"maxItems":200,"description":"audiences a client made in the console may have"},
   "from_routes":{"type":"boolean","description":"in responses: no lists are set, so these are the scopes and audiences of the gateway routes that carry {tenant}. In a change: true goes back to them; otherwise each list given replaces the one in force"}},
   "description":"What a tenant's administrators may hand out. A company administrator cannot create a client beyond it, nor with a scope their own roles do not grant; the operator (this API) can."},
 "Tenant":{"type":"object","required":["id","name","settings","created_at","updated_at"],"properties":{"id":S,"name":{**S,"description":"case-sensitive, unique, used in URLs"},"settings":ref("TenantSettings"),"created_at":T,"updated_at":T}},
 "TenantInput":{"type":"object","additionalProperties":False,"properties":{"name":{**S,"pattern":"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"},"settings":ref("TenantSettings")}},
 "Quota":{"type":"object","properties":{"count":{**I,"minimum":0},"per":{**I,"description":"seconds","minimum":0}},"description":"at most count tokens (or requests) per `per` seconds; zeros turn an issue_quota off and make a rate limit inherit"},
 "RateLimits":{"type":"object","properties":{"read":{**ref("Quota"),"description":"budget for GET, HEAD and OPTIONS requests"},"write":{**ref("Quota"),"description":"budget for other requests"}},
   "description":"gateway budgets: count 1-1000000 requests per 1-86400 seconds, or zeros to inherit the next level's. Precedence: a route's own limit in the routes file, then the client's, then its tenant's, then the server default (600 per minute read, 200 per minute write). In input, an absent read or write is left alone."},
 "SecretInfo":{"type":"object","required":["id","hint","created_at","expires_at"],"properties":{"id":S,"hint":{**S,"description":"non-secret prefix of the secret"},"created_at":T,"expires_at":nullable(T)}},
 "Client":{"type":"object","required":["client_id","tenant","name","grants","scopes","audiences","redirect_uris","access_token_ttl","token_format","issue_quota","rate_limits","secrets","granted_tenants","created_at","updated_at","last_used_at","tokens_issued","gateway_requests","owner_user_id"],
   "properties":{"client_id":S,"client_secret":{**S,"description":"present only in the response that created the client"},"tenant":S,"name":S,
     "grants":arr({"type":"string","enum":["client_credentials","authorization_code"]}),"scopes":arr(S),"audiences":arr(S),"redirect_uris":arr({"type":"string","format":"uri"}),
     "access_token_ttl":{**I,"description":"seconds; 0 = tenant default"},"token_format":{"type":"string","enum":["jwt","opaque"]},"issue_quota":ref("Quota"),"rate_limits":ref("RateLimits"),
     "secrets":arr(ref("SecretInfo")),"granted_tenants":{**arr(S),"description":"other tenants this client may act on; its tokens cover them too (the orgs claim)"},"created_at":T,"updated_at":T,"last_used_at":nullable(T),"tokens_issued":I,"gateway_requests":{**I,"description":"requests made through the gateway with this client's tokens (batched: a few seconds behind)"},
     "owner_user_id":{**S,"description":"the user a user-based integration belongs to: only they may authorize it; empty for none"}}},
 "ClientInput":{"type":"object","additionalProperties":False,"properties":{"name":S,"grants":arr(S),"scopes":arr(S),"audiences":arr(S),"redirect_uris":arr(S),
   "access_token_ttl":{**I,"description":"seconds, 60 to 2592000, or 0 for the tenant default"},"token_format":{"type":"string","enum":["jwt","opaque"]},"issue_quota":ref("Quota"),"rate_limits":ref("RateLimits"),
   "owner_user_id":{**S,"description":"id of a user of the tenant who alone may authorize the client; empty to end ownership"}}},
 "RotateInput":{"type":"object","additionalProperties":False,"properties":{"previous_expires_in":{**I,"minimum":0,"description":"seconds until the previous secrets expire; 0 = valid until retired"}}},
 "RotateOutput":{"type":"object","required":["client_secret","secret","client"],"properties":{"client_secret":{**S,"description":"the new secret, shown this once"},"secret":ref("SecretInfo"),"client":ref("Client")}},
 "Event":{"type":"object","required":["id","time","actor","action","target","ip","user_agent","outcome","detail"],"properties":{"id":I,"time":T,"actor":S,"action":S,"target":S,"ip":S,"user_agent":S,"outcome":{"type":"string","enum":["success","failure"]},"detail":{"type":"object"}}},
 "Key":{"type":"object","required":["kid","alg","current","activates_at","retired_at"],"properties":{"kid":S,"alg":{"type":"string","enum":["ES256","RS256","EdDSA"]},"current":{"type":"boolean","description":"the key signing now"},"activates_at":{**T,"description":"when the key signs from; published in the JWKS before"},"retired_at":nullable(T)}},
 "RotateKeyInput":{"type":"object","additionalProperties":False,"properties":{"alg":{"type":"string","enum":["ES256","RS256","EdDSA"]},"immediate":{"type":"boolean","description":"sign with the new key at once instead of after --key-publish-ahead (for a compromised key; verifiers that cached the key set refuse new tokens until they refetch it)"}}},
 "LinkInput":{"type":"object","additionalProperties":False,"required":["path","subject","ttl"],"properties":{
   "path":{"type":"string","description":"a clean absolute path the gateway routes, optionally with a query, e.g. /api/acme/files/42"},
   "subject":{"type":"string","maxLength":256,"description":"who the upstream is told is downloading (X-Gatehouse-Subject)"},
   "ttl":{"type":"integer","minimum":1,"maximum":3600,"description":"lifetime in seconds, at most one hour"}}},
 "Link":{"type":"object","required":["url","expires_at"],"properties":{"url":{"type":"string","description":"absolute URL; a GET needs no bearer token until expires_at"},"expires_at":T}},
}
B={"type":"boolean"}
schemas.update({
 "User":{"type":"object","required":["id","tenant","email","name","roles","api_enabled","api_access","has_password","groups","created_at","updated_at","last_login_at"],
   "description":"A person who signs in to a tenant. The password never appears in any response.",
   "properties":{"id":S,"tenant":S,"email":{**S,"description":"login name; unique in the tenant ignoring case"},"name":S,
     "roles":{**arr(S),"description":"preset or tenant role names; see GET .../roles"},"api_enabled":B,
     "api_access":{**B,"description":"the API-access rule's outcome: super, or api_enabled on the user or on any group they belong to"},
     "has_password":{**B,"description":"false: the user cannot log in"},"groups":{**arr(S),"description":"ids of the groups the user belongs to"},
     "rate_limits":{**ref("RateLimits"),"description":"the user's own gateway budgets, for their PATs, IdP tokens and API-key sessions; a zero quota inherits the tenant's"},
     "created_at":T,"updated_at":T,"last_login_at":nullable(T)}},
 "UserInput":{"type":"object","additionalProperties":False,"properties":{
   "email":{**S,"maxLength":254,"description":"required on create; a bare address"},"name":{**S,"maxLength":200},
   "password":{**S,"description":"12 characters to 1024 bytes, stored as an argon2id hash; \"\" removes it (the user can no longer log in)"},
   "roles":{**arr(S),"description":"replaces the user's roles; each a preset or a tenant role"},"api_enabled":B,
   "rate_limits":{**ref("RateLimits"),"description":"the user's own gateway budgets; a quota left out is unchanged, a zero one inherits the tenant's"}}},
 "APIAccessInput":{"type":"object","additionalProperties":False,"required":["user_ids","enabled"],"properties":{
   "user_ids":{**arr(S),"minItems":1,"maxItems":1000},"enabled":B}},
 "Group":{"type":"object","required":["id","tenant","name","api_enabled","created_at","updated_at"],"properties":{"id":S,"tenant":S,"name":S,
   "api_enabled":{**B,"description":"gives every member API access"},"created_at":T,"updated_at":T}},
 "GroupInput":{"type":"object","additionalProperties":False,"properties":{"name":{**S,"pattern":"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$","description":"required on create; unique in the tenant"},"api_enabled":B}},
 "Role":{"type":"object","required":["name","scopes","preset"],"properties":{"name":S,"scopes":arr(S),"preset":{**B,"description":"true for the built-in roles, which cannot be changed or deleted"}}},
 "RoleInput":{"type":"object","additionalProperties":False,"required":["name","scopes"],"properties":{
   "name":{**S,"pattern":"^[a-z][a-z0-9_.-]{0,62}$","description":"not a preset's name"},"scopes":{**arr(S),"minItems":1,"maxItems":100}}},
})
schemas.update({
 "PersonalToken":{"type":"object","required":["id","tenant","user_id","name","prefix","status","created_at","expires_at","revoked_at","last_used_at","last_used_ip"],
   "description":"A user's personal access token (gate_pat_...). Only its SHA-256 is stored; the token itself is in the self-service creation response (POST /auth/tokens on the public listener) and nowhere else.",
   "properties":{"id":S,"tenant":S,"user_id":S,"name":S,"prefix":{**S,"description":"the token's first characters, to tell tokens apart"},
     "status":{"type":"string","enum":["active","revoked","expired"]},"created_at":T,
     "expires_at":{**nullable(T),"description":"null: never expires"},"revoked_at":nullable(T),"last_used_at":nullable(T),
     "last_used_ip":{**S,"description":"\"\" until first used"},
     "scopes":{**arr(S),"description":"present when the token is restricted to these of its user's scopes (it was created by a narrower credential); absent, it acts with every scope the user's roles grant"},
     "token":{**S,"description":"the token, in the creation response only"}}},
 "PersonalTokenInput":{"type":"object","additionalProperties":False,"required":["name","expiry"],
   "description":"Self-service creation at POST /auth/tokens on the public listener (not an admin operation).",
   "properties":{"name":{**S,"maxLength":100},"expiry":{**S,"description":"7d, 30d, 90d, never, a date (YYYY-MM-DD, valid through that day, UTC) or an RFC 3339 time"},
     "scopes":{**arr(S),"maxItems":100,"description":"restrict the token to these scopes, which the calling token must hold; left out, the token gets the calling token's reach (every scope of the user's roles for an unrestricted PAT)"}}},
})
schemas.update({
 "ConsentGrant":{"type":"object","required":["client_id","client_name","scopes","created_at","updated_at"],
   "description":"What a user approved for a client on the consent page (remembered consent): a later authorization by the user asking the client for no more of these scopes is granted without the page, unless it says prompt=consent. gatehouse:tokens is never remembered, so never listed. The user sees and withdraws their own at GET and DELETE /auth/consents on the public listener.",
   "properties":{"client_id":S,"client_name":S,"scopes":{**arr(S),"description":"sorted; each consent adds to them, none takes any away"},
     "created_at":{**T,"description":"the first consent"},"updated_at":{**T,"description":"the latest consent"}}},
})
schemas.update({
 "APIKey":{"type":"object","required":["id","tenant","user_id","client_id","name","prefix","status","created_at","expires_at","revoked_at","last_login_at"],
   "description":"An API key (gate_ak_...), exchanged at POST /auth/login on the public listener for an API-key session. Only its SHA-256 is stored; the key itself is in the creation response only.",
   "properties":{"id":S,"tenant":S,"user_id":{**S,"description":"the user the key acts for, or \"\""},"client_id":{**S,"description":"the client the key acts as, or \"\""},
     "name":S,"prefix":{**S,"description":"the key's first characters"},"status":{"type":"string","enum":["active","revoked","expired"]},"created_at":T,
     "expires_at":{**nullable(T),"description":"null: never expires"},"revoked_at":nullable(T),"last_login_at":nullable(T),
     "api_key":{**S,"description":"the key, in the creation response only"}}},
 "APIKeyInput":{"type":"object","additionalProperties":False,"required":["name"],
   "description":"Exactly one of user_id (a user of the tenant) and client_id (a client of the tenant).",
   "properties":{"name":{**S,"maxLength":100},"user_id":S,"client_id":S,"expires_at":{**T,"description":"optional; omitted: never expires"}}},
})
def listof(n): return {"type":"object","required":["items","next"],"properties":{"items":arr(ref(n)),"next":{**nullable(S),"description":"cursor of the next page, null on the last"}}}
for n in ["Tenant","Client","Event","Key","User","Group","Role","PersonalToken","APIKey","ConsentGrant"]: schemas[n+"List"]=listof(n)
def resp(desc, schema=None):
    r={"description":desc}
    if schema: r["content"]={"application/json":{"schema":schema}}
    return r
err=lambda d: resp(d, ref("Error"))
common={"401":err("missing or invalid admin token"),"500":err("internal error")}
def body(n): return {"required":True,"content":{"application/json":{"schema":ref(n)}}}
def p(name, where="path", desc="", schema=S):
    return {"name":name,"in":where,"required":where=="path","description":desc,"schema":schema}
user=p("user",desc="user id"); group=p("group",desc="group id"); role=p("role",desc="tenant role name")
tenant=p("tenant",desc="tenant name (case-sensitive)"); client=p("client",desc="client id"); sec=p("secret",desc="secret id"); other=p("other",desc="name of the other tenant")
pageq=[p("after","query","cursor: the `next` of the previous page"),p("limit","query","page size, 1-1000 (default 100)",{"type":"integer","minimum":1,"maximum":1000})]
auditq=[p("since","query","RFC 3339 time, inclusive",T),p("until","query","RFC 3339 time, exclusive",T),p("action","query","exact action, or a prefix ending in '.' (e.g. client.)"),
  p("actor","query","exact actor, e.g. user:usr_…, client:gc_…, admin:bootstrap"),p("outcome","query","success or failure",{"type":"string","enum":["success","failure"]}),p("cursor","query","the `next` of the previous page"),p("limit","query","page size, 1-1000 (default 100)",{"type":"integer","minimum":1,"maximum":1000})]
def op(summary, oid, params=None, rb=None, responses=None):
    o={"summary":summary,"operationId":oid,"responses":{**responses,**common}}
    if params: o["parameters"]=params
    if rb: o["requestBody"]=rb
    return o
bad={"400":err("invalid input (the problems are listed)"),"413":err("body over 1 MiB"),"415":err("Content-Type is not application/json")}
nf={"404":err("no such tenant or client")}
paths={
 "/admin/v1/tenants":{
   "get":op("List tenants by name","listTenants",pageq,None,{"200":resp("a page of tenants",ref("TenantList")),"400":err("bad paging parameters")}),
   "post":op("Create a tenant","createTenant",None,body("TenantInput"),{"201":resp("created",ref("Tenant")),**bad,"409":err("name taken")})},
 "/admin/v1/tenants/{tenant}":{
   "parameters":[tenant],
   "get":op("Get a tenant","getTenant",None,None,{"200":resp("the tenant",ref("Tenant")),**nf}),
   "patch":op("Change a tenant's name or settings","updateTenant",None,body("TenantInput"),{"200":resp("the changed tenant",ref("Tenant")),**bad,**nf,"409":err("name taken")}),
   "delete":op("Delete a tenant and everything it owns","deleteTenant",None,None,{"204":resp("deleted"),**nf})},
 "/admin/v1/tenants/{tenant}/idp/test":{
   "parameters":[tenant],
   "post":op("Test an identity provider: fetch its discovery document and JWKS (of the issuer given, else the one configured) and report what was found","testIdP",None,
     {"required":False,"content":{"application/json":{"schema":{"type":"object","additionalProperties":False,"properties":{"issuer":{**S,"description":"an issuer to try before saving it"}}}}}},
     {"200":resp("what was found; ok false with the error when discovery or the key fetch failed",ref("IdPTest")),**bad,**nf})},
 "/admin/v1/tenants/{tenant}/webhook":{
   "parameters":[tenant],
   "get":op("The tenant's webhook URL and the secret deliveries are signed with","getWebhook",None,None,{"200":resp("the webhook",ref("Webhook")),**nf})},
 "/admin/v1/tenants/{tenant}/webhook/ping":{
   "parameters":[tenant],
   "post":op("Send a ping event to the tenant's webhook now and report its first attempt (waiting up to 12 s)","pingWebhook",None,None,
     {"200":resp("the delivery: delivered, or pending with last_error",ref("WebhookDelivery")),**nf,"409":err("the tenant has no webhook_url")})},
 "/admin/v1/tenants/{tenant}/clients":{
   "parameters":[tenant],
   "get":op("List a tenant's clients","listClients",pageq,None,{"200":resp("a page of clients",ref("ClientList")),"400":err("bad paging parameters"),**nf}),
   "post":op("Create a client; the response carries its secret, this once","createClient",None,body("ClientInput"),{"201":resp("created, with client_secret",ref("Client")),**bad,**nf,"409":err("the tenant allows one active API integration and has one")})},
 "/admin/v1/tenants/{tenant}/clients/{client}":{
   "parameters":[tenant,client],
   "get":op("Get a client","getClient",None,None,{"200":resp("the client (no secret)",ref("Client")),**nf}),
   "patch":op("Change a client","updateClient",None,body("ClientInput"),{"200":resp("the changed client",ref("Client")),**bad,**nf,"409":err("the tenant allows one active API integration and has one")}),
   "delete":op("Delete a client; its tokens stop working","deleteClient",None,None,{"204":resp("deleted"),**nf})},
 "/admin/v1/tenants/{tenant}/clients/{client}/secrets":{
   "parameters":[tenant,client],
   "post":op("Rotate: add a new secret (shown once); the previous one stays valid until retired or until previous_expires_in","rotateSecret",None,{"required":False,"content":{"application/json":{"schema":ref("RotateInput")}}},
     {"201":resp("the new secret",ref("RotateOutput")),**bad,**nf,"409":err("two secrets are active: retire one first")})},
 "/admin/v1/tenants/{tenant}/clients/{client}/secrets/{secret}":{
   "parameters":[tenant,client,sec],
   "delete":op("Retire a secret at once","retireSecret",None,None,{"200":resp("the client",ref("Client")),**nf,"409":err("the only secret cannot be retired")})},
 "/admin/v1/tenants/{tenant}/clients/{client}/granted-tenants/{other}":{
   "parameters":[tenant,client,other],
   "put":op("Let the client act on another tenant: its tokens cover it too (idempotent)","grantTenant",None,None,{"200":resp("the client",ref("Client")),"400":err("the client's own tenant"),**nf}),
   "delete":op("Withdraw the client's access to another tenant","revokeTenant",None,None,{"200":resp("the client",ref("Client")),**nf})},
 "/admin/v1/tenants/{tenant}/audit":{
   "parameters":[tenant],
   "get":op("A tenant's activity log, newest first","tenantAudit",auditq,None,{"200":resp("a page of events",ref("EventList")),"400":err("bad filter"),**nf})},
 "/admin/v1/audit":{
   "get":op("Server-wide activity log (key rotations, unknown clients), newest first","serverAudit",auditq,None,{"200":resp("a page of events",ref("EventList")),"400":err("bad filter")})},
 "/admin/v1/keys":{
   "get":op("List published signing keys","listKeys",None,None,{"200":resp("the keys",ref("KeyList"))})},
 "/admin/v1/keys/rotate":{
   "post":op("Publish a new signing key, which signs after --key-publish-ahead (or at once with immediate); the old ones stay published until their tokens expire","rotateKey",None,{"required":False,"content":{"application/json":{"schema":ref("RotateKeyInput")}}},
     {"201":resp("the new key",ref("Key")),**bad})},
 "/admin/v1/links":{
   "post":op("Sign a file link: a GET of a gateway path that needs no bearer token for up to an hour (HMAC under a key derived from the current signing key)","signLink",None,{"required":True,"content":{"application/json":{"schema":ref("LinkInput")}}},
     {"201":resp("the signed link",ref("Link")),**bad})},
}
unf={"404":err("no such tenant or user")}; gnf={"404":err("no such tenant, group or user")}
last={"409":err("the tenant's last super user cannot lose the role or be deleted")}
paths.update({
 "/admin/v1/tenants/{tenant}/users":{
   "parameters":[tenant],
   "get":op("List a tenant's users by id","listUsers",pageq+[p("q","query","keep users whose email or name starts with this (ignoring case)")],None,{"200":resp("a page of users",ref("UserList")),"400":err("bad paging or search parameters"),**nf}),
   "post":op("Create a user","createUser",None,body("UserInput"),{"201":resp("created",ref("User")),**bad,**nf,"409":err("a user with that email exists in the tenant (ignoring case)")})},
 "/admin/v1/tenants/{tenant}/users/api-access":{
   "parameters":[tenant],
   "post":op("Turn api_enabled on or off for several users: all of them, or none when one id is unknown","setAPIAccess",None,body("APIAccessInput"),
     {"204":resp("changed"),**bad,"404":err("no such tenant, or an unknown user id (named; nothing changed)")})},
 "/admin/v1/tenants/{tenant}/users/{user}":{
   "parameters":[tenant,user],
   "get":op("Get a user","getUser",None,None,{"200":resp("the user",ref("User")),**unf}),
   "patch":op("Change a user","updateUser",None,body("UserInput"),{"200":resp("the changed user",ref("User")),**bad,**unf,"409":err("email taken, or the tenant's last super user would lose the role")}),
   "delete":op("Delete a user","deleteUser",None,None,{"204":resp("deleted"),**unf,**last})},
 "/admin/v1/tenants/{tenant}/groups":{
   "parameters":[tenant],
   "get":op("List a tenant's groups by id","listGroups",pageq,None,{"200":resp("a page of groups",ref("GroupList")),"400":err("bad paging parameters"),**nf}),
   "post":op("Create a group","createGroup",None,body("GroupInput"),{"201":resp("created",ref("Group")),**bad,**nf,"409":err("name taken in the tenant")})},
 "/admin/v1/tenants/{tenant}/groups/{group}":{
   "parameters":[tenant,group],
   "get":op("Get a group","getGroup",None,None,{"200":resp("the group",ref("Group")),**gnf}),
   "patch":op("Change a group's name or api_enabled","updateGroup",None,body("GroupInput"),{"200":resp("the changed group",ref("Group")),**bad,**gnf,"409":err("name taken in the tenant")}),
   "delete":op("Delete a group; its members stay in the tenant","deleteGroup",None,None,{"204":resp("deleted"),**gnf})},
 "/admin/v1/tenants/{tenant}/groups/{group}/members":{
   "parameters":[tenant,group],
   "get":op("List a group's members by id","listGroupMembers",pageq,None,{"200":resp("a page of users",ref("UserList")),"400":err("bad paging parameters"),**gnf})},
 "/admin/v1/tenants/{tenant}/groups/{group}/members/{user}":{
   "parameters":[tenant,group,user],
   "put":op("Put a user in a group (idempotent)","addGroupMember",None,None,{"204":resp("a member"),**gnf}),
   "delete":op("Take a user out of a group","removeGroupMember",None,None,{"204":resp("removed"),"404":err("no such tenant, group or user, or not a member")})},
 "/admin/v1/tenants/{tenant}/roles":{
   "parameters":[tenant],
   "get":op("The roles the tenant can assign: the presets, then its own","listRoles",None,None,{"200":resp("every role",ref("RoleList")),**nf}),
   "post":op("Define a tenant role","createRole",None,body("RoleInput"),{"201":resp("created",ref("Role")),**bad,**nf,"409":err("name taken in the tenant")})},
 "/admin/v1/tenants/{tenant}/roles/{role}":{
   "parameters":[tenant,role],
   "delete":op("Delete a tenant role no user holds","deleteRole",None,None,{"204":resp("deleted"),"404":err("no such tenant or tenant role (presets cannot be deleted)"),"409":err("users hold the role")})},
})
tnf={"404":err("no such tenant, user or token")}
paths.update({
 "/admin/v1/tenants/{tenant}/users/{user}/tokens":{
   "parameters":[tenant,user],
   "get":op("List a user's personal access tokens, newest first","listUserTokens",[p("include_revoked","query","true: revoked tokens too",{"type":"boolean"})],None,
     {"200":resp("the user's tokens (one page)",ref("PersonalTokenList")),**unf})},
 "/admin/v1/tenants/{tenant}/users/{user}/tokens/{token}":{
   "parameters":[tenant,user,p("token","path","a personal access token's id")],
   "delete":op("Revoke a user's personal access token: immediate and irreversible (every replica refuses it within a second)","revokeUserToken",None,None,
     {"204":resp("revoked (or already revoked)"),**tnf})},
 "/admin/v1/tenants/{tenant}/users/{user}/consents":{
   "parameters":[tenant,user],
   "get":op("List what a user approved for clients (remembered consent), most recently approved first","listConsents",None,None,
     {"200":resp("the user's consents (one page)",ref("ConsentGrantList")),**unf})},
 "/admin/v1/tenants/{tenant}/users/{user}/consents/{client}":{
   "parameters":[tenant,user,client],
   "delete":op("Withdraw a user's consent for a client: the client's sessions for the user end (refresh tokens and their access tokens, refused within a second), and its next authorization asks again","revokeConsent",None,None,
     {"204":resp("withdrawn"),"404":err("no such tenant or user, or the user has not approved the client")})},
 "/admin/v1/tenants/{tenant}/tokens/expiring":{
   "parameters":[tenant],
   "get":op("The tenant's live personal access tokens that expire within the next N days, soonest first","expiringTokens",
     [p("days","query","the window in days, 1-366 (default 7)",{"type":"integer","minimum":1,"maximum":366})],None,
     {"200":resp("the expiring tokens",ref("PersonalTokenList")),"400":err("bad days"),**nf})},
 "/admin/v1/tenants/{tenant}/api-keys":{
   "parameters":[tenant],
   "get":op("List the tenant's API keys, newest first","listAPIKeys",None,None,{"200":resp("every key of the tenant",ref("APIKeyList")),**nf}),
   "post":op("Create an API key bound to a user or a client of the tenant; the key is in this response only","createAPIKey",None,body("APIKeyInput"),
     {"201":resp("created",ref("APIKey")),**bad,"404":err("no such tenant, user or client")})},
 "/admin/v1/tenants/{tenant}/api-keys/{key}":{
   "parameters":[tenant,p("key","path","an API key's id")],
   "delete":op("Revoke an API key, irreversibly, ending its sessions (their access tokens are refused within a second)","revokeAPIKey",None,None,
     {"204":resp("revoked (or already revoked)"),"404":err("no such tenant or API key")})},
})
doc={"openapi":"3.1.0",
 "info":{"title":"Gatehouse admin API","version":"1.0.0","description":"The admin API of a Gatehouse server, on the admin listener. Authenticate with `Authorization: Bearer gate_adm_...`. Durations are whole seconds; times are RFC 3339. Every mutation is recorded in the activity log in the same transaction as the change. Client secrets appear in exactly one response: the one that created them. User passwords appear in none."},
 "servers":[{"url":"http://127.0.0.1:8081"}],
 "security":[{"adminToken":[]}],
 "paths":paths,
 "components":{"schemas":schemas,"securitySchemes":{"adminToken":{"type":"http","scheme":"bearer","description":"a gate_adm_ token: GATEHOUSE_ADMIN_TOKEN, or generated in dev mode"}}}}
json.dump(doc, open('openapi.json','w'), indent=2)
open('openapi.json','a').write("\n")
