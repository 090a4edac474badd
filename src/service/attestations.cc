#include "service/attestations.h"

#include <fmt/format.h>

#include <algorithm>

#include "log/json_log.h"
#include "service/policy_holder.h"
#include "service/writer.h"
#include "util/random.h"

namespace bg::service {

using nlohmann::json;

namespace {

bool Reads(const core::Actor& a) {
  return !a.recording_grant && (a.Has(core::Role::kAdmin) || a.Has(core::Role::kAuditor));
}

// The campaign with only the items `name` owns.
core::Campaign OwnedPart(core::Campaign c, const std::string& name) {
  std::erase_if(c.items, [&](const core::AttestItem& i) {
    return std::find(i.owners.begin(), i.owners.end(), name) == i.owners.end();
  });
  return c;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) out += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return out + "\"";
}

// The actor scheduled campaigns are opened by.
core::Actor ScheduledBy() {
  core::Actor a;
  a.name = std::string(core::kSystemActor);
  a.roles = {core::Role::kAuditor};
  return a;
}

}  // namespace

Attestations::Attestations(store::Store& store, Writer& writer, const Clock& clock,
                           Effects& effects, PolicyHolder& policies)
    : store_(store),
      writer_(writer),
      clock_(clock),
      effects_(effects),
      policies_(policies),
      ticker_([this] {
        auto n = Tick();
        if (!n) log::Warn("attestation.tick_failed", {{"error", n.error().ToString()}});
      }) {}

void Attestations::Commit(std::function<Result<core::CampaignTransition>(Tx&)> step,
                          Callback<core::Campaign> cb) {
  auto fn = [this, step = std::move(step)](Tx& tx) -> Result<core::Campaign> {
    BG_ASSIGN_OR_RETURN(core::CampaignTransition t, step(tx));
    effects_.ApplyCampaign(tx, t);
    core::Campaign stored = t.campaign;
    stored.version += 1;
    // The removals change with the campaign: refresh them once it is committed.
    tx.AfterCommit([this] {
      if (Status s = RefreshRemovals(); !s) {
        log::Error("attestation.removals_failed", {{"error", s.error().ToString()}});
      }
    });
    return stored;
  };
  writer_.Submit(MakeOp<core::Campaign>(std::move(fn), std::move(cb)));
}

void Attestations::Open(const core::Actor& actor, core::AttestScope scope, Seconds due,
                        Callback<core::Campaign> cb) {
  if (actor.recording_grant) {
    return cb(Error::PermissionDenied("a recording credential can only record sessions"));
  }
  auto policy = policies_.file_policy();
  if (!policy) return cb(Error::Unavailable("no policy is loaded"));
  Commit(
      [policy, scope, due, actor](Tx& tx) {
        return core::OpenCampaign(*policy, scope, NewId("att"), actor, due, tx.now());
      },
      std::move(cb));
}

void Attestations::Answer(const core::Actor& actor, std::string id, std::string item,
                          core::AttestAnswer answer, std::string note,
                          Callback<core::Campaign> cb) {
  if (actor.recording_grant) {
    return cb(Error::PermissionDenied("a recording credential can only record sessions"));
  }
  auto policy = policies_.file_policy();
  if (!policy) return cb(Error::Unavailable("no policy is loaded"));
  Commit(
      [policy, actor, id = std::move(id), item = std::move(item), answer, note = std::move(note),
       reads = Reads(actor)](Tx& tx) -> Result<core::CampaignTransition> {
        BG_ASSIGN_OR_RETURN(auto c, tx.GetCampaign(id));
        // As Get: a campaign that asks the caller nothing does not exist for them (its items
        // and owners are not told to whoever guesses its id).
        if (!c || (!reads && OwnedPart(*c, actor.name).items.empty())) {
          return Error::NotFound("no attestation campaign " + id);
        }
        return core::AnswerItem(*policy, *c, item, actor, answer, note, tx.now());
      },
      [cb = std::move(cb), name = actor.name, reads = Reads(actor)](Result<core::Campaign> r) {
        if (r && !reads) return cb(OwnedPart(std::move(*r), name));
        cb(std::move(r));
      });
}

Result<std::vector<core::Campaign>> Attestations::List(const core::Actor& actor,
                                                       std::optional<core::CampaignState> state) {
  if (actor.recording_grant) {
    return Error::PermissionDenied("a recording credential can only record sessions");
  }
  BG_ASSIGN_OR_RETURN(auto all, store_.ListCampaigns(state, 1000));
  if (Reads(actor)) return all;
  std::vector<core::Campaign> out;
  for (core::Campaign& c : all) {
    core::Campaign mine = OwnedPart(std::move(c), actor.name);
    if (!mine.items.empty()) out.push_back(std::move(mine));
  }
  return out;
}

