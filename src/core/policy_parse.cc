// ParsePolicy: TOML text -> a validated Policy, or every problem found with its location.
//
// toml++ throws on syntax errors; that exception is caught here and becomes a PolicyProblem, so
// nothing escapes this file. After a successful parse the checker walks the document once and
// keeps going past problems, so an operator sees all of them in one `policy check` run.
#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <initializer_list>
#include <set>
#include <utility>

#include <re2/re2.h>

#include "core/approval_groups.h"
#include "core/cron.h"
#include "core/policy.h"
#include "util/utf8.h"

namespace bg::core {
namespace {

constexpr std::string_view kGroupPrefix = "group:";
constexpr int kMaxTier = 3;
constexpr int64_t kMaxCount = 1000;  // approvals, reviewers, extras: anything larger is a typo

enum class Need { kOptional, kRequired };

// A ticket pattern is bounded before RE2 compiles it: its length, its repetition counts (RE2's
// own limit is 1000 too) and back-references (which RE2 does not have), so each refusal says
// plainly what is wrong. Why it is refused, or empty.
constexpr size_t kMaxTicketPatternLength = 256;
constexpr int64_t kMaxRepetition = 1000;
std::string UnsafeTicketPattern(std::string_view pattern) {
  if (pattern.size() > kMaxTicketPatternLength) {
    return fmt::format("is longer than {} characters", kMaxTicketPatternLength);
  }
  auto digits = [&pattern](size_t at) {
    size_t end = at;
    while (end < pattern.size() && pattern[end] >= '0' && pattern[end] <= '9') ++end;
    return pattern.substr(at, end - at);
  };
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\') {
      if (digits(i + 1).size() > 2) return "has a back-reference above \\99";
      ++i;  // the escaped character
      continue;
    }
    if (pattern[i] != '{') continue;
    // {n}, {n,} or {n,m}: each count at most kMaxRepetition.
    for (size_t at = i + 1;;) {
      const std::string_view n = digits(at);
      if (n.size() > 4 || (!n.empty() && std::stoll(std::string(n)) > kMaxRepetition)) {
        return fmt::format("repeats more than {} times", kMaxRepetition);
      }
      at += n.size();
      if (at >= pattern.size() || pattern[at] != ',' || at == i + 1) break;
      ++at;
    }
  }
  return {};
}

// A string read from the document with where it was written.
struct Located {
  std::string value;
  toml::source_region at;
};

bool IsNameChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
         c == '@' || c == '+';
}

// Account, group, pool, resource, privilege and connector names.
bool IsName(std::string_view s) {
  return !s.empty() && s.size() <= 128 && std::all_of(s.begin(), s.end(), IsNameChar);
}

// "Europe/Berlin", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5". Whether the zone exists
// is for the shell to check against the zone database.
bool LooksLikeTimezone(std::string_view s) {
  if (s.empty() || s.size() > 64 || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  size_t segment = 0;
  for (char c : s) {
    if (c == '/') {
      if (segment == 0) return false;
      segment = 0;
      continue;
    }
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '+') {
      return false;
    }
    ++segment;
  }
  return segment > 0;
}

std::optional<int> ParseDay(std::string_view s) {
  static constexpr std::array<std::string_view, 7> kDays = {"sun", "mon", "tue", "wed",
                                                            "thu", "fri", "sat"};
  for (size_t i = 0; i < kDays.size(); ++i) {
    if (kDays[i] == s) return static_cast<int>(i);
  }
  return std::nullopt;
}

// "HH:MM" -> minutes since midnight; "24:00" only when allow_midnight_end.
std::optional<int> ParseClockTime(std::string_view s, bool allow_midnight_end) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (size_t i : {0, 1, 3, 4}) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  }
  int h = (s[0] - '0') * 10 + (s[1] - '0');
  int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59) return std::nullopt;
  if (h == 24 && m == 0 && allow_midnight_end) return 24 * 60;
  if (h > 23) return std::nullopt;
  return h * 60 + m;
}

class Checker {
 public:
  explicit Checker(std::string_view path) : path_(path) {}

  std::vector<PolicyProblem> TakeProblems() {
    std::stable_sort(problems_.begin(), problems_.end(),
                     [](const PolicyProblem& a, const PolicyProblem& b) {
                       return std::pair(a.line, a.column) < std::pair(b.line, b.column);
                     });
    return std::move(problems_);
  }

  size_t Count() const { return problems_.size(); }

  // One line each: what the message quotes of the file is escaped (TerminalSafe).
  void Add(const toml::source_region& at, std::string_view message) {
    problems_.push_back(PolicyProblem{path_, static_cast<int>(at.begin.line),
                                      static_cast<int>(at.begin.column), TerminalSafe(message)});
  }

