// Recorded sessions on the server: the chunks a recorder uploads, stored with a SHA-256 of each
// in the audit log in the same transaction (so a recording cannot be edited afterwards without
// the log showing it), listing, and the recording as one asciicast v2 file.
//
// Who may do what: the person whose grant it is uploads (only while the session is open, in
// sequence); they read their own sessions; auditors and admins read every session. A session
// the caller may not see is reported exactly like one that does not exist.
//
// Audit events: "session.started" {session, header_sha256, command}, "session.chunk" {session,
// seq, sha256, bytes}, "session.ended" {session, chunks, bytes, end_reason, ended_at}. The
// recording is the header line, "\n", then every chunk's data in order, so anyone holding the
// file and the log can split it by the logged byte counts and check each digest.
//
// Thread-safe; callbacks run on the writer thread.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/request.h"
#include "service/service.h"
#include "store/store.h"
#include "util/result.h"

namespace bg::service {

inline constexpr size_t kMaxChunkDataBytes = 512 * 1024;
inline constexpr size_t kMaxHeaderBytes = 16 * 1024;

// What creates a session: explicitly, or with its first chunk.
struct NewSession {
  SessionId id;
  RequestId request;
  std::string header;  // the asciicast v2 header line
};

struct ChunkUpload {
  SessionId session;
  int64_t seq = 0;
  std::string data;                     // asciicast event lines
  std::string sha256;                   // hex digest of data as the client computed it, or ""
  std::optional<NewSession> create;     // creates the session first (seq must be 0)
  bool final = false;                   // the recording is complete after this chunk
  std::optional<Timestamp> ended_at;    // with final: when the session ended (default now)
  std::string end_reason;               // with final: "exit", "expired", "revoked", ...
};

struct ChunkReceipt {
  SessionId session;
  int64_t seq = 0;
  std::string sha256;
  int64_t bytes = 0;
  bool duplicate = false;  // the same chunk was stored before; nothing changed
  bool complete = false;
};

// Session ids are 1 to 64 characters of [A-Za-z0-9_-].
bool ValidSessionId(std::string_view id);
bool CanViewSession(const store::SessionRecord& s, const core::Actor& actor);

// Errors (each before anything is stored): InvalidArgument (malformed; the field is named),
// ResourceExhausted (data over kMaxChunkDataBytes), NotFound (the session or request is not
// visible), PermissionDenied (not the session's person), Conflict (seq out of order, the
// session has ended, a re-sent seq with different bytes, the id exists), FailedPrecondition
// (the grant was never active, or the session starts outside its window).
void CreateSession(Service& svc, const core::Actor& actor, NewSession s,
                   Callback<store::SessionRecord> cb);
void AppendSessionChunk(Service& svc, const core::Actor& actor, ChunkUpload up,
                        Callback<ChunkReceipt> cb);

Result<store::SessionRecord> GetSession(Service& svc, const core::Actor& actor,
                                        const SessionId& id);
// The sessions the actor may see, of one request (or all of them, oldest first).
Result<std::vector<store::SessionRecord>> ListSessions(Service& svc, const core::Actor& actor,
                                                       const std::optional<RequestId>& request,
                                                       int limit = 1000);
// The whole asciicast v2 file.
Result<std::string> Recording(Service& svc, const core::Actor& actor, const SessionId& id);

}  // namespace bg::service
