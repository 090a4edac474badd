// Test-only: makes a data directory holding N finished grants, fast, through the service's own
// code paths (Service::Create/Approve/Revoke, the outbox activating the grants, the scheduler
// expiring them, the session recorder's upload path, Service::AuditSshCertIssued, the reviews the
// service opens when a grant ends and its Reviews::Submit), all durable in SQLite, on a fake
// clock so that grants expire without waiting. What `report evidence` is tested and benchmarked
// on (test/integration/evidence_test.sh, bench/evidence_bench.sh).
//
//   evidence_gen DIR GRANTS [DAYS_AGO]
//
// writes DIR/policy.toml, the data directory DIR/data (which must not exist yet) and
// DIR/early-checkpoint.txt (a checkpoint signed after the first batch), starting
// DAYS_AGO (default 30) days before now, in batches of 500 grants: every 10th a tier-1
// self-approval revoked by its requester, every 50th (+7) an emergency auto-approval, the others
// tier-2 grants approved by two of three approvers that expire; every 10th an SSH certificate,
// every 20th a recorded session of two chunks; one request in 20 also cancelled (not a grant).
// Verdicts: most appropriate, every 31st with findings, every 97th inappropriate; every 53rd
// review is left open (and overdue once the fake clock passes its deadline: the service's
// escalation runs every 5 s). Prints one JSON line of what it made. Exit 0 on success.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "core/review.h"
#include "service/audit_log.h"
#include "service/reviews.h"
#include "service/service.h"
#include "service/sessions.h"
#include "service/writer.h"
#include "session/asciicast.h"
#include "test/fakes/fake_clock.h"
#include "util/random.h"

