// How the store writes domain values: enum names, role lists, and the JSON body of a request.
//
// The stored spellings are the store's own (they must not change when an API spelling does), so
// they are tabled here rather than borrowed from core. Decoding never trusts the database: a value
// it does not know is an Internal error naming the column (e.g. "requests.state").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/request.h"
#include "core/review.h"
#include "store/store.h"
#include "util/result.h"

namespace bg::store {

std::string_view StoredName(core::RequestState s);
Result<core::RequestState> ParseStoredState(std::string_view s, std::string_view column);
// The states ListOpenRequests returns (and the partial index `requests_open` covers).
bool IsOpenState(core::RequestState s);

std::string_view StoredName(core::TimerKind k);
Result<core::TimerKind> ParseStoredTimerKind(std::string_view s, std::string_view column);

std::string_view StoredName(core::Role r);
// "approver,admin"; the empty list is "".
std::string EncodeRoles(const std::vector<core::Role>& roles);
Result<std::vector<core::Role>> DecodeRoles(std::string_view text, std::string_view column);

// Every field of `r` except those the requests table keeps in columns (id, requester, state,
// created_at, ends_at, version), as compact JSON.
std::string EncodeRequestBody(const core::Request& r);
// Fills the body fields of `r` from `json`. Missing keys keep their defaults; a key of the wrong
// type or a malformed document is Internal naming `column` and the key.
Status DecodeRequestBody(std::string_view json, std::string_view column, core::Request& r);

// reviews.body: every field of a review except those the reviews table keeps in columns (id,
// request, requester, state, opened_at, due_at, overdue_alerted, version), as compact JSON.
std::string EncodeReviewBody(const core::Review& r);
Status DecodeReviewBody(std::string_view json, std::string_view column, core::Review& r);
Result<core::ReviewState> ParseStoredReviewState(std::string_view s, std::string_view column);

// campaigns.body: every field of a campaign except those the campaigns table keeps in columns
// (id, scope, state, opened_at, due_at, version), as compact JSON.
std::string EncodeCampaignBody(const core::Campaign& c);
Status DecodeCampaignBody(std::string_view json, std::string_view column, core::Campaign& c);

// drills.body: every field of a drill except those the drills table keeps in columns (id,
// resource, state, started_at, finished_at, version), as compact JSON.
std::string EncodeDrillBody(const DrillRecord& d);
Status DecodeDrillBody(std::string_view json, std::string_view column, DrillRecord& d);

// users.passkeys: a JSON array of objects (binary fields base64url). Decoding a malformed value
// is Internal naming `column`.
std::string EncodePasskeys(const std::vector<PasskeyRecord>& passkeys);
Result<std::vector<PasskeyRecord>> DecodePasskeys(std::string_view text, std::string_view column);

}  // namespace bg::store
