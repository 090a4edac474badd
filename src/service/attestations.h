// Attestation campaigns in the shell (the rules are core/attestation.h): opening, owners'
// answers, closing at the deadline, the scheduled campaigns of [[attestations]], and keeping
// the policy in force without what the campaigns removed (PolicyHolder::SetRemovals).
//
// Who sees what: admins and auditors open campaigns and read all of them; a pool or resource
// owner reads the campaigns that ask them something, and only their own items.
//
// Thread-safe. Callbacks run on the writer thread after the commit.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/attestation.h"
#include "service/background.h"
#include "service/effects.h"
#include "store/store.h"
#include "util/result.h"
#include "util/time.h"

namespace bg::service {

class PolicyHolder;
class Writer;
template <typename T>
using Callback = std::function<void(Result<T>)>;

class Attestations {
 public:
  Attestations(store::Store& store, Writer& writer, const Clock& clock, Effects& effects,
               PolicyHolder& policies);

  void Open(const core::Actor& actor, core::AttestScope scope, Seconds due,
            Callback<core::Campaign> cb);
  // An owner's answer (core::AnswerItem). NotFound, as for a missing campaign, for anyone who
  // may not read the campaign (not an admin or auditor, and owning none of its items).
  void Answer(const core::Actor& actor, std::string id, std::string item, core::AttestAnswer answer,
              std::string note, Callback<core::Campaign> cb);
  // What `actor` may see: every campaign for admins and auditors; for others the campaigns with
  // items they own, those items only.
  Result<std::vector<core::Campaign>> List(const core::Actor& actor,
                                           std::optional<core::CampaignState> state);
  Result<core::Campaign> Get(const core::Actor& actor, const std::string& id);

  // Closes the campaigns past their deadline and opens the scheduled ones that are due; returns
  // how many changed. Run every `interval` by Start.
  Result<int> Tick();
  void Start(Seconds interval) { ticker_.Start(interval); }
  void Stop() { ticker_.Stop(); }
  // Reads every campaign and puts their removals in force (at start and after each change).
  Status RefreshRemovals();

  static nlohmann::json ToJson(const core::Campaign& c);
  // One line per item: campaign,scope,item,kind,subject,principal,owners,answer,answered_by,
  // answered_at,note,removed (RFC 4180 quoting).
  static std::string ToCsv(const core::Campaign& c);

 private:
  void Commit(std::function<Result<core::CampaignTransition>(Tx&)> step,
              Callback<core::Campaign> cb);

  store::Store& store_;
  Writer& writer_;
  const Clock& clock_;
  Effects& effects_;
  PolicyHolder& policies_;
  Periodic ticker_;
};

}  // namespace bg::service
