// The authorization matrix: for every route of the main server's table (api.h, the routes
// serve_cmd.cc adds) and every kind of caller, the HTTP status the route answers. One place:
// authz_matrix_test.cc calls every cell against a real service and fails when a route has no
// row or a row no route, and renders docs/authorization.md's table from these rows.
//
// A row names the route (method and pattern), the query it is called with, what its path
// parameters and body are filled with (Subject, Body), the twelve expected statuses (one per
// Caller, in the order of kCallers) and a note that says why where the answer is not plain.
// A route may have several rows (one per subject worth showing).
//
// Test data only; included by the test alone.
#pragma once

#include <array>

namespace bg::api::authz {

// Who calls. The requester's objects are alice's; the self-approver's are dave's own.
enum Caller : int {
  kAnonymous,            // no token
  kRequester,            // alice: requester, the owner of the objects called on
  kOtherRequester,       // bob: requester, another person
  kApproverOutsidePool,  // erin: approver of another pool (net-approvers)
  kApproverInPool,       // carol: approver in dba-approvers, owner of resource db
  kSelfApprover,         // dave: requester and approver in dba-approvers, on his own objects
  kAuditor,              // sam
  kAdmin,                // root
  kDisabled,             // an account with every role, disabled after it logged in
  kExpired,              // an account with every role whose token expired
  kLoggedOut,            // an account with every role whose token was logged out
  kRecording,            // alice's recording credential for her active grant (IssueRecordingToken)
  kCallers,
};

struct CallerInfo {
  const char* column;  // the table's column head
  const char* who;     // the legend
};
inline constexpr std::array<CallerInfo, kCallers> kCallerInfo = {{
    {"anon", "anonymous: no token"},
    {"owner", "requester (alice), owner of the request, grant, session or passkey called on"},
    {"other", "another requester (bob)"},
    {"appr-out", "approver outside the request's pool (erin, of net-approvers)"},
    {"appr-in", "approver in the request's pool (carol, of dba-approvers; owner of resource db)"},
    {"self-appr",
     "requester acting as approver (dave: requester and approver in dba-approvers) on his own "
     "objects"},
    {"auditor", "auditor (sam)"},
    {"admin", "admin (root)"},
    {"disabled", "a disabled account (it has every role)"},
    {"expired", "an expired token (of an account with every role)"},
    {"logged-out", "a logged-out token (of an account with every role)"},
    {"recording", "alice's recording credential for her active db grant"},
}};

// What the path's parameters are filled with. "Fresh" subjects are made anew for every cell (a
// call that changes them cannot be repeated); the others are made once by the fixture.
enum class Subject {
  kNone,          // no path parameter
  kPending,       // the owner's pending tier-2 request (db dba, pool dba-approvers)
  kGrant,         // the owner's active tier-1 grant (db read_only, connector none)
  kSshGrant,      // the owner's active grant on bastion (connector ssh_ca)
  kSession,       // a recorded session of the owner's grant
  kReview,        // the open review of the owner's ended grant
  kCampaignItem,  // an open eligibility campaign and its item answered by carol
  kDrill,         // a finished drill of resource db (owned by carol)
  kAsset,         // a page asset (app.js)
  kFreshPending,  // a new pending request of the owner
  kFreshGrant,    // a new active grant of the owner
  kFreshSession,  // a new session of the owner's grant
  kFreshReview,   // a new open review of an ended grant of the owner
  kFreshPasskey,  // a new passkey of the owner
  kFreshLegacy,   // a new legacy path recorded by the admin
};

// What calling the route does to the caller's own token.
enum class TokenUse {
  kKeeps,
  kReplaces,  // its answer's token replaces the caller's (renew): run after the others
  kEnds,      // the caller's token ends (logout): run last
};

struct Row {
  const char* method;
  const char* pattern;
  const char* query;  // "" or "key=value&..."
  Subject subject;
  // The body sent. ${grant}: the owner's grant id; ${new}: a new session id; ${header}: an
  // asciicast header (a JSON string) of session ${new} of ${grant}; ${ssh_key}: a public key
  // line; ${login}, ${passkey_login}, ${passkey_registration}: a whole body with a login, a
  // passkey login or a passkey registration made for this cell.
  const char* body;
  std::array<int, kCallers> expect;
  const char* note;
  TokenUse token = TokenUse::kKeeps;
};

// clang-format off
// Columns: anon owner other appr-out appr-in self-appr auditor admin disabled expired logged-out recording
#define BG_ANYONE    {200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200}
#define BG_SIGNED_IN {401, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401, 403}
#define BG_READERS   {401, 403, 403, 403, 403, 403, 200, 200, 401, 401, 401, 403}
inline const Row kMatrix[] = {
  // ---- public: no token is looked at ----
  {"GET", "/healthz", "", Subject::kNone, "", BG_ANYONE, ""},
  {"GET", "/readyz", "", Subject::kNone, "", BG_ANYONE, ""},
  {"GET", "/metrics", "", Subject::kNone, "", BG_ANYONE,
   "counts labelled by route, status, connector, kind, outcome: no request id, person or token"},
  {"GET", "/v1/openapi.json", "", Subject::kNone, "", BG_ANYONE, ""},
  {"POST", "/v1/auth/login", "", Subject::kNone, "${login}", BG_ANYONE,
   "the credentials are checked, not the caller"},
  {"POST", "/v1/auth/passkey/options", "", Subject::kNone, "", BG_ANYONE, ""},
  {"POST", "/v1/auth/passkey/login", "", Subject::kNone, "${passkey_login}", BG_ANYONE,
   "the assertion is checked, not the caller"},
  {"GET", "/v1/ssh/ca", "", Subject::kNone, "", BG_ANYONE, "public key material"},
  {"GET", "/v1/ssh/krl", "", Subject::kNone, "", BG_ANYONE, "public key material"},
  {"GET", "/", "", Subject::kNone, "", BG_ANYONE,
   "the page's shell holds no data; it calls the API with the person's token"},
  {"GET", "/requests/{id}", "", Subject::kPending, "", BG_ANYONE, "page shell"},
  {"GET", "/inbox", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/new", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/grants", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/audit", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/health", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/passkeys", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/reviews", "", Subject::kNone, "", BG_ANYONE, "page shell"},
  {"GET", "/reviews/{id}", "", Subject::kReview, "", BG_ANYONE, "page shell"},
  {"GET", "/sessions/{id}/replay", "", Subject::kSession, "", BG_ANYONE, "page shell"},
  {"GET", "/assets/{name}", "", Subject::kAsset, "", BG_ANYONE, "page asset"},

  // ---- the caller's own account ----
  {"GET", "/v1/me", "", Subject::kNone, "",
   {401, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401, 200},
   "a recording credential may ask whose it is"},
  {"GET", "/v1/passkeys", "", Subject::kNone, "", BG_SIGNED_IN, "the caller's own passkeys"},
  {"POST", "/v1/passkeys/options", "", Subject::kNone, "", BG_SIGNED_IN, ""},
  {"POST", "/v1/passkeys", "", Subject::kNone, "${passkey_registration}",
   {401, 201, 201, 201, 201, 201, 201, 201, 401, 401, 401, 403}, "registers the caller's own"},
  {"DELETE", "/v1/passkeys/{id}", "", Subject::kFreshPasskey, "",
   {401, 200, 404, 404, 404, 200, 404, 404, 401, 401, 401, 403},
   "only the passkey's person; another's is not found"},
  {"GET", "/v1/request-options", "", Subject::kNone, "", BG_SIGNED_IN,
   "what the policy lets the caller ask for"},
  {"GET", "/v1/events", "", Subject::kNone, "", BG_SIGNED_IN,
   "the stream carries only events about what the caller may see"},

  // ---- requests ----
  {"POST", "/v1/requests", "", Subject::kNone,
   R"({"resource":"db","privilege":"read_only","duration":"30m","reason":"look at the slow query","ticket":"INC-1"})",
   {401, 201, 201, 403, 403, 201, 403, 403, 401, 401, 401, 403},
   "the policy's rules name who may ask (group sre); roles do not"},
  {"GET", "/v1/requests", "", Subject::kNone, "", BG_SIGNED_IN,
   "lists only what the caller may see (see below)"},
  {"GET", "/v1/requests/{id}", "", Subject::kPending, "",
   {401, 200, 404, 404, 200, 200, 200, 200, 401, 401, 401, 403},
   "another requester, or an approver outside the pool, learns nothing, not even that it exists"},
  {"GET", "/v1/requests/{id}", "", Subject::kGrant, "",
   {401, 200, 404, 404, 404, 200, 200, 200, 401, 401, 401, 200},
   "a tier-1 grant has no pool; the recording credential reads its own grant"},
  {"GET", "/v1/requests/{id}/timeline", "", Subject::kPending, "",
   {401, 200, 404, 404, 200, 200, 200, 200, 401, 401, 401, 403}, "as the request itself"},
  {"POST", "/v1/requests/{id}/approve", "", Subject::kFreshPending, "{}",
   {401, 403, 404, 404, 200, 403, 403, 403, 401, 401, 401, 403},
   "never one's own request, whatever one's roles"},
  {"POST", "/v1/requests/{id}/deny", "", Subject::kFreshPending, R"({"reason":"not like this"})",
   {401, 403, 404, 404, 200, 403, 403, 403, 401, 401, 401, 403}, "as approve"},
  {"POST", "/v1/requests/{id}/passkey-options", "", Subject::kPending, "",
   {401, 200, 404, 404, 200, 200, 200, 200, 401, 401, 401, 403},
   "a challenge for whoever sees the request; the decision checks who decides"},
  {"POST", "/v1/requests/{id}/cancel", "", Subject::kFreshPending, "{}",
   {401, 200, 404, 404, 403, 200, 403, 200, 401, 401, 401, 403},
   "the requester or an admin"},
  {"POST", "/v1/requests/{id}/revoke", "", Subject::kFreshGrant, R"({"reason":"done with it"})",
   {401, 200, 404, 404, 404, 200, 403, 200, 401, 401, 401, 403},
   "the requester, an admin or the approving pool (a tier-1 grant has none)"},
  {"POST", "/v1/requests/{id}/extend", "", Subject::kFreshGrant,
   R"({"duration":"10m","reason":"still working on it"})",
   {401, 200, 404, 404, 404, 200, 403, 403, 401, 401, 401, 403}, "the requester only"},
  {"POST", "/v1/requests/{id}/ssh-cert", "", Subject::kSshGrant, R"({"public_key":"${ssh_key}"})",
   {401, 200, 404, 404, 404, 200, 403, 403, 401, 401, 401, 403},
   "the grant's credential goes to its requester only"},
  {"GET", "/v1/requests/{id}/credentials", "", Subject::kGrant, "",
   {401, 409, 404, 404, 404, 409, 403, 403, 401, 401, 401, 403},
   "the requester only; 409: allowed, but connector none hands out no credential"},
  {"POST", "/v1/requests/{id}/recording-token", "", Subject::kGrant, "",
   {401, 201, 404, 404, 404, 201, 403, 403, 401, 401, 401, 403},
   "the requester only; a recording credential cannot make another"},

  // ---- sessions and recordings ----
  {"GET", "/v1/sessions", "", Subject::kNone, "", BG_SIGNED_IN,
   "lists only what the caller may see (see below)"},
  {"POST", "/v1/sessions", "", Subject::kNone,
   R"({"id":"${new}","request_id":"${grant}","header":${header}})",
   {401, 201, 404, 404, 404, 201, 403, 403, 401, 401, 401, 201},
   "only the grant's requester records; who may read it but not write is told so"},
  {"GET", "/v1/sessions/{id}", "", Subject::kSession, "",
   {401, 200, 404, 404, 404, 200, 200, 200, 401, 401, 401, 403},
   "the session's person, auditors and admins"},
  {"POST", "/v1/sessions/{id}/chunks", "", Subject::kFreshSession,
   R"({"seq":0,"data":"[0.5, \"o\", \"$ id\\r\\n\"]\n"})",
   {401, 201, 404, 404, 404, 201, 403, 403, 401, 401, 401, 201}, "as POST /v1/sessions"},
  {"GET", "/v1/sessions/{id}/recording", "", Subject::kSession, "",
   {401, 200, 404, 404, 404, 200, 200, 200, 401, 401, 401, 403},
   "the session's person, auditors and admins"},

