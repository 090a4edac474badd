// The /v1/attestations routes (attestation campaigns, service/attestations.h):
//   POST /v1/attestations                  {"scope": "pools"|"eligibility", "due"?: "336h"}
//                                          -> 201 the campaign (admins and auditors)
//   GET  /v1/attestations?state=open|closed -> {"campaigns": [...]} (owners: only their items)
//   GET  /v1/attestations/{id}[?format=csv] -> the campaign, or its items as CSV
//   POST /v1/attestations/{id}/items/{item} {"answer": "confirm"|"remove", "note"?}
//                                          -> 200 the campaign (the item's owners only)
#pragma once

#include "api/api.h"
#include "service/service.h"

namespace bg::api {

void AddAttestationRoutes(Api& api, service::Service& svc);

}  // namespace bg::api