  void CheckKeys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                 std::string_view where) {
    for (auto&& [key, value] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        Add(key.source(), fmt::format("unknown key '{}' in {}", key.str(), where));
      }
    }
  }

  // The node under `key`, or nullptr (with a problem when it is required).
  const toml::node* Find(const toml::table& t, std::string_view key, std::string_view where,
                         Need need) {
    const toml::node* n = t.get(key);
    if (n == nullptr && need == Need::kRequired) {
      Add(t.source(), fmt::format("missing key '{}' in {}", key, where));
    }
    return n;
  }

  const toml::table* Table(const toml::table& t, std::string_view key, std::string_view where) {
    const toml::node* n = Find(t, key, where, Need::kOptional);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) {
      Add(n->source(), fmt::format("'{}' in {} must be a table", key, where));
      return nullptr;
    }
    return n->as_table();
  }

  std::optional<Located> String(const toml::table& t, std::string_view key, std::string_view where,
                                Need need) {
    const toml::node* n = Find(t, key, where, need);
    if (n == nullptr) return std::nullopt;
    if (!n->is_string()) {
      Add(n->source(), fmt::format("'{}' in {} must be a string", key, where));
      return std::nullopt;
    }
    return Located{n->as_string()->get(), n->source()};
  }

  // A string that must be a name (see IsName).
  std::optional<Located> Name(const toml::table& t, std::string_view key, std::string_view where,
                              Need need) {
    auto s = String(t, key, where, need);
    if (s && !IsName(s->value)) {
      Add(s->at, fmt::format("'{}' in {} must be a name of letters, digits and . _ - @ +, not "
                             "'{}'",
                             key, where, s->value));
      return std::nullopt;
    }
    return s;
  }

  std::optional<int64_t> Integer(const toml::table& t, std::string_view key, std::string_view where,
                                 Need need, int64_t min, int64_t max) {
    const toml::node* n = Find(t, key, where, need);
    if (n == nullptr) return std::nullopt;
    if (!n->is_integer()) {
      Add(n->source(), fmt::format("'{}' in {} must be an integer", key, where));
      return std::nullopt;
    }
    int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      Add(n->source(),
          fmt::format("'{}' in {} must be between {} and {}, not {}", key, where, min, max, v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<bool> Bool(const toml::table& t, std::string_view key, std::string_view where) {
    const toml::node* n = Find(t, key, where, Need::kOptional);
    if (n == nullptr) return std::nullopt;
    if (!n->is_boolean()) {
      Add(n->source(), fmt::format("'{}' in {} must be true or false", key, where));
      return std::nullopt;
    }
    return n->as_boolean()->get();
  }

  // A duration as "1h30m" or a plain number of seconds. `positive` refuses zero.
  std::optional<Seconds> Duration(const toml::table& t, std::string_view key,
                                  std::string_view where, bool positive) {
    const toml::node* n = Find(t, key, where, Need::kOptional);
    if (n == nullptr) return std::nullopt;
    std::string text;
    if (n->is_string()) {
      text = n->as_string()->get();
    } else if (n->is_integer() && n->as_integer()->get() >= 0) {
      text = std::to_string(n->as_integer()->get());
    } else {
      Add(n->source(),
          fmt::format("'{}' in {} must be a duration such as \"45m\" or \"1h30m\"", key, where));
      return std::nullopt;
    }
    Result<Seconds> d = ParseDuration(text, key);
    if (!d) {
      Add(n->source(), fmt::format("'{}' in {} {}", key, where, d.error().message()));
      return std::nullopt;
    }
    if (positive && d->count() == 0) {
      Add(n->source(), fmt::format("'{}' in {} must be longer than zero", key, where));
      return std::nullopt;
    }
    return *d;
  }

  // An array of strings; `non_empty` makes [] a problem. Elements that are not strings are
  // reported and skipped.
  std::optional<std::vector<Located>> Strings(const toml::table& t, std::string_view key,
                                              std::string_view where, Need need, bool non_empty) {
    const toml::node* n = Find(t, key, where, need);
    if (n == nullptr) return std::nullopt;
    if (!n->is_array()) {
      Add(n->source(), fmt::format("'{}' in {} must be an array of strings", key, where));
      return std::nullopt;
    }
    return StringArray(*n->as_array(), key, where, non_empty);
  }

  std::vector<Located> StringArray(const toml::array& a, std::string_view key,
                                   std::string_view where, bool non_empty) {
    std::vector<Located> out;
    if (a.empty() && non_empty) {
      Add(a.source(), fmt::format("'{}' in {} must not be empty", key, where));
    }
    for (const toml::node& el : a) {
      if (!el.is_string()) {
        Add(el.source(), fmt::format("'{}' in {} must contain only strings", key, where));
        continue;
      }
      out.push_back(Located{el.as_string()->get(), el.source()});
    }
    return out;
  }

  // Each entry must be "name" or "group:NAME" with NAME defined in [groups]. Returns the valid
  // ones.
  std::vector<std::string> Principals(
      const std::vector<Located>& items, std::string_view key, std::string_view where,
      const std::map<std::string, std::vector<std::string>>& groups) {
    std::vector<std::string> out;
    std::set<std::string> seen;
    for (const Located& p : items) {
      std::string_view v = p.value;
      if (v.substr(0, kGroupPrefix.size()) == kGroupPrefix) {
        std::string group(v.substr(kGroupPrefix.size()));
        if (groups.count(group) == 0) {
          Add(p.at, fmt::format("'{}' in {} names group '{}', which is not defined in [groups]",
                                key, where, group));
          continue;
        }
      } else if (!IsName(v)) {
        Add(p.at, fmt::format("'{}' in {} must list account names such as \"alice\" or groups "
                              "such as \"group:sre\", not '{}'",
                              key, where, p.value));
        continue;
      }
      if (!seen.insert(p.value).second) {
        Add(p.at, fmt::format("'{}' in {} lists '{}' twice", key, where, p.value));
        continue;
      }
      out.push_back(p.value);
    }
    return out;
  }

 private:
  std::string path_;
  std::vector<PolicyProblem> problems_;
};

// Where each rule was written, for problems that involve more than one key.
struct RuleSite {
  toml::source_region at;
};

class PolicyReader {
 public:
  PolicyReader(const toml::table& root, Checker& c) : root_(root), c_(c) {}

  Policy Read() {
    c_.CheckKeys(root_,
                 {"version", "settings", "risk", "groups", "pools", "resources", "rules",
                  "pool_owners", "attestations", "drills"},
                 "the top level");
    if (auto v =
            c_.Integer(root_, "version", "the top level", Need::kRequired, INT64_MIN, INT64_MAX)) {
      if (*v != 1) {
        c_.Add(root_.get("version")->source(),
               fmt::format("'version' must be 1; this breakglass does not know version {}", *v));
      }
    }
    ReadGroups();
    ReadSettings();
    ReadRisk();
    ReadPools();
    ReadPoolOwners();
    ReadResources();
    ReadRules();
    ReadAttestations();
    ReadDrillSchedules();
    CheckAmbiguousRules();
    CheckEmergencyContacts();
    return std::move(p_);
  }

 private:
  void ReadSettings() {
    const toml::table* t = c_.Table(root_, "settings", "the top level");
    if (t == nullptr) return;
    constexpr std::string_view kWhere = "[settings]";
    c_.CheckKeys(*t,
                 {"timezone", "working_hours", "reason_min_length", "ticket_pattern",
                  "warn_before_expiry", "security_contacts", "block_on_overdue_inappropriate",
                  "attestation_remove_unanswered"},
                 kWhere);
    PolicySettings& s = p_.settings;
    if (auto tz = c_.String(*t, "timezone", kWhere, Need::kOptional)) {
      if (LooksLikeTimezone(tz->value)) {
        s.timezone = tz->value;
      } else {
        c_.Add(tz->at, fmt::format("'timezone' in [settings] must be an IANA time zone name such "
                                   "as \"Europe/Berlin\" or \"UTC\", not '{}'",
                                   tz->value));
      }
    }
    if (const toml::table* wh = c_.Table(*t, "working_hours", kWhere)) ReadWorkingHours(*wh);
    if (auto n = c_.Integer(*t, "reason_min_length", kWhere, Need::kOptional, 0, 10000)) {
      s.reason_min_length = static_cast<int>(*n);
    }
    if (auto pat = c_.String(*t, "ticket_pattern", kWhere, Need::kOptional)) {
      if (const std::string why = UnsafeTicketPattern(pat->value); !why.empty()) {
        c_.Add(pat->at, fmt::format("'ticket_pattern' in [settings] {}", why));
      } else {
        re2::RE2 re(pat->value, re2::RE2::Quiet);
        if (re.ok()) {
          s.ticket_pattern = pat->value;
        } else {
          c_.Add(pat->at, fmt::format("'ticket_pattern' in [settings] is not a valid regular "
                                      "expression (RE2 syntax): {}",
                                      re.error()));
        }
      }
    }
    if (auto d = c_.Duration(*t, "warn_before_expiry", kWhere, false)) s.warn_before_expiry = *d;
    if (auto list = c_.Strings(*t, "security_contacts", kWhere, Need::kOptional, false)) {
      s.security_contacts = c_.Principals(*list, "security_contacts", kWhere, p_.groups);
    }
    if (auto b = c_.Bool(*t, "block_on_overdue_inappropriate", kWhere)) {
      s.block_on_overdue_inappropriate = *b;
    }
    if (auto b = c_.Bool(*t, "attestation_remove_unanswered", kWhere)) {
      s.attestation_remove_unanswered = *b;
    }
  }

  void ReadWorkingHours(const toml::table& t) {
    constexpr std::string_view kWhere = "[settings.working_hours]";
    c_.CheckKeys(t, {"days", "start", "end"}, kWhere);
    WorkingHours wh;
    bool ok = true;
    if (auto days = c_.Strings(t, "days", kWhere, Need::kRequired, true)) {
      for (const Located& d : *days) {
        std::optional<int> day = ParseDay(d.value);
        if (!day) {
          c_.Add(d.at, fmt::format("'days' in {} must name days as \"mon\", \"tue\", \"wed\", "
                                   "\"thu\", \"fri\", \"sat\" or \"sun\", not '{}'",
                                   kWhere, d.value));
          ok = false;
        } else if (std::find(wh.days.begin(), wh.days.end(), *day) != wh.days.end()) {
          c_.Add(d.at, fmt::format("'days' in {} lists '{}' twice", kWhere, d.value));
          ok = false;
        } else {
          wh.days.push_back(*day);
        }
      }
      ok = ok && !days->empty();
    } else {
      ok = false;
    }
    auto clock = [&](std::string_view key, bool is_end) -> std::optional<int> {
      auto s = c_.String(t, key, kWhere, Need::kRequired);
      if (!s) return std::nullopt;
      std::optional<int> m = ParseClockTime(s->value, is_end);
      if (!m) {
        c_.Add(s->at, fmt::format("'{}' in {} must be a time of day \"HH:MM\" such as \"08:00\", "
                                  "not '{}'",
                                  key, kWhere, s->value));
      }
      return m;
    };
    std::optional<int> start = clock("start", false);
    std::optional<int> end = clock("end", true);
    if (start && end && *start >= *end) {
      c_.Add(t.get("end")->source(), fmt::format("'end' in {} must be later than 'start'", kWhere));
      ok = false;
    }
    if (!ok || !start || !end) return;
    std::sort(wh.days.begin(), wh.days.end());
    wh.start_minute = *start;
    wh.end_minute = *end;
    p_.settings.working_hours = std::move(wh);
  }

  void ReadRisk() {
    const toml::table* t = c_.Table(root_, "risk", "the top level");
    if (t == nullptr) return;
    constexpr std::string_view kWhere = "[risk]";
    c_.CheckKeys(*t,
                 {"off_hours_extra_approvals", "new_source_extra_approvals", "burst_window",
                  "burst_threshold", "burst_extra_approvals"},
                 kWhere);
    RiskSettings& r = p_.risk;
    auto count = [&](std::string_view key, int* out) {
      if (auto v = c_.Integer(*t, key, kWhere, Need::kOptional, 0, kMaxCount)) {
        *out = static_cast<int>(*v);
      }
    };
    count("off_hours_extra_approvals", &r.off_hours_extra_approvals);
    count("new_source_extra_approvals", &r.new_source_extra_approvals);
    count("burst_threshold", &r.burst_threshold);
    count("burst_extra_approvals", &r.burst_extra_approvals);
    if (auto d = c_.Duration(*t, "burst_window", kWhere, true)) r.burst_window = *d;
  }

  void ReadGroups() {
    const toml::table* t = c_.Table(root_, "groups", "the top level");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      std::string name(key.str());
      if (!IsName(name)) {
        c_.Add(key.source(), fmt::format("group name '{}' in [groups] must be letters, digits "
                                         "and . _ - @ +",
                                         name));
        continue;
      }
      if (!value.is_array()) {
        c_.Add(value.source(), fmt::format("group '{}' in [groups] must be an array of account "
                                           "names",
                                           name));
        continue;
      }
      std::vector<std::string> members;
      for (const Located& m : c_.StringArray(*value.as_array(), name, "[groups]", false)) {
        if (std::string_view(m.value).substr(0, kGroupPrefix.size()) == kGroupPrefix) {
          c_.Add(m.at, fmt::format("group '{}' in [groups] lists '{}', but groups list account "
                                   "names, not other groups",
                                   name, m.value));
        } else if (!IsName(m.value)) {
          c_.Add(m.at, fmt::format("group '{}' in [groups] lists '{}', which is not an account "
                                   "name",
                                   name, m.value));
        } else if (std::find(members.begin(), members.end(), m.value) != members.end()) {
          c_.Add(m.at, fmt::format("group '{}' in [groups] lists '{}' twice", name, m.value));
        } else {
          members.push_back(m.value);
        }
      }
      p_.groups[name] = std::move(members);
    }
  }

  void ReadPools() {
    const toml::table* t = c_.Table(root_, "pools", "the top level");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      std::string name(key.str());
      if (!IsName(name)) {
        c_.Add(key.source(), fmt::format("pool name '{}' in [pools] must be letters, digits and "
                                         ". _ - @ +",
                                         name));
        continue;
      }
      if (!value.is_array()) {
        c_.Add(value.source(), fmt::format("pool '{}' in [pools] must be an array of names or "
                                           "groups",
                                           name));
        continue;
      }
      std::vector<Located> items = c_.StringArray(*value.as_array(), name, "[pools]", true);
      std::vector<std::string> principals = c_.Principals(items, name, "[pools]", p_.groups);
      if (!items.empty() && principals.size() == items.size() && p_.Expand(principals).empty()) {
        c_.Add(value.source(),
               fmt::format("pool '{}' in [pools] names nobody: its groups have no members", name));
      }
      p_.pools[name] = std::move(principals);
    }
  }

  // [pool_owners]: pool = ["carol", "group:leads"], who answers attestation campaigns for it.
  void ReadPoolOwners() {
    const toml::table* t = c_.Table(root_, "pool_owners", "the top level");
    if (t == nullptr) return;
    for (auto&& [key, value] : *t) {
      std::string name(key.str());
      if (!p_.pools.count(name)) {
        c_.Add(key.source(), fmt::format("'{}' in [pool_owners] is not a pool defined in [pools]",
                                         name));
        continue;
      }
      if (!value.is_array()) {
        c_.Add(value.source(), fmt::format("'{}' in [pool_owners] must be an array of names or "
                                           "groups",
                                           name));
        continue;
      }
      std::vector<Located> items = c_.StringArray(*value.as_array(), name, "[pool_owners]", false);
      p_.pool_owners[name] = c_.Principals(items, name, "[pool_owners]", p_.groups);
    }
  }

  // [[attestations]]: scope = "pools" | "eligibility", every = "2160h", due = "336h".
  void ReadAttestations() {
    constexpr std::string_view kWhere = "[[attestations]]";
    for (const toml::table* t : TableArray("attestations")) {
      c_.CheckKeys(*t, {"scope", "every", "due"}, kWhere);
      AttestationSchedule a;
      a.line = static_cast<int>(t->source().begin.line);
      if (auto scope = c_.String(*t, "scope", kWhere, Need::kRequired)) {
        if (scope->value != "pools" && scope->value != "eligibility") {
          c_.Add(scope->at, fmt::format("'scope' in {} must be \"pools\" or \"eligibility\", "
                                        "not '{}'",
                                        kWhere, scope->value));
          continue;
        }
        a.scope = scope->value;
      } else {
        continue;
      }
      auto every = c_.Duration(*t, "every", kWhere, true);
      if (!every) {
        if (t->get("every") == nullptr) c_.Add(t->source(), "[[attestations]] needs 'every'");
        continue;
      }
      if (*every < std::chrono::hours(24)) {
        c_.Add(t->get("every")->source(), "'every' in [[attestations]] must be at least 24h");
        continue;
      }
      a.every = *every;
      if (auto due = c_.Duration(*t, "due", kWhere, true)) a.due = *due;
      if (a.due < std::chrono::hours(1) || a.due > a.every) {
        c_.Add(t->source(), "'due' in [[attestations]] must be at least 1h and at most 'every'");
        continue;
      }
      p_.attestations.push_back(std::move(a));
    }
  }

  // Array of tables under `key`; elements that are not tables are reported.
  std::vector<const toml::table*> TableArray(std::string_view key) {
    std::vector<const toml::table*> out;
    const toml::node* n = root_.get(key);
    if (n == nullptr) return out;
    if (!n->is_array()) {
      c_.Add(n->source(), fmt::format("'{}' must be written as [[{}]] tables", key, key));
      return out;
    }
    for (const toml::node& el : *n->as_array()) {
      if (!el.is_table()) {
        c_.Add(el.source(), fmt::format("each entry of '{}' must be a table", key));
        continue;
      }
      out.push_back(el.as_table());
    }
    return out;
  }

  void ReadResources() {
    constexpr std::string_view kWhere = "[[resources]]";
    std::map<std::string, int> first_line;
    for (const toml::table* t : TableArray("resources")) {
      c_.CheckKeys(*t, {"name", "connector", "owner", "privileges", "drill"}, kWhere);
      Resource r;
      bool ok = true;
      if (auto name = c_.Name(*t, "name", kWhere, Need::kRequired)) {
        auto [it, inserted] = first_line.emplace(name->value, name->at.begin.line);
        if (!inserted) {
          c_.Add(name->at, fmt::format("resource '{}' is defined twice; the first is on line {}",
                                       name->value, it->second));
          ok = false;
        }
        r.name = name->value;
      } else {
        ok = false;
      }
      if (auto conn = c_.Name(*t, "connector", kWhere, Need::kRequired)) {
        r.connector = conn->value;
      } else {
        ok = false;
      }
      if (auto owner = c_.String(*t, "owner", kWhere, Need::kOptional)) r.owner = owner->value;
      if (auto privs = c_.Strings(*t, "privileges", kWhere, Need::kRequired, true)) {
        for (const Located& pv : *privs) {
          if (!IsName(pv.value)) {
            c_.Add(pv.at, fmt::format("privilege '{}' in {} must be letters, digits and . _ - @ +",
                                      pv.value, kWhere));
          } else if (std::find(r.privileges.begin(), r.privileges.end(), pv.value) !=
                     r.privileges.end()) {
            c_.Add(pv.at, fmt::format("'privileges' in {} lists '{}' twice", kWhere, pv.value));
          } else {
            r.privileges.push_back(pv.value);
          }
        }
      }
      if (const toml::table* d = c_.Table(*t, "drill", kWhere)) {
        r.drill = ReadDrillTarget(*d);
        ok = ok && r.drill.has_value();
      }
      if (ok) p_.resources.push_back(std::move(r));
    }
  }

  // drill = { principal, user, host, port, known_hosts } (ssh_ca), { database } (postgres_role)
  // or { check = [...] } (exec). Which keys the resource's connector needs is checked when the
  // server loads the policy (it knows the connector's kind); here, that the values are sound
  // and that the keys belong to one kind.
  std::optional<DrillTarget> ReadDrillTarget(const toml::table& t) {
    constexpr std::string_view kWhere = "the resource's drill";
    c_.CheckKeys(t, {"principal", "user", "host", "port", "known_hosts", "database", "check"},
                 kWhere);
    DrillTarget d;
    size_t before = c_.Count();
    auto name = [&](std::string_view key, std::string* out) {
      if (auto v = c_.Name(t, key, kWhere, Need::kOptional)) *out = v->value;
    };
    name("principal", &d.principal);
    name("user", &d.user);
    if (auto h = c_.String(t, "host", kWhere, Need::kOptional)) {
      if (h->value.empty() || h->value.size() > 253 ||
          h->value.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789.-:[]") != std::string::npos ||
          h->value.front() == '-') {
        c_.Add(h->at, fmt::format("'host' in {} must be a host name or address, not '{}'", kWhere,
                                  h->value));
      } else {
        d.host = h->value;
      }
    }
    if (auto port = c_.Integer(t, "port", kWhere, Need::kOptional, 1, 65535)) {
      d.port = static_cast<int>(*port);
    }
    if (auto kh = c_.String(t, "known_hosts", kWhere, Need::kOptional)) {
      if (kh->value.empty()) {
        c_.Add(kh->at, fmt::format("'known_hosts' in {} must name a file", kWhere));
      } else {
        d.known_hosts = kh->value;
      }
    }
    name("database", &d.database);
    if (auto check = c_.Strings(t, "check", kWhere, Need::kOptional, true)) {
      for (const Located& a : *check) d.check.push_back(a.value);
      if (!d.check.empty() && (d.check.front().empty() || d.check.front().front() != '/')) {
        c_.Add(t.get("check")->source(),
               fmt::format("'check' in {} must start with an absolute program path", kWhere));
      }
    }
    const bool ssh = !d.principal.empty() || !d.user.empty() || !d.host.empty() ||
                     t.get("port") != nullptr || !d.known_hosts.empty();
    const int kinds = int{ssh} + int{!d.database.empty()} + int{!d.check.empty()};
    if (c_.Count() != before) return std::nullopt;
    if (kinds != 1) {
      c_.Add(t.source(), fmt::format("{} must name one target: principal, user and host (ssh_ca), "
                                     "database (postgres_role) or check (exec)",
                                     kWhere));
      return std::nullopt;
    }
    if (ssh && (d.principal.empty() || d.user.empty() || d.host.empty())) {
      c_.Add(t.source(), fmt::format("{} for ssh_ca needs 'principal', 'user' and 'host'", kWhere));
      return std::nullopt;
    }
    return d;
  }

  // [[drills]]: resource, privilege, schedule (core/cron.h). The resource must have a drill
  // target and the privilege must be one of its privileges.
  void ReadDrillSchedules() {
    constexpr std::string_view kWhere = "[[drills]]";
    for (const toml::table* t : TableArray("drills")) {
      c_.CheckKeys(*t, {"resource", "privilege", "schedule"}, kWhere);
      DrillSchedule d;
      d.line = static_cast<int>(t->source().begin.line);
      auto res = c_.Name(*t, "resource", kWhere, Need::kRequired);
      auto priv = c_.Name(*t, "privilege", kWhere, Need::kRequired);
      auto sched = c_.String(*t, "schedule", kWhere, Need::kRequired);
      if (!res || !priv || !sched) continue;
      const Resource* r = p_.FindResource(res->value);
      if (r == nullptr) {
        c_.Add(res->at, fmt::format("'resource' in {} names '{}', which is not a resource", kWhere,
                                    res->value));
        continue;
      }
      if (!r->drill) {
        c_.Add(res->at, fmt::format("resource '{}' has no drill target: add drill = {{...}} to it",
                                    res->value));
        continue;
      }
      if (std::find(r->privileges.begin(), r->privileges.end(), priv->value) ==
          r->privileges.end()) {
        c_.Add(priv->at, fmt::format("resource '{}' has no privilege '{}'", res->value,
                                     priv->value));
        continue;
      }
      if (Result<CronSchedule> c = ParseCron(sched->value); !c) {
        c_.Add(sched->at, fmt::format("'schedule' in {}: {}", kWhere, c.error().message()));
        continue;
      }
      d.resource = res->value;
      d.privilege = priv->value;
      d.schedule = sched->value;
      p_.drills.push_back(std::move(d));
    }
  }

  void ReadRules() {
    for (const toml::table* t : TableArray("rules")) {
      std::optional<Rule> rule = ReadRule(*t);
      if (rule) {
        rule_sites_.push_back(RuleSite{t->source()});
        p_.rules.push_back(std::move(*rule));
      }
    }
  }

  std::optional<Rule> ReadRule(const toml::table& t) {
    constexpr std::string_view kWhere = "[[rules]]";
    c_.CheckKeys(t,
                 {"resource", "privileges", "requesters", "tier", "pool", "approvals",
                  "escalate_after", "escalate_to", "max_duration", "approval_window", "mfa_max_age", "approver_mfa", "deny_ends_request",
                  "emergency_auto_approve", "review_within", "reviewers", "recording"},
                 kWhere);
    Rule rule;
    rule.line = static_cast<int>(t.source().begin.line);
    bool ok = true;
    const Resource* resource = nullptr;
    if (auto res = c_.String(t, "resource", kWhere, Need::kRequired)) {
      resource = p_.FindResource(res->value);
      if (resource == nullptr) {
        c_.Add(res->at, fmt::format("the rule names resource '{}', which is not defined in "
                                    "[[resources]]",
                                    res->value));
        ok = false;
      }
      rule.resource = res->value;
    } else {
      ok = false;
    }
    if (auto privs = c_.Strings(t, "privileges", kWhere, Need::kRequired, true)) {
      for (const Located& pv : *privs) {
        if (std::find(rule.privileges.begin(), rule.privileges.end(), pv.value) !=
            rule.privileges.end()) {
          c_.Add(pv.at, fmt::format("'privileges' in {} lists '{}' twice", kWhere, pv.value));
          ok = false;
        } else if (resource != nullptr &&
                   std::find(resource->privileges.begin(), resource->privileges.end(), pv.value) ==
                       resource->privileges.end()) {
          c_.Add(pv.at,
                 fmt::format("resource '{}' has no privilege '{}'; it has: {}", resource->name,
                             pv.value, fmt::join(resource->privileges, ", ")));
          ok = false;
        } else {
          rule.privileges.push_back(pv.value);
        }
      }
      ok = ok && !privs->empty();
    } else {
      ok = false;
    }
    if (auto reqs = c_.Strings(t, "requesters", kWhere, Need::kRequired, true)) {
      rule.requesters = c_.Principals(*reqs, "requesters", kWhere, p_.groups);
      ok = ok && !reqs->empty() && rule.requesters.size() == reqs->size();
    } else {
      ok = false;
    }
    if (auto tier = c_.Integer(t, "tier", kWhere, Need::kRequired, 1, kMaxTier)) {
      rule.tier = static_cast<int>(*tier);
      ok = ReadApprovalTerms(t, rule) && ok;
    } else {
      ok = false;
    }
    if (auto d = c_.Duration(t, "max_duration", kWhere, true)) rule.max_duration = *d;
    if (auto d = c_.Duration(t, "approval_window", kWhere, true)) rule.approval_window = *d;
    if (auto d = c_.Duration(t, "mfa_max_age", kWhere, false)) rule.mfa_max_age = *d;
    rule.review_within = DefaultReviewWithin(rule.tier);
    if (auto d = c_.Duration(t, "review_within", kWhere, true)) rule.review_within = *d;
    if (auto b = c_.Bool(t, "deny_ends_request", kWhere)) rule.deny_ends_request = *b;
    if (auto b = c_.Bool(t, "emergency_auto_approve", kWhere)) rule.emergency_auto_approve = *b;
    if (auto n = c_.Integer(t, "reviewers", kWhere, Need::kOptional, 1, kMaxCount)) {
      rule.reviewers = static_cast<int>(*n);
    }
    if (auto mfa = c_.String(t, "approver_mfa", kWhere, Need::kOptional)) {
      if (mfa->value == "passkey" || mfa->value == "any") {
        rule.approver_passkey = mfa->value == "passkey";
      } else {
        c_.Add(mfa->at, fmt::format("'approver_mfa' in {} must be \"passkey\" or \"any\", not '{}'",
                                    kWhere, mfa->value));
        ok = false;
      }
    }
    if (auto rec = c_.String(t, "recording", kWhere, Need::kOptional)) {
      if (auto r = ParseRecording(rec->value)) {
        rule.recording = *r;
      } else {
        c_.Add(rec->at, fmt::format("'recording' in {} must be \"required\" or \"best_effort\", "
                                    "not '{}'",
                                    kWhere, rec->value));
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return rule;
  }

  // pool and approvals (one group, or a list of groups) and escalation: forbidden on tier 1,
  // required (and satisfiable) on tiers 2 and 3.
  bool ReadApprovalTerms(const toml::table& t, Rule& rule) {
    constexpr std::string_view kWhere = "[[rules]]";
    if (rule.tier == 1) {
      bool ok = true;
      for (std::string_view key : {"pool", "approvals", "escalate_after", "escalate_to"}) {
        if (const toml::node* n = t.get(key)) {
          c_.Add(n->source(),
                 fmt::format("a tier-1 rule is self-approved and must not set '{}'", key));
          ok = false;
        }
      }
      return ok;
    }
    ApprovalGroup defaults;  // the rule-level escalation, for groups that set none
    bool ok = ReadEscalation(t, kWhere, defaults);
    const toml::node* approvals_node = t.get("approvals");
    if (approvals_node != nullptr && approvals_node->is_array()) {
      ok = ReadApprovalGroups(t, *approvals_node->as_array(), rule) && ok;
    } else {
      ok = ReadSinglePool(t, rule) && ok;
    }
    for (ApprovalGroup& g : rule.groups) {
      if (g.escalate_to.empty()) {
        g.escalate_to = defaults.escalate_to;
        g.escalate_after = defaults.escalate_after;
      }
    }
    return ok;
  }

  // escalate_after and escalate_to of a rule or of one approval group: both or neither; the
  // pool must exist; at least 1s.
  bool ReadEscalation(const toml::table& t, std::string_view where, ApprovalGroup& g) {
    const bool has_after = t.get("escalate_after") != nullptr;
    const bool has_to = t.get("escalate_to") != nullptr;
    if (!has_after && !has_to) return true;
    if (has_after != has_to) {
      c_.Add(t.get(has_after ? "escalate_after" : "escalate_to")->source(),
             fmt::format("'escalate_after' and 'escalate_to' in {} go together: set both or "
                         "neither",
                         where));
      return false;
    }
    bool ok = true;
    if (auto to = c_.Name(t, "escalate_to", where, Need::kRequired)) {
      if (p_.pools.count(to->value) == 0) {
        c_.Add(to->at, fmt::format("'escalate_to' in {} names pool '{}', which is not defined in "
                                   "[pools]",
                                   where, to->value));
        ok = false;
      } else {
        g.escalate_to = to->value;
      }
    } else {
      ok = false;
    }
    if (auto d = c_.Duration(t, "escalate_after", where, true)) {
      g.escalate_after = *d;
    } else {
      ok = false;
    }
    return ok;
  }

  // approvals = [{pool = "a", count = 1}, {pool = "b", count = 1, escalate_after = "10m",
  // escalate_to = "c"}]: every group must approve, a person counting for one group only.
  bool ReadApprovalGroups(const toml::table& t, const toml::array& list, Rule& rule) {
    constexpr std::string_view kWhere = "an entry of 'approvals'";
    bool ok = true;
    if (const toml::node* pool = t.get("pool")) {
      c_.Add(pool->source(), "a rule with a list of 'approvals' names each group's pool in its "
                             "entry: remove 'pool'");
      ok = false;
    }
    if (list.empty()) {
      c_.Add(list.source(), "'approvals' must list at least one group");
      return false;
    }
    for (const toml::node& el : list) {
      if (!el.is_table()) {
        c_.Add(el.source(), "each entry of 'approvals' must be a table such as "
                            "{pool = \"dba-approvers\", count = 1}");
        ok = false;
        continue;
      }
      const toml::table& e = *el.as_table();
      c_.CheckKeys(e, {"pool", "count", "escalate_after", "escalate_to"}, kWhere);
      ApprovalGroup g;
      if (auto pool = c_.Name(e, "pool", kWhere, Need::kRequired)) {
        if (p_.pools.count(pool->value) == 0) {
          c_.Add(pool->at, fmt::format("the rule names pool '{}', which is not defined in [pools]",
                                       pool->value));
          ok = false;
        } else if (std::any_of(rule.groups.begin(), rule.groups.end(),
                               [&](const ApprovalGroup& o) { return o.pool == pool->value; })) {
          c_.Add(pool->at, fmt::format("'approvals' lists pool '{}' twice: give it one entry "
                                       "with the count it needs",
                                       pool->value));
          ok = false;
        }
        g.pool = pool->value;
      } else {
        ok = false;
      }
      if (auto n = c_.Integer(e, "count", kWhere, Need::kRequired, 1, kMaxCount)) {
        g.count = static_cast<int>(*n);
      } else {
        ok = false;
      }
      ok = ReadEscalation(e, kWhere, g) && ok;
      rule.groups.push_back(std::move(g));
    }
    if (!ok) return false;
    rule.pool = rule.groups.front().pool;
    rule.approvals = 0;
    for (const ApprovalGroup& g : rule.groups) rule.approvals += g.count;
    // Satisfiable: the pools' people (and those who may approve after an escalation) fill every
    // group's seats, a person counting once; and so without any one requester in them.
    std::vector<std::string> everyone;
    for (const ApprovalGroup& g : rule.groups) {
      for (const std::string& who : p_.Expand(p_.pools[g.pool])) everyone.push_back(who);
      if (!g.escalate_to.empty()) {
        for (const std::string& who : p_.Expand(p_.pools[g.escalate_to])) everyone.push_back(who);
      }
    }
    GroupTally all = TallyGroups(p_, rule.groups, everyone, "", /*assume_escalated=*/true);
    if (!all.complete()) {
      c_.Add(list.source(),
             fmt::format("the rule needs {} approvals from its groups but their pools hold only "
                         "{} people who can fill them (a person counts for one group only), so "
                         "no request could ever be approved",
                         all.seats, all.filled));
      return false;
    }
    for (const std::string& who : p_.Expand(rule.requesters)) {
      if (std::find(everyone.begin(), everyone.end(), who) == everyone.end()) continue;
      GroupTally without = TallyGroups(p_, rule.groups, everyone, who, true);
      if (!without.complete()) {
        c_.Add(list.source(),
               fmt::format("the rule needs {} approvals from its groups but without requester "
                           "'{}', who may not approve their own request, their pools can fill "
                           "only {}, so no request of {} could ever be approved",
                           without.seats, who, without.filled, who));
        return false;
      }
    }
    return true;
  }

  // pool = "a" + approvals = N: one group.
  bool ReadSinglePool(const toml::table& t, Rule& rule) {
    constexpr std::string_view kWhere = "[[rules]]";
    bool ok = true;
    auto pool = c_.Name(t, "pool", kWhere, Need::kOptional);
    if (!t.get("pool")) {
      c_.Add(t.source(), fmt::format("a tier-{} rule needs a 'pool' of approvers", rule.tier));
      ok = false;
    } else if (!pool) {
      ok = false;
    } else if (p_.pools.count(pool->value) == 0) {
      c_.Add(pool->at,
             fmt::format("the rule names pool '{}', which is not defined in [pools]", pool->value));
      ok = false;
    } else {
      rule.pool = pool->value;
    }
    if (!t.get("approvals")) {
      c_.Add(t.source(), fmt::format("a tier-{} rule needs 'approvals' (at least 1)", rule.tier));
      return false;
    }
    auto approvals = c_.Integer(t, "approvals", kWhere, Need::kRequired, 1, kMaxCount);
    if (!approvals) return false;
    rule.approvals = static_cast<int>(*approvals);
    if (!rule.pool.empty()) {
      size_t people = p_.Expand(p_.pools[rule.pool]).size();
      if (static_cast<size_t>(rule.approvals) > people) {
        c_.Add(t.get("approvals")->source(),
               fmt::format("the rule needs {} approvals but pool '{}' has only {} {}, so no "
                           "request could ever be approved",
                           rule.approvals, rule.pool, people, people == 1 ? "person" : "people"));
        ok = false;
      } else if (std::string who = RequesterShortOfApprovers(rule, people); !who.empty()) {
        size_t others = people - 1;
        c_.Add(t.get("approvals")->source(),
               fmt::format("the rule needs {} approvals but pool '{}' has only {} {} besides "
                           "requester '{}', who may not approve their own request, so no request "
                           "of {} could ever be approved",
                           rule.approvals, rule.pool, others, others == 1 ? "person" : "people",
                           who, who));
        ok = false;
      }
    }
    if (ok) rule.groups = {OnePool(rule.pool, rule.approvals)};
    return ok;
  }

  // The first requester of `rule` who is in its pool (of `people`) when the others are fewer
  // than the rule's approvals; empty if there is none. Risk signals never ask for more than the
  // others (core::CreateRequest caps them), so this and a pool smaller than the approvals are
  // the cases the policy alone makes certain.
  std::string RequesterShortOfApprovers(const Rule& rule, size_t people) const {
    if (people > static_cast<size_t>(rule.approvals)) return {};
    for (const std::string& who : p_.Expand(rule.requesters)) {
      if (p_.InPool(who, rule.pool)) return who;
    }
    return {};
  }

  // Two rules for the same resource, privilege and tier that both match some requester leave
  // the terms of that person's request undefined.
  void CheckAmbiguousRules() {
    for (size_t j = 0; j < p_.rules.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        const Rule& a = p_.rules[i];
        const Rule& b = p_.rules[j];
        if (a.resource != b.resource || a.tier != b.tier) continue;
        std::string privilege;
        for (const std::string& pv : b.privileges) {
          if (std::find(a.privileges.begin(), a.privileges.end(), pv) != a.privileges.end()) {
            privilege = pv;
            break;
          }
        }
        if (privilege.empty()) continue;
        std::string who = SharedRequester(a, b);
        if (who.empty()) continue;
        c_.Add(rule_sites_[j].at,
               fmt::format("this rule and the rule on line {} both give '{}' on '{}' at tier {} "
                           "to {}; a request could not tell them apart",
                           a.line, privilege, a.resource, a.tier, who));
      }
    }
  }

  std::string SharedRequester(const Rule& a, const Rule& b) const {
    for (const std::string& p : b.requesters) {
      if (std::find(a.requesters.begin(), a.requesters.end(), p) != a.requesters.end()) return p;
    }
    std::vector<std::string> ea = p_.Expand(a.requesters);
    std::vector<std::string> eb = p_.Expand(b.requesters);
    std::vector<std::string> both;
    std::set_intersection(ea.begin(), ea.end(), eb.begin(), eb.end(), std::back_inserter(both));
    return both.empty() ? std::string() : both.front();
  }

  void CheckEmergencyContacts() {
    bool any_emergency = std::any_of(p_.rules.begin(), p_.rules.end(),
                                     [](const Rule& r) { return r.emergency_auto_approve; });
    if (!any_emergency || !p_.Expand(p_.settings.security_contacts).empty()) return;
    for (size_t i = 0; i < p_.rules.size(); ++i) {
      if (!p_.rules[i].emergency_auto_approve) continue;
      c_.Add(rule_sites_[i].at,
             "the rule allows emergency auto-approval, but "
             "'security_contacts' in [settings] names nobody to alert");
    }
  }

  const toml::table& root_;
  Checker& c_;
  Policy p_;
  std::vector<RuleSite> rule_sites_;
};

}  // namespace

PolicyParseResult ParsePolicy(std::string_view text, std::string_view path) {
  PolicyParseResult result;
  Checker checker(path);
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    checker.Add(e.source(), fmt::format("not valid TOML: {}", e.description()));
    result.problems = checker.TakeProblems();
    return result;
  }
  Policy policy = PolicyReader(root, checker).Read();
  result.problems = checker.TakeProblems();
  if (result.problems.empty()) result.policy = std::move(policy);
  return result;
}

}  // namespace bg::core