  // ---- connectors ----
  {"GET", "/v1/connectors", "", Subject::kNone, "", BG_SIGNED_IN,
   "probe health for everyone; failing outbox jobs only for approvers, auditors and admins"},
  {"POST", "/v1/connectors/probe", "", Subject::kNone, "", BG_READERS, ""},
  {"POST", "/v1/ssh/revoke", "", Subject::kNone,
   R"({"serial":"7","valid_before":"2027-01-01T00:00:00Z","reason":"laptop lost"})",
   {401, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 403}, "admins only"},

  // ---- the audit log ----
  {"GET", "/v1/audit/checkpoint", "", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/audit/key", "", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/audit/entries", "", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/audit/proof/inclusion", "index=0", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/audit/proof/consistency", "first=1", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/audit/search", "", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/sinks", "", Subject::kNone, "", BG_READERS, ""},

  // ---- reviews ----
  {"GET", "/v1/reviews", "", Subject::kNone, "", BG_READERS, ""},
  {"GET", "/v1/reviews/{id}", "", Subject::kReview, "", BG_READERS, ""},
  {"POST", "/v1/reviews/{id}", "", Subject::kFreshReview, R"({"verdict":"appropriate"})",
   {401, 403, 403, 403, 403, 403, 200, 403, 401, 401, 401, 403},
   "a verdict needs the auditor role and someone who neither asked nor approved"},