namespace bg {
namespace {

constexpr char kPolicy[] = R"(
version = 1
[settings]
timezone = "UTC"
reason_min_length = 5
ticket_pattern = '^INC-[0-9]+$'
security_contacts = ["sam"]
[groups]
sre = ["alice", "bob"]
dba = ["carol", "dave", "erin"]
[pools]
dba-approvers = ["group:dba"]
[[resources]]
name = "db"
connector = "db"
owner = "carol"
privileges = ["read_only", "dba"]
[[rules]]
resource = "db"
privileges = ["read_only"]
requesters = ["group:sre"]
tier = 1
max_duration = "2h"
review_within = "72h"
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 2
pool = "dba-approvers"
approvals = 2
max_duration = "2h"
approval_window = "30m"
mfa_max_age = "1h"
review_within = "24h"
[[rules]]
resource = "db"
privileges = ["dba"]
requesters = ["group:sre"]
tier = 3
pool = "dba-approvers"
approvals = 2
max_duration = "30m"
approval_window = "15m"
mfa_max_age = "10m"
emergency_auto_approve = true
review_within = "12h"
)";

constexpr int kBatch = 500;
constexpr char kSshKey[] =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl gen";

enum class Kind { kSelf, kEmergency, kTier2 };
Kind KindOf(int64_t i) {
  if (i % 10 == 0) return Kind::kSelf;
  if (i % 50 == 7) return Kind::kEmergency;
  return Kind::kTier2;
}

[[noreturn]] void Die(const std::string& what) {
  std::cerr << "evidence_gen: " << what << "\n";
  std::exit(1);
}

template <typename T>
T Must(Result<T> r, const char* what) {
  if (!r) Die(std::string(what) + ": " + r.error().ToString());
  return std::move(*r);
}

template <typename T>
Status StatusOf(const Result<T>& r) {
  if (r.has_value()) return Ok();
  return r.error();
}

// Counts callbacks and state changes; Wait blocks until a predicate over them holds.
class Tracker {
 public:
  void Done(const Status& s, const char* what) {
    std::lock_guard l(mu_);
    if (!s && error_.empty()) error_ = std::string(what) + ": " + s.error().ToString();
    ++done_;
    cv_.notify_all();
  }
  void State(const core::Request& r) {
    std::lock_guard l(mu_);
    latest_[r.id.value()] = r;
    cv_.notify_all();
  }
  void WaitDone(int64_t n) {
    std::unique_lock l(mu_);
    cv_.wait(l, [&] { return done_ >= n || !error_.empty(); });
    if (!error_.empty()) Die(error_);
    done_ = 0;
  }
  // Until every id is in `state` (or past it, for kActive: ended).
  void WaitState(const std::vector<RequestId>& ids, std::set<core::RequestState> states) {
    std::unique_lock l(mu_);
    const bool ok = cv_.wait_for(l, std::chrono::minutes(10), [&] {
      return std::all_of(ids.begin(), ids.end(), [&](const RequestId& id) {
        auto it = latest_.find(id.value());
        return it != latest_.end() && states.count(it->second.state) != 0;
      });
    });
    if (!ok) Die("requests did not reach their state within 10 minutes");
  }
  core::Request Latest(const RequestId& id) {
    std::lock_guard l(mu_);
    return latest_.at(id.value());
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int64_t done_ = 0;
  std::string error_;
  std::map<std::string, core::Request> latest_;
};

core::Actor Person(const std::string& name, core::Role role, Timestamp mfa) {
  core::Actor a;
  a.name = name;
  a.roles = {role};
  a.mfa_verified_at = mfa;
  a.source_address = "192.0.2.10";
  return a;
}

int Run(const std::filesystem::path& dir, int64_t grants, int days_ago) {
  if (std::filesystem::exists(dir / "data")) Die((dir / "data").string() + " exists");
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "policy.toml") << kPolicy;
  testing::FakeClock clock(ToUnixSeconds(SystemClock::Get().Now()) - int64_t{days_ago} * 86400);
  service::ServerConfig c;
  c.data_dir = (dir / "data").string();
  c.policy = (dir / "policy.toml").string();
  c.connectors["db"] = {"db", "none", "{}"};
  auto svc = Must(service::Service::Open(c, clock, nullptr), "open");
  if (auto s = svc->Start(); !s) Die("start: " + s.error().ToString());
  for (auto [name, role] : {std::pair{"alice", core::Role::kRequester},
                            std::pair{"bob", core::Role::kRequester},
                            std::pair{"carol", core::Role::kApprover},
                            std::pair{"dave", core::Role::kApprover},
                            std::pair{"erin", core::Role::kApprover},
                            std::pair{"sam", core::Role::kAuditor}}) {
    Must(svc->AddUser("evidence_gen", name, {role}, Secret("generator-password-123")), "user");
  }
  Tracker t;
  svc->Subscribe([&t](const service::StateEvent& e) {
    if (e.type == "request") t.State(e.request);
  });
  int64_t made = 0, cancelled = 0, certs = 0, sessions = 0, reviews = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t start = 0; start < grants; start += kBatch) {
    const int64_t n = std::min<int64_t>(kBatch, grants - start);
    const Timestamp now = clock.Now();
    const core::Actor alice = Person("alice", core::Role::kRequester, now - std::chrono::minutes(7));
    const core::Actor bob = Person("bob", core::Role::kRequester, now - std::chrono::minutes(3));
    const core::Actor carol = Person("carol", core::Role::kApprover, now - std::chrono::minutes(2));
    const core::Actor dave = Person("dave", core::Role::kApprover, now - std::chrono::minutes(4));
    const core::Actor sam = Person("sam", core::Role::kAuditor, now);
    auto requester = [&](int64_t i) -> const core::Actor& { return i % 2 == 0 ? alice : bob; };

    // Ask: every grant, and one request in 20 that its requester cancels.
    std::vector<RequestId> ids(static_cast<size_t>(n));
    std::vector<RequestId> extra;
    int64_t extras = 0;
    std::mutex ids_mu;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      core::CreateCommand cmd;
      cmd.resource = "db";
      cmd.privilege = KindOf(i) == Kind::kSelf ? "read_only" : "dba";
      cmd.duration = std::chrono::minutes(30);
      cmd.emergency = KindOf(i) == Kind::kEmergency;
      cmd.reason = fmt::format("evidence generator grant {}", i);
      cmd.ticket = fmt::format("INC-{}", 1000 + i);
      svc->Create(requester(i), cmd, [&, k](Result<core::Request> r) {
        if (r) {
          std::lock_guard l(ids_mu);
          ids[static_cast<size_t>(k)] = r->id;
        }
        t.Done(StatusOf(r), "create");
      });
      if (i % 20 == 3) {
        ++extras;
        cmd.reason = fmt::format("evidence generator request {} (cancelled)", i);
        svc->Create(bob, cmd, [&](Result<core::Request> r) {
          if (r) {
            std::lock_guard l(ids_mu);
            extra.push_back(r->id);
          }
          t.Done(StatusOf(r), "create");
        });
      }
    }
    t.WaitDone(n + extras);
    for (const RequestId& id : extra) {
      svc->Cancel(bob, id, [&](Result<core::Request> r) {
        t.Done(StatusOf(r), "cancel");
      });
    }
    t.WaitDone(static_cast<int64_t>(extra.size()));
    cancelled += static_cast<int64_t>(extra.size());

    // Approve the tier-2 requests, two approvers each.
    int64_t approving = 0;
    for (int64_t k = 0; k < n; ++k) {
      if (KindOf(start + k) != Kind::kTier2) continue;
      ++approving;
      const RequestId id = ids[static_cast<size_t>(k)];
      svc->Approve(carol, id, "ok", [&, id](Result<core::Request> r) {
        if (!r) return t.Done(StatusOf(r), "approve");
        svc->Approve(dave, id, "", [&](Result<core::Request> r2) {
          t.Done(StatusOf(r2), "approve");
        });
      });
    }
    t.WaitDone(approving);
    t.WaitState(ids, {core::RequestState::kActive});

