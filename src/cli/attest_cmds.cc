// Attestation campaigns from the command line (docs/attestation.md):
//   breakglass attest start --scope pools|eligibility [--due 336h]
//   breakglass attest list [--state open|closed]
//   breakglass attest show ID [--csv]
//   breakglass attest answer ID ITEM (--confirm | --remove --note TEXT)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <iostream>
#include <memory>

#include "cli/client.h"
#include "cli/common.h"
#include "cli/text.h"

namespace bg::cli {
namespace {

using nlohmann::json;

std::string Str(const json& j, const char* key) { return SafeField(j, key); }

std::string CampaignText(const json& c, bool local) {
  std::string out = fmt::format("{} {} ({}), due {}, {} of {} items unanswered\n", Str(c, "id"),
                                Str(c, "state"), Str(c, "scope"),
                                HumanTime(Str(c, "due_at"), local), c.value("unanswered", 0),
                                c.value("items", json::array()).size());
  for (const json& i : c.value("items", json::array())) {
    std::string owners;
    for (const json& o : i.value("owners", json::array())) {
      if (o.is_string()) owners += (owners.empty() ? "" : ",") + TerminalSafe(o.get<std::string>());
    }
    const std::string answer = Str(i, "answer").empty() ? "UNANSWERED" : Str(i, "answer");
    out += fmt::format("  {:<4} {:<12} {:<28} {:<16} {:<10} by {}{}{}\n", Str(i, "id"),
                       Str(i, "kind"), Str(i, "subject"), Str(i, "principal"), answer,
                       Str(i, "answered_by").empty() ? "(owners: " + owners + ")"
                                                     : Str(i, "answered_by"),
                       Str(i, "note").empty() ? "" : ": " + Str(i, "note"),
                       i.value("removed", false) ? " [removed from the policy in force]" : "");
  }
  return out;
}

}  // namespace

void AddAttestCommands(CLI::App& app, Globals& g) {
  auto* attest = app.add_subcommand(
      "attest", "Attestation campaigns: pool and resource owners confirm or remove access");
  attest->require_subcommand(1);
  {
    auto* cmd = attest->add_subcommand("start", "Open a campaign (admins and auditors)");
    auto scope = std::make_shared<std::string>();
    auto due = std::make_shared<std::string>("336h");
    cmd->add_option("--scope", *scope, "pools (every pool member) or eligibility (every rule's "
                                       "requesters)")
        ->required()
        ->check(CLI::IsMember({"pools", "eligibility"}));
    cmd->add_option("--due", *due, "How long the owners have: 336h (the default, 14 days), 72h");
    cmd->callback([&g, scope, due] {
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("POST", "/v1/attestations", json{{"scope", *scope}, {"due", *due}});
      if (!r) return Fail(g, r.error());
      Print(g, *r, CampaignText(*r, StdoutIsTerminal()));
    });
  }
  {
    auto* cmd = attest->add_subcommand("list", "Campaigns you may see, oldest first");
    auto state = std::make_shared<std::string>();
    cmd->add_option("--state", *state, "open or closed")->check(CLI::IsMember({"open", "closed"}));
    cmd->callback([&g, state] {
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("GET", "/v1/attestations" + (state->empty() ? "" : "?state=" + *state));
      if (!r) return Fail(g, r.error());
      std::string human;
      for (const json& x : (*r)["campaigns"]) {
        human += fmt::format("{:<26} {:<7} {:<12} due {}  {} unanswered of {}\n", Str(x, "id"),
                             Str(x, "state"), Str(x, "scope"),
                             HumanTime(Str(x, "due_at"), StdoutIsTerminal()),
                             x.value("unanswered", 0), x.value("items", json::array()).size());
      }
      Print(g, *r, human.empty() ? "no campaigns\n" : human);
    });
  }
  {
    auto* cmd = attest->add_subcommand("show", "One campaign with its items (JSON with --json, "
                                               "CSV with --csv)");
    auto id = std::make_shared<std::string>();
    auto csv = std::make_shared<bool>(false);
    cmd->add_option("ID", *id, "Campaign id")->required();
    cmd->add_flag("--csv", *csv, "Print the items as CSV");
    cmd->callback([&g, id, csv] {
      Client c(ResolveClientOptions(g.client));
      if (*csv) {
        auto r = c.Send("GET", "/v1/attestations/" + UrlPart(*id) + "?format=csv");
        if (!r) return Fail(g, r.error());
        std::cout << r->body;
        return;
      }
      auto r = c.Json("GET", "/v1/attestations/" + UrlPart(*id));
      if (!r) return Fail(g, r.error());
      Print(g, *r, CampaignText(*r, StdoutIsTerminal()));
    });
  }
  {
    auto* cmd = attest->add_subcommand(
        "answer", "Confirm or remove one item you own (remove takes it out of the policy in "
                  "force at once)");
    auto id = std::make_shared<std::string>();
    auto item = std::make_shared<std::string>();
    auto confirm = std::make_shared<bool>(false);
    auto remove = std::make_shared<bool>(false);
    auto note = std::make_shared<std::string>();
    cmd->add_option("ID", *id, "Campaign id")->required();
    cmd->add_option("ITEM", *item, "Item id (i1, i2, ...)")->required();
    auto* c_opt = cmd->add_flag("--confirm", *confirm, "The access is still needed");
    auto* r_opt = cmd->add_flag("--remove", *remove, "Remove it (needs --note)");
    c_opt->excludes(r_opt);
    cmd->add_option("--note", *note, "Why (required with --remove)");
    cmd->callback([&g, id, item, confirm, remove, note] {
      if (!*confirm && !*remove) {
        return Fail(g, Error::InvalidArgument("answer", "give --confirm or --remove"));
      }
      json body = {{"answer", *confirm ? "confirm" : "remove"}};
      if (!note->empty()) body["note"] = *note;
      Client c(ResolveClientOptions(g.client));
      auto r = c.Json("POST", "/v1/attestations/" + UrlPart(*id) + "/items/" + UrlPart(*item),
                      body);
      if (!r) return Fail(g, r.error());
      Print(g, *r, CampaignText(*r, StdoutIsTerminal()));
    });
  }
}

}  // namespace bg::cli