Result<core::Campaign> Attestations::Get(const core::Actor& actor, const std::string& id) {
  if (actor.recording_grant) {
    return Error::PermissionDenied("a recording credential can only record sessions");
  }
  BG_ASSIGN_OR_RETURN(auto c, store_.GetCampaign(id));
  if (!c) return Error::NotFound("no attestation campaign " + id);
  if (Reads(actor)) return *c;
  core::Campaign mine = OwnedPart(std::move(*c), actor.name);
  // A campaign that asks the caller nothing is reported like one that does not exist.
  if (mine.items.empty()) return Error::NotFound("no attestation campaign " + id);
  return mine;
}

Result<int> Attestations::Tick() {
  auto policy = policies_.file_policy();
  if (!policy) return 0;
  int changed = 0;
  auto run = [&](std::function<Result<core::CampaignTransition>(Tx&)> step) -> Status {
    bool staged = false;
    Status s = writer_.RunSync([&](Tx& tx) -> Status {
      BG_ASSIGN_OR_RETURN(core::CampaignTransition t, step(tx));
      if (t.effects.empty()) return Ok();
      effects_.ApplyCampaign(tx, t);
      staged = true;
      return Ok();
    });
    if (s && staged) ++changed;
    return s;
  };
  BG_ASSIGN_OR_RETURN(auto open, store_.ListCampaigns(core::CampaignState::kOpen, 1000));
  const Timestamp now = clock_.Now();
  for (const core::Campaign& listed : open) {
    if (now < listed.due_at) continue;
    const std::string id = listed.id;
    BG_TRY(run([&policy, id](Tx& tx) -> Result<core::CampaignTransition> {
      BG_ASSIGN_OR_RETURN(auto c, tx.GetCampaign(id));
      if (!c) return core::CampaignTransition{};
      return core::CloseIfDue(*policy, *c, tx.now());
    }));
  }
  if (!policy->attestations.empty()) {
    BG_ASSIGN_OR_RETURN(auto all, store_.ListCampaigns(std::nullopt, 1000));
    for (const core::AttestationSchedule& s : policy->attestations) {
      auto scope = core::ParseAttestScope(s.scope);
      if (!scope) continue;
      std::optional<Timestamp> last;
      for (const core::Campaign& c : all) {
        if (c.scope == *scope && (!last || c.opened_at > *last)) last = c.opened_at;
      }
      if (last && now < *last + s.every) continue;
      BG_TRY(run([&policy, scope, due = s.due](Tx& tx) {
        return core::OpenCampaign(*policy, *scope, NewId("att"), ScheduledBy(), due, tx.now());
      }));
    }
  }
  if (changed > 0) BG_TRY(RefreshRemovals());
  return changed;
}

Status Attestations::RefreshRemovals() {
  BG_ASSIGN_OR_RETURN(auto all, store_.ListCampaigns(std::nullopt, 1000));
  policies_.SetRemovals(core::RemovalsOf(all));
  return Ok();
}

json Attestations::ToJson(const core::Campaign& c) {
  json items = json::array();
  for (const core::AttestItem& i : c.items) {
    items.push_back({{"id", i.id},
                     {"kind", i.kind},
                     {"subject", i.subject},
                     {"principal", i.principal},
                     {"owners", i.owners},
                     {"answer", i.answer == core::AttestAnswer::kNone
                                    ? json(nullptr)
                                    : json(std::string(core::ToString(i.answer)))},
                     {"answered_by", i.answered_by.empty() ? json(nullptr) : json(i.answered_by)},
                     {"answered_at", i.answered_at ? json(FormatRfc3339(*i.answered_at))
                                                   : json(nullptr)},
                     {"note", i.note},
                     {"removed", i.removed}});
  }
  return {{"id", c.id},
          {"scope", core::ToString(c.scope)},
          {"state", core::ToString(c.state)},
          {"opened_by", c.opened_by},
          {"opened_at", FormatRfc3339(c.opened_at)},
          {"due_at", FormatRfc3339(c.due_at)},
          {"closed_at", c.closed_at ? json(FormatRfc3339(*c.closed_at)) : json(nullptr)},
          {"unanswered", c.Unanswered()},
          {"items", std::move(items)}};
}

std::string Attestations::ToCsv(const core::Campaign& c) {
  std::string out =
      "campaign,scope,item,kind,subject,principal,owners,answer,answered_by,answered_at,note,"
      "removed\r\n";
  for (const core::AttestItem& i : c.items) {
    std::string owners;
    for (const auto& o : i.owners) owners += (owners.empty() ? "" : " ") + o;
    const std::vector<std::string> fields = {
        c.id, std::string(core::ToString(c.scope)), i.id, i.kind, i.subject, i.principal, owners,
        std::string(core::ToString(i.answer)), i.answered_by,
        i.answered_at ? FormatRfc3339(*i.answered_at) : "", i.note, i.removed ? "true" : "false"};
    for (size_t k = 0; k < fields.size(); ++k) out += (k ? "," : "") + CsvField(fields[k]);
    out += "\r\n";
  }
  return out;
}

}  // namespace bg::service