  // ---- attestation campaigns and the inventory ----
  {"POST", "/v1/attestations", "", Subject::kNone, R"({"scope":"pools"})",
   {401, 403, 403, 403, 403, 403, 201, 201, 401, 401, 401, 403}, ""},
  {"GET", "/v1/attestations", "", Subject::kNone, "", BG_SIGNED_IN,
   "auditors and admins see every campaign, others the items they answer"},
  {"GET", "/v1/attestations/{id}", "", Subject::kCampaignItem, "",
   {401, 404, 404, 404, 200, 404, 200, 200, 401, 401, 401, 403},
   "a campaign that asks the caller nothing is not found"},
  {"POST", "/v1/attestations/{id}/items/{item}", "", Subject::kCampaignItem,
   R"({"answer":"confirm"})",
   {401, 404, 404, 404, 200, 404, 403, 403, 401, 401, 401, 403},
   "the item's owners; who may not read the campaign learns nothing of it"},
  {"GET", "/v1/inventory", "", Subject::kNone, "", BG_READERS, ""},
  {"POST", "/v1/inventory/legacy", "", Subject::kNone,
   R"({"description":"sealed envelope in the safe","resource":"db","decommission_by":"2027-03-31"})",
   {401, 403, 403, 403, 403, 403, 403, 201, 401, 401, 401, 403}, "admins only"},
  {"DELETE", "/v1/inventory/legacy/{id}", "", Subject::kFreshLegacy, "",
   {401, 403, 403, 403, 403, 403, 403, 200, 401, 401, 401, 403}, "admins only"},

