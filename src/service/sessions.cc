#include "service/sessions.h"

#include <fmt/format.h>

#include <algorithm>

#include "service/writer.h"
#include "session/asciicast.h"
#include "util/encoding.h"
#include "util/sha256.h"

namespace bg::service {

void Service::SubmitWrite(std::function<Status(Tx&)> run, std::function<void(Status)> done) {
  if (!writer_) return done(NotStarted());
  writer_->Submit({std::move(run), std::move(done)});
}

namespace {

// Clock skew tolerated between a recorder and the server.
constexpr Seconds kSkew{300};
constexpr int64_t kChunkPage = 256;

bool IsReader(const core::Actor& a) {
  return a.Has(core::Role::kAuditor) || a.Has(core::Role::kAdmin);
}

std::string HexSha256(std::string_view data) { return HexEncode(AsBytes(Sha256(data))); }

Error NoSession(const SessionId& id) { return Error::NotFound("no session " + id.value()); }

// The person may write to their own session; anyone else who may see it is refused, anyone who
// may not see it learns nothing.
Status CheckWriter(const store::SessionRecord& s, const core::Actor& actor) {
  if (actor.recording_grant && *actor.recording_grant != s.request) {
    return Error::PermissionDenied("this recording credential records only request " +
                                   actor.recording_grant->value());
  }
  if (s.user == actor.name) return Ok();
  if (CanViewSession(s, actor)) {
    return Error::PermissionDenied("only " + s.user + " records into session " + s.id.value());
  }
  return NoSession(s.id);
}

bool ValidEndReason(std::string_view r) {
  return r.size() <= 64 && std::all_of(r.begin(), r.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

struct Prepared {
  store::SessionRecord record;
  core::Request request;
};

// Checks a new session against its request, outside the writer.
Result<Prepared> PrepareSession(Service& svc, const core::Actor& actor, const NewSession& s) {
  if (!ValidSessionId(s.id.value())) {
    return Error::InvalidArgument("id", "must be 1 to 64 characters of A-Z a-z 0-9 _ -");
  }
  if (s.request.empty()) return Error::InvalidArgument("request_id", "is required");
  if (s.header.size() > kMaxHeaderBytes) {
    return Error::InvalidArgument("header", fmt::format("is over {} bytes", kMaxHeaderBytes));
  }
  if (s.header.find('\n') != std::string::npos) {
    return Error::InvalidArgument("header", "must be one line");
  }
  BG_ASSIGN_OR_RETURN(session::Header h, session::ParseHeader(s.header));
  if (h.request_id != s.request.value()) {
    return Error::InvalidArgument("header", "breakglass.request_id must be the session's request");
  }
  BG_ASSIGN_OR_RETURN(core::Request r, svc.Get(actor, s.request));
  if (r.requester != actor.name) {
    return Error::PermissionDenied("sessions of request " + r.id.value() + " are recorded by " +
                                   r.requester);
  }
  Prepared p;
  p.record.id = s.id;
  p.record.request = s.request;
  p.record.user = actor.name;
  p.record.started_at = FromUnixSeconds(h.timestamp);
  p.record.header = s.header;
  p.request = std::move(r);
  return p;
}

// A session may start only inside its grant's window (late uploads of a spooled recording are
// fine: the start is the recorder's, from the header).
Status CheckWindow(const Prepared& p, Timestamp now) {
  const core::Request& r = p.request;
  if (!r.starts_at) {
    return Error::FailedPrecondition("the grant of request " + r.id.value() + " is not active");
  }
  const Timestamp started = p.record.started_at;
  const Timestamp window_end =
      r.state == core::RequestState::kActive ? now : std::min(now, r.ends_at.value_or(now));
  if (started + kSkew < *r.starts_at || started > window_end + kSkew) {
    return Error::FailedPrecondition(
        fmt::format("a session starting at {} is outside the grant of request {} ({} to {})",
                    FormatRfc3339(started), r.id.value(), FormatRfc3339(*r.starts_at),
                    r.ends_at ? FormatRfc3339(*r.ends_at) : "open"));
  }
  return Ok();
}

core::AuditEvent StartedEvent(const store::SessionRecord& rec) {
  core::AuditEvent ev{"session.started", rec.user, rec.request, {}};
  ev.details["session"] = rec.id.value();
  ev.details["header_sha256"] = HexSha256(rec.header);
  if (auto h = session::ParseHeader(rec.header)) ev.details["command"] = h->command;
  return ev;
}

// Stages the insert of the session unless the same one exists (a re-sent create). Returns the
// current record.
Result<store::SessionRecord> StageCreate(Tx& tx, const Prepared& p) {
  const store::SessionRecord& rec = p.record;
  BG_ASSIGN_OR_RETURN(auto existing, tx.GetSession(rec.id));
  if (existing) {
    if (existing->request == rec.request && existing->user == rec.user &&
        existing->header == rec.header) {
      return *existing;
    }
    return Error::Conflict("session " + rec.id.value() + " already exists");
  }
  BG_TRY(CheckWindow(p, tx.now()));
  tx.PutSession(rec, -1);
  tx.Audit(StartedEvent(rec));
  return rec;
}

}  // namespace

bool ValidSessionId(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-';
         });
}

bool CanViewSession(const store::SessionRecord& s, const core::Actor& actor) {
  if (actor.recording_grant) return false;  // it writes recordings, it never reads them
  return s.user == actor.name || IsReader(actor);
}

void CreateSession(Service& svc, const core::Actor& actor, NewSession s,
                   Callback<store::SessionRecord> cb) {
  auto prepared = PrepareSession(svc, actor, s);
  if (!prepared) return cb(prepared.error());
  auto out = std::make_shared<store::SessionRecord>();
  svc.SubmitWrite(
      [p = std::move(*prepared), out](Tx& tx) -> Status {
        BG_ASSIGN_OR_RETURN(*out, StageCreate(tx, p));
        return Ok();
      },
      [out, cb = std::move(cb)](Status st) {
        if (!st) return cb(st.error());
        cb(*out);
      });
}

void AppendSessionChunk(Service& svc, const core::Actor& actor, ChunkUpload up,
                        Callback<ChunkReceipt> cb) {
  // Everything that needs no store state is checked here, off the writer thread.
  if (!ValidSessionId(up.session.value())) {
    return cb(Error::InvalidArgument("id", "must be 1 to 64 characters of A-Z a-z 0-9 _ -"));
  }
  if (up.seq < 0) return cb(Error::InvalidArgument("seq", "must be a non-negative integer"));
  if (up.data.size() > kMaxChunkDataBytes) {
    return cb(Error::ResourceExhausted(fmt::format(
        "chunk data is {} bytes; at most {} are accepted", up.data.size(), kMaxChunkDataBytes)));
  }
  if (up.data.empty() && !up.final) {
    return cb(Error::InvalidArgument("data", "is empty (only a final chunk may be)"));
  }
  const std::string digest = HexSha256(up.data);
  if (!up.sha256.empty() && up.sha256 != digest) {
    return cb(Error::InvalidArgument("sha256", "does not match the data (sent " + up.sha256 +
                                                   ", computed " + digest + ")"));
  }
  auto stats = session::ValidateEvents(up.data, 0);
  if (!stats) return cb(stats.error());
  if (!ValidEndReason(up.end_reason)) {
    return cb(Error::InvalidArgument("end_reason", "must be at most 64 of a-z 0-9 _"));
  }
  if (!up.final && (up.ended_at || !up.end_reason.empty())) {
    return cb(Error::InvalidArgument(up.ended_at ? "ended_at" : "end_reason",
                                     "is only allowed with final"));
  }
  std::optional<Prepared> create;
  if (up.create) {
    if (up.create->id != up.session) {
      return cb(Error::InvalidArgument("id", "differs from the session in the path"));
    }
    if (up.seq != 0) {
      return cb(Error::InvalidArgument("header", "only chunk 0 may create the session"));
    }
    auto prepared = PrepareSession(svc, actor, *up.create);
    if (!prepared) return cb(prepared.error());
    create = std::move(*prepared);
  }
  auto receipt = std::make_shared<ChunkReceipt>();
  receipt->session = up.session;
  receipt->seq = up.seq;
  receipt->sha256 = digest;
  receipt->bytes = static_cast<int64_t>(up.data.size());
  store::Store* st = &svc.store();
  auto run = [st, actor, up = std::move(up), create, digest, stats = *stats,
              receipt](Tx& tx) -> Status {
    std::optional<store::SessionRecord> s;
    if (create) {
      BG_ASSIGN_OR_RETURN(s, StageCreate(tx, *create));
    } else {
      BG_ASSIGN_OR_RETURN(s, tx.GetSession(up.session));
      if (!s) return NoSession(up.session);
    }
    BG_TRY(CheckWriter(*s, actor));
    if (up.seq < s->chunks) {
      // A re-sent chunk (its answer was lost): the same bytes are a success, others a conflict.
      BG_ASSIGN_OR_RETURN(auto stored, st->GetSessionChunks(up.session, up.seq, 1));
      if (stored.empty()) {
        return Error::Unavailable(fmt::format("chunk {} is being stored; retry", up.seq));
      }
      if (stored.front().sha256 != digest) {
        return Error::Conflict(fmt::format(
            "session {} already has a different chunk {}", up.session.value(), up.seq));
      }
      receipt->duplicate = true;
      receipt->complete = s->complete;
      return Ok();
    }
    if (s->complete) {
      return Error::Conflict("session " + up.session.value() + " has ended; no more chunks");
    }
    if (up.seq > s->chunks) {
      return Error::Conflict(fmt::format("chunk {} is out of order: session {} expects chunk {}",
                                         up.seq, up.session.value(), s->chunks));
    }
    if (stats.count > 0 && stats.first_us < s->last_event_us) {
      return Error::InvalidArgument("data", "the first event is older than the session's last");
    }
    store::SessionRecord next = *s;
    next.chunks++;
    next.bytes += static_cast<int64_t>(up.data.size());
    if (stats.count > 0) next.last_event_us = stats.last_us;
    store::SessionChunk chunk{up.session, up.seq, up.data, digest, tx.now()};
    core::AuditEvent ev{"session.chunk", s->user, s->request, {}};
    ev.details["session"] = up.session.value();
    ev.details["seq"] = std::to_string(up.seq);
    ev.details["sha256"] = digest;
    ev.details["bytes"] = std::to_string(up.data.size());
    if (up.final) {
      next.complete = true;
      Timestamp end = up.ended_at.value_or(tx.now());
      next.ended_at = std::clamp(end, next.started_at, std::max(next.started_at, tx.now()));
      next.end_reason = up.end_reason.empty() ? "exit" : up.end_reason;
    }
    // Everything fallible is done: stage.
    tx.PutSession(next, s->chunks);
    tx.PutChunk(std::move(chunk));
    tx.Audit(ev);
    if (up.final) {
      core::AuditEvent end{"session.ended", s->user, s->request, {}};
      end.details["session"] = up.session.value();
      end.details["chunks"] = std::to_string(next.chunks);
      end.details["bytes"] = std::to_string(next.bytes);
      end.details["end_reason"] = next.end_reason;
      end.details["ended_at"] = FormatRfc3339(*next.ended_at);
      tx.Audit(end);
    }
    receipt->complete = next.complete;
    return Ok();
  };
  svc.SubmitWrite(std::move(run), [receipt, cb = std::move(cb)](Status committed) {
    if (!committed) return cb(committed.error());
    cb(*receipt);
  });
}

Result<store::SessionRecord> GetSession(Service& svc, const core::Actor& actor,
                                        const SessionId& id) {
  if (!ValidSessionId(id.value())) return NoSession(id);
  BG_ASSIGN_OR_RETURN(auto s, svc.store().GetSession(id));
  if (!s || !CanViewSession(*s, actor)) return NoSession(id);
  return *s;
}

Result<std::vector<store::SessionRecord>> ListSessions(Service& svc, const core::Actor& actor,
                                                       const std::optional<RequestId>& request,
                                                       int limit) {
  store::SessionFilter f;
  f.request = request;
  f.limit = limit;
  if (!IsReader(actor)) f.user = actor.name;
  return svc.store().ListSessions(f);
}

Result<std::string> Recording(Service& svc, const core::Actor& actor, const SessionId& id) {
  BG_ASSIGN_OR_RETURN(store::SessionRecord s, GetSession(svc, actor, id));
  std::string out;
  out.reserve(s.header.size() + 1 + static_cast<size_t>(s.bytes));
  out += s.header;
  out += '\n';
  for (int64_t seq = 0; seq < s.chunks; seq += kChunkPage) {
    BG_ASSIGN_OR_RETURN(auto page, svc.store().GetSessionChunks(id, seq, kChunkPage));
    for (const auto& c : page) out += c.data;
    if (static_cast<int64_t>(page.size()) < std::min(kChunkPage, s.chunks - seq)) {
      return Error::Internal(fmt::format("session {}: chunks missing after {}", id.value(),
                                         seq + static_cast<int64_t>(page.size())));
    }
  }
  return out;
}

}  // namespace bg::service