    // Credentials and sessions while the grants are active.
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      const RequestId& id = ids[static_cast<size_t>(k)];
      if (i % 10 == 0) {
        core::Request r = t.Latest(id);
        if (auto s = svc->AuditSshCertIssued(requester(i), r, kSshKey, static_cast<uint64_t>(i + 1),
                                             {r.privilege}, *r.starts_at, *r.ends_at);
            !s) {
          Die("cert: " + s.error().ToString());
        }
        ++certs;
      }
    }
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      if (i % 20 != 0) continue;
      const RequestId id = ids[static_cast<size_t>(k)];
      session::Header h;
      h.timestamp = ToUnixSeconds(clock.Now());
      h.command = "psql";
      h.session_id = fmt::format("ses_{}", i);
      h.request_id = id.value();
      h.user = requester(i).name;
      for (int64_t seq = 0; seq < 2; ++seq) {
        service::ChunkUpload up;
        up.session = SessionId(h.session_id);
        up.seq = seq;
        up.data = fmt::format("[{}.5, \"o\", \"select {};\\r\\n\"]\n", seq, seq);
        if (seq == 0) up.create = service::NewSession{up.session, id, session::HeaderLine(h)};
        up.final = seq == 1;
        if (up.final) up.end_reason = "exit";
        service::AppendSessionChunk(*svc, requester(i), std::move(up),
                                    [&](Result<service::ChunkReceipt> r) {
                                      t.Done(StatusOf(r), "session chunk");
                                    });
        t.WaitDone(1);  // in order: chunk 1 needs chunk 0 stored
      }
      ++sessions;
    }

    // End: tier-1 grants revoked by their requester, the rest expire.
    int64_t revoking = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      if (KindOf(i) != Kind::kSelf) continue;
      ++revoking;
      svc->Revoke(requester(i), ids[static_cast<size_t>(k)], "done early",
                  [&](Result<core::Request> r) { t.Done(StatusOf(r), "revoke"); });
    }
    t.WaitDone(revoking);
    clock.Advance(std::chrono::minutes(31));
    t.WaitState(ids, {core::RequestState::kExpired, core::RequestState::kRevoked});
    made += n;

    // Reviews: the service opened one in the transaction that ended each grant; sam (an
    // auditor who neither asked nor approved) gives the verdicts through it.
    int64_t appended = 0;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t i = start + k;
      if (i % 53 == 9) continue;  // left open
      store::ReviewFilter filter;
      filter.subject = ids[static_cast<size_t>(k)].value();
      auto found = Must(svc->store().ListReviews(filter), "list reviews");
      if (found.size() != 1) Die("no review opened for " + *filter.subject);
      core::SubmitVerdict v;
      v.verdict = i % 97 == 1   ? core::ReviewVerdict::kInappropriate
                  : i % 31 == 2 ? core::ReviewVerdict::kAppropriateWithFindings
                                : core::ReviewVerdict::kAppropriate;
      if (v.verdict != core::ReviewVerdict::kAppropriate) {
        v.findings = "the session ran longer than the ticket needed";
        v.follow_up_ticket = fmt::format("INC-{}", 900000 + i);
      }
      svc->reviews()->Submit(sam, found[0].id, std::move(v), [&](Result<core::Review> r) {
        t.Done(StatusOf(r), "review");
      });
      ++appended;
    }
    t.WaitDone(appended);
    reviews += appended;
    clock.Advance(std::chrono::minutes(5));
    if (start == 0) {
      // A checkpoint an auditor might have kept from before: the report must extend it.
      auto early = Must(svc->audit().Checkpoint(), "checkpoint");
      std::ofstream(dir / "early-checkpoint.txt") << early.note;
    }
  }
  // The last revocations run from the outbox: wait for them, then sign what the log holds.
  for (int tries = 0;; ++tries) {
    auto jobs = Must(svc->store().ListOutbox(), "outbox");
    if (jobs.empty()) break;
    if (tries > 6000) Die("the outbox did not drain within 10 minutes");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  svc->Stop();
  auto cp = Must(svc->audit().Checkpoint(), "checkpoint");
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << fmt::format(
      "{{\"data_dir\":\"{}\",\"grants\":{},\"cancelled\":{},\"certificates\":{},\"sessions\":{},"
      "\"reviews\":{},\"log_size\":{},\"seconds\":{:.2f}}}\n",
      c.data_dir, made, cancelled, certs, sessions, reviews, cp.size, secs);
  return 0;
}

}  // namespace
}  // namespace bg

int main(int argc, char** argv) {
  if (argc < 3 || argc > 4) {
    std::cerr << "usage: evidence_gen DIR GRANTS [DAYS_AGO]\n";
    return 2;
  }
  bg::InitCrypto();
  const long long grants = std::atoll(argv[2]);
  const int days = argc == 4 ? std::atoi(argv[3]) : 30;
  if (grants <= 0 || days < 0) {
    std::cerr << "evidence_gen: GRANTS must be positive and DAYS_AGO not negative\n";
    return 2;
  }
  return bg::Run(argv[1], grants, days);
}