  // ---- drills ----
  {"POST", "/v1/drills", "", Subject::kNone, R"({"resource":"db","privilege":"read_only"})",
   {401, 403, 403, 403, 409, 403, 409, 409, 401, 401, 401, 403},
   "admins, auditors and the resource's owner (carol); they get 409 here because db has no "
   "drill target, so the refusals are exactly the others"},
  {"GET", "/v1/drills", "", Subject::kNone, "", BG_SIGNED_IN,
   "admins and auditors see every drill, an owner their resources' drills, others none"},
  {"GET", "/v1/drills/report", "", Subject::kNone, "", BG_SIGNED_IN, "as the list"},
  {"GET", "/v1/drills/{id}", "", Subject::kDrill, "",
   {401, 404, 404, 404, 200, 404, 200, 200, 401, 401, 401, 403},
   "a drill the caller may not read is not found"},

  // ---- the token itself (run after the rows above) ----
  {"POST", "/v1/auth/renew", "", Subject::kNone, "", BG_SIGNED_IN,
   "a recording credential is not renewed", TokenUse::kReplaces},
  {"POST", "/v1/auth/logout", "", Subject::kNone, "",
   {401, 200, 200, 200, 200, 200, 200, 200, 401, 401, 401, 200},
   "a recorder may end its own credential", TokenUse::kEnds},
};
#undef BG_ANYONE
#undef BG_SIGNED_IN
#undef BG_READERS
// clang-format on

}  // namespace bg::api::authz
