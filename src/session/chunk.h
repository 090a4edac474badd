// Sealed pieces of a recording and where they go. A recording is a header line and chunks of
// event lines numbered from 0; the last one is marked final and says why the session ended.
#pragma once

#include <cstdint>
#include <string>

namespace bg::session {

struct Chunk {
  int64_t seq = 0;
  std::string data;  // whole asciicast event lines
  bool final = false;
  int64_t ended_at = 0;  // Unix seconds, with final
  std::string end_reason;  // with final: "exit", "expired", "revoked", "hangup"
};

class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // Once, before any chunk.
  virtual void Begin(const std::string& header_line) = 0;
  // Takes a sealed chunk. Called from the recorder's loop: must not block on the network.
  virtual void Put(Chunk chunk) = 0;
};

// The body of POST /v1/sessions/{id}/chunks for `chunk`; chunk 0 also carries the request id
// and the header, so the first chunk creates the session.
std::string ChunkBody(const Chunk& chunk, const std::string& request_id,
                      const std::string& header_line);

}  // namespace bg::session
