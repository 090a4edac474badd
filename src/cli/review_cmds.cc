// Post-incident reviews from the command line (auditors; admins read):
//   breakglass review list [--state open|done|all] [--limit N]
//   breakglass review show ID [--key VERIFIER_KEY]
//   breakglass review submit ID --verdict V [--findings TEXT] [--follow-up-ticket T]
// `review show` checks the timeline's inclusion proofs and the checkpoint's signature itself
// (against --key when given, else the key the server sent) instead of trusting the server's
// own "verified".
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/client.h"
#include "cli/common.h"
#include "cli/review_view.h"
#include "cli/text.h"
#include "service/audit_log.h"
#include "util/encoding.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) { return SafeField(j, key); }

// The timeline's proofs (TrailJson) as an AuditTrail, or an error naming what is malformed.
Result<service::AuditTrail> TrailFromJson(const json& p) {
  auto bad = [](std::string what) { return Error::InvalidArgument("timeline", std::move(what)); };
  if (!p.is_object() || !p.contains("checkpoint") || !p["checkpoint"].is_string() ||
      !p.contains("entries") || !p["entries"].is_array()) {
    return bad("the server sent no proofs");
  }
  service::AuditTrail t;
  t.checkpoint.note = p["checkpoint"].get<std::string>();
  t.checkpoint.size = p.value("size", int64_t{0});
  for (const json& e : p["entries"]) {
    if (!e.is_object() || !e.contains("index") || !e["index"].is_number_integer() ||
        !e.contains("leaf") || !e["leaf"].is_string() || !e.contains("proof") ||
        !e["proof"].is_array()) {
      return bad("a timeline entry is malformed");
    }
    service::AuditTrail::Entry entry;
    entry.index = e["index"].get<int64_t>();
    auto leaf = Base64Decode(e["leaf"].get<std::string>());
    if (!leaf) return bad("a timeline leaf is not base64");
    entry.leaf = std::move(*leaf);
    for (const json& h : e["proof"]) {
      auto hash = h.is_string() ? Base64Decode(h.get<std::string>()) : std::nullopt;
      if (!hash) return bad("a proof hash is not base64");
      entry.proof.push_back(std::move(*hash));
    }
    t.entries.push_back(std::move(entry));
  }
  return t;
}

void AddList(CLI::App& review, Globals& g) {
  auto* cmd = review.add_subcommand("list", "The review queue, soonest due first");
  auto state = std::make_shared<std::string>("open");
  auto limit = std::make_shared<int>(100);
  cmd->add_option("--state", *state, "open (default), done or all")
      ->check(CLI::IsMember({"open", "done", "all"}));
  cmd->add_option("--limit", *limit, "At most this many (1-1000)");
  cmd->callback([&g, state, limit] {
    std::string path = fmt::format("/v1/reviews?limit={}", *limit);
    if (*state != "all") path += "&state=" + *state;
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", path);
    if (!r) return Fail(g, r.error());
    Print(g, *r, ReviewListText(*r, StdoutIsTerminal()));
  });
}

void AddShow(CLI::App& review, Globals& g) {
  auto* cmd = review.add_subcommand(
      "show", "One review: the request, approvals, risk signals, connector actions, sessions and "
              "the timeline, its proofs checked here");
  auto id = std::make_shared<std::string>();
  auto key = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "Review id")->required();
  cmd->add_option("--key", *key,
                  "Check the timeline against this audit verifier key (default: the server's)");
  cmd->callback([&g, id, key] {
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("GET", "/v1/reviews/" + UrlPart(*id));
    if (!r) return Fail(g, r.error());
    json& timeline = (*r)["timeline"];
    if (timeline.is_object()) {
      const json& proofs = timeline.contains("proofs") ? timeline["proofs"] : json();
      const std::string server_key = Str(proofs, "key");
      const std::string use_key = key->empty() ? server_key : *key;
      auto trail = TrailFromJson(proofs);
      Status checked = trail ? service::VerifyTrail(*trail, use_key) : Status(trail.error());
      timeline["client_verified"] = checked.has_value();
      timeline["client_key"] = key->empty() ? "server" : "given";
      if (!checked) timeline["client_problem"] = checked.error().message();
      timeline.erase("proofs");  // checked; too long to print
    }
    Print(g, *r, ReviewDetailText(*r, StdoutIsTerminal()));
    if (timeline.is_object() && !timeline.value("client_verified", true)) {
      Fail(g, Error::Internal("the review's timeline does not verify: " +
                              timeline.value("client_problem", std::string())));
    }
  });
}

void AddSubmit(CLI::App& review, Globals& g) {
  auto* cmd = review.add_subcommand(
      "submit", "Give your verdict (auditors who neither asked for nor approved the grant)");
  auto id = std::make_shared<std::string>();
  auto verdict = std::make_shared<std::string>();
  auto findings = std::make_shared<std::string>();
  auto ticket = std::make_shared<std::string>();
  cmd->add_option("ID", *id, "Review id")->required();
  cmd->add_option("--verdict", *verdict,
                  "appropriate, appropriate_with_findings or inappropriate (which alerts the "
                  "security contacts)")
      ->required();
  cmd->add_option("--findings", *findings,
                  "What was wrong or noteworthy (required unless appropriate)");
  cmd->add_option("--follow-up-ticket", *ticket, "A ticket that tracks the follow-up");
  cmd->callback([&g, id, verdict, findings, ticket] {
    json body = {{"verdict", *verdict}};
    if (!findings->empty()) body["findings"] = *findings;
    if (!ticket->empty()) body["follow_up_ticket"] = *ticket;
    Client c(ResolveClientOptions(g.client));
    auto r = c.Json("POST", "/v1/reviews/" + UrlPart(*id), body);
    if (!r) return Fail(g, r.error());
    Print(g, *r,
          fmt::format("review {} of {}: {} ({} of {} verdicts)\n", Str(*r, "id"),
                      Str(*r, "request_id").empty() ? Str(*r, "kit_record")
                                                    : Str(*r, "request_id"),
                      Str(*r, "state"), (*r)["verdicts"].size(),
                      r->value("reviewers_needed", 1)));
  });
}

}  // namespace

void AddReviewCommands(CLI::App& app, Globals& g) {
  auto* review = app.add_subcommand("review", "Post-incident reviews of ended grants");
  review->require_subcommand(1);
  AddList(*review, g);
  AddShow(*review, g);
  AddSubmit(*review, g);
}

std::string OpenReviewsLine(Client& c) {
  auto r = c.Json("GET", "/v1/reviews?state=open&limit=1000");
  if (!r || !r->contains("reviews") || !(*r)["reviews"].is_array()) return "";  // not an auditor
  size_t overdue = 0;
  std::string oldest;
  for (const json& rv : (*r)["reviews"]) {
    if (!rv.value("overdue", false)) continue;
    if (overdue++ == 0) oldest = Str(rv, "due_at");
  }
  const size_t open = (*r)["reviews"].size();
  if (open == 0) return "reviews: none open\n";
  if (overdue == 0) return fmt::format("reviews: {} open, none overdue\n", open);
  return fmt::format("reviews: {} open, {} OVERDUE (the oldest was due {}): breakglass review list\n",
                     open, overdue, HumanTime(oldest, StdoutIsTerminal()));
}

}  // namespace bg::cli
