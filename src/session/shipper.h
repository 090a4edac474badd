// Chunk sinks: the Shipper (spool to disk, then upload in order from a thread of its own,
// retrying with backoff while the server is unreachable) and the CastFile (a local .cast file).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "session/chunk.h"
#include "session/spool.h"
#include "session/transport.h"

namespace bg::session {

struct ShipperOptions {
  std::string session_id;
  std::string request_id;
  std::string spool_dir;  // this session's directory
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{3000};
};

class Shipper final : public ChunkSink {
 public:
  // `notice` gets one line for the person when uploading starts failing or recovers (it runs on
  // the shipper's thread).
  static Result<std::unique_ptr<Shipper>> Start(Transport& transport, ShipperOptions options,
                                                std::function<void(const std::string&)> notice);
  ~Shipper() override;

  void Begin(const std::string& header_line) override;
  void Put(Chunk chunk) override;
  // Waits until every chunk given so far is uploaded, at most `timeout`. True when none is left.
  bool Drain(std::chrono::milliseconds timeout);
  // Waits until at least `n` chunks were accepted by the server, at most `timeout`; false when
  // they were not (unreachable, or refused: last_error says why).
  bool WaitUploaded(int64_t n, std::chrono::milliseconds timeout);
  void Stop();

  struct Stats {
    int64_t spooled = 0;
    int64_t uploaded = 0;
    bool refused = false;  // the server refused a chunk: uploading stopped, the spool is kept
    // Chunks spooled but no longer in the spool (its directory was removed from outside) and
    // never uploaded: the recording on the server misses them. Uploading stops.
    int64_t lost = 0;
    std::string last_error;
  };
  Stats stats() const;
  const std::string& spool_dir() const { return spool_.dir(); }

 private:
  Shipper(Transport& transport, ShipperOptions options, Spool spool,
          std::function<void(const std::string&)> notice);
  void Loop();

  Transport& transport_;
  const ShipperOptions options_;
  Spool spool_;
  std::function<void(const std::string&)> notice_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::string header_;
  std::deque<Chunk> queue_;
  int64_t given_ = 0;  // chunks handed to Put
  bool stopping_ = false;
  bool final_spooled_ = false;
  Stats stats_;
  std::thread thread_;
};

// Writes the recording to a local file as it goes (the header, then each chunk's events).
class CastFile final : public ChunkSink {
 public:
  static Result<std::unique_ptr<CastFile>> Open(const std::string& path);
  ~CastFile() override;
  void Begin(const std::string& header_line) override;
  void Put(Chunk chunk) override;

 private:
  explicit CastFile(int fd) : fd_(fd) {}
  int fd_;
};

// Hands every chunk to several sinks.
class TeeSink final : public ChunkSink {
 public:
  explicit TeeSink(std::vector<ChunkSink*> sinks) : sinks_(std::move(sinks)) {}
  void Begin(const std::string& header_line) override;
  void Put(Chunk chunk) override;

 private:
  std::vector<ChunkSink*> sinks_;
};

}  // namespace bg::session
